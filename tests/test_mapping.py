"""Any other CSV through a column mapping: inspect, suggest, save by name, import (API and CLI)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from analysis import mapping as mp
from analysis.errors import ImportValidationError, UserError
from analysis.importing import import_files
from tests.conftest import CANONICAL, FIXTURES
from tests.test_import_canonical import snapshot

SHEET = FIXTURES / "exports" / "agency_tracker.csv"
SHEET_MAPPING = FIXTURES / "exports" / "agency_tracker.mapping.json"
D = Decimal

EXPECTED_FIELDS = {
    "contract_id": "Job ID", "client": "Customer", "title": "Project name", "budget": "Price",
    "start_date": "Started", "end_date": "Closed on", "status": "State",
    "milestone_count": "Milestones", "paid_total": "Total paid",
}


def test_inspect_and_suggest():
    inspection = mp.inspect_file(SHEET)
    assert inspection.needs_mapping and inspection.detected_format is None
    assert (inspection.encoding, inspection.delimiter, inspection.rows) == ("utf-8", ";", 3)
    columns = {c.name: (c.samples[:2], c.looks_like) for c in inspection.columns}
    assert columns["Price"] == (["€1.200,00", "€300,00"], "amount")
    assert columns["Started"] == (["03.02.2025", "10.02.2025"], "date")
    assert columns["Milestones"] == (["3", "1"], "integer")
    assert columns["Notes"] == (["ok", "call Tom"], "text")
    # Every field found from header words and sample values; "Notes" feeds nothing.
    assert inspection.suggestion.fields == EXPECTED_FIELDS
    assert inspection.suggestion.missing_required() == []


def test_content_vetoes_a_misleading_header():
    # A "Start" column full of names is not the start date; "Kickoff" holds the dates.
    columns = [mp.ColumnPreview("ID", ["7"], "integer"), mp.ColumnPreview("Start", ["Ann", "Bob"], "text"),
               mp.ColumnPreview("Kickoff date", ["2025-01-02"], "date")]
    suggestion = mp.suggest_mapping(columns)
    assert suggestion.fields.get("start_date") == "Kickoff date"
    assert suggestion.missing_required() == ["status"]


@pytest.mark.parametrize("path, fmt", [
    (FIXTURES / "exports" / "upwork_transactions_legacy.csv", "upwork"),
    (FIXTURES / "exports" / "freelancer_transactions.csv", "freelancer"),
    (CANONICAL / "contracts.csv", "canonical"),
])
def test_known_headers_skip_the_mapping_step(path, fmt):
    inspection = mp.inspect_file(path)
    assert inspection.detected_format == fmt and not inspection.needs_mapping


def test_import_with_mapping(con):
    summary = import_files(con, [SHEET], mapping=SHEET_MAPPING)
    # Contract-level file: J-100 paid 1.200,00 and J-102 2.500,00 (J-101 paid 0: no payment row).
    assert summary.imported == {"contracts": 3, "milestones": 0, "payments": 2}
    assert any("1 column not mapped ('Notes')" in w for w in summary.warnings)
    rows = con.execute(
        """SELECT source, contract_id, client, title, budget, currency, platform, start_date::VARCHAR,
                  end_date::VARCHAR, status, structure FROM contract_view ORDER BY contract_id"""
    ).fetchall()
    assert rows == [
        # "Closed" -> completed, 3 milestones declared; dates day-first (20.02 proves it too)
        ("Agency tracker", "J-100", "Acme", "Logo refresh", D("1200.00"), "EUR", "direct", "2025-02-03", "2025-02-20", "completed", "milestones"),
        ("Agency tracker", "J-101", "Acme", "Flyer", D("300.00"), "EUR", "direct", "2025-02-10", "2025-02-15", "cancelled", "single"),
        ("Agency tracker", "J-102", "Birch", "Website", D("5000.00"), "EUR", "direct", "2025-03-01", None, "active", "milestones"),
    ]
    # Direct clients: no fee. 1,200 + 2,500.
    assert con.execute("SELECT sum(gross), sum(fee) FROM payments").fetchone() == (D("3700.00"), D("0.00"))
    assert import_files(con, [SHEET], mapping=SHEET_MAPPING).imported == {"contracts": 0, "milestones": 0, "payments": 0}


def test_save_list_load_by_name(tmp_path):
    saved = mp.load_mapping(SHEET_MAPPING)
    path = mp.save_mapping(saved, tmp_path)
    assert path == tmp_path / "Agency_tracker.json"
    assert mp.list_mappings(tmp_path) == ["Agency tracker"]
    assert mp.load_mapping("Agency tracker", tmp_path) == saved
    assert mp.load_mapping(path) == saved
    assert json.loads(path.read_text())["values"]["status"]["Ended early"] == "cancelled"
    mp.delete_mapping("Agency tracker", tmp_path)
    assert mp.list_mappings(tmp_path) == []


def test_a_hand_written_mapping_file_is_found_by_the_name_inside_it(tmp_path, cli, monkeypatch):
    """The name ``list_mappings`` shows is the name that loads it, whatever the file is called."""
    folder = tmp_path / "maps"
    folder.mkdir()
    (folder / "agency.json").write_bytes(b"\xef\xbb\xbf" + SHEET_MAPPING.read_bytes())  # with a BOM, as Notepad saves
    assert mp.list_mappings(folder) == ["Agency tracker"]
    assert mp.load_mapping("Agency tracker", folder) == mp.load_mapping(SHEET_MAPPING)
    monkeypatch.setenv(mp.MAPPINGS_ENV_VAR, str(folder))
    result = cli("import", SHEET, "--mapping", "Agency tracker", "--json")
    assert result.code == 0, result.err
    assert result.json()["imported"]["contracts"] == 3
    mp.delete_mapping("Agency tracker", folder)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 81])
def test_unsafe_names_refused(tmp_path, name):
    with pytest.raises(UserError):
        mp.save_mapping(mp.ColumnMapping(name=name, fields={"contract_id": "ID"}), tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("document, message", [
    ({"fields": {"contract_no": "Job"}}, "'contract_no' is not a template field"),
    ({"fields": "Job ID"}, "'fields' must map template fields to column headers"),
    ({"fields": {"status": "State"}, "values": {"status": {"Closed": "done"}}}, "'done' is not a status"),
    ({"fields": {"budget": "Price"}, "values": {"budget": {"a": "b"}}}, "values can only translate"),
    ({"fields": {}, "day_first": "yes"}, "'day_first' must be true, false or null"),
])
def test_malformed_mappings_refused(document, message):
    with pytest.raises(UserError) as err:
        mp.ColumnMapping.from_json(document)
    assert message in str(err.value)


def test_mapping_expects_a_column_the_file_lacks(con, tmp_path):
    broken = json.loads(SHEET_MAPPING.read_text())
    broken["fields"]["contract_id"] = "Job number"
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [SHEET], mapping=broken)
    assert str(err.value).startswith(
        "agency_tracker.csv, row 1: the mapping 'Agency tracker' expects a column 'Job number' for contract_id")
    assert snapshot(con) == before


def test_problems_name_the_files_own_column_not_the_mappings_copy(con, tmp_path):
    """The mapping translates State into a column of its own; a word it does not know is still
    reported in State, the column the user can fix (it said ``__mapped_status``)."""
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(SHEET.read_text(encoding="utf-8").replace(";Running;", ";Paused;"), encoding="utf-8")
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [sheet], mapping=SHEET_MAPPING)
    assert str(err.value) == ("sheet.csv, row 4, column State: unknown status 'Paused' "
                              "(expected one of completed, cancelled, disputed, active); the mapping's \"values\" "
                              "can translate it")
    # A default the mapping fills in is named as such.
    document = json.loads(SHEET_MAPPING.read_text())
    document["defaults"]["currency"] = "EURO"
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [SHEET], mapping=document)
    assert str(err.value).startswith("agency_tracker.csv, row 2, column currency (the mapping's default): currency 'EURO'")
    assert snapshot(con) == before


def test_hostile_headers_and_values_stay_data(con, tmp_path):
    sheet = tmp_path / "odd.csv"
    sheet.write_text('"Id""; DROP TABLE contracts;--",When,How much,Outcome\nX1,2025-01-02,10,"it\'s done"\n')
    document = {"name": "odd", "fields": {"contract_id": 'Id"; DROP TABLE contracts;--', "start_date": "When", "budget": "How much",
                                          "status": "Outcome"},
                "values": {"status": {"it's done": "completed"}}}
    import_files(con, [sheet], mapping=document)
    assert con.execute("SELECT contract_id, status FROM contracts").fetchall() == [("X1", "completed")]


def test_cli_mapping_by_file_and_by_name(cli, tmp_path, monkeypatch):
    result = cli("import", SHEET, "--mapping", SHEET_MAPPING, "--json")
    assert result.code == 0, result.err
    assert result.json()["imported"] == {"contracts": 3, "milestones": 0, "payments": 2}
    monkeypatch.setenv(mp.MAPPINGS_ENV_VAR, str(tmp_path / "maps"))
    mp.save_mapping(mp.load_mapping(SHEET_MAPPING))
    result = cli("import", SHEET, "--mapping", "Agency tracker", "--json", "--source", "second")
    assert result.code == 0, result.err
    assert result.json()["imported"]["contracts"] == 3  # a different source: its own contracts
    missing = cli("import", SHEET, "--mapping", "Nobody")
    assert missing.code == 2 and missing.err.strip() == (
        f"milestone-lens: error: no saved mapping named 'Nobody' in {tmp_path / 'maps'} (saved: Agency tracker)")
    monkeypatch.setenv(mp.MAPPINGS_ENV_VAR, str(tmp_path / "none"))
    assert cli("import", SHEET, "--mapping", "Agency tracker").err.strip() == (
        f"milestone-lens: error: no saved mapping named 'Agency tracker' in {tmp_path / 'none'}; give a mapping JSON "
        "file's path, or save one from the dashboard's Data page")


def test_without_mapping_the_sheet_is_refused_with_a_hint(cli):
    result = cli("import", SHEET)
    assert result.code == 2
    assert "format not recognised" in result.err and "--mapping" in result.err


def test_undecidable_dates_name_the_files_column_and_the_mappings_setting(cli, tmp_path):
    """Every date of this sheet reads both ways (03.02 / 02.03 …); with the mapping's day_first left open the
    error names the sheet's "Started", not the template's start_date, and the mapping's own setting."""
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("Job ID;Customer;Project name;Price;Started;State\nJ-1;Acme;Logo;100;03.02.2025;Closed\n"
                     "J-2;Acme;Flyer;50;04.02.2025;Running\n", encoding="utf-8")
    document = json.loads(SHEET_MAPPING.read_text())
    document["day_first"] = None
    document["fields"] = {k: v for k, v in document["fields"].items() if v in sheet.read_text()}
    mapping = tmp_path / "open.json"
    mapping.write_text(json.dumps(document))
    result = cli("import", sheet, "--mapping", mapping)
    assert result.code == 2
    assert result.err == ("milestone-lens: error: sheet.csv, row 2, column Started: dates like '03.02.2025' could be "
                          "day/month or month/day; say which with --day-first or --month-first, or set \"day_first\" "
                          "in the mapping\n")


def test_saving_never_overwrites_another_mapping_silently(tmp_path):
    """A second save of "Agency tracker" replaced the first without asking, and "Agency_tracker"
    (another name, the same file name) overwrote it too."""
    first = mp.load_mapping(SHEET_MAPPING)
    path = mp.save_mapping(first, tmp_path)
    changed = mp.ColumnMapping.from_json({**first.to_json(), "values": {}})
    with pytest.raises(UserError, match="a mapping named 'Agency tracker' is saved already: replace it"):
        mp.save_mapping(changed, tmp_path)
    assert mp.load_mapping("Agency tracker", tmp_path) == first
    assert mp.save_mapping(changed, tmp_path, replace=True) == path
    assert mp.load_mapping("Agency tracker", tmp_path) == changed
    alike = mp.ColumnMapping.from_json({**first.to_json(), "name": "Agency_tracker"})
    with pytest.raises(UserError, match=r"the saved mapping 'Agency tracker' is stored in the same file \(Agency_tracker.json\)"):
        mp.save_mapping(alike, tmp_path, replace=True)
    assert mp.list_mappings(tmp_path) == ["Agency tracker"]


def test_a_mapping_says_what_it_does_in_one_line():
    from analysis.mapping import ColumnMapping

    mapping = ColumnMapping(name="Tracker", fields={"contract_id": "Project", "budget": "Fee (EUR)"}, day_first=True,
                            decimal_comma=True, defaults={"currency": "EUR"}, values={"status": {"Done": "completed"}})
    assert mapping.describe() == ("Project → contract_id, Fee (EUR) → budget; every row: currency EUR; "
                                  "status: Done → completed; dates day first; decimal comma")


def test_word_translations_apply_once_to_the_files_own_word(con, tmp_path):
    """Each word was translated by its own UPDATE, so a later word matched an earlier one's meaning:
    "Closed" -> cancelled, then "Cancelled" -> disputed made C-1 disputed. A swap is the same case."""
    path = tmp_path / "chain.csv"
    path.write_text("id,started,price,state\nC-1,2024-01-10,100,Closed\nC-2,2024-01-11,200,Cancelled\n"
                    "C-3,2024-01-12,300,Done\nC-4,2024-01-13,400,completed\nC-5,2024-01-14,500,\n")
    import_files(con, [path], mapping={
        "name": "Chain", "fields": {"contract_id": "id", "start_date": "started", "budget": "price", "status": "state"},
        "values": {"status": {"Closed": "cancelled", " cancelled ": "disputed", "Done": "completed", "Completed": "cancelled"}},
        "defaults": {"status": "active"}})
    assert con.execute("SELECT contract_id, status FROM contracts ORDER BY contract_id").fetchall() == [
        ("C-1", "cancelled"), ("C-2", "disputed"), ("C-3", "completed"), ("C-4", "cancelled"), ("C-5", "active")]


def test_a_mapped_contracts_sheet_names_the_milestone_columns_it_cannot_use(con, tmp_path):
    """Description and Fee are template names, so the mapping took them, and a contracts sheet then
    dropped them without a word; named by the file's own headers."""
    path = tmp_path / "desc.csv"
    path.write_text("Job ID,Started,Price,State,Description,Fee,Notes\nD-1,2024-01-10,100,completed,Logo,15,x\n")
    summary = import_files(con, [path], mapping={
        "name": "Desc", "fields": {"contract_id": "Job ID", "start_date": "Started", "budget": "Price", "status": "State"}})
    assert summary.warnings[:2] == [
        "desc.csv: 1 column not mapped ('Notes'): kept aside, not imported",
        "desc.csv: 2 columns of the template's other file ('Description', 'Fee') in a contracts file (one row per "
        "contract: it has no seq and amount for milestones): kept aside, not imported"]


def test_a_mapping_without_a_required_field_names_the_files_own_headers(con, tmp_path):
    """The message listed the mapping's renamed columns ("the header has: contract_id, start_date,
    budget") and called status a column of the file."""
    path = tmp_path / "agency.csv"
    path.write_text("Job Ref,Begonnen,Preis,Zustand\nJ-1,2024-01-10,100,fertig\n")
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path], mapping={"name": "nostatus",
                                           "fields": {"contract_id": "Job Ref", "start_date": "Begonnen", "budget": "Preis"}})
    assert str(err.value) == (
        "agency.csv, row 1: the mapping 'nostatus' gives no column for status, which this file needs: map one of its "
        "columns to status or give the mapping a default for it (the header has: Job Ref, Begonnen, Preis, Zustand)")
    assert snapshot(con) == before


def test_a_mapping_default_is_not_listed_as_a_column_of_the_file(con, tmp_path):
    """With a currency default, the list read "Job Ref, Begonnen, Preis, currency (the mapping's default),
    Zustand": the file has no such column. The file's header, in its order."""
    path = tmp_path / "agency.csv"
    path.write_text("Job Ref,Zustand,Begonnen,Preis\nJ-1,fertig,2024-01-10,100\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path], mapping={"name": "nostatus", "defaults": {"currency": "EUR"},
                                           "fields": {"contract_id": "Job Ref", "start_date": "Begonnen", "budget": "Preis"}})
    assert str(err.value).endswith("(the header has: Job Ref, Zustand, Begonnen, Preis)")
