"""Spreadsheets from every locale: encodings, delimiters, decimal commas and date orders.

The fixtures in tests/fixtures/locale hold one history written several ways (see its
README); every way must give the same workspace. When the data cannot decide, the import is
refused with a message naming the flag that does.
"""

from __future__ import annotations

import codecs
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from analysis import store
from analysis.errors import ImportValidationError
from analysis.importing import import_files
from analysis.locale import AmbiguousInputError, detect_decimal_comma, detect_delimiter, detect_encoding, detect_layout
from analysis.parsing import ParseOptions, stage_csv
from tests.conftest import FIXTURES
from tests.test_import_canonical import refused, snapshot

LOCALE = FIXTURES / "locale"
VARIANTS = ("us_utf8", "de_cp1252", "excel_utf16", "bom_crlf")
D = Decimal


def files(variant: str) -> list[Path]:
    return [LOCALE / variant / "contracts.csv", LOCALE / variant / "milestones.csv"]


def tables(con) -> dict:
    return {t: con.execute(f"SELECT * EXCLUDE (first_import_id, import_id) FROM {t} ORDER BY ALL").fetchall()
            for t in ("contracts", "milestones", "payments")}


@pytest.mark.parametrize("variant, encoding, delimiter", [
    ("us_utf8", "utf-8", ","), ("de_cp1252", "cp1252", ";"), ("excel_utf16", "utf-16-le", "\t"), ("bom_crlf", "utf-8-sig", "|"),
])
def test_layout_detected(variant, encoding, delimiter):
    for path in files(variant):
        layout = detect_layout(path)
        assert (layout.encoding, layout.delimiter) == (encoding, delimiter), path


def test_encoding_decided_by_the_whole_file(tmp_path):
    # One Windows-1252 byte after 3 MB of ASCII still makes the file Windows-1252, not UTF-8.
    path = tmp_path / "late.csv"
    path.write_bytes(b"a,b\n" + b"x,1\n" * 800_000 + "Zoë,2\n".encode("cp1252"))
    assert detect_encoding(path) == "cp1252"
    path.write_bytes(b"a,b\n" + b"x,1\n" * 800_000 + "Zoë,2\n".encode("utf-8"))
    assert detect_encoding(path) == "utf-8"
    path.write_bytes("a,b\nZoë,2\n".encode("utf-16-be"))  # no BOM: the zero bytes give it away
    assert detect_encoding(path) == "utf-16-be"


def test_delimiter_not_fooled_by_decimal_commas():
    # Every row has exactly one comma (a decimal comma), but only ';' splits header and rows alike.
    sample = "date;amount;note\n01.02.2026;1,5;a\n02.02.2026;2,5;b\n"
    assert detect_delimiter(sample) == ";"
    assert detect_delimiter("a|b|c\n1|2|3\n") == "|"
    assert detect_delimiter("only\n1\n2\n") == ","


@pytest.mark.parametrize("variant", VARIANTS[1:])
def test_every_locale_gives_the_same_workspace(tmp_path, variant):
    reference = store.connect(tmp_path / "us.duckdb")
    import_files(reference, files("us_utf8"))
    con = store.connect(tmp_path / f"{variant}.duckdb")
    import_files(con, files(variant))
    assert tables(con) == tables(reference)


def test_the_history_read_right(con):
    import_files(con, files("de_cp1252"))  # the hardest variant: ';', cp1252, 1.234,50 €, 14.03.2026
    contracts = con.execute("SELECT contract_id, client, title, budget, start_date::VARCHAR FROM contracts ORDER BY 1").fetchall()
    assert contracts == [("L1", "Café Zoë", "Brochure, 8 pages", D("1234.50"), "2026-03-14"),
                         ("L2", "Müller GmbH", "Website", D("12000.00"), "2026-04-02"),
                         ("L3", "Café Zoë", "Menu cards", D("300.25"), "2026-05-06")]
    assert con.execute("SELECT description FROM milestones WHERE contract_id = 'L1' AND seq = 1").fetchone() == ("Draft – first pass",)
    # EUR paid: 617.25 + 617.25 = 1,234.50, no fee (direct); USD paid: 4,000 on Upwork in 2026, 10 % = 400.
    money = dict((r[0], r[1:]) for r in con.execute("SELECT currency, sum(gross), sum(fee) FROM payments GROUP BY 1").fetchall())
    assert money == {"EUR": (D("1234.50"), D("0.00")), "USD": (D("4000.00"), D("400.00"))}


def test_extra_column_kept_aside_with_a_warning(con):
    summary = import_files(con, files("bom_crlf"))
    assert any("not in the template ('Notes')" in w for w in summary.warnings)


@pytest.mark.parametrize("original, variant", [
    ("exports/upwork_transactions_legacy.csv", "locale/upwork_legacy_de.csv"),
    ("exports/upwork_transactions_2025.csv", "locale/upwork_2025_utf16.csv"),
    ("exports/freelancer_transactions.csv", "locale/freelancer_de.csv"),
])
def test_marketplace_exports_resaved_in_other_locales(tmp_path, original, variant):
    a = store.connect(tmp_path / "a.duckdb")
    b = store.connect(tmp_path / "b.duckdb")
    import_files(a, [FIXTURES / original])
    import_files(b, [FIXTURES / variant])
    assert tables(a) == tables(b)


def test_same_report_in_every_locale(tmp_path, cli):
    reports = []
    for variant in VARIANTS:
        db = tmp_path / f"{variant}.duckdb"
        result = cli("import", *files(variant), "--json", db=db)
        assert result.code == 0, result.err
        result = cli("report", "--json", db=db)
        assert result.code == 0, result.err
        reports.append(result.json())
    assert all(r == reports[0] for r in reports[1:])


# --- ambiguity: refused, naming the flag -------------------------------------------------

HEADER = "contract_id,client,budget,currency,start_date,end_date,status\n"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_undecidable_dates_refused_asking_which(con, tmp_path):
    path = write(tmp_path, "contracts.csv", HEADER + "A1,Acme,100,USD,05/11/2024,06/11/2024,completed\n")
    before = snapshot(con)
    with pytest.raises(AmbiguousInputError) as err:
        import_files(con, [path])
    assert err.value.option == "day_first"
    assert str(err.value) == ("contracts.csv, row 2, column start_date: dates like '05/11/2024' could be day/month "
                              "or month/day; say which")
    assert snapshot(con) == before
    import_files(con, [path], options=ParseOptions(day_first=True))
    assert con.execute("SELECT start_date::VARCHAR FROM contracts").fetchone() == ("2024-11-05",)


def test_undecidable_dates_named_by_their_first_row_and_column(con, tmp_path):
    # ISO dates decide nothing; the first numeric date is row 3's end_date.
    path = write(tmp_path, "contracts.csv", HEADER + "A1,Acme,100,USD,2024-11-05,,active\n"
                 + "A2,Acme,100,USD,2024-11-05,06/11/2024,completed\nA3,Acme,100,USD,07/11/2024,,active\n")
    with pytest.raises(AmbiguousInputError) as err:
        import_files(con, [path])
    assert str(err.value).startswith("contracts.csv, row 3, column end_date: dates like '06/11/2024' could be")


def test_dates_proving_both_orders_refused_naming_the_later_cell(con, tmp_path):
    # Row 2's 13/11 can only be day-first, row 4's 11/14 only month-first.
    path = write(tmp_path, "contracts.csv", HEADER + "A1,Acme,100,USD,13/11/2024,,active\n"
                 + "A2,Acme,100,USD,05/11/2024,,active\nA3,Acme,100,USD,01/01/2024,11/14/2024,completed\n")
    before = snapshot(con)
    with pytest.raises(AmbiguousInputError) as err:
        import_files(con, [path])
    assert err.value.option == "day_first"
    assert str(err.value) == ("contracts.csv, row 4, column end_date: '11/14/2024' can only be read month-first, but "
                              "row 2, column start_date ('13/11/2024') only day-first; fix the file, or say which")
    assert snapshot(con) == before


def test_dates_proving_both_orders_in_one_row_name_both_columns(con, tmp_path):
    """13/05/2025 in start_date and 05/20/2025 in end_date of one row: the message said "column start_date:
    '13/05/2025' ..., but row 2 ('05/20/2025')", so both values seemed to be start_date's. The later cell (further
    right) is the one named, the other by its column too."""
    path = write(tmp_path, "contracts.csv", HEADER + "X1,A,100,USD,13/05/2025,05/20/2025,completed\n")
    assert str(refused(con, path, AmbiguousInputError)) == (
        "contracts.csv, row 2, column end_date: '05/20/2025' can only be read month-first, but "
        "row 2, column start_date ('13/05/2025') only day-first; fix the file, or say which")


def test_the_other_date_is_named_by_its_row_as_a_spreadsheet_counts_it(con, tmp_path):
    """Blank lines count as rows: the message's other row moves with them as the problem's own row does."""
    path = write(tmp_path, "contracts.csv", HEADER + "\nA1,Acme,100,USD,13/05/2025,,active\n\nA2,Acme,100,USD,05/20/2025,,active\n")
    with pytest.raises(AmbiguousInputError) as err:
        import_files(con, [path])
    assert str(err.value) == ("contracts.csv, row 5, column start_date: '05/20/2025' can only be read month-first, but "
                              "row 3 ('13/05/2025') only day-first; fix the file, or say which")


def test_one_value_proves_the_date_order_for_the_whole_column(con, tmp_path):
    # The last row's 13 can only be a day: every date is day-first, the first ones too.
    path = write(tmp_path, "contracts.csv", HEADER + "A1,Acme,100,USD,05/11/2024,,active\n" + "A2,Acme,100,USD,13/11/2024,,active\n")
    import_files(con, [path])
    assert con.execute("SELECT start_date::VARCHAR FROM contracts ORDER BY 1").fetchall() == [("2024-11-05",), ("2024-11-13",)]


def test_mixed_decimal_marks_refused_asking_which(con, tmp_path):
    path = write(tmp_path, "contracts.csv", HEADER + 'A1,Acme,"1.234,50",EUR,2024-01-05,,active\nA2,Acme,12.50,EUR,2024-01-05,,active\n')
    before = snapshot(con)
    with pytest.raises(AmbiguousInputError) as err:
        import_files(con, [path])
    assert err.value.option == "decimal_comma"
    assert str(err.value) == ("contracts.csv, row 3, column budget: '12.50' is written with a decimal point but row 2 "
                              "('1.234,50') with a decimal comma; fix the file, or say which")
    assert snapshot(con) == before


def test_decimal_comma_detected_over_the_whole_column(con, tmp_path):
    # Only the last value ("99,5") decides: 1.500 and 2.000 are then thousands, not three decimals.
    path = write(tmp_path, "contracts.csv", HEADER.replace(",", ";")
                 + "A1;Acme;1.500;EUR;2024-01-05;;active\nA2;Acme;2.000;EUR;2024-01-05;;active\nA3;Acme;99,5;EUR;2024-01-05;;active\n")
    import_files(con, [path])
    assert con.execute("SELECT list(budget ORDER BY contract_id) FROM contracts").fetchone() == ([D("1500.00"), D("2000.00"), D("99.50")],)


def test_lone_thousands_group_decides_nothing(tmp_path):
    # "1.234" could be 1234 or a mistyped 1.234: no decision, and the import reports the cell.
    con = duckdb.connect()
    path = write(tmp_path, "x.csv", "amount\n1.234\n100\n")
    staged = stage_csv(con, path, "s")
    assert detect_decimal_comma(con, staged, ["amount"]) is None
    path = write(tmp_path, "y.csv", "amount\n(1 234.50)\n100\n")
    assert detect_decimal_comma(con, stage_csv(con, path, "s"), ["amount"]) is False


def test_cli_names_the_flag(cli, tmp_path):
    path = write(tmp_path, "contracts.csv", HEADER + "A1,Acme,100,USD,05/11/2024,,active\n")
    result = cli("import", path)
    assert result.code == 2
    assert result.err == ("milestone-lens: error: contracts.csv, row 2, column start_date: dates like '05/11/2024' "
                          "could be day/month or month/day; say which with --day-first or --month-first\n")
    assert cli("import", path, "--month-first", "--json").code == 0
    mixed = write(tmp_path, "m.csv", HEADER + 'A1,Acme,"1.234,50",EUR,2024-01-05,,active\nA2,Acme,12.50,EUR,2024-01-05,,active\n')
    result = cli("import", mixed)
    assert result.err.strip().endswith("; fix the file, or say which with --decimal-comma (amounts like 1.234,56)")


def test_excel_sep_line(con, tmp_path):
    path = write(tmp_path, "contracts.csv", "sep=;\r\n" + HEADER.replace(",", ";") + "A1;Acme;100;USD;2024-01-05;;active\nA2;Acme;x;USD;2024-01-05;;active\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    # The "sep=" line is line 1, the header line 2: A2 is row 4 as a spreadsheet shows it.
    assert str(err.value) == "contracts.csv, row 4, column budget: cannot read 'x' as an amount"


def test_windows_1252_bytes_that_are_not_utf8(con, tmp_path):
    text = HEADER + "A1,Société Générale – Paris,100,EUR,2024-01-05,,active\n"
    path = write(tmp_path, "contracts.csv", text, "cp1252")
    assert codecs.BOM_UTF8 not in path.read_bytes()
    summary = import_files(con, [path])
    assert con.execute("SELECT client FROM contracts").fetchone() == ("Société Générale – Paris",)
    # The one guess the import makes about an encoding is said, so garbled letters have an explanation.
    from analysis.importing import WINDOWS_1252_NOTE

    assert summary.warnings[0] == f"contracts.csv: read as {WINDOWS_1252_NOTE}"


def test_text_in_neither_utf8_nor_windows_1252_is_refused_by_row_and_column(con, tmp_path):
    """Shift-JIS has bytes Windows-1252 leaves undefined (0x81 here): it was read as Latin-1,
    garbage with control characters, and imported as "Ready". Refused by row and column now."""
    path = tmp_path / "contracts.csv"
    path.write_bytes((HEADER + "A1,Acme,100,USD,2024-01-05,,active\n").encode()
                     + "A2,データ株式会社,100,USD,2024-01-05,,active\n".encode("shift_jis"))
    assert b"\x81" in path.read_bytes()
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert str(err.value).startswith("contracts.csv, row 3, column client: byte")
    assert "not valid Windows-1252 text" in str(err.value) and "save the file again as UTF-8" in str(err.value)
    assert con.execute("SELECT count(*) FROM imports").fetchone() == (0,)


def test_a_deciding_date_past_the_first_rows_still_decides(con, tmp_path):
    # 300 ISO dates, then "05/11/2024" and "13/11/2024": the 13 proves day-first for the whole
    # column, so the 5 is a day too. Nothing in the first rows (what a reader sees first) tells.
    iso = "".join(f"A{i},Acme,100,USD,2024-01-05,,active\n" for i in range(300))
    path = write(tmp_path, "contracts.csv", HEADER + iso + "B1,Acme,100,USD,05/11/2024,,active\nB2,Acme,100,USD,13/11/2024,,active\n")
    import_files(con, [path])
    assert con.execute("SELECT contract_id, start_date::VARCHAR FROM contracts WHERE contract_id LIKE 'B%' ORDER BY 1").fetchall() == [
        ("B1", "2024-11-05"), ("B2", "2024-11-13")]
    assert con.execute("SELECT count(*) FROM contracts WHERE start_date = DATE '2024-01-05'").fetchone() == (300,)


def test_a_bad_cell_past_the_first_rows_is_named_by_its_row(con, tmp_path):
    rows = "".join(f"A{i},Acme,100,USD,2024-01-05,,active\n" for i in range(300))
    path = write(tmp_path, "contracts.csv", HEADER + rows + "B1,Acme,1O0,USD,2024-01-05,,active\n")
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    # header = row 1, the 300 rows = rows 2..301, B1 = row 302
    assert str(err.value) == "contracts.csv, row 302, column budget: cannot read '1O0' as an amount"
    assert snapshot(con) == before


def test_rows_named_right_when_the_file_is_typed_straight_from_disk(con, tmp_path):
    # Every cell parses, so the file is typed in one pass and numbered afterwards: A5 is row 7
    # (header = row 1, A0 = row 2) and its copy, after A0..A299, row 302.
    rows = "".join(f"A{i},Acme,100,USD,2024-01-05,,active\n" for i in range(300))
    path = write(tmp_path, "contracts.csv", HEADER + rows + "A5,Acme,100,USD,2024-01-05,,active\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert str(err.value) == "contracts.csv, row 302, column contract_id: contract_id 'A5' appears more than once (rows 7, 302)"
