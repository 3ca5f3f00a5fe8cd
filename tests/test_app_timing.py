"""The Payment timing page under AppTest: medians, day distributions, withdrawable money and unpaid
work, each recomputed here with plain SQL on the tables (structure by SPEC's rule)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import numpy as np
import pandas as pd

from tests.dashboard_support import (
    DASHBOARD_FIXTURES, build_workspace, empty_db, in_main_currency, metrics, open_app, query_one, sample_db,
    sample_template, texts,
)
from tests.test_app_cancellation import STRUCTURE_SQL, frame
from tests.test_app_overview import plotted_values

__all__ = ["empty_db", "sample_db", "sample_template"]

# Days from start to the first money received, per contract (SPEC: contracts with at least one payment).
FIRST_PAYMENT_SQL = f"""
    SELECT t.s, min(p.paid_date) - any_value(t.start_date) AS days
    FROM payments p JOIN ({STRUCTURE_SQL}) t USING (source, contract_id)
    WHERE NOT p.pending AND p.paid_date IS NOT NULL AND p.gross > 0
      AND p.kind IN ('milestone', 'hourly', 'contract_total', 'bonus') AND {{where}}
    GROUP BY t.source, t.contract_id, t.s"""


def first_payment_medians(db, where: str = "TRUE") -> dict[str, float]:
    days = frame(db, FIRST_PAYMENT_SQL.format(where=where))
    return {s: float(np.median(part["days"])) for s, part in days.groupby("s")}


def chart(at, title_start: str) -> dict:
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        if spec["layout"]["title"]["text"].startswith(title_start):
            return spec
    raise AssertionError(f"no chart titled {title_start!r}")


def test_first_payment_medians_on_the_sample(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "timing")
    medians = first_payment_medians(sample_db, "t.currency = 'USD'")  # the report currency, as in the reports
    shown = metrics(at)
    for structure, label in (("milestones", "milestones"), ("single", "single payment"), ("hourly", "hourly")):
        assert shown[f"First payment: {label}"] == f"{medians[structure]:g} days"
    assert (f"within **{medians['milestones']:g} days** of the start; half of your single-payment contracts within "
            f"**{medians['single']:g} days**") in texts(at)


def test_the_first_payment_gap_is_tested_not_just_told(sample_db, monkeypatch):
    """"Milestones paid 6.5 days sooner" rested on two medians with no word on how sure it is. Checked with
    a second method: scipy's Brunner–Munzel test, and the share of pairs counted by numpy."""
    from scipy.stats import brunnermunzel

    at = open_app(sample_db, monkeypatch, "timing")
    days = frame(sample_db, FIRST_PAYMENT_SQL.format(where="t.currency = 'USD'"))
    x = days.loc[days["s"] == "milestones", "days"].to_numpy(float)
    y = days.loc[days["s"] == "single", "days"].to_numpy(float)
    sooner = float((x[:, None] < y).mean() + 0.5 * (x[:, None] == y).mean())
    p_value = brunnermunzel(x, y).pvalue
    assert p_value < 0.001 and sooner > 0.5
    assert (f"the milestone contract's first money came first in {sooner * 100:.0f} % of pairs") in texts(at)
    assert "Brunner–Munzel rank test (two-sided) calls that a clear difference (p < 0.001)." in texts(at)


def test_a_filter_changes_the_medians(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "timing")
    at.sidebar.multiselect(key="platform").set_value(["freelancer"]).run()
    (main,) = query_one(sample_db, f"""SELECT currency FROM contracts WHERE {in_main_currency("platform = 'freelancer'")} LIMIT 1""")
    medians = first_payment_medians(sample_db, f"t.platform = 'freelancer' AND t.currency = '{main}'")
    all_medians = first_payment_medians(sample_db)
    assert medians["single"] != all_medians["single"]
    assert metrics(at)["First payment: single payment"] == f"{medians['single']:g} days"


def test_the_submission_to_payment_distribution(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "timing")
    lags = frame(sample_db, f"""
        SELECT t.s, least(m.paid_date - m.submitted_date, 30) AS d
        FROM milestones m JOIN ({STRUCTURE_SQL}) t USING (source, contract_id)
        WHERE m.paid_date IS NOT NULL AND m.submitted_date IS NOT NULL AND t.currency = 'USD'""")  # as the reports
    spec = chart(at, "Submission → payment: how the days spread")
    traces = {trace["name"]: trace for trace in spec["data"]}
    assert list(traces) == ["Milestones", "Single payment", "Hourly"]
    single = lags[lags["s"] == "single"]["d"].value_counts(normalize=True).sort_index()
    plotted = pd.Series(plotted_values(traces["Single payment"]["y"]), index=plotted_values(traces["Single payment"]["x"]))
    assert np.allclose(plotted.sort_index().to_numpy(), single.to_numpy())
    assert np.array_equal(plotted.sort_index().index.to_numpy(), single.index.to_numpy())
    # Another measure on request.
    at.segmented_control(key="timing_measure").set_value("start_to_first_payment").run()
    assert chart(at, "Start → first payment: how the days spread")


def test_withdrawable_and_unpaid_work(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "timing")
    today = dt.date.today()
    # SPEC's holds: Upwork hourly money the Wednesday 10 days after the week (ending on submission), other Upwork
    # money 5 days after release, Fiverr 14 days; everything else at once.
    on_hold = frame(sample_db, """
        SELECT sum(p.gross - p.fee) AS held
        FROM payments p JOIN contracts c USING (source, contract_id)
        LEFT JOIN milestones m ON m.source = p.source AND m.contract_id = p.contract_id AND m.seq = p.seq
        WHERE NOT p.pending AND p.gross > 0 AND p.currency = 'USD' AND p.paid_date <= ?::DATE
          AND CASE WHEN c.platform = 'upwork' AND p.kind = 'hourly'
                        THEN greatest(p.paid_date, coalesce(m.submitted_date, p.paid_date) + 10)
                   WHEN c.platform = 'upwork' THEN p.paid_date + 5
                   WHEN c.platform = 'fiverr' THEN p.paid_date + 14
                   ELSE p.paid_date END > ?::DATE""", [today, today])
    assert metrics(at)["Still on hold (USD)"] == f"{float(on_hold['held'].fillna(0).iloc[0]):,.0f}"
    # Cleared = every net USD payment whose hold has ended: the rest of the net received by today (a sum over
    # time, not a balance: withdrawals are not contract money).
    (received,) = query_one(sample_db, "SELECT sum(gross - fee) FROM payments WHERE NOT pending AND gross > 0 "
                                       "AND currency = 'USD' AND paid_date <= ?::DATE AND contract_id IS NOT NULL", [today])
    cleared = float(received) - float(on_hold["held"].fillna(0).iloc[0])
    assert metrics(at)["Cleared for withdrawal (USD)"] == f"{cleared:,.0f}"
    unpaid = frame(sample_db, """
        SELECT count(*) AS items, coalesce(sum(m.amount), 0) AS amount FROM milestones m JOIN contracts c USING (source, contract_id)
        WHERE c.currency = 'USD' AND m.submitted_date <= ?::DATE
          AND (m.paid_date > ?::DATE OR (m.paid_date IS NULL AND coalesce(m.status, '') NOT IN ('paid', 'cancelled', 'refunded')))""",
                   [today, today])
    table = next(d.value for d in at.dataframe if "bucket" in d.value.columns)
    usd = table[table["currency"] == "USD"]
    assert int(usd["items"].sum()) == int(unpaid["items"].iloc[0])
    assert float(usd["amount"].sum()) == float(unpaid["amount"].iloc[0])


def test_three_contracts_without_dated_payments(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "three.duckdb", [DASHBOARD_FIXTURES / "three_contracts.csv"])
    at = open_app(db, monkeypatch, "timing")
    assert "Not enough paid contracts of both kinds to compare how soon money arrives." in texts(at)
    assert metrics(at)["First payment: hourly"] == "—"
    assert any("Nothing you handed in is waiting for payment" in s.value for s in at.success)
    # Charts that have nothing to draw say so instead of staying blank.
    spec = chart(at, "Submission → payment")
    assert spec["layout"]["annotations"][0]["text"] == "Nothing measured yet"


def test_an_upwork_history_has_no_days_from_the_start(tmp_path, monkeypatch):
    """Its three paid contracts start at their first payment: "0 days" would be an artefact, so the
    page shows no first-payment figure and says why (the report says the same in its notes)."""
    from tests.conftest import FIXTURES

    db = build_workspace(tmp_path / "upwork.duckdb", [FIXTURES / "exports" / "upwork_transactions_2025.csv"])
    at = open_app(db, monkeypatch, "timing")
    assert not at.exception
    shown = metrics(at)
    assert [shown[k] for k in shown if k.startswith("First payment")] == ["—", "—", "—"], shown
    assert ("Days from the start leave out 3 contracts with payments from a platform export, which does not say "
            "when a contract started (its first payment stands in).") in texts(at)
    assert ("Not enough paid contracts of both kinds to compare how soon money arrives: the start dates are unknown "
            "for contracts from a platform export.") in texts(at)
    # Row 040 (450.00, no balance) was paid by the client but not yet released: not "nothing is waiting".
    assert ("No submitted work is unpaid, but USD 450 of payments (1 payment) are still pending release") in texts(at)
    assert "Nothing you handed in is waiting for payment." not in texts(at)


def test_filters_that_select_nothing_say_so(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "timing", query={"from": "2099-01-01"})
    assert any("No contracts match these filters" in w.value for w in at.warning)
    assert not at.get("plotly_chart")


def test_empty_workspace_points_to_the_data_page(empty_db, monkeypatch):
    at = open_app(empty_db, monkeypatch, "timing")
    assert any("The workspace is empty" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_a_handful_of_contracts_is_flagged_as_too_few(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "portfolio.duckdb", [DASHBOARD_FIXTURES / "portfolio_contracts.csv",
                                                         DASHBOARD_FIXTURES / "portfolio_milestones.csv"])
    at = open_app(db, monkeypatch, "timing")
    # By hand: P1 (milestones) first paid 20 days after its start; the single-payment H1, H3, H4 after 17, 18 and
    # 8 days (median 17); P4 (hourly) after 18.
    page = texts(at).replace("**", "")
    assert ("Half of your milestone contracts brought their first money within 20 days of the start; half of your "
            "single-payment contracts within 17 days — milestones paid 3 days later (medians over 1 and 3 contracts "
            "with a payment). With fewer than 30 contracts on a side, that is too few to conclude anything.") in page
    assert metrics(at)["First payment: hourly"] == "18 days"
    assert any("rest on fewer than 30 contracts or payments" in w.value for w in at.warning)


SMALL_HISTORY = [DASHBOARD_FIXTURES / "small_history_contracts.csv", DASHBOARD_FIXTURES / "small_history_milestones.csv"]


def curve_contracts(db, where: str = "TRUE") -> dict[str, int]:
    """Per structure, the contracts a cash curve averages: finished fixed-price ones with a budget and a planned end."""
    rows = frame(db, f"""
        SELECT t.s, count(*) AS n FROM ({STRUCTURE_SQL}) t
        WHERE t.status IN ('completed', 'cancelled', 'disputed') AND t.contract_type = 'fixed' AND t.budget > 0
          AND t.planned_end_date IS NOT NULL AND t.currency = 'USD' AND {where} GROUP BY t.s""")
    return {r.s: int(r.n) for r in rows.itertuples()}


def test_the_cash_curve_warning_names_each_curve_that_rests_on_few_contracts(tmp_path, monkeypatch):
    """3 milestone and 8 single-payment contracts were told as "A curve here averages only 3 contracts"."""
    db = build_workspace(tmp_path / "small.duckdb", SMALL_HISTORY)
    at = open_app(db, monkeypatch, "timing")
    n = curve_contracts(db)
    assert n == {"milestones": 3, "single": 8}  # M1–M3; S1–S8
    warnings = [w.value for w in at.warning]
    assert not any("A curve here" in w for w in warnings)
    assert (f"The milestone curve averages only {n['milestones']} contracts and the single-payment curve only "
            f"{n['single']}: too few to conclude anything.") in warnings
    assert "Halfway through the planned time" not in texts(at)  # no comparison of curves said to be too few
    # Narrowed to the one mobile contract (M3), only the milestone curve is drawn, and named.
    at = open_app(db, monkeypatch, "timing", query={"category": "mobile"})
    assert curve_contracts(db, "t.category = 'mobile'") == {"milestones": 1}
    assert "The milestone curve averages only 1 contract: too few to conclude anything." in [w.value for w in at.warning]


def test_the_cash_curve_says_which_contracts_it_leaves_out_for_want_of_a_date(tmp_path, monkeypatch):
    """A contract-level file's paid_total has no date: its contracts are not drawn (at 0 they read as
    never paid), and the page says how many."""
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,budget,start_date,planned_end_date,end_date,status,milestone_count,paid_total\n"
                         "T1,200,2026-01-01,2026-01-11,2026-01-11,completed,1,200\n"
                         "T2,300,2026-01-01,2026-01-11,2026-01-11,completed,3,300\n"
                         "T3,300,2026-01-01,2026-01-11,2026-01-11,completed,1,300\n")
    at = open_app(build_workspace(tmp_path / "totals.duckdb", [contracts]), monkeypatch, "timing")
    assert ("Left out of the curve, as paid on an unknown date (a contract-level paid_total): 1 milestone contract, "
            "2 single-payment contracts.") in [c.value for c in at.caption]


def test_the_halfway_comparison_is_drawn_when_both_curves_have_enough_contracts(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "timing")
    n = curve_contracts(sample_db)  # USD, the report currency of the sample
    assert min(n["milestones"], n["single"]) >= 30
    assert "Halfway through the planned time, milestone contracts had paid on average" in texts(at)


def values(array) -> list:
    """A Plotly array as a list (the JSON encodes numeric arrays as base64 with a dtype)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def test_the_spread_of_one_payment_says_it_is_too_few(tmp_path, monkeypatch):
    """One contract (M3: handed in 12 May, paid 14 May) drew a 100 % bar on a -0.4 … 0.4 axis with no word on
    how few it rests on, while the medians above carried a warning."""
    db = build_workspace(tmp_path / "small.duckdb", SMALL_HISTORY)
    at = open_app(db, monkeypatch, "timing", query={"client": "Cobalt"})
    (contracts, paid, days) = query_one(db, """
        SELECT count(DISTINCT c.contract_id), count(m.paid_date), max(m.paid_date - m.submitted_date)
        FROM contracts c JOIN milestones m USING (source, contract_id)
        WHERE c.client = 'Cobalt' AND m.submitted_date IS NOT NULL""")
    assert (contracts, paid, days) == (1, 1, 2)
    assert "The milestone bars rest on only 1 payment, fewer than 30: an example, not a pattern." in [
        w.value for w in at.warning]
    spec = chart(at, "Submission → payment")
    assert [(values(bar["x"]), values(bar["y"])) for bar in spec["data"]] == [([2], [1.0])]
    assert spec["layout"]["xaxis"]["dtick"] == 1 and spec["layout"]["xaxis"]["range"][0] == -0.5  # not -0.4 … 0.4
    # On the sample every structure has hundreds of payments: no such warning.
    sample = build_workspace(tmp_path / "sample.duckdb", sample=True)
    at = open_app(sample, monkeypatch, "timing")
    assert not any("bars rest on only" in w.value for w in at.warning)
