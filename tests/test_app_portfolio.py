"""The Portfolio risk page under AppTest. The portfolio fixture is small enough to check by hand
(see the numbers below); on the sample the figures are recomputed with plain SQL."""

from __future__ import annotations

import pandas as pd

from tests.dashboard_support import (
    DASHBOARD_FIXTURES, build_workspace, empty_db, metrics, open_app, query_one, sample_db, sample_template, texts,
)
from tests.test_app_cancellation import frame

__all__ = ["empty_db", "sample_db", "sample_template"]

PORTFOLIO = [DASHBOARD_FIXTURES / "portfolio_contracts.csv", DASHBOARD_FIXTURES / "portfolio_milestones.csv"]

# Remaining value of active fixed-price contracts: budget minus what was paid toward it, never below 0.
REMAINING_SQL = """
    WITH paid AS (SELECT source, contract_id, sum(gross) AS paid FROM payments
                  WHERE NOT pending AND kind IN ('milestone', 'contract_total', 'refund', 'other') GROUP BY ALL)
    SELECT c.freelancer, c.client, greatest(c.budget - coalesce(paid.paid, 0), 0) AS remaining
    FROM contracts c LEFT JOIN paid USING (source, contract_id)
    WHERE c.status = 'active' AND c.contract_type = 'fixed' AND c.budget IS NOT NULL AND c.currency = 'USD'"""


def table_with(at, column: str) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe if column in d.value.columns]


def test_exposure_of_the_portfolio_fixture_by_hand(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "portfolio.duckdb", PORTFOLIO)
    at = open_app(db, monkeypatch, "portfolio")
    shown = metrics(at)
    # P1: 1,000 budget, 250 paid, milestones 2 (submitted) and 3 (funded) in escrow, 4 not funded.
    # P2: 400, funded, nothing paid. P3: 600, nothing funded. P4 is hourly: counted, not valued.
    assert shown["Active contracts"] == "4"
    assert shown["Still to be paid (USD)"] == "1,750"            # 750 + 400 + 600
    assert shown["In escrow (USD)"] == "900"                     # 500 + 400
    assert shown["Not funded (USD)"] == "850"                    # 250 + 600
    # Four finished contracts, one cancelled: every active contract gets 25 %, from too little history.
    assert shown["Expected loss (USD)"] == f"{0.25 * 1750:,.0f}"
    assert any("rests on only 4 finished contracts" in w.value for w in at.warning)
    # The reports' words: one sentence where the page and the text and HTML reports agree.
    assert ("The expected loss rests on only 4 finished contracts of every kind, not on similar ones (no group of "
            "similar contracts has 30 finished): a rough guide, not an estimate to rely on." in [w.value for w in at.warning])
    assert "1 hourly contract has no agreed total: counted, not valued." in texts(at)


def test_drill_down_from_a_freelancer_to_its_contracts(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "portfolio.duckdb", PORTFOLIO)
    at = open_app(db, monkeypatch, "portfolio")
    by_freelancer = table_with(at, "freelancer")[0].set_index("freelancer")
    assert by_freelancer.at["Ana", "remaining"] == 1150.0 and by_freelancer.at["Ben", "remaining"] == 600.0
    drill = next(t for t in table_with(at, "contract_id"))
    assert sorted(drill["contract_id"]) == ["P1", "P2", "P3", "P4"]
    at.selectbox(key="portfolio_drill_freelancer").set_value("Ben").run()
    drill = next(t for t in table_with(at, "contract_id"))
    assert sorted(drill["contract_id"]) == ["P3", "P4"]
    assert "2 active contracts, largest expected loss first." in texts(at)


def test_a_cell_without_a_value_is_a_dash_not_the_word_none(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "portfolio.duckdb", PORTFOLIO)
    at = open_app(db, monkeypatch, "portfolio")
    drill = next(d for d in at.dataframe if "contract_id" in d.value.columns)
    hourly = drill.value.set_index("contract_id").loc["P4"]
    assert pd.isna(hourly["budget"]) and pd.isna(hourly["remaining"])  # P4 is hourly: no agreed total
    # but it was paid: its one invoice, 120 (it showed 0.00), and it is never valued, so no probability either
    assert hourly["paid"] == 120
    assert pd.isna(hourly["p_cancel"]) and pd.isna(hourly["p_basis"]) and pd.isna(hourly["p_finished"])
    assert drill.proto.HasField("placeholder") and drill.proto.placeholder == "—"


def test_group_by_client_keeps_names_as_text(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "portfolio.duckdb", PORTFOLIO)
    at = open_app(db, monkeypatch, "portfolio")
    at.segmented_control(key="portfolio_group").set_value("client").run()
    assert not at.exception
    by_client = table_with(at, "client")[0].set_index("client")
    assert by_client.at["**Bold** Co", "remaining"] == 1350.0   # P1 750 + P3 600
    assert by_client.at["<i>Ital</i>", "funded"] == 400.0
    at.selectbox(key="portfolio_drill_client").set_value("**Bold** Co").run()
    drill = next(t for t in table_with(at, "contract_id"))
    assert sorted(drill["contract_id"]) == ["P1", "P3"]
    # In running text the names are escaped, so markdown and HTML never act on them.
    sentence = next(m.value for m in at.markdown if "The largest," in m.value)
    assert "The largest, \\<i\\>Ital\\</i\\>, brought" in sentence


def test_concentration_by_hand(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "portfolio.duckdb", PORTFOLIO)
    at = open_app(db, monkeypatch, "portfolio")
    # Gross received per client: <i>Ital</i> 500 (H3); **Bold** Co 250 (P1) + 100 (H4); Pine Data 200 (H1) + 120 (P4).
    shares = [500 / 1170, 350 / 1170, 320 / 1170]
    hhi = sum(s * s for s in shares)
    shown = metrics(at)
    assert shown["Paying clients"] == "3"
    assert shown["Largest client's share"] == f"{shares[0] * 100:.0f} %"
    assert shown["Concentration (HHI)"] == f"{hhi:.3f}"
    assert "**concentrated on a few clients**" in texts(at)
    assert f"about **{1 / hhi:,.0f} equally large clients**" in texts(at)
    # With the client filter on one client, "100 %, concentrated on one" would be the filter's doing: not said.
    at.sidebar.multiselect(key="client").set_value(["Pine Data"]).run()
    assert metrics(at)["Paying clients"] == "1"
    assert "equally large clients" not in texts(at) and "concentrated on" not in texts(at)
    assert "Measured among the 1 paying client the client filter picks, not over all your clients" in texts(at)


def test_remaining_on_the_sample_and_after_a_filter(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "portfolio")
    remaining = frame(sample_db, REMAINING_SQL)
    assert metrics(at)["Still to be paid (USD)"] == f"{remaining['remaining'].sum():,.0f}"
    assert "Judging by how often similar contracts were cancelled in your history" in texts(at)  # 30 or more finished
    (active,) = query_one(sample_db, "SELECT count(*) FROM contracts WHERE status = 'active' AND currency = 'USD'")
    assert metrics(at)["Active contracts"] == f"{active:,}"
    # The active contracts in other currencies are named, so the Overview's larger count adds up.
    others = query_one(sample_db, "SELECT string_agg(n || ' in ' || currency, ', ' ORDER BY currency) FROM ("
                                  "SELECT currency, count(*) AS n FROM contracts WHERE status = 'active' "
                                  "AND currency <> 'USD' GROUP BY currency)")[0]
    assert f"Active contracts in other currencies ({others}) are not in these figures" in texts(at)
    assert texts(at).count("Pick a currency in the sidebar to see them") == 1  # said once, not twice
    freelancer = remaining.groupby("freelancer")["remaining"].sum().idxmax()
    at.sidebar.multiselect(key="freelancer").set_value([freelancer]).run()
    mine = remaining[remaining["freelancer"] == freelancer]["remaining"].sum()
    assert metrics(at)["Still to be paid (USD)"] == f"{mine:,.0f}"
    (hhi,) = query_one(sample_db, """
        WITH g AS (SELECT c.client, sum(p.gross) AS gross FROM payments p JOIN contracts c USING (source, contract_id)
                   WHERE NOT p.pending AND p.currency = 'USD' AND c.freelancer = ?
                     AND p.kind IN ('milestone', 'hourly', 'contract_total', 'bonus', 'refund') GROUP BY ALL)
        SELECT sum(power(gross / (SELECT sum(gross) FROM g), 2)) FROM g""", [freelancer])
    assert metrics(at)["Concentration (HHI)"] == f"{hhi:.3f}"


def test_no_finished_history_leaves_the_expected_loss_unknown(tmp_path, monkeypatch):
    """One active contract and nothing finished: the loss cannot be estimated, so it is not 0."""
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,budget,start_date,status\nC1,1000,2024-02-01,active\n")
    at = open_app(build_workspace(tmp_path / "fresh.duckdb", [contracts]), monkeypatch, "portfolio")
    assert not at.exception
    shown = metrics(at)
    assert shown["Still to be paid (USD)"] == "1,000" and shown["Expected loss (USD)"] == "—"
    assert "Your 1 valued active contract has USD 1,000 still to be paid." in texts(at).replace("**", "")
    assert [w.value for w in at.warning] == [
        "The expected loss is unknown: no contract in the history has finished to estimate it from."]


def test_no_active_contracts_still_shows_concentration(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "three.duckdb", [DASHBOARD_FIXTURES / "three_contracts.csv"])
    at = open_app(db, monkeypatch, "portfolio")
    assert any("No active contracts" in i.value for i in at.info)
    # Omega paid 300, Sigma 500 (contract-level totals).
    assert metrics(at)["Largest client's share"] == f"{500 / 800 * 100:.0f} %"


def test_filters_that_select_nothing_say_so(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "portfolio", query={"from": "2099-01-01"})
    assert any("No contracts match these filters" in w.value for w in at.warning)
    assert not at.metric


def test_empty_workspace_points_to_the_data_page(empty_db, monkeypatch):
    at = open_app(empty_db, monkeypatch, "portfolio")
    assert any("The workspace is empty" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_contracts_without_a_status_are_not_called_nothing_at_stake(tmp_path, monkeypatch):
    """An Upwork history alone: three contracts of unknown status, none known to be active."""
    from tests.conftest import FIXTURES

    db = build_workspace(tmp_path / "upwork.duckdb", [FIXTURES / "exports" / "upwork_transactions_2025.csv"])
    at = open_app(db, monkeypatch, "portfolio")
    assert not at.exception
    page = texts(at)
    assert "nothing is at stake right now" not in page
    assert ("No contract is known to be active in USD, but 3 contracts have no status yet (a transaction history "
            "cannot say): those still running are not counted here until you complete them on the Data page.") in page


def test_only_hourly_work_active_shows_without_an_error(tmp_path, monkeypatch):
    """The only active contract is hourly, so nothing is valued: the page stopped with "boolean value of NA"."""
    from tests.conftest import FIXTURES

    done = tmp_path / "done.csv"
    done.write_text("contract_id,status,budget\nLumen Labs / hourly,active,\n"
                    "Ember Foods / Packaging refresh,completed,860\nEmber Foods / Brand guidelines,completed,900\n")
    db = build_workspace(tmp_path / "upwork.duckdb", [FIXTURES / "exports" / "upwork_transactions_2025.csv", done])
    at = open_app(db, monkeypatch, "portfolio")
    assert not at.exception
    assert metrics(at)["Active contracts"] == "1"
    assert "rests on only" not in texts(at)


def test_funding_a_transaction_history_cannot_know_is_shown_as_unknown(tmp_path, monkeypatch):
    from tests.conftest import FIXTURES

    exports = FIXTURES / "exports"
    db = build_workspace(tmp_path / "twelve.duckdb", [exports / "upwork_2025_twelve_contracts.csv",
                                                      exports / "upwork_2025_twelve_completions.csv"])
    at = open_app(db, monkeypatch, "portfolio")
    shown = metrics(at)
    # Delta / Dashboard build: budget 2,400, 800 paid; the export records no funding
    assert shown["Still to be paid (USD)"] == "1,600"
    assert shown["In escrow (USD)"] == "unknown" and shown["Not funded (USD)"] == "unknown"
    said = texts(at)
    assert "Whether any of it is funded in escrow is unknown." in said
    assert "is funded in escrow; USD 1,600 is not" not in said
    assert any(w.value.startswith("Escrow funding is unknown for 1 active contract (1,600.00 of the remaining)")
               for w in at.warning)


SMALL_HISTORY = [DASHBOARD_FIXTURES / "small_history_contracts.csv", DASHBOARD_FIXTURES / "small_history_milestones.csv"]


def test_an_estimate_from_fewer_than_30_finished_contracts_says_it_is_not_from_similar_ones(tmp_path, monkeypatch):
    """11 finished contracts in all: no group reaches 30, so M4's probability comes from all of them. The page said
    "Judging by how often similar contracts were cancelled" and only described the groups of 30."""
    db = build_workspace(tmp_path / "small.duckdb", SMALL_HISTORY)
    at = open_app(db, monkeypatch, "portfolio")
    finished, cancelled = query_one(db, "SELECT count(*), count(*) FILTER (WHERE status IN ('cancelled', 'disputed')) "
                                        "FROM contracts WHERE status IN ('completed', 'cancelled', 'disputed')")
    assert (finished, cancelled) == (11, 2)
    remaining = frame(db, REMAINING_SQL)["remaining"].sum()
    assert remaining == 1600  # M4: 2,400 agreed, 800 paid
    loss = remaining * cancelled / finished
    assert metrics(at)["Expected loss (USD)"] == f"{loss:,.0f}"
    page = texts(at)
    assert "similar contracts were cancelled" not in page
    assert (f"As a rough guide from the {finished} finished contracts of every kind in your history (too few to "
            f"compare similar ones), expect to lose about USD {loss:,.0f} of it.") in page.replace("**", "")
    assert ("When even all finished contracts together are fewer than 30, they are used anyway: a rough guide from "
            "contracts of every kind, not similar ones.") in page
    assert (f"Your history has only {finished} finished contracts: every estimate here comes from all of them, of "
            "every kind, not from similar contracts.") in page
    assert (f"The expected loss rests on only {finished} finished contracts of every kind, not on similar ones (no "
            "group of similar contracts has 30 finished): a rough guide, not an estimate to rely on."
            in [w.value for w in at.warning])
    help_text = next(m.proto.help for m in at.metric if m.label == "Expected loss (USD)")
    assert help_text == (f"Still to be paid × the share cancelled among all {finished} finished contracts of your "
                         "history, of every kind: no group of similar contracts has 30 finished yet.")


def test_the_exposure_chart_says_it_draws_15_of_how_many(tmp_path, monkeypatch):
    """15 bars of about a thousand clients, titled "Still to be paid by client: funded or not", read as every client:
    a caption now says which 15 and of how many."""
    import json

    path = tmp_path / "contracts.csv"
    rows = ["contract_id,client,freelancer,title,category,platform,contract_type,budget,currency,start_date,"
            "planned_end_date,end_date,status"]
    # 18 active single-payment contracts, one per client (budgets 1,100 … 2,800, nothing paid), with 2 freelancers;
    # 4 finished ones, 1 cancelled, so every expected loss is a quarter of the budget.
    rows += [f"A{i},Client {i:02d},Freelancer {i % 2},Job,writing,direct,fixed,{1000 + 100 * i},USD,2026-10-01,"
             "2027-01-31,,active" for i in range(1, 19)]
    rows += [f"H{i},Old client,Freelancer 0,Old,writing,direct,fixed,500,USD,2025-01-01,2025-02-01,2025-02-01,"
             f"{'cancelled' if i == 1 else 'completed'}" for i in range(1, 5)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    db = build_workspace(tmp_path / "many.duckdb", [path])
    at = open_app(db, monkeypatch, "portfolio")
    at.segmented_control(key="portfolio_group").set_value("client").run()
    (at_stake,) = query_one(db, "SELECT count(DISTINCT client) FROM contracts WHERE status = 'active' AND budget > 0")
    assert at_stake == 18
    assert ("The 15 clients with the largest expected loss, of 18 clients with money still to be paid (the table "
            "below lists them all).") in texts(at)
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if json.loads(c.proto.spec)["layout"]["title"]["text"].startswith("Still to be paid by client"))
    assert spec["data"][0]["y"] == [f"Client {i:02d}" for i in range(18, 3, -1)]  # the 15 largest budgets
    assert len(table_with(at, "client")[0]) == 18
    at.segmented_control(key="portfolio_group").set_value("freelancer").run()  # 2 bars of 2: nothing to say
    assert "with the largest expected loss" not in texts(at)


def _write_contracts(path, rows: list[str]):
    """A contracts CSV of the template from ``rows`` (contract_id,client,freelancer,contract_type,budget,currency,
    start_date,end_date,status)."""
    path.write_text("contract_id,client,freelancer,contract_type,budget,currency,start_date,end_date,status\n"
                    + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_the_probability_basis_counts_the_pages_currency_only(tmp_path, monkeypatch):
    """USD has 6 fixed-price contracts and EUR 3, so the page is in USD. Valued active contracts: USD U1 and U2
    (U3 is hourly: not valued), EUR E1, E2 and E3. 5 finished contracts in all (fewer than 30), so every estimate
    comes from "all finished contracts": the table said 5 (both currencies), the page's currency has 2."""
    rows = ["U1,Acme,Ana,fixed,1000,USD,2026-01-05,,active", "U2,Acme,Ana,fixed,500,USD,2026-01-05,,active",
            "U3,Acme,Ana,hourly,,USD,2026-01-05,,active"]
    rows += [f"F{i},Acme,Ana,fixed,300,USD,2025-01-05,2025-02-05,{'cancelled' if i == 1 else 'completed'}"
             for i in range(1, 5)]
    rows += [f"E{i},Euro,Eva,fixed,700,EUR,2026-01-05,,active" for i in range(1, 4)] + [
        "G1,Euro,Eva,hourly,,EUR,2025-01-05,2025-02-05,completed"]
    db = build_workspace(tmp_path / "two.duckdb", [_write_contracts(tmp_path / "contracts.csv", rows)])
    at = open_app(db, monkeypatch, "portfolio")
    assert metrics(at)["Active contracts"] == "3"  # U1, U2, U3: the page is in USD
    (basis,) = table_with(at, "basis")
    assert basis.to_dict("records") == [{"basis": "all finished contracts", "contracts": 2}]


def test_with_no_history_the_chart_and_tables_rank_by_what_is_still_to_be_paid(tmp_path, monkeypatch):
    """Only active contracts, nothing finished: every expected loss is unknown (the hourly-only clients' 0). The
    chart "The 15 clients with the largest expected loss" drew Client 01 … 15 by name and left out Client 16 and 17,
    the two with most at stake; the table put the hourly-only clients first. Client i has a fixed budget of
    100 × i, nothing paid: the 15 with most still to be paid are Client 17 down to Client 03."""
    import json

    rows = [f"A{i},Client {i:02d},Ana,fixed,{100 * i},USD,2026-01-05,,active" for i in range(1, 18)]
    rows += ["H1,Hourly A,Ana,hourly,,USD,2026-01-05,,active", "H2,Hourly B,Ana,hourly,,USD,2026-01-05,,active"]
    db = build_workspace(tmp_path / "fresh.duckdb", [_write_contracts(tmp_path / "contracts.csv", rows)])
    at = open_app(db, monkeypatch, "portfolio")
    at.segmented_control(key="portfolio_group").set_value("client").run()
    assert ("The 15 clients with the most still to be paid, of 17 clients with money still to be paid (the table "
            "below lists them all).") in texts(at)
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if json.loads(c.proto.spec)["layout"]["title"]["text"].startswith("Still to be paid by client"))
    assert spec["data"][0]["y"] == [f"Client {i:02d}" for i in range(17, 2, -1)]
    by_client = table_with(at, "client")[0]
    assert list(by_client["client"]) == [f"Client {i:02d}" for i in range(17, 0, -1)] + ["Hourly A", "Hourly B"]
    assert "Most still to be paid first (no expected loss to rank by)." in texts(at)
    drill = next(t for t in table_with(at, "contract_id"))
    assert list(drill["contract_id"]) == [f"A{i}" for i in range(17, 0, -1)] + ["H1", "H2"]
    assert "19 active contracts, most still to be paid first (no expected loss to rank by)." in texts(at)
