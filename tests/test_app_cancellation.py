"""The Cancellation risk page under AppTest. Counts come from plain SQL on the tables (structure by
SPEC's rule), intervals by hand, the p-values from scipy, the odds ratio and the log-rank test from
statsmodels called directly on data selected here — never from the functions the page calls."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import chi2_contingency
from statsmodels.duration.survfunc import survdiff

from analysis import store
from tests.dashboard_support import (
    DASHBOARD_FIXTURES, build_workspace, empty_db, in_main_currency, metrics, open_app, query_one, sample_db,
    sample_template, texts,
)
from tests.test_app_overview import COUNTS_SQL, newcombe

__all__ = ["empty_db", "sample_db", "sample_template"]

# Every contract with its structure by SPEC's rule, from the raw tables.
STRUCTURE_SQL = """
    WITH m AS (SELECT source, contract_id, count(*) AS n FROM milestones WHERE kind = 'milestone' GROUP BY ALL)
    SELECT c.*, CASE WHEN c.contract_type = 'hourly' THEN 'hourly'
                     WHEN greatest(coalesce(m.n, 0), coalesce(c.milestone_count, 0)) >= 2 THEN 'milestones'
                     ELSE 'single' END AS s
    FROM contracts c LEFT JOIN m USING (source, contract_id)"""


def frame(db, sql: str, params: list | None = None) -> pd.DataFrame:
    con = store.connect(db)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def table_with(at, column: str) -> pd.DataFrame:
    """The one dataframe on the page that has ``column``."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


def test_rates_and_the_difference_on_the_sample(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "cancellation")
    # The sample mixes currencies; the page, like the reports, compares within USD (the most contracts).
    mn, mc, sn, sc = query_one(sample_db, COUNTS_SQL.format(where=in_main_currency()))
    shown = metrics(at)
    assert shown["Cancelled: milestones"] == f"{mc / mn * 100:.0f} %"
    assert shown["Cancelled: single payment"] == f"{sc / sn * 100:.0f} %"
    low, high = newcombe(mc, mn, sc, sn)
    page = texts(at)
    assert f"Milestone contracts were cancelled {abs(mc / mn - sc / sn) * 100:.1f} percentage points less often" in page
    assert f"The 95 % interval for the gap runs from {abs(high) * 100:.1f} to {abs(low) * 100:.1f} points lower" in page
    assert chi2_contingency([[mc, mn - mc], [sc, sn - sc]], correction=False)[1] < 0.001
    assert "Hardly chance" in page and "in fewer than 1 in 1,000 histories like yours (p < 0.001)." in page

    rates = table_with(at, "status_unknown").set_index("structure")
    # As the reports count them: "cancelled" includes the disputed, "of them disputed" says how many.
    counts = query_one(sample_db, f"""SELECT count(*), count(*) FILTER (WHERE status = 'disputed'),
                                             count(*) FILTER (WHERE status IN ('cancelled', 'disputed'))
                                      FROM ({STRUCTURE_SQL}) WHERE s = 'milestones' AND currency = 'USD'""")
    assert (rates.at["Milestones", "contracts"], rates.at["Milestones", "disputed"],
            rates.at["Milestones", "cancelled"]) == counts
    assert rates.at["Milestones", "cancellation_rate"].startswith(f"{mc / mn * 100:.1f} %")


def test_a_filter_changes_the_rates_and_the_verdict(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "cancellation")
    before = metrics(at)["Cancelled: single payment"]
    at.sidebar.multiselect(key="category").set_value(["writing"]).run()
    mn, mc, sn, sc = query_one(sample_db, COUNTS_SQL.format(where=in_main_currency("category = 'writing'")))
    shown = metrics(at)
    assert shown["Cancelled: milestones"] == f"{mc / mn * 100:.0f} %"
    assert shown["Cancelled: single payment"] == f"{sc / sn * 100:.0f} %" != before
    p_value = chi2_contingency([[mc, mn - mc], [sc, sn - sc]], correction=False)[1]
    assert p_value > 0.05
    assert f"It could well be chance: a gap this size turns up in about {round(p_value * 100)} of 100 histories" in texts(at)
    low, high = newcombe(mc, mn, sc, sn)
    assert f"The 95 % interval for the gap runs from {low * 100:+.1f} to {high * 100:+.1f} points" in texts(at)


def test_breakdown_by_platform_shows_each_groups_counts(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "cancellation")
    at.segmented_control(key="cancel_dimension").set_value("platform").run()
    assert not at.exception
    table = table_with(at, "milestones − single").set_index("group")
    groups = frame(sample_db, f"""
        SELECT coalesce(platform, '(none)') AS platform, s,
               count(*) FILTER (WHERE status IN ('cancelled', 'disputed')) AS c,
               count(*) FILTER (WHERE status IN ('completed', 'cancelled', 'disputed')) AS n
        FROM ({STRUCTURE_SQL}) WHERE currency = 'USD' GROUP BY ALL""")
    assert set(table.index) == set(groups["platform"])
    for row in groups.itertuples():
        cell = table.at[row.platform, {"milestones": "Milestones", "single": "Single payment", "hourly": "Hourly"}[row.s]]
        if row.n >= 30:
            low, high = (100 * v for v in wilson_bounds(row.c, row.n))
            assert cell == f"{row.c / row.n * 100:.1f} % ({low:.1f}–{high:.1f} %)"
        else:
            assert cell == f"{row.c} of {row.n}"
    # Upwork has enough of both: its difference is stated; a small platform says it is too few.
    upwork = groups[groups["platform"] == "upwork"].set_index("s")
    diff = upwork.at["milestones", "c"] / upwork.at["milestones", "n"] - upwork.at["single", "c"] / upwork.at["single", "n"]
    assert table.at["upwork", "milestones − single"] == f"{diff * 100:+.1f} points"
    small = groups[groups["s"] != "hourly"].groupby("platform")["n"].min()
    for platform in small[small < 30].index:
        assert table.at[platform, "verdict"] == "too few to tell"


def wilson_bounds(count: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_budget_bands_are_shown_in_the_main_currency(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "cancellation")
    table = table_with(at, "milestones − single")
    assert list(table["group"]) == ["under 100", "100–499", "500–999", "1,000–4,999", "5,000 and more", "unknown"]
    (n,) = query_one(sample_db, f"""SELECT count(*) FROM ({STRUCTURE_SQL})
                                    WHERE currency = 'USD' AND s = 'single' AND budget >= 1000 AND budget < 5000
                                      AND status <> 'active'""")
    (c,) = query_one(sample_db, f"""SELECT count(*) FROM ({STRUCTURE_SQL})
                                    WHERE currency = 'USD' AND s = 'single' AND budget >= 1000 AND budget < 5000
                                      AND status IN ('cancelled', 'disputed')""")
    assert table.set_index("group").at["1,000–4,999", "Single payment"].startswith(f"{c / n * 100:.1f} %")
    assert "These figures are for the 1,770 contracts in USD" in texts(at)
    # Only hourly contracts have no budget: that row has nothing to compare, not "too few to tell".
    unknown = table.set_index("group").loc["unknown"]
    assert (unknown["Milestones"], unknown["Single payment"], unknown["verdict"]) == ("—", "—", "nothing to compare")


def model_rows(db) -> pd.DataFrame:
    """Finished fixed-price USD contracts for the adjusted comparison, selected here with plain SQL."""
    return frame(db, f"""
        WITH t AS ({STRUCTURE_SQL}),
        h AS (SELECT *, row_number() OVER (PARTITION BY client ORDER BY start_date, source, contract_id) - 1 AS prior
              FROM t)
        SELECT (s = 'milestones')::INT AS milestones, (status IN ('cancelled', 'disputed'))::INT AS cancelled,
               ln(budget) AS log_budget,
               CASE WHEN planned_end_date > start_date THEN ln(date_diff('day', start_date, planned_end_date)) END
                   AS log_planned_days,
               (prior > 0)::INT AS repeat_client, coalesce(client, contract_id) AS cluster
        FROM h WHERE status IN ('completed', 'cancelled', 'disputed') AND s IN ('milestones', 'single')
          AND budget > 0 AND currency = 'USD'""")


def test_adjusted_odds_ratio_matches_statsmodels(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "cancellation")
    rows = model_rows(sample_db).dropna()
    covariates = ["milestones", "log_budget", "log_planned_days", "repeat_client"]
    fit = sm.GLM(rows["cancelled"], sm.add_constant(rows[covariates].astype(float)), family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(rows["cluster"])[0]})
    odds = math.exp(fit.params["milestones"])
    low, high = np.exp(fit.conf_int().loc["milestones"])
    assert odds < 1 and high < 1
    assert (f"milestone contracts had **{odds:.2f}×** the odds of being cancelled that single-payment contracts had "
            f"(95 % interval {low:.2f} to {high:.2f}") in texts(at)
    assert f"Logistic regression on {len(rows):,} finished fixed-price contracts" in texts(at)


def test_log_rank_test_matches_statsmodels(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "cancellation")
    today = dt.date.today()
    data = frame(sample_db, f"""
        SELECT s, CASE WHEN status = 'active' THEN greatest(0, date_diff('day', start_date, ?::DATE))
                       ELSE greatest(0, date_diff('day', start_date, end_date)) END AS t,
               (status IN ('cancelled', 'disputed'))::INT AS event
        FROM ({STRUCTURE_SQL}) WHERE s IN ('milestones', 'single') AND status IS NOT NULL AND currency = 'USD'
          AND (status = 'active' OR end_date IS NOT NULL)""", [today])
    _, p_value = survdiff(data["t"].to_numpy(float), data["event"].to_numpy(float), data["s"].to_numpy())
    assert p_value < 0.001  # written as the reports write it
    assert f"(log-rank test over days since the start, p < 0.001, {int(data['event'].sum()):,} cancellations)" in texts(at)


def test_log_rank_verdict_does_not_change_with_the_time_scale(sample_db, monkeypatch):
    """Client 0001's contracts: over days the log-rank p is above 0.05, as a share of the planned
    duration below it. The page states the days test (the reports' test) under both scales, so a
    display choice does not turn "no clear difference" into "differs"."""
    at = open_app(sample_db, monkeypatch, "cancellation", query={"client": "Client 0001"})
    today = dt.date.today()
    data = frame(sample_db, f"""
        SELECT s, CASE WHEN status = 'active' THEN greatest(0, date_diff('day', start_date, ?::DATE))
                       ELSE greatest(0, date_diff('day', start_date, end_date)) END AS t,
               CASE WHEN status = 'active' THEN greatest(0, date_diff('day', start_date, ?::DATE))
                    ELSE greatest(0, date_diff('day', start_date, end_date)) END
                 / date_diff('day', start_date, planned_end_date) AS share,
               (status IN ('cancelled', 'disputed'))::INT AS event, planned_end_date > start_date AS planned
        FROM ({STRUCTURE_SQL}) WHERE s IN ('milestones', 'single') AND status IS NOT NULL AND currency = 'USD'
          AND client = 'Client 0001' AND (status = 'active' OR end_date IS NOT NULL)""", [today, today])
    _, p_days = survdiff(data["t"].to_numpy(float), data["event"].to_numpy(float), data["s"].to_numpy())
    planned = data[data["planned"]]
    _, p_share = survdiff(planned["share"].to_numpy(float), planned["event"].to_numpy(float), planned["s"].to_numpy())
    assert p_share < 0.05 < p_days  # the case: the two scales disagree
    stated = f"(log-rank test over days since the start, p = {p_days:.3f}, {int(data['event'].sum()):,} cancellations)"
    assert stated in texts(at)
    at.segmented_control(key="cancel_time_scale").set_value("fraction").run()
    assert not at.exception
    page = texts(at)
    assert stated.replace("start,", "start, as in the reports,") in page and f"p = {p_share:.3f}" not in page


def test_share_not_cancelled_curve_is_one_minus_the_cumulative_incidence(sample_db, monkeypatch):
    from statsmodels.duration.survfunc import CumIncidenceRight

    at = open_app(sample_db, monkeypatch, "cancellation")
    today = dt.date.today()
    data = frame(sample_db, f"""
        SELECT CASE WHEN status = 'active' THEN greatest(0, date_diff('day', start_date, ?::DATE))
                    ELSE greatest(0, date_diff('day', start_date, end_date)) END AS t,
               CASE WHEN status IN ('cancelled', 'disputed') THEN 1 WHEN status = 'completed' THEN 2 ELSE 0 END AS outcome
        FROM ({STRUCTURE_SQL}) WHERE s = 'milestones' AND status IS NOT NULL AND currency = 'USD'
          AND (status = 'active' OR end_date IS NOT NULL)""", [today])
    with np.errstate(all="ignore"):
        direct = CumIncidenceRight(data["t"].to_numpy(float), data["outcome"].to_numpy(float))
    charts_ = {json.loads(c.proto.spec)["layout"]["title"]["text"]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    line = next(t for t in charts_["Share not cancelled, by days since start"]["data"]
                if t.get("name") == "Milestones" and t.get("mode") == "lines")
    shown = dict(zip(line["x"][1:], line["y"][1:]))
    expected = dict(zip(direct.times, 1 - direct.cinc[0]))
    assert shown and all(y == pytest.approx(expected[x]) for x, y in shown.items())
    running = (data["t"].to_numpy()[:, None] >= np.array(list(shown))).sum(axis=0)
    assert (running >= 10).all()  # the line stops where fewer than 10 were still running


def test_time_scale_switch_draws_the_fraction_curves(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "cancellation")
    at.segmented_control(key="cancel_time_scale").set_value("fraction").run()
    assert not at.exception

    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert "Share not cancelled, by share of the planned duration elapsed" in titles


def test_three_contracts_show_counts_and_say_it_is_too_few(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "three.duckdb", [DASHBOARD_FIXTURES / "three_contracts.csv"])
    at = open_app(db, monkeypatch, "cancellation")
    shown = metrics(at)
    assert shown["Cancelled: milestones"] == "0 of 1"
    assert shown["Cancelled: single payment"] == "1 of 2"
    page = texts(at)
    assert "Too few finished contracts to conclude anything." in page
    assert "0 of 1 milestone contracts and 1 of 2 single-payment contracts were cancelled" in page
    assert "No adjusted comparison: too few finished contracts" in page
    assert "%" not in table_with(at, "status_unknown")["cancellation_rate"].str.cat()
    (rates,) = [d for d in at.dataframe if "status_unknown" in d.value.columns]
    assert "cancellation rate (95 % interval); cancelled of finished below 30" in rates.proto.columns
    # No comparison drawn, so no interval or test named either
    assert not any(c.value.startswith("Interval:") for c in at.caption)
    # No chart of three contracts' rates: the page says why instead of drawing noise.
    assert not at.get("plotly_chart")
    notes = [i.value for i in at.info]
    assert ("Too few finished contracts to chart rates (0 of 1 milestone contracts, 1 of 2 single-payment contracts "
            "cancelled)") in notes[0]
    assert "Only 3 contracts with known dates: too few to draw when cancellations happen" in " ".join(notes)


def test_contracts_without_status_are_named(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "upwork.duckdb", [DASHBOARD_FIXTURES / "upwork_legacy.csv"])
    at = open_app(db, monkeypatch, "cancellation")
    (unknown,) = query_one(db, "SELECT count(*) FROM contracts WHERE status IS NULL")
    assert unknown > 0
    assert any(f"{unknown:,} contract" in w.value and "no status yet" in w.value for w in at.warning)
    assert metrics(at)["Cancelled: milestones"] == "none finished"


def test_filters_that_select_nothing_say_so(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "cancellation", query={"from": "2099-01-01"})
    assert any("No contracts match these filters" in w.value for w in at.warning)
    assert not at.metric and not at.get("plotly_chart")


def test_empty_workspace_points_to_the_data_page(empty_db, monkeypatch):
    at = open_app(empty_db, monkeypatch, "cancellation")
    assert any("The workspace is empty" in i.value for i in at.info)
    assert not at.get("plotly_chart")
    assert "Data" in at.page_link[0].value


def test_the_pages_rates_are_the_reports(sample_db, monkeypatch):
    """The helper's finding: the page pooled every currency while `milestone-lens report` (and the HTML report
    downloaded from the page) compares within the report currency. Both now rest on the same contracts."""
    from analysis.report import build_report

    at = open_app(sample_db, monkeypatch, "cancellation")
    con = store.connect(sample_db)
    try:
        document = build_report(con).to_json()
    finally:
        con.close()
    rows = {r["structure"]: r for r in document["by_structure"]}
    shown = metrics(at)
    assert shown["Cancelled: milestones"] == f"{rows['milestones']['cancellation_rate'] * 100:.0f} %"
    assert shown["Cancelled: single payment"] == f"{rows['single']['cancellation_rate'] * 100:.0f} %"
    difference = document["comparison"]["rate_difference"]
    assert f"cancelled {abs(difference) * 100:.1f} percentage points less often" in texts(at)
    assert (f"({rows['milestones']['cancellation_rate'] * 100:.0f} % of {rows['milestones']['finished']:,} against "
            f"{rows['single']['cancellation_rate'] * 100:.0f} % of {rows['single']['finished']:,})") in texts(at)


def test_a_gap_the_interval_does_not_confirm_is_not_called_chance_free(tmp_path, monkeypatch):
    # 2 of 30 milestone against 9 of 36 single-payment contracts: the score test gives p = 0.047,
    # the Newcombe interval -35.1 to +0.1 points still includes no difference. The page must not
    # say both "includes no difference" and "probably not chance".
    db = build_workspace(tmp_path / "edge.duckdb", [DASHBOARD_FIXTURES / "edge_of_significance.csv"])
    assert query_one(db, COUNTS_SQL.format(where="true")) == (30, 2, 36, 9)
    at = open_app(db, monkeypatch, "cancellation")
    page = texts(at)
    p_value = chi2_contingency([[2, 28], [9, 27]], correction=False)[1]
    assert 0.04 < p_value < 0.05
    low, high = newcombe(2, 30, 9, 36)
    assert low < 0 < high
    assert f"The 95 % interval for the gap runs from {low * 100:+.1f} to {high * 100:+.1f} points: it includes 0, no difference" in page
    assert "Probably not chance" not in page and "Hardly chance" not in page
    assert f"Unproven: the test alone finds the gap unlikely to be chance (p = {p_value:.3f})" in page


def test_the_overview_says_the_same_of_that_gap(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "edge.duckdb", [DASHBOARD_FIXTURES / "edge_of_significance.csv"])
    page = texts(open_app(db, monkeypatch))
    p_value = chi2_contingency([[2, 28], [9, 27]], correction=False)[1]
    assert (f"Unproven: the test finds the difference unlikely to be chance (p = {p_value:.3f}), but its 95 % "
            "interval still includes 0 (no difference)") in page
    assert "unlikely to be chance (p" in page and "The difference is unlikely to be chance" not in page


def test_the_models_terms_are_named_in_words(sample_db, monkeypatch):
    """'log_budget', 'repeat_client' and a p-value of 4.35e-7 were the table's words."""
    from analysis import cancellation

    at = open_app(sample_db, monkeypatch, "cancellation")
    terms = next(d.value for d in at.dataframe if "odds_ratio" in d.value.columns)
    assert set(terms["term"]) <= set(cancellation.TERM_WORDS.values()) and len(terms) >= 4
    assert "milestones rather than a single payment" in set(terms["term"])
    assert all(p == "< 0.001" or float(p) >= 0.001 for p in terms["p_value"])


def test_the_log_rank_line_does_not_call_a_difference_the_rates_leave_unproven(tmp_path, monkeypatch):
    # Every contract of this file ends 20 days after its start: one event time, where the log-rank
    # test is the Mantel–Haenszel test of the same 2 × 2 table (p = 0.048). Beside "no firm
    # evidence" for the rates, the page said the risk over time "differs".
    db = build_workspace(tmp_path / "edge.duckdb", [DASHBOARD_FIXTURES / "edge_of_significance.csv"])
    time = np.full(66, 20.0)
    event = np.array([1.0] * 2 + [0.0] * 28 + [1.0] * 9 + [0.0] * 27)
    _, p_value = survdiff(time, event, np.array(["m"] * 30 + ["s"] * 36))
    assert 0.045 < p_value < 0.05
    page = texts(open_app(db, monkeypatch, "cancellation"))
    assert ("The risk of cancellation over time may differ, but the comparison of the cancellation rates finds no "
            f"firm difference: treat it as unproven (log-rank test over days since the start, p = {p_value:.3f}, 11 cancellations).") in page
    assert "differs between" not in page


def test_a_model_with_few_outcomes_per_term_is_called_a_rough_hint(sample_db, monkeypatch):
    """Writing only: its cancellations (counted here in SQL) are under 10 for each of the 4 terms,
    so the page warns; over every category (hundreds of cancellations) it does not."""
    (cancelled,) = query_one(sample_db, f"""SELECT count(*) FILTER (WHERE status IN ('cancelled', 'disputed'))
        FROM ({STRUCTURE_SQL}) WHERE category = 'writing' AND status IN ('completed', 'cancelled', 'disputed')
          AND s IN ('milestones', 'single') AND budget > 0 AND currency = 'USD'""")
    assert cancelled < 40
    warned = "too few of one outcome for a model of 4 terms (about 10 of each per term are needed)"
    at = open_app(sample_db, monkeypatch, "cancellation", query={"category": "writing"})
    assert f"{cancelled:,} of " in next(w.value for w in at.warning if warned in w.value)
    at = open_app(sample_db, monkeypatch, "cancellation")
    assert not [w for w in at.warning if warned in w.value]
