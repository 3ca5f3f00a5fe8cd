"""The Overview page and its wording: the numbers it shows are recomputed here with plain SQL
(structure derived from the raw tables by SPEC's rule) and, for the statistics, by hand."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from analysis import overview, store
from analysis.cancellation import compare_rates
from analysis.filters import Filters
from analysis.importing import import_files
from tests.dashboard_support import (
    DASHBOARD_FIXTURES, build_workspace, empty_db, in_main_currency, metrics, open_app, query_one, sample_db,
    sample_template, texts,
)
from tests.stats_by_hand import newcombe_by_hand as newcombe

__all__ = ["empty_db", "newcombe", "sample_db", "sample_template"]

# Structure straight from the tables (SPEC: hourly; fixed with >= 2 milestones; else single).
COUNTS_SQL = """
    WITH m AS (SELECT source, contract_id, count(*) AS n FROM milestones WHERE kind = 'milestone' GROUP BY ALL)
    SELECT
      count(*) FILTER (WHERE s = 'milestones' AND status IN ('completed', 'cancelled', 'disputed')),
      count(*) FILTER (WHERE s = 'milestones' AND status IN ('cancelled', 'disputed')),
      count(*) FILTER (WHERE s = 'single' AND status IN ('completed', 'cancelled', 'disputed')),
      count(*) FILTER (WHERE s = 'single' AND status IN ('cancelled', 'disputed'))
    FROM (SELECT c.*, CASE WHEN c.contract_type = 'hourly' THEN 'hourly'
                           WHEN greatest(coalesce(m.n, 0), coalesce(c.milestone_count, 0)) >= 2 THEN 'milestones'
                           ELSE 'single' END AS s
          FROM contracts c LEFT JOIN m USING (source, contract_id)) t
    WHERE {where}"""


def expected_headline(mc: int, mn: int, sc: int, sn: int) -> str:
    m_rate, s_rate = mc / mn, sc / sn
    assert s_rate > m_rate, "these tests use data where single-payment contracts fail more"
    return (f"In your history, single-payment contracts were cancelled {s_rate / m_rate:.1f}× as often as "
            f"milestone contracts ({s_rate * 100:.0f} % of {sn:,} vs {m_rate * 100:.0f} % of {mn:,} finished).")


def plotted_values(values) -> np.ndarray:
    """A trace's numbers as Plotly serialises them: a list, or typed base64 (``bdata``)."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
    return np.asarray(values, dtype=float)


def headline_of(at) -> str:
    return at.subheader[0].value


def test_overview_headline_and_figures_on_the_sample(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch)
    # The bundled sample (seed 7) mixes currencies; the page, like the reports, compares within USD, the currency
    # of most fixed-price contracts.
    mn, mc, sn, sc = query_one(sample_db, COUNTS_SQL.format(where=in_main_currency()))
    assert (mn, mc, sn, sc) == (708, 103, 708, 186)
    assert headline_of(at) == expected_headline(mc, mn, sc, sn)
    assert "1.8× as often" in headline_of(at) and "26 % of 708 vs 15 % of 708 finished" in headline_of(at)
    # The difference is far beyond chance: a plain chi-square test agrees, and the interval is by hand.
    p_value = chi2_contingency([[mc, mn - mc], [sc, sn - sc]], correction=False)[1]
    assert p_value < 0.001
    low, high = newcombe(mc, mn, sc, sn)
    assert f"{abs(high) * 100:.1f} to {abs(low) * 100:.1f} points lower" in texts(at)
    shown = metrics(at)
    (usd,) = query_one(sample_db, "SELECT count(*) FROM contracts WHERE currency = 'USD'")
    assert shown["Contracts"] == f"{usd:,}" == "1,770"
    (finished,) = query_one(sample_db, "SELECT count(*) FROM contracts WHERE status <> 'active' AND currency = 'USD'")
    assert shown["Finished"] == f"{finished:,}"
    assert shown["Cancelled: milestones"] == f"{mc / mn * 100:.0f} %"
    assert shown["Cancelled: single payment"] == f"{sc / sn * 100:.0f} %"
    gross, net = query_one(sample_db, """
        SELECT sum(p.gross), sum(p.gross - p.fee) FROM payments p
        WHERE p.contract_id IS NOT NULL AND NOT p.pending AND p.currency = 'USD'""")
    assert shown["Gross (USD)"] == f"{float(gross):,.0f}"
    assert shown["Net (USD)"] == f"{float(net):,.0f}"
    # Every figure is USD only (counts, rates and amounts alike), and the page says what it left out.
    eur, gbp = query_one(sample_db, "SELECT count(*) FILTER (WHERE currency = 'EUR'), count(*) FILTER (WHERE currency = 'GBP') FROM contracts")
    assert (f"These figures are for the 1,770 contracts in USD, the currency of most fixed-price contracts, as in the reports: "
            f"contracts in other currencies ({eur:,} in EUR, {gbp:,} in GBP) are reported apart.") in texts(at)


def test_earnings_chart_adds_up_to_the_dated_net(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch)
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    traces = json.loads(charts[0].proto.spec)["data"]
    assert {trace["name"] for trace in traces} == {"Milestones", "Single payment", "Hourly"}
    plotted = sum(float(plotted_values(trace["y"]).sum()) for trace in traces)
    (dated_net,) = query_one(sample_db, """
        SELECT sum(p.gross - p.fee) FROM payments p
        WHERE p.contract_id IS NOT NULL AND NOT p.pending AND p.currency = 'USD' AND p.paid_date IS NOT NULL""")
    assert plotted == pytest.approx(float(dated_net), abs=0.01)


def test_a_filter_changes_the_headline(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch)
    before = headline_of(at)
    at.sidebar.multiselect(key="category").set_value(["writing"]).run()
    mn, mc, sn, sc = query_one(sample_db, COUNTS_SQL.format(where=in_main_currency("category = 'writing'")))
    assert headline_of(at) == expected_headline(mc, mn, sc, sn) != before
    assert metrics(at)["Cancelled: single payment"] == f"{sc / sn * 100:.0f} %"
    # Not significant in this smaller group: the page says it could be chance.
    p_value = chi2_contingency([[mc, mn - mc], [sc, sn - sc]], correction=False)[1]
    assert p_value > 0.05
    assert "could well be chance" in texts(at)


def test_a_currency_filter_shows_amounts_in_that_currency(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, query={"currency": "EUR"})
    (gross,) = query_one(sample_db, """
        SELECT sum(p.gross) FROM payments p JOIN contracts c USING (source, contract_id)
        WHERE NOT p.pending AND c.currency = 'EUR' AND p.currency = 'EUR'""")
    assert metrics(at)["Gross (EUR)"] == f"{float(gross):,.0f}"
    assert "other currencies" not in texts(at)


def test_three_contracts_get_counts_and_a_plain_warning(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "three.duckdb", [DASHBOARD_FIXTURES / "three_contracts.csv"])
    at = open_app(db, monkeypatch)
    assert headline_of(at) == ("Too few finished contracts to compare: 0 of 1 milestone contracts and "
                               "1 of 2 single-payment contracts were cancelled.")
    shown = metrics(at)
    assert shown["Contracts"] == "3"
    assert shown["Cancelled: milestones"] == "0 of 1"
    assert shown["Cancelled: single payment"] == "1 of 2"
    assert shown["Cancelled: hourly"] == "—"
    # Contract-level totals (direct clients, no fee): 300 + 500 paid, no dates to plot.
    assert shown["Gross (USD)"] == "800" and shown["Net (USD)"] == "800"
    assert not at.get("plotly_chart")
    assert any("No dated payments" in i.value for i in at.info)


def test_an_all_hourly_workspace_is_not_told_to_complete_statuses(tmp_path, monkeypatch):
    """Two finished hourly contracts: the headline said none of the milestone or single-payment
    contracts "is known to have finished ... count once you complete them" — there are none."""
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,contract_type,start_date,status\nH1,hourly,2026-01-05,completed\n"
                         "H2,hourly,2026-01-05,cancelled\n")
    at = open_app(build_workspace(tmp_path / "w.duckdb", [contracts]), monkeypatch)
    assert headline_of(at) == ("There are no milestone contracts or single-payment contracts here, only hourly ones, "
                               "so there is nothing to compare.")
    assert "complete them" not in texts(at)


def test_filters_that_select_nothing_say_so(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, query={"from": "2099-01-01"})
    assert any("No contracts match these filters" in w.value for w in at.warning)
    assert not at.metric and not at.get("plotly_chart")


def test_empty_workspace_points_to_the_data_page(empty_db, monkeypatch):
    at = open_app(empty_db, monkeypatch)
    assert any("The workspace is empty" in i.value for i in at.info)
    assert [link.proto.page for link in at.page_link] and "Data" in at.page_link[0].value


def test_contracts_without_status_are_counted_not_hidden(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "unknown.duckdb", [DASHBOARD_FIXTURES / "three_contracts.csv"])
    con = store.connect(db)
    con.execute("""INSERT INTO contracts (source, contract_id, contract_type, budget, currency, start_date, status,
                                          first_import_id, import_id)
                   VALUES ('upwork', 'X1', 'fixed', NULL, 'USD', DATE '2025-04-01', NULL, 1, 1)""")
    store.bump_data_version(con)
    con.close()
    at = open_app(db, monkeypatch)
    assert metrics(at)["Contracts"] == "4"
    assert any("1 contract has no status yet" in w.value for w in at.warning)
    assert any("complete the 1 contract without a status" in link.value for link in at.page_link)


def test_a_transaction_history_alone_shows_no_loss_figure_it_cannot_know(tmp_path, monkeypatch):
    """Three Upwork contracts of unknown status: "Left unpaid 0" said nothing was lost, and the
    portfolio link "none right now" that nothing runs; neither is known."""
    from tests.conftest import FIXTURES

    db = build_workspace(tmp_path / "upwork.duckdb", [FIXTURES / "exports" / "upwork_transactions_2025.csv"])
    at = open_app(db, monkeypatch)
    assert not at.exception
    assert metrics(at)["Left unpaid (USD)"] == "—"
    assert "Portfolio risk: exposure of active contracts (none known to be active)" in [link.value for link in at.page_link]


def test_the_overview_links_to_every_analysis_page(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch)
    labels = " | ".join(link.value for link in at.page_link)
    for name in ("Cancellation risk", "Payment timing", "Earnings", "Portfolio risk", "Milestone splitter", "Data"):
        assert name in labels
    (active,) = query_one(sample_db, "SELECT count(*) FROM contracts WHERE status = 'active' AND currency = 'USD'")
    assert f"your {active:,} active contracts" in labels  # the USD ones, as Portfolio risk shows them


def test_a_filter_that_leaves_out_a_group_points_to_the_sidebar_not_the_sample(sample_db, monkeypatch):
    """A client with finished milestone contracts and no finished single one (found by SQL)."""
    (client,) = query_one(sample_db, """
        WITH m AS (SELECT source, contract_id, count(*) AS n FROM milestones WHERE kind = 'milestone' GROUP BY ALL)
        SELECT client FROM contracts c LEFT JOIN m USING (source, contract_id)
        WHERE c.contract_type = 'fixed' AND status IN ('completed', 'cancelled', 'disputed')
          AND client NOT IN (SELECT client FROM contracts WHERE currency <> 'USD')  -- one currency: all of it shown
        GROUP BY client
        HAVING count(*) FILTER (WHERE greatest(coalesce(m.n, 0), coalesce(c.milestone_count, 0)) >= 2) > 0
           AND count(*) FILTER (WHERE greatest(coalesce(m.n, 0), coalesce(c.milestone_count, 0)) < 2) = 0
        ORDER BY client LIMIT 1""")
    at = open_app(sample_db, monkeypatch)
    at.sidebar.multiselect(key="client").set_value([client]).run()
    assert headline_of(at).startswith("Your history has no finished single-payment contracts yet")
    assert "these filters may leave them out: widen or remove a filter in the sidebar" in texts(at)
    assert "load the sample" not in texts(at)

# --- the wording, from hand-made comparisons ------------------------------------------------------

def test_headline_ratio_and_counts():
    h = overview.headline(compare_rates(13, 100, 24, 100))
    assert h.text == ("In your history, single-payment contracts were cancelled 1.8× as often as milestone "
                      "contracts (24 % of 100 vs 13 % of 100 finished).")


def test_headline_when_milestones_fail_more():
    h = overview.headline(compare_rates(30, 100, 10, 100))
    assert h.text.startswith("In your history, milestone contracts were cancelled 3.0× as often as "
                             "single-payment contracts (30 % of 100 vs 10 % of 100 finished)")


def test_headline_says_no_multiple_from_a_few_cancellations():
    """3 of 40 milestone contracts against 11 of 38 single-payment ones: 3.9×, but one cancellation more
    or fewer makes it 2.9× or 5.2×; the sentence says "more often" and why no multiple."""
    h = overview.headline(compare_rates(3, 40, 11, 38))
    assert h.text == ("In your history, single-payment contracts were cancelled more often than milestone contracts "
                      "(29 % of 38 vs 7.5 % of 40 finished; with only 3 cancellations among the milestone contracts, "
                      "how many times as often cannot be said).")
    # From 10 cancellations on, the multiple is said.
    assert "2.0× as often" in overview.headline(compare_rates(10, 100, 20, 100)).text


def test_headline_when_one_side_never_cancels():
    h = overview.headline(compare_rates(0, 50, 10, 50))
    assert h.text == ("In your history, single-payment contracts were cancelled 20 % of the time; "
                      "none of the 50 finished milestone contracts were.")


def test_headline_when_nothing_is_cancelled():
    h = overview.headline(compare_rates(0, 40, 0, 40))
    assert h.text == ("In your history, none of the 40 finished milestone contracts and none of the 40 "
                      "single-payment contracts were cancelled.")
    assert not h.conclusive


def test_headline_for_nearly_equal_rates():
    h = overview.headline(compare_rates(40, 200, 41, 200))
    # 20 % and 20.5 %: rounded to whole percents they would read as the same rate
    assert h.text == ("In your history, milestone contracts and single-payment contracts were cancelled about "
                      "as often (20.0 % of 200 vs 20.5 % of 200 finished).")
    assert "could well be chance" in h.detail and not h.conclusive


def test_headline_for_a_small_sample_gives_counts_only():
    h = overview.headline(compare_rates(3, 12, 1, 5))
    assert h.text == ("Too few finished contracts to compare: 3 of 12 milestone contracts and 1 of 5 "
                      "single-payment contracts were cancelled.")
    assert "%" not in h.text and not h.conclusive


def test_headline_when_nothing_has_finished():
    h = overview.headline(compare_rates(0, 0, 0, 0))
    # "yet" was wrong for a transaction history, whose contracts have no status until the user gives one
    assert h.text == ("None of your milestone contracts or single-payment contracts is known to have finished, so "
                      "there is nothing to compare.")


def test_headline_without_one_group():
    h = overview.headline(compare_rates(0, 0, 5, 40))
    assert h.text == ("Your history has no finished milestone contracts yet, so there is nothing to compare "
                      "single-payment contracts against.")
    assert h.detail.startswith("40 finished single-payment contracts. ")
    assert overview.headline(compare_rates(0, 0, 1, 1)).detail.startswith("1 finished single-payment contract. ")
    assert h.detail.endswith("import more contracts, or load the sample to see how the comparison works.")
    # Under filters the missing group may be theirs: the sample is no answer, the sidebar is.
    filtered = overview.headline(compare_rates(0, 0, 5, 40), filtered=True)
    assert filtered.text == h.text
    assert filtered.detail.endswith("these filters may leave them out: widen or remove a filter in the sidebar, "
                                    "or import more contracts.")


def test_significant_difference_is_explained_with_its_interval():
    h = overview.headline(compare_rates(120, 799, 205, 790))
    low, high = newcombe(120, 799, 205, 790)
    assert h.conclusive
    assert h.detail == ("The difference is unlikely to be chance (p < 0.001): the milestone contracts' rate is "
                        f"{abs(high) * 100:.1f} to {abs(low) * 100:.1f} points lower than the single-payment "
                        "contracts' (95 % interval).")


@pytest.mark.parametrize(("rate", "text"), [(0.243, "24 %"), (0.043, "4.3 %"), (0.0, "0 %"), (0.1, "10 %"), (1.0, "100 %")])
def test_percent(rate, text):
    assert overview.percent(rate) == text


def test_rate_text_uses_counts_below_thirty_finished():
    assert overview.rate_text(3, 12) == "3 of 12"
    assert overview.rate_text(3, 30) == "10 %"
    assert overview.rate_text(0, 0) == "no finished contracts"


def test_earnings_by_month_and_structure_on_the_template(con):
    import_files(con, [store.DATA_DIR / "template" / "contracts.csv", store.DATA_DIR / "template" / "milestones.csv"])
    frame = overview.earnings_by_month_and_structure(con, Filters())
    rows = {(r.month.strftime("%Y-%m"), r.structure): r for r in frame.itertuples()}
    # five Upwork milestones of 30 paid in November 2026, 10 % fee after May 2023.
    nov = rows[("2026-11", "milestones")]
    assert (nov.payments, nov.gross, nov.fees, nov.net) == (5, 150.0, 15.0, 135.0)
    # A-002 is unpaid; A-003's two hourly invoices (240 + 180) were paid in October.
    oct_ = rows[("2026-10", "hourly")]
    assert (oct_.payments, oct_.gross) == (2, 420.0)
    assert len(rows) == 2


def test_a_tie_between_currencies_is_said_as_such(tmp_path, monkeypatch):
    """One EUR and one USD contract: the figures rest on EUR (first by name), not on "the currency of most"."""
    sheet = tmp_path / "two.csv"
    sheet.write_text("contract_id,start_date,status,budget,currency\nA,2025-01-05,completed,100,USD\n"
                     "B,2025-01-06,completed,200,EUR\n")
    db = build_workspace(tmp_path / "two.duckdb", [sheet])
    at = open_app(db, monkeypatch)
    assert ("These figures are for the 1 contract in EUR, first by name of those with the most contracts, as in the reports: "
            "contracts in other currencies (1 in USD) are reported apart.") in texts(at)


def test_a_pair_of_rates_that_round_alike_keeps_a_decimal():
    """"0.7 points less often (20 % of 66 against 20 % of 54)" contradicted itself."""
    assert overview.percent_pair(13 / 66, 11 / 54) == ("19.7 %", "20.4 %")
    assert overview.percent_pair(0.2, 0.2) == ("20 %", "20 %")
    assert overview.percent_pair(0.26, 0.15) == ("26 %", "15 %")
