"""The app's frame: every page renders, the sidebar filters drive the numbers and live in the URL,
queries are cached per data version, tables download safely."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from analysis import store
from analysis.filters import Filters
from analysis.importing import import_files
from dashboard import state
from dashboard.tables import changed_rows, csv_bytes, escape_markdown, neutralise_formulas, safe_file_name
from tests.dashboard_support import (
    DASHBOARD_FIXTURES, PAGE_TITLES, PAGES, build_workspace, empty_db, in_main_currency, metrics, open_app, query_one,
    sample_db, sample_template, texts,
)

__all__ = ["empty_db", "sample_db", "sample_template"]  # fixtures used below


def contracts_metric(at) -> int:
    return int(metrics(at)["Contracts"].replace(",", ""))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_the_sample(sample_db, monkeypatch, page):
    at = open_app(sample_db, monkeypatch, page)
    assert [t.value for t in at.title] == [PAGE_TITLES[page]]
    # The same five filters are in the sidebar on every page.
    assert [m.label for m in at.sidebar.multiselect] == ["Client", "Freelancer", "Category", "Platform", "Currency"]
    assert [d.label for d in at.sidebar.date_input] == ["Started on or after", "Started on or before"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_an_empty_workspace(empty_db, monkeypatch, page):
    at = open_app(empty_db, monkeypatch, page)
    assert [t.value for t in at.title] == [PAGE_TITLES[page]]
    # Nothing to choose from yet: the filters offer no values.
    assert all(m.options == [] for m in at.sidebar.multiselect)


def test_changing_a_filter_changes_the_numbers(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch)
    (everything,) = query_one(sample_db, f"SELECT count(*) FROM contracts WHERE {in_main_currency()}")
    assert contracts_metric(at) == everything
    at.sidebar.multiselect(key="platform").set_value(["upwork"]).run()
    (upwork,) = query_one(sample_db, f"""SELECT count(*) FROM contracts WHERE {in_main_currency("platform = 'upwork'")}""")
    assert 0 < upwork < everything
    assert contracts_metric(at) == upwork
    at.sidebar.date_input(key="from").set_value(pd.Timestamp("2024-01-01").date()).run()
    recent_where = in_main_currency("platform = 'upwork' AND start_date >= DATE '2024-01-01'")
    (recent,) = query_one(sample_db, f"SELECT count(*) FROM contracts WHERE {recent_where}")
    assert 0 < recent < upwork
    assert contracts_metric(at) == recent


def test_a_link_with_query_parameters_reproduces_the_view(sample_db, monkeypatch):
    query = {"client": ["Client 0001", "Client 0002"], "from": "2020-01-01", "to": "2025-12-31"}
    at = open_app(sample_db, monkeypatch, query=query)
    assert at.sidebar.multiselect(key="client").value == ["Client 0001", "Client 0002"]
    assert str(at.sidebar.date_input(key="from").value) == "2020-01-01"
    where = in_main_currency("client IN ('Client 0001', 'Client 0002') "
                             "AND start_date BETWEEN DATE '2020-01-01' AND DATE '2025-12-31'")
    (expected,) = query_one(sample_db, f"SELECT count(*) FROM contracts WHERE {where}")
    assert 0 < expected < 2000
    assert contracts_metric(at) == expected
    assert "client Client 0001 or Client 0002" in texts(at)
    # The URL keeps the filters after the run.
    assert at.query_params["client"] == ["Client 0001", "Client 0002"]
    assert at.query_params["from"] == "2020-01-01"


def test_a_link_naming_what_the_workspace_lacks_says_what_it_ignored(sample_db, monkeypatch):
    """A shared link with a misspelt client and a broken date: the valid client still filters, and the
    sidebar says what was dropped (it used to show every contract without a word)."""
    query = {"client": ["Client 0001", "Client 0oo2"], "from": "notadate", "currency": "XYZ"}
    at = open_app(sample_db, monkeypatch, query=query)
    assert not at.exception
    assert [w.value for w in at.sidebar.warning] == [
        "This link asks for what the filters cannot show, so it is ignored: from 'notadate' (not a date: use "
        "YYYY-MM-DD); client 'Client 0oo2', currency 'XYZ' (not in this workspace)."]
    # ... and the page, under its title, where a reader of the figures looks (the sidebar may be closed).
    main_captions = [c.value for c in at.main.caption]
    assert (":material/link_off: Not applied, so these figures are not narrowed by it: from 'notadate' (not a date: "
            "use YYYY-MM-DD); client 'Client 0oo2', currency 'XYZ' (not in this workspace).") in main_captions, main_captions
    (expected,) = query_one(sample_db, f"""SELECT count(*) FROM contracts WHERE {in_main_currency("client = 'Client 0001'")}""")
    assert contracts_metric(at) == expected
    at.sidebar.multiselect(key="client").set_value([]).run()  # the user moves on: the notice goes
    (everything,) = query_one(sample_db, f"SELECT count(*) FROM contracts WHERE {in_main_currency()}")
    assert not at.sidebar.warning and contracts_metric(at) == everything
    assert not any("Not applied" in c.value for c in at.main.caption)


def test_a_link_says_why_each_value_was_ignored_by_its_kind(tmp_path, monkeypatch):
    """/timing?currency=EUR on a USD-only workspace said "(not in this workspace, or not a date)": a currency is never
    "not a date". Each value now says its own reason: EUR is not in this workspace (only USD is); 1980-01-01 is a
    date, but before the calendar's first day (1990-01-01); 2025/03/01 is a date the start filter reads (Streamlit
    takes YYYY/MM/DD too), so it applies and is not named; 'soon' is not a date."""
    db = build_workspace(tmp_path / "usd.duckdb", [DASHBOARD_FIXTURES / "three_contracts.csv"])
    at = open_app(db, monkeypatch, "timing", query={"currency": "EUR"})
    assert [w.value for w in at.sidebar.warning] == [
        "This link asks for what the filters cannot show, so it is ignored: currency 'EUR' (not in this workspace)."]
    at = open_app(db, monkeypatch, query={"from": "2025/03/01", "to": "soon", "client": "Nobody"})
    assert str(at.sidebar.date_input(key="from").value) == "2025-03-01"
    assert contracts_metric(at) == 1  # T3, the one contract started on or after 2025-03-01
    assert [w.value for w in at.sidebar.warning] == [
        "This link asks for what the filters cannot show, so it is ignored: to 'soon' (not a date: use YYYY-MM-DD); "
        "client 'Nobody' (not in this workspace)."]
    at = open_app(db, monkeypatch, query={"from": "1980-01-01"})
    assert [w.value for w in at.sidebar.warning] == [  # the link's own text is escaped for markdown, the reason is not
        "This link asks for what the filters cannot show, so it is ignored: from '1980\\-01\\-01' (outside 1990-01-01 "
        "to 2100-12-31)."]


def test_filters_survive_a_page_switch(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch)
    at.sidebar.multiselect(key="category").set_value(["writing"]).run()
    at.switch_page("views/data.py").run()
    assert at.sidebar.multiselect(key="category").value == ["writing"]
    at.switch_page("views/overview.py").run()
    (writing,) = query_one(sample_db, f"""SELECT count(*) FROM contracts WHERE {in_main_currency("category = 'writing'")}""")
    assert contracts_metric(at) == writing


def test_reversed_dates_are_reported_and_ignored(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, query={"from": "2025-01-01", "to": "2020-01-01"})
    assert any("reversed" in e.value for e in at.sidebar.error)
    (everything,) = query_one(sample_db, f"SELECT count(*) FROM contracts WHERE {in_main_currency()}")
    assert contracts_metric(at) == everything
    # The page says it too, under its title (a phone shows the sidebar closed), not "All contracts ...".
    main_captions = [c.value for c in at.main.caption]
    assert ("Not applied: the start dates run backwards (2025-01-01 after 2020-01-01), so these figures cover every "
            "start date. Swap them in the sidebar.") in " ".join(main_captions)


def test_clear_filters_shows_everything_again(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, query={"currency": "EUR"})
    (eur,) = query_one(sample_db, "SELECT count(*) FROM contracts WHERE currency = 'EUR'")
    assert contracts_metric(at) == eur
    at.sidebar.button(key="clear_filters").click().run()
    (everything,) = query_one(sample_db, f"SELECT count(*) FROM contracts WHERE {in_main_currency()}")
    assert contracts_metric(at) == everything
    assert at.sidebar.multiselect(key="currency").value == []


def test_sidebar_choices_are_the_workspace_values(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch)
    assert at.sidebar.multiselect(key="platform").options == ["direct", "fiverr", "freelancer", "upwork"]
    assert at.sidebar.multiselect(key="currency").options == ["EUR", "GBP", "USD"]
    (clients,) = query_one(sample_db, "SELECT count(DISTINCT client) FROM contracts")
    assert len(at.sidebar.multiselect(key="client").options) == clients


# --- cached queries --------------------------------------------------------------------------

CALLS: list[Filters] = []


def count_fixed(con, filters: Filters) -> int:
    """A probe: counts its own calls so the test sees when the cache answers instead."""
    CALLS.append(filters)
    where, params = filters.where()
    return con.execute(f"SELECT count(*) FROM contract_view WHERE contract_type = 'fixed' AND {where}", params).fetchone()[0]


def test_query_results_are_cached_per_filters_and_data_version(tmp_path, monkeypatch):
    db = tmp_path / "cache.duckdb"
    monkeypatch.setenv(store.DB_ENV_VAR, str(db))
    CALLS.clear()
    con = state.workspace()
    import_files(con, [DASHBOARD_FIXTURES / "three_contracts.csv"])
    assert state.query(count_fixed, Filters()) == 3
    assert state.query(count_fixed, Filters()) == 3
    assert len(CALLS) == 1  # the second answer came from the cache
    assert state.query(count_fixed, Filters(client="Sigma")) == 1
    assert len(CALLS) == 2
    # New data bumps the data version: the same filters are computed again.
    import_files(con, [DASHBOARD_FIXTURES / "upload_contracts.csv", DASHBOARD_FIXTURES / "upload_milestones.csv"])
    assert state.query(count_fixed, Filters()) == 6
    assert len(CALLS) == 3


def test_query_refuses_functions_it_cannot_name():
    with pytest.raises(ValueError):
        state.query(lambda con: 1)


# --- tables ----------------------------------------------------------------------------------

def test_formula_cells_are_neutralised_in_downloads():
    frame = pd.DataFrame({
        "text": ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "plain", None, "\t=x"],
        "amount": [-5.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    })
    safe = neutralise_formulas(frame)
    assert safe["text"].tolist()[:5] == ["'=1+2", "'+SUM(A1)", "'-2+3", "'@cmd", "plain"]
    assert safe["text"].isna().tolist()[5]
    assert safe["text"].tolist()[6] == "'\t=x"
    assert safe["amount"].tolist()[0] == -5.0  # numbers stay numbers
    assert frame["text"].tolist()[0] == "=1+2"  # the shown table is not changed
    back = pd.read_csv(io.BytesIO(csv_bytes(frame)), keep_default_na=False)
    assert back["text"].tolist()[:4] == ["'=1+2", "'+SUM(A1)", "'-2+3", "'@cmd"]
    assert back["amount"].tolist()[0] == -5.0


def test_formula_headers_are_neutralised_too():
    assert csv_bytes(pd.DataFrame({"=evil": [1]})).decode().splitlines()[0] == "'=evil"


def test_markdown_from_data_is_escaped():
    assert escape_markdown("**bold** [link](http://x) <b>x</b> $x$ :red[y]") == (
        r"\*\*bold\*\* \[link\]\(http\://x\) \<b\>x\</b\> \$x\$ \:red\[y\]"
    )
    assert escape_markdown("a\nb") == "a b"


def test_download_names_are_plain():
    assert safe_file_name("import problems/../x") == "import-problems-x"
    assert safe_file_name("...") == "table"


def test_changed_rows_sees_edits_and_clears_but_not_empty_cells():
    original = pd.DataFrame({"id": ["a", "b", "c"], "status": [None, "active", None],
                             "budget": [float("nan"), 10.0, 5.0]})
    edited = original.copy()
    edited.loc[0, "status"] = "completed"   # filled in
    edited.loc[1, "budget"] = None          # cleared
    edited.loc[2, "status"] = float("nan")  # empty stays empty
    assert changed_rows(original, edited, ["status", "budget"]) == [(0, {"status": "completed"}), (1, {"budget": None})]


def test_table_headers_are_words_and_downloads_keep_the_names(tmp_path, monkeypatch):
    """The import history's contracts_new reads "contracts new" on screen; a header the page names keeps its name."""
    import json

    db = build_workspace(tmp_path / "w.duckdb", [DASHBOARD_FIXTURES / "upwork_legacy.csv"])
    at = open_app(db, monkeypatch, "data")
    history = next(d for d in at.dataframe if "contracts_new" in d.value.columns)
    labels = {column: config.get("label") for column, config in json.loads(history.proto.columns).items()}
    assert labels["contracts_new"] == "contracts new" and labels["imported_at"] == "imported at"
    assert "contracts_new" in history.value.columns  # the data (and its CSV) keep the names


def test_a_typed_link_may_write_a_currency_or_platform_in_any_case(sample_db, monkeypatch):
    """``report --currency eur`` works; so does ``?currency=eur`` (it was ignored as not in the workspace)."""
    at = open_app(sample_db, monkeypatch, query={"currency": "eur", "platform": "Upwork"})
    assert at.sidebar.multiselect(key="currency").value == ["EUR"]
    assert at.sidebar.multiselect(key="platform").value == ["upwork"]
    assert not at.sidebar.warning
    (expected,) = query_one(sample_db, "SELECT count(*) FROM contracts WHERE currency = 'EUR' AND platform = 'upwork'")
    assert contracts_metric(at) == expected


@pytest.mark.parametrize("page", ["overview", "cancellation", "timing", "earnings", "portfolio"])
def test_count_columns_have_thousands_separators(sample_db, monkeypatch, page):
    """Counts showed as 15821 and 130720 beside amounts written 18,339,106.25: every whole-number column of an
    analysis page's tables is now written with separators ("localized", as the Data page's import counts are)."""
    import json

    at = open_app(sample_db, monkeypatch, page)
    formats = {}
    for table in at.dataframe:
        configured = json.loads(table.proto.columns or "{}")
        for name in table.value.columns:
            if pd.api.types.is_integer_dtype(table.value[name]):
                formats[name] = configured.get(name, {}).get("type_config", {}).get("format")
    assert formats and set(formats.values()) == {"localized"}, formats


def test_earnings_counts_by_structure_are_the_contracts_and_payments_with_separators(sample_db, monkeypatch):
    import json

    at = open_app(sample_db, monkeypatch, "earnings")
    table = next(t for t in at.dataframe if "structure" in t.value.columns and "payments" in t.value.columns)
    counts = table.value.set_index("structure")[["contracts", "payments"]]
    (contracts, payments) = query_one(sample_db, """
        SELECT count(DISTINCT c.contract_id), count(*) FROM payments p JOIN contracts c USING (source, contract_id)
        WHERE NOT p.pending AND p.currency = 'USD' AND c.currency = 'USD'""")
    assert (int(counts["contracts"].sum()), int(counts["payments"].sum())) == (contracts, payments)
    columns = json.loads(table.proto.columns)
    assert columns["contracts"]["type_config"]["format"] == columns["payments"]["type_config"]["format"] == "localized"


@pytest.mark.parametrize("page", ["overview", "timing", "earnings", "portfolio"])
def test_with_several_currencies_picked_the_notice_says_keep_one(sample_db, monkeypatch, page):
    """EUR and GBP picked in the sidebar, the figures in EUR: the notice still said "Pick a currency in the sidebar
    to see them" of GBP, already picked. It now says figures come in one currency and to keep only GBP."""
    (main, other) = query_one(sample_db, """
        SELECT arg_max(currency, (n_fixed, n)), arg_min(currency, (n_fixed, n)) FROM (
            SELECT currency, count(*) FILTER (WHERE contract_type = 'fixed') AS n_fixed, count(*) AS n
            FROM contracts WHERE currency IN ('EUR', 'GBP') GROUP BY currency)""")
    assert (main, other) == ("EUR", "GBP")  # the most fixed-price contracts of the two
    keep = ("The sidebar picks 2 currencies, but figures come in one at a time: keep only GBP selected there to see "
            "its figures.")
    at = open_app(sample_db, monkeypatch, page, query={"currency": ["EUR", "GBP"]})
    page_text = texts(at)
    assert "Pick a currency in the sidebar" not in page_text and "pick their currency" not in page_text
    assert "in GBP)" in page_text and keep in page_text
    # Nothing picked: picking a currency is the way to see the others, as before.
    at = open_app(sample_db, monkeypatch, page)
    assert "Pick a currency in the sidebar to see them." in texts(at) and keep not in texts(at)
