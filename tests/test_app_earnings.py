"""The Earnings page under AppTest: totals, realised against agreed, losses on cancellation,
pending payments and account costs, each recomputed here with plain SQL on the tables."""

from __future__ import annotations

import json

from tests.dashboard_support import (
    DASHBOARD_FIXTURES, build_workspace, empty_db, metrics, open_app, query_one, sample_db, sample_template, texts,
)
from tests.test_app_cancellation import STRUCTURE_SQL, frame

__all__ = ["empty_db", "sample_db", "sample_template"]

TOWARD_BUDGET = "('milestone', 'contract_total', 'refund', 'other')"


def totals(db, currency: str, where: str = "TRUE") -> tuple[float, float]:
    gross, fees = query_one(db, f"""
        SELECT sum(p.gross), sum(p.fee) FROM payments p JOIN contracts c USING (source, contract_id)
        WHERE NOT p.pending AND p.currency = ? AND c.currency = ? AND {where}""", [currency, currency])
    return float(gross), float(fees)


def paid_share_when_cancelled(db, structure: str) -> float:
    agreed, paid = query_one(db, f"""
        WITH paid AS (SELECT source, contract_id, sum(gross) AS paid FROM payments
                      WHERE NOT pending AND kind IN {TOWARD_BUDGET} GROUP BY ALL)
        SELECT sum(t.budget), sum(coalesce(paid.paid, 0))
        FROM ({STRUCTURE_SQL}) t LEFT JOIN paid USING (source, contract_id)
        WHERE t.s = ? AND t.currency = 'USD' AND t.status IN ('cancelled', 'disputed') AND t.budget IS NOT NULL""",
                             [structure])
    return float(paid) / float(agreed)


def test_totals_on_the_sample(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "earnings")
    gross, fees = totals(sample_db, "USD")
    shown = metrics(at)
    assert shown["Gross (USD)"] == f"{gross:,.0f}"
    assert shown["Fees (USD)"] == f"{fees:,.0f}"
    assert shown["Net (USD)"] == f"{gross - fees:,.0f}"
    assert shown["Effective fee rate"] == f"{fees / gross * 100:.0f} %"


def test_realised_share_and_unpaid_on_cancellation(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "earnings")
    milestones, single = paid_share_when_cancelled(sample_db, "milestones"), paid_share_when_cancelled(sample_db, "single")
    assert milestones > single
    # The comparison is drawn because 30 or more contracts a side were cancelled (fewer give counts only).
    assert min(n for n, _, _ in cancelled_with_budget(sample_db).values()) >= 30
    assert (f"milestone contracts had still paid **{milestones * 100:.0f} %** of the agreed price, single-payment "
            f"contracts **{single * 100:.0f} %**") in texts(at)
    (unpaid,) = query_one(sample_db, f"""
        WITH paid AS (SELECT source, contract_id, sum(gross) AS paid FROM payments
                      WHERE NOT pending AND kind IN {TOWARD_BUDGET} GROUP BY ALL)
        SELECT sum(greatest(t.budget - coalesce(paid.paid, 0), 0))
        FROM ({STRUCTURE_SQL}) t LEFT JOIN paid USING (source, contract_id)
        WHERE t.s = 'single' AND t.currency = 'USD' AND t.status IN ('cancelled', 'disputed')""")
    assert metrics(at)["Unpaid: single payment (USD)"] == f"{float(unpaid):,.0f}"
    # The table's paid ÷ agreed as the reports write it ("44 %"), not "41.51%" beside "100%".
    realised = next(d.value for d in at.dataframe if "realised_share" in d.value.columns)
    cancelled = realised[(realised["structure"] == "Single payment") & (realised["status"] == "cancelled")]
    assert cancelled["realised_share"].tolist() == [f"{float(cancelled['paid'].iloc[0]) / float(cancelled['agreed'].iloc[0]) * 100:.0f} %"]


def test_a_currency_filter_shows_that_currency(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "earnings")
    at.sidebar.multiselect(key="currency").set_value(["GBP"]).run()
    gross, fees = totals(sample_db, "GBP")
    shown = metrics(at)
    assert shown["Gross (GBP)"] == f"{gross:,.0f}" and shown["Net (GBP)"] == f"{gross - fees:,.0f}"
    assert "other currencies" not in texts(at)


def test_a_client_filter_changes_the_totals(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "earnings", query={"client": ["Client 0001"]})
    gross, _ = totals(sample_db, "USD", "c.client = 'Client 0001'")
    assert metrics(at)["Gross (USD)"] == f"{gross:,.0f}"
    by_client = next(d.value for d in at.dataframe if "client" in d.value.columns)
    assert list(by_client["client"]) == ["Client 0001"]


def test_by_freelancer_lists_the_largest_first(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "earnings")
    at.segmented_control(key="earnings_group").set_value("freelancer").run()
    table = next(d.value for d in at.dataframe if "freelancer" in d.value.columns)
    expected = frame(sample_db, """
        SELECT c.freelancer, sum(p.gross) AS gross FROM payments p JOIN contracts c USING (source, contract_id)
        WHERE NOT p.pending AND p.currency = 'USD' AND c.currency = 'USD' GROUP BY ALL ORDER BY gross DESC LIMIT 50""")
    assert list(table["freelancer"]) == list(expected["freelancer"])
    assert table["gross"].round(2).tolist() == expected["gross"].round(2).tolist()


def test_bonuses_pending_and_account_costs_from_an_upwork_history(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "upwork.duckdb", [DASHBOARD_FIXTURES / "upwork_legacy.csv"])
    at = open_app(db, monkeypatch, "earnings")
    # Hand-checked from the fixture: the 120.00 bonus from Quill Media; the newest 300.00 milestone has no
    # balance yet (pending); 6.00 of Connects is a cost of the account, not of a contract.
    assert metrics(at)["Bonuses (USD)"] == "120"
    pending = next(d.value for d in at.dataframe if "items" in d.value.columns and "gross" in d.value.columns)
    assert (int(pending["items"].sum()), float(pending["gross"].sum())) == (1, 300.0)
    costs = next(d.value for d in at.dataframe if "first_date" in d.value.columns)
    (items, cost) = query_one(db, "SELECT count(*), sum(fee) - sum(gross) FROM payments WHERE kind = 'account_cost'")
    # one figure, the cost (it was "amount 0.00, fees 6.00")
    assert int(costs["items"].sum()) == items and float(costs["cost"].sum()) == float(cost)
    assert "amount" not in costs.columns and "fees" not in costs.columns
    assert float(cost) == 6.0
    gross, fees = totals(db, "USD")
    assert f"Net earnings after these account costs: **USD {gross - fees - 6:,.0f}**" in texts(at)
    # One client's net is not the account's: the account's costs are listed, not taken off it.
    at.sidebar.multiselect(key="client").set_value(["Quill Media"]).run()
    assert "Net earnings after these account costs" not in texts(at)
    assert "Not taken off the net above: it is narrowed by client, and these costs are the whole account's." in texts(at)


def test_unpaid_on_cancellation_is_unknown_while_no_status_is_known(tmp_path, monkeypatch):
    """A transaction history gives no status: "No cancelled or disputed contracts" (with a green check)
    claimed what nobody knows. Completed as cancelled without a budget, the card's 0 is said to leave
    that contract out."""
    from analysis.completions import complete_contract
    from analysis.store import connect

    db = build_workspace(tmp_path / "upwork.duckdb", [DASHBOARD_FIXTURES / "upwork_legacy.csv"])
    (fixed,) = query_one(db, "SELECT count(*) FROM contracts WHERE contract_type = 'fixed' AND currency = 'USD'")
    at = open_app(db, monkeypatch, "earnings")
    said = texts(at)
    assert "No cancelled or disputed fixed-price contracts" not in said
    assert (f"{fixed} fixed-price contracts have no status yet, so what cancellations left unpaid is unknown: complete "
            "their status and budget on the Data page (Complete contracts tab).") in said
    (contract_id,) = query_one(db, "SELECT min(contract_id) FROM contracts WHERE contract_type = 'fixed'")
    con = connect(db)
    complete_contract(con, "upwork", contract_id, status="cancelled", budget=None, planned_milestones=None)
    con.close()
    said = texts(open_app(db, monkeypatch, "earnings"))
    assert ("1 cancelled or disputed contract has no known budget: what it left unpaid is not in these figures; give "
            "the budget on the Data page (Complete contracts tab).") in said
    assert "may be more than shown" in said


def test_imported_names_stay_text(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "upload.duckdb", [DASHBOARD_FIXTURES / "upload_contracts.csv",
                                                      DASHBOARD_FIXTURES / "upload_milestones.csv"])
    at = open_app(db, monkeypatch, "earnings")
    by_client = next(d.value for d in at.dataframe if "client" in d.value.columns)
    assert '=HYPERLINK("http://x")' in set(by_client["client"])
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if json.loads(c.proto.spec)["layout"]["title"]["text"].startswith("The clients"))
    names = [n for trace in spec["data"] for n in trace["y"]]
    assert "=HYPERLINK(&quot;http://x&quot;)" in names and '=HYPERLINK("http://x")' not in names


def test_three_contracts_with_contract_level_totals(tmp_path, monkeypatch):
    db = build_workspace(tmp_path / "three.duckdb", [DASHBOARD_FIXTURES / "three_contracts.csv"])
    at = open_app(db, monkeypatch, "earnings")
    shown = metrics(at)
    # T1 paid 300 and T3 500 (direct clients, no fee); T2 was cancelled with nothing paid of its 200.
    assert (shown["Gross (USD)"], shown["Fees (USD)"], shown["Net (USD)"]) == ("800", "0", "800")
    assert shown["Unpaid: single payment (USD)"] == "200"
    assert "2 payments without a date" in texts(at)
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if json.loads(c.proto.spec)["layout"]["title"]["text"].startswith("Earnings by month"))
    assert spec["layout"]["annotations"][0]["text"] == "No dated payments"


def test_filters_that_select_nothing_say_so(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "earnings", query={"to": "1990-01-02"})
    assert any("No contracts match these filters" in w.value for w in at.warning)
    assert not at.metric


def test_empty_workspace_points_to_the_data_page(empty_db, monkeypatch):
    at = open_app(empty_db, monkeypatch, "earnings")
    assert any("The workspace is empty" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_money_columns_always_show_cents_with_separators(sample_db, monkeypatch):
    """"localized" dropped trailing zeros (30,200.8 beside 7,564); every money column of the page's
    tables is now "accounting": thousands separated, two decimals."""
    at = open_app(sample_db, monkeypatch, "earnings")
    money = {"gross", "fees", "net", "amount", "paid", "unpaid_on_cancellation"}
    formats = {name: column["type_config"].get("format")
               for table in at.dataframe for name, column in json.loads(table.proto.columns or "{}").items()
               if name in money and column.get("type_config", {}).get("type") == "number"}
    assert formats and set(formats.values()) == {"accounting"}, formats


# A 12-contract history (hand-made for the audit of small histories): 4 milestone contracts (M3 cancelled
# with 400 of its 1,200 paid, M4 active) and 8 single-payment ones (S6 cancelled, nothing of its 900 paid).
SMALL_HISTORY = [DASHBOARD_FIXTURES / "small_history_contracts.csv", DASHBOARD_FIXTURES / "small_history_milestones.csv"]


def cancelled_with_budget(db) -> dict[str, tuple[int, float, float]]:
    """Per structure: cancelled or disputed fixed-price USD contracts with a budget, their budgets and payments."""
    rows = frame(db, f"""
        WITH paid AS (SELECT source, contract_id, sum(gross) AS paid FROM payments
                      WHERE NOT pending AND kind IN {TOWARD_BUDGET} GROUP BY ALL)
        SELECT t.s, count(*) AS n, sum(t.budget) AS agreed, sum(coalesce(paid.paid, 0)) AS paid
        FROM ({STRUCTURE_SQL}) t LEFT JOIN paid USING (source, contract_id)
        WHERE t.currency = 'USD' AND t.contract_type = 'fixed' AND t.status IN ('cancelled', 'disputed')
          AND t.budget IS NOT NULL GROUP BY t.s""")
    return {r.s: (int(r.n), float(r.agreed), float(r.paid)) for r in rows.itertuples()}


def test_one_cancellation_a_side_gives_counts_and_amounts_not_a_comparison(tmp_path, monkeypatch):
    """One cancelled contract per side (400 of 1,200 paid; 0 of 900) was turned into "33 % against 0 %":
    below 30 cancelled contracts a side the page gives the counts and amounts and says they are too few."""
    db = build_workspace(tmp_path / "small.duckdb", SMALL_HISTORY)
    at = open_app(db, monkeypatch, "earnings")
    ended = cancelled_with_budget(db)
    assert ended == {"milestones": (1, 1200.0, 400.0), "single": (1, 900.0, 0.0)}  # as the fixture was written
    page = texts(at)
    assert "had still paid" not in page and "33 %" not in page
    (n_m, agreed_m, paid_m), (n_s, agreed_s, paid_s) = ended["milestones"], ended["single"]
    assert (f"The {n_m} cancelled or disputed milestone contract: **USD {paid_m:,.0f} of {agreed_m:,.0f}** paid; "
            f"the {n_s} cancelled or disputed single-payment contract: **USD {paid_s:,.0f} of {agreed_s:,.0f}** paid. "
            "Too few to compare what milestone and single-payment contracts still paid when cancelled: that needs "
            "at least 30 cancelled or disputed contracts of each kind with a known budget.") in page


def test_months_without_gross_show_a_dash_as_fee_rate(tmp_path, monkeypatch):
    """July and October 2026 brought no payment: their fee rate is "—", not the word "None"."""
    db = build_workspace(tmp_path / "small.duckdb", SMALL_HISTORY)
    at = open_app(db, monkeypatch, "earnings")
    table = next(d.value for d in at.dataframe if "month" in d.value.columns).set_index("month")
    paid = frame(db, """
        SELECT strftime(p.paid_date, '%Y-%m') AS month, sum(p.fee) / sum(p.gross) AS rate FROM payments p
        WHERE NOT p.pending AND p.currency = 'USD' AND p.paid_date IS NOT NULL GROUP BY ALL""").set_index("month")["rate"]
    shown = table["effective_fee_rate"]
    assert {m for m in shown.index if m not in paid.index} == {"2026-07", "2026-10"}
    assert (shown.drop(paid.index) == "—").all()
    assert shown[paid.index].tolist() == [f"{rate * 100:.0f} %" for rate in paid]


def test_the_client_table_caption_counts_the_clients_it_lists(tmp_path, monkeypatch):
    """9 paying clients were captioned "The 50 clients with the largest gross"."""
    db = build_workspace(tmp_path / "small.duckdb", SMALL_HISTORY)
    at = open_app(db, monkeypatch, "earnings")
    (clients,) = query_one(db, "SELECT count(DISTINCT c.client) FROM payments p JOIN contracts c USING (source, contract_id) "
                               "WHERE NOT p.pending AND p.currency = 'USD'")
    assert clients == 9
    page = texts(at)
    assert "The 50 clients" not in page
    assert f"The {clients} clients with gross in USD, largest first." in page
    at.segmented_control(key="earnings_group").set_value("freelancer").run()
    assert "The 1 freelancer with gross in USD, largest first." in texts(at)


def test_every_client_is_in_the_csv_and_the_caption_says_top_50_of_how_many(sample_db, monkeypatch):
    """The table, its CSV and its caption stopped at the 50 clients with the largest gross (an agency has
    about a thousand): the table still shows 50, its caption says of how many, and the CSV holds them all."""
    from dashboard import tables

    downloads: dict[str, object] = {}
    monkeypatch.setattr(tables, "download_csv", lambda frame, name, *, key, **_: downloads.__setitem__(key, frame))
    at = open_app(sample_db, monkeypatch, "earnings")
    for key in ("client", "freelancer"):
        if key == "freelancer":
            at.segmented_control(key="earnings_group").set_value("freelancer").run()
        expected = frame(sample_db, f"""
            SELECT c.{key}, sum(p.gross) AS gross FROM payments p JOIN contracts c USING (source, contract_id)
            WHERE NOT p.pending AND p.currency = 'USD' AND c.currency = 'USD' GROUP BY ALL ORDER BY gross DESC, c.{key}""")
        table = next(d.value for d in at.dataframe if key in d.value.columns)
        csv = downloads[f"earnings_{key}_csv"]
        assert len(csv) == len(expected)
        assert list(csv[key]) == list(expected[key])
        assert csv["gross"].round(2).tolist() == expected["gross"].round(2).tolist()
        if key == "client":
            assert len(expected) > 50  # 301 USD clients in the sample
            assert list(table[key]) == list(expected[key].head(50))
            assert (f"The top 50 of {len(expected):,} clients with gross in USD, largest first; the CSV holds all "
                    f"{len(expected):,}.") in texts(at)
        else:  # 13 freelancers: every one shown, as before
            assert len(table) == len(expected) < 50
            assert f"The {len(expected)} freelancers with gross in USD, largest first." in texts(at)


def test_the_client_chart_says_it_draws_15_of_how_many(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "earnings")
    (clients,) = query_one(sample_db, "SELECT count(DISTINCT c.client) FROM payments p JOIN contracts c "
                                      "USING (source, contract_id) WHERE NOT p.pending AND p.currency = 'USD' "
                                      "AND c.currency = 'USD'")
    assert f"The 15 clients with the largest gross, of {clients:,} clients with gross in USD." in texts(at)
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if json.loads(c.proto.spec)["layout"]["title"]["text"].startswith("The clients"))
    assert len(spec["data"][0]["y"]) == 15


def test_money_of_unknown_types_is_shown_apart(tmp_path, monkeypatch):
    """Kept as 'other' by the import and named in its warnings, then shown nowhere: 10.00 + 5.00 by hand."""
    from tests.test_report_cli import UNKNOWN_TYPES

    path = tmp_path / "legacy.csv"
    path.write_text(UNKNOWN_TYPES)
    at = open_app(build_workspace(tmp_path / "w.duckdb", [path]), monkeypatch, "earnings")
    table = next(d.value for d in at.dataframe if "descriptions" in d.value.columns)
    assert table[["currency", "items", "amount", "descriptions"]].values.tolist() == [
        ["USD", 2, 15.0, "Misc adjustment; Something new"]]
    assert "Money of unknown kinds" in [h.value for h in at.subheader]


def test_an_all_hourly_workspace_names_its_currency_without_fixed_price_contracts(tmp_path, monkeypatch):
    """"USD, of those with the most fixed-price contracts, the one with the most contracts" named
    fixed-price contracts no currency has: USD has 2 hourly contracts, EUR 1."""
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,contract_type,start_date,status,currency\nH1,hourly,2026-01-05,completed,USD\n"
                         "H2,hourly,2026-01-05,active,USD\nH3,hourly,2026-01-05,completed,EUR\n")
    at = open_app(build_workspace(tmp_path / "w.duckdb", [contracts]), monkeypatch, "earnings")
    assert "Amounts are in USD, the currency of most contracts; contracts in other currencies (1 in EUR)" in texts(at)
    assert "fixed-price" not in " ".join(c.value for c in at.caption if "Amounts are in" in c.value)
