"""Freelancer.com transactions: columns by name, content and position; fees onto their payments.

Expected figures are worked out by hand from tests/fixtures/exports/freelancer_transactions.csv.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from analysis import store
from analysis.errors import ImportValidationError
from analysis.importing import import_files
from tests.conftest import FIXTURES
from tests.test_import_canonical import refused, snapshot

FILE = FIXTURES / "exports" / "freelancer_transactions.csv"
GERMAN = FIXTURES / "locale" / "freelancer_de.csv"
D = Decimal
PRIYA = "Priya N. / Inventory spreadsheet macros"
TOM = "Tom W. / Logo vectorising"


def tables(con) -> dict:
    return {t: con.execute(f"SELECT * EXCLUDE (first_import_id, import_id) FROM {t} ORDER BY ALL").fetchall()
            for t in ("contracts", "milestones", "payments")}


def test_fixture(con):
    summary = import_files(con, [FILE])
    assert summary.files[0].format == "freelancer"
    # 7 rows: 3 milestone payments (250, 250, 60), 3 fee rows at the same minute as their
    # payment (25, 25, 6), 1 withdrawal (-400) -> 4 payments; 2 contracts; 2 + 1 milestones.
    assert summary.imported == {"contracts": 2, "milestones": 3, "payments": 4}
    money = {r[0]: r[1:] for r in con.execute(
        "SELECT contract_id, sum(gross), sum(fee), count(*) FROM payments WHERE contract_id IS NOT NULL GROUP BY 1").fetchall()}
    assert money == {PRIYA: (D("500.00"), D("50.00"), 2), TOM: (D("60.00"), D("6.00"), 1)}
    assert dict(con.execute("SELECT contract_id, structure FROM contract_view").fetchall()) == {PRIYA: "milestones", TOM: "single"}
    milestones = con.execute(
        "SELECT contract_id, seq, description, amount, paid_date::VARCHAR, fee FROM milestones ORDER BY 1, 2").fetchall()
    assert milestones == [
        (PRIYA, 1, "Partial payment for project", D("250.00"), "2026-01-06", D("25.00")),
        (PRIYA, 2, "Final payment for project", D("250.00"), "2026-01-19", D("25.00")),
        (TOM, 1, "Full payment for project", D("60.00"), "2026-02-02", D("6.00")),
    ]
    assert con.execute("SELECT client, title, platform, currency, start_date::VARCHAR FROM contracts WHERE contract_id = ?", [PRIYA]).fetchone() == (
        "Priya N.", "Inventory spreadsheet macros", "freelancer", "USD", "2026-01-06")
    assert con.execute("SELECT kind, gross, fee FROM payments WHERE contract_id IS NULL").fetchall() == [("withdrawal", D("-400.00"), D("0.00"))]


def test_german_headers_matched_by_content(tmp_path):
    # "Datum;Beschreibung;Währung;Betrag;Steuer", Windows-1252, 06.01.2026 23:52, +250,00
    a = store.connect(tmp_path / "a.duckdb")
    b = store.connect(tmp_path / "b.duckdb")
    import_files(a, [FILE])
    summary = import_files(b, [GERMAN])
    assert summary.files[0].format == "freelancer"
    assert tables(a) == tables(b)


def test_unknown_header_names_matched_by_position(con, tmp_path):
    rows = FILE.read_text().splitlines()[1:]
    path = tmp_path / "renamed.csv"
    path.write_text("\n".join(["c1,c2,c3,c4,c5", *rows]) + "\n")
    summary = import_files(con, [path], fmt="freelancer")
    assert summary.imported == {"contracts": 2, "milestones": 3, "payments": 4}


def test_file_without_a_header_row_keeps_its_first_transaction(tmp_path):
    """Its first row (Priya's first 250 payment) was once taken for the header: gone, and her
    contract counted as a single payment. An empty first-row cell (no tax) reads as empty."""
    a = store.connect(tmp_path / "a.duckdb")
    b = store.connect(tmp_path / "b.duckdb")
    import_files(a, [FILE])
    rows = FILE.read_text().splitlines()[1:]
    assert rows[0].endswith(",+250.00,0.00")
    path = tmp_path / "headerless.csv"
    path.write_text("\n".join([rows[0].removesuffix("0.00"), *rows[1:]]) + "\n")
    summary = import_files(b, [path])
    assert summary.files[0].format == "freelancer"
    assert summary.imported == {"contracts": 2, "milestones": 3, "payments": 4}
    assert tables(a) == tables(b)
    assert any(w.startswith("headerless.csv: no header row") for w in summary.warnings), summary.warnings
    # With a header, no such warning.
    assert not any("no header row" in w for w in import_files(store.connect(tmp_path / "c.duckdb"), [FILE]).warnings)


def test_overlapping_exports_and_reimport(tmp_path):
    lines = FILE.read_text().splitlines()
    january = tmp_path / "january.csv"
    january.write_text("\n".join(lines[:5]) + "\n")  # Jan 6 and Jan 19 payments with their fees
    everything = tmp_path / "everything.csv"
    everything.write_text("\n".join(lines) + "\n")
    con = store.connect(tmp_path / "w.duckdb")
    import_files(con, [january])
    second = import_files(con, [everything])
    # Only Tom's payment and the withdrawal are new; Priya's two payments are skipped.
    assert second.imported == {"contracts": 1, "milestones": 1, "payments": 2}
    whole = store.connect(tmp_path / "whole.duckdb")
    import_files(whole, [FILE])
    assert tables(con) == tables(whole)
    assert import_files(con, [FILE]).imported == {"contracts": 0, "milestones": 0, "payments": 0}


def test_same_row_twice_is_two_payments(con, tmp_path):
    # Two identical milestone payments at the same minute are two payments, not a duplicate.
    line = "06 Jan 2026 23:52,Done milestone payment from Ann for project Icons (Part) (EUR),EUR,+40.00,0.00"
    path = tmp_path / "twice.csv"
    path.write_text("Date,Description,Currency,Amount,Tax\n" + line + "\n" + line + "\n")
    import_files(con, [path])
    # Fee: Freelancer.com's file shows none here, so none is invented.
    assert con.execute("SELECT count(*), sum(gross), sum(fee), min(currency) FROM payments").fetchone() == (2, D("80.00"), D("0.00"), "EUR")
    # Each released milestone payment is a milestone: seq 1 and 2, by time then key.
    assert con.execute("SELECT list(seq ORDER BY seq), sum(amount) FROM milestones").fetchone() == ([1, 2], D("80.00"))
    assert import_files(con, [path]).imported["payments"] == 0


def test_fee_without_its_payment_and_tax(con, tmp_path):
    path = tmp_path / "fees.csv"
    path.write_text(
        "Date,Description,Currency,Amount,Tax\n"
        "01 Mar 2026 10:00,Done milestone payment from Bo for project Deck (Part 1) (USD),USD,+100.00,0.00\n"
        "03 Mar 2026 09:00,Project fee taken (Deck) (USD),USD,-10.00,1.00\n"         # 2 days later: nearest payment before
        "04 Mar 2026 09:00,Project fee taken (Old job) (USD),USD,-5.00,0.00\n"       # no payment of that project in the file
        "05 Mar 2026 09:00,Membership upgrade fee,USD,-8.95,0.00\n"
    )
    summary = import_files(con, [path])
    payments = {r[0]: r[1:] for r in con.execute("SELECT kind, contract_id, gross, fee FROM payments").fetchall()}
    assert payments["milestone"] == ("Bo / Deck", D("100.00"), D("11.00"))  # fee 10 + tax 1
    assert payments["fee"] == (None, D("0.00"), D("5.00"))
    assert payments["account_cost"] == (None, D("0.00"), D("8.95"))
    assert any("fee rows whose project has no payment" in w for w in summary.warnings)


def test_a_project_paid_in_two_currencies_refused(con, tmp_path):
    """A contract is in one currency: one project's payments in USD and EUR (or its fee in a currency none
    of its payments has) are refused, naming both rows; two clients' projects of one title may differ."""
    path = tmp_path / "mixed.csv"
    path.write_text(
        "Date,Description,Currency,Amount,Tax\n"
        "01 Mar 2026 10:00,Done milestone payment from Bo for project Deck (Part 1) (USD),USD,+100.00,0.00\n"
        "02 Mar 2026 10:00,Done milestone payment from Bo for project Deck (Part 2) (EUR),EUR,+100.00,0.00\n"
        "03 Mar 2026 10:00,Done milestone payment from Al for project Logo (Part 1) (EUR),EUR,+100.00,0.00\n"
        "03 Mar 2026 10:00,Project fee taken (Logo) (GBP),GBP,-10.00,0.00\n"
        "04 Mar 2026 10:00,Done milestone payment from Cy for project Logo (Part 1) (USD),USD,+100.00,0.00\n"
    )
    assert [str(p) for p in refused(con, path).problems] == [
        "mixed.csv, row 3, column Currency: project 'Deck' is paid in USD (row 2) and here in EUR: a project is in "
        "one currency; correct the currency of one of these rows",
        "mixed.csv, row 5, column Currency: project 'Logo' is paid in EUR (row 4) and here in GBP: a project is in "
        "one currency; correct the currency of one of these rows",
    ]


def test_a_negative_milestone_payment_is_refused(con, cli, db_path, tmp_path):
    """Freelancer.com lists money received as positive, and the reader has no reversal to make of a
    payment below zero: -250.00 became a milestone of -250 without a word. Refused by row and column."""
    path = tmp_path / "neg.csv"
    path.write_text(
        "Date,Description,Currency,Amount,Tax\n"
        "05 Jan 2026 10:00,Done milestone payment from Priya N. for project Inv (Partial) (USD),USD,+100.00,0.00\n"
        "06 Jan 2026 23:52,Done milestone payment from Priya N. for project Inv (Partial) (USD),USD,-250.00,0.00\n"
    )
    before = snapshot(con)
    err = refused(con, path)
    assert str(err) == (
        "neg.csv, row 3, column Amount: the milestone payment '-250.00' is negative: Freelancer.com lists a payment "
        "received as a positive amount; correct the amount, or leave a reversed payment out of the file")
    con.close()
    result = cli("import", path)
    assert result.code == 2 and result.err.count("\n") == 1 and "row 3, column Amount" in result.err
    with store.connect(db_path) as after:
        assert snapshot(after) == before


def test_a_positive_project_fee_is_refused(con, tmp_path):
    """A fee taken is listed as negative; +25.00 became a fee of -25, adding 25 to what the project paid
    (net 125 for a 100 payment). Refused by row and column, the workspace as before."""
    path = tmp_path / "fee.csv"
    path.write_text(
        "Date,Description,Currency,Amount,Tax\n"
        "05 Jan 2026 10:00,Done milestone payment from Priya N. for project Inv (Partial) (USD),USD,+100.00,0.00\n"
        "05 Jan 2026 10:00,Project fee taken (Inv) (USD),USD,+25.00,0.00\n"
    )
    err = refused(con, path)
    assert str(err) == (
        "fee.csv, row 3, column Amount: the project fee '+25.00' is positive: Freelancer.com lists a fee taken as a "
        "negative amount; correct the amount, or leave a refunded fee out of the file")


def test_a_currency_column_contradicting_the_description_is_refused(con, tmp_path):
    """"... (USD)" with EUR in the Currency column was imported as EUR. One of the two is wrong and amounts
    are never converted: refused, naming the row and the Currency column (a fee row too)."""
    path = tmp_path / "cur.csv"
    path.write_text(
        "Date,Description,Currency,Amount,Tax\n"
        "05 Jan 2026 10:00,Done milestone payment from Bo for project Deck (Part 1) (EUR),EUR,+100.00,0.00\n"
        "06 Jan 2026 23:52,Done milestone payment from Priya N. for project Inv (Partial) (USD),EUR,+250.00,0.00\n"
        "06 Jan 2026 23:52,Project fee taken (Inv) (USD),EUR,-25.00,0.00\n"
    )
    assert [str(p) for p in refused(con, path).problems] == [
        "cur.csv, row 3, column Currency: the currency 'EUR' contradicts the description's (USD): amounts are never "
        "converted; correct the one that is wrong",
        "cur.csv, row 4, column Currency: the currency 'EUR' contradicts the description's (USD): amounts are never "
        "converted; correct the one that is wrong",
    ]
    # A bracketed note that is no ISO code is not taken for a currency: "(SEO)" with USD imports.
    ok = tmp_path / "ok.csv"
    ok.write_text("Date,Description,Currency,Amount,Tax\n"
                  "05 Jan 2026 10:00,Done milestone payment from Bo for project Site (SEO),USD,+100.00,0.00\n")
    import_files(con, [ok])
    assert con.execute("SELECT currency, gross FROM payments").fetchall() == [("USD", D("100.00"))]


def test_a_currency_column_naming_a_currency_in_words_is_refused(con, tmp_path):
    """"US Dollar" in the Currency column was stored as a currency 'US DOLLAR' of its own (apart from USD,
    and a workspace its own Parquet export could not restore): refused, row and column named."""
    path = tmp_path / "words.csv"
    path.write_text(
        "Date,Description,Currency,Amount,Tax\n"
        "06 Jan 2026 23:52,Done milestone payment from Priya N. for project Inv (Partial),USD,+250.00,0.00\n"
        "07 Jan 2026 10:00,Done milestone payment from Priya N. for project Inv (Final),US Dollar,+250.00,0.00\n"
    )
    assert [str(p) for p in refused(con, path).problems] == [
        "words.csv, row 3, column Currency: the currency 'US DOLLAR' is not a three-letter ISO code (USD, EUR, ...)"]


def test_a_row_without_currency_among_several_refused(con, tmp_path):
    """With one currency in the file a row without one takes it; with USD and EUR it could be either."""
    path = tmp_path / "which.csv"
    path.write_text(
        "Date,Description,Currency,Amount,Tax\n"
        "01 Mar 2026 10:00,Done milestone payment from Bo for project Deck (Part 1),USD,+100.00,0.00\n"
        "02 Mar 2026 10:00,Done milestone payment from Al for project Ink (Part 1),EUR,+100.00,0.00\n"
        "03 Mar 2026 10:00,Done milestone payment from Cy for project Pen (Part 1),,+100.00,0.00\n"
    )
    err = refused(con, path)
    assert str(err) == "which.csv, row 4, column Currency: the currency is empty, and the file holds several (USD, EUR): add it"


def test_each_project_in_the_currency_it_was_paid_in(con):
    """freelancer_two_currencies.csv is the fixture plus Hans K.'s project paid 300.00 EUR (fee 30.00 EUR) on
    20 Feb. It was refused whole ("the file mixes currencies"); now the USD contracts import as from the
    fixture and Hans K.'s is a EUR contract: 3 contracts, 4 milestones, 5 payments (4 + the withdrawal)."""
    summary = import_files(con, [FIXTURES / "exports" / "freelancer_two_currencies.csv"])
    assert summary.imported == {"contracts": 3, "milestones": 4, "payments": 5}
    assert con.execute("SELECT contract_id, currency FROM contracts ORDER BY 1").fetchall() == [
        ("Hans K. / Datenbank", "EUR"), (PRIYA, "USD"), (TOM, "USD")]
    # by currency: USD 250 + 250 + 60 = 560 gross, 25 + 25 + 6 = 56 fee, -400 withdrawn; EUR 300 gross, 30 fee
    assert con.execute("SELECT currency, sum(gross) FILTER (WHERE kind = 'milestone'), sum(fee), "
                       "sum(gross) FILTER (WHERE kind = 'withdrawal') FROM payments GROUP BY 1 ORDER BY 1").fetchall() == [
        ("EUR", D("300.00"), D("30.00"), None), ("USD", D("560.00"), D("56.00"), D("-400.00"))]
    assert any("payments in 2 currencies (USD, EUR): each project is in the currency it was paid in" in w
               for w in summary.warnings), summary.warnings
    assert not any("Project fee taken" in w for w in summary.warnings)


def test_two_payments_of_a_project_in_the_same_minute(con, tmp_path):
    """freelancer_same_minute.csv, oldest first: Li W. paid "Part 1" 40.00 and "Part 2" 30.00 at 05 Mar 2026
    11:00 (rows 4, 5), then two "Project fee taken (Translate brochure)" rows of -5.00 (rows 6, 7). Paired one
    to one in file order: Part 1 fee 5.00 (max(10 % of 40, $5)), Part 2 fee 5.00 (max(3, 5)). Both fees once
    went to the 40.00 payment (fee 10.00), the 30.00 one had 0.00 and a warning said its fee row was missing;
    and Part 2 was milestone 1, ordered by its amount as text ('30.00' < '40.00').
    Acme: 1,250.00 with fee 125.00 (row 3, same minute); 2,000.00 at 16:20 with its fee row at 16:21 (the
    nearest payment): 200.00 + 20.00 tax = 220.00."""
    lines = (FIXTURES / "exports" / "freelancer_same_minute.csv").read_text().splitlines()
    summary = import_files(con, [FIXTURES / "exports" / "freelancer_same_minute.csv"])
    assert not any("Project fee taken" in w for w in summary.warnings), summary.warnings
    milestones = con.execute("SELECT contract_id, seq, description, amount, fee FROM milestones ORDER BY 1, 2").fetchall()
    expected = [
        ("Acme, Inc. / Website, app and API", 1, "Milestone 1 - design", D("1250.00"), D("125.00")),
        ("Acme, Inc. / Website, app and API", 2, "Milestone 2 - build", D("2000.00"), D("220.00")),
        ("Li W. / Translate brochure", 1, "Part 1", D("40.00"), D("5.00")),
        ("Li W. / Translate brochure", 2, "Part 2", D("30.00"), D("5.00")),
    ]
    assert milestones == expected
    # The same rows newest first (fee rows then "Part 2" then "Part 1" at 11:00): the same numbers, the
    # file read in its own direction; the same payments, so the same tables.
    newest_first = tmp_path / "newest_first.csv"
    newest_first.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    other = store.connect(tmp_path / "other.duckdb")
    import_files(other, [newest_first])
    assert tables(other) == tables(con)


def test_upwork_like_header_over_freelancer_texts(con, cli):
    """freelancer_upwork_like_header.csv: `Transaction ID,Date,Type,Description,Currency,Amount,Balance`
    passes the Upwork header test, and --format auto read it as Upwork: 0 contracts, the 250.00 payment kept
    as 'other'. Its texts are Freelancer.com's: Priya's 250.00 with fee 25.00 (the Balance column, 250.00 /
    225.00 / 25.00, is no tax: read as one the fee was 500.00), and a 200.00 withdrawal."""
    path = FIXTURES / "exports" / "freelancer_upwork_like_header.csv"
    summary = import_files(con, [path])
    assert summary.files[0].format == "freelancer"
    assert summary.imported == {"contracts": 1, "milestones": 1, "payments": 2}
    assert con.execute("SELECT contract_id, seq, kind, gross, fee FROM payments ORDER BY kind").fetchall() == [
        (PRIYA, 1, "milestone", D("250.00"), D("25.00")), (None, None, "withdrawal", D("-200.00"), D("0.00"))]
    result = cli("import", path, "--json")
    assert result.code == 0 and result.json()["files"][0]["format"] == "freelancer", result.err


def test_upwork_histories_are_never_read_as_freelancer(tmp_path):
    for name in ("upwork_transactions_legacy.csv", "upwork_transactions_2025.csv", "upwork_2025_twelve_contracts.csv"):
        con = store.connect(tmp_path / f"{name}.duckdb")
        assert import_files(con, [FIXTURES / "exports" / name]).files[0].format == "upwork", name
        con.close()


def test_rows_reading_as_both_exports_are_refused(con, cli, tmp_path):
    """Freelancer.com's texts and an Upwork invoice (row 5) under the header both could have: which export it
    is only the user can say (--format); nothing is written."""
    path = tmp_path / "both.csv"
    path.write_text((FIXTURES / "exports" / "freelancer_upwork_like_header.csv").read_text()
                    + "T9004,11 Feb 2026 10:00,Fixed Price,Invoice for Site audit: Milestone 1 - Audit,USD,+100.00,125.00\n")
    before = snapshot(con)
    with pytest.raises(ImportValidationError):
        import_files(con, [path])
    assert snapshot(con) == before
    result = cli("import", path)
    assert result.code == 2
    assert result.err.strip() == (
        "milestone-lens: error: both.csv, row 2: 'Done milestone payment from Priya N. for project Inventory "
        "…' reads as a Freelancer.com export, row 5's 'Fixed Price' as an Upwork transaction history: cannot "
        "tell which export this is; pass --format freelancer or --format upwork")
    assert cli("import", path, "--format", "freelancer").code == 0


def test_file_without_a_header_row_counts_every_row(con):
    """freelancer_no_header.csv: the fixture's 7 data rows, no header; all 7 are imported (2 contracts,
    3 milestones, 4 payments as from the fixture) and the file's row count says 7, not 6."""
    summary = import_files(con, [FIXTURES / "exports" / "freelancer_no_header.csv"])
    assert summary.imported == {"contracts": 2, "milestones": 3, "payments": 4}
    assert summary.to_json()["files"][0]["rows"] == 7


def test_cli(cli, tmp_path: Path):
    result = cli("import", FILE, "--format", "freelancer", "--json")
    assert result.code == 0, result.err
    assert result.json()["imported"] == {"contracts": 2, "milestones": 3, "payments": 4}
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,Description,Currency,Amount,Tax\n32 Jan 2026 10:00,Done milestone payment from A for project B (USD),USD,+1.00,0\n")
    result = cli("import", bad, "--format", "freelancer")
    assert result.code == 2
    assert result.err.strip() == "milestone-lens: error: bad.csv, row 2, column Date: cannot read '32 Jan 2026 10:00' as a date"


def test_another_export_forced_through_this_reader_is_refused(con):
    """An Upwork history read with --format freelancer took its Ref ID for the tax column and
    stored fees of 411,000,002.00; nothing in it reads like Freelancer.com's texts."""
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [FIXTURES / "exports" / "upwork_transactions_legacy.csv"], fmt="freelancer")
    assert str(err.value).startswith("upwork_transactions_legacy.csv, column Description: no row reads like a "
                                     "Freelancer.com payment")
    assert snapshot(con) == before


def test_payments_without_any_fee_row_are_named(con, tmp_path):
    """Without the logo project's fee row its 60.00 payment stands with a fee of 0.00: said, with the amount.
    The full export afterwards brings the fee (6.00) and the warning is gone; fees in the workspace count."""
    lines = FILE.read_text().splitlines(keepends=True)
    partial = tmp_path / "partial.csv"
    partial.write_text("".join(line for line in lines if "Project fee taken (Logo vectorising)" not in line))
    summary = import_files(con, [partial])
    assert [w for w in summary.warnings if "Project fee taken" in w] == [
        "partial.csv: 1 payment (60.00 USD) of 1 project with no 'Project fee taken' row of their own in this import "
        "or the workspace: recorded with a fee of 0.00, so net is overstated if a fee was taken (Freelancer.com's is "
        "10 % or $5); import the export that holds those fee rows too"]
    summary = import_files(con, [FILE])
    assert not [w for w in summary.warnings if "Project fee taken" in w]
    assert con.execute("SELECT sum(fee) FROM payments WHERE kind = 'milestone'").fetchone()[0] == Decimal("56.00")
    # One payment of a project whose other payment has its fee row: that payment is named all the same.
    one_missing = tmp_path / "one_missing.csv"
    one_missing.write_text("".join(line for i, line in enumerate(lines) if i != 2))  # Priya's first fee row
    fresh = store.connect(tmp_path / "fresh.duckdb")
    other = import_files(fresh, [one_missing]).warnings
    fresh.close()
    assert [w for w in other if "Project fee taken" in w] == [
        "one_missing.csv: 1 payment (250.00 USD) of 1 project with no 'Project fee taken' row of their own in this "
        "import or the workspace: recorded with a fee of 0.00, so net is overstated if a fee was taken "
        "(Freelancer.com's is 10 % or $5); import the export that holds those fee rows too"]
    # The partial export again: it lacks the fee row, which does not make the stored fee 0.00.
    again = import_files(con, [partial])
    assert not [w for w in again.warnings if "Project fee taken" in w]
    assert again.updated == {"contracts": 0, "milestones": 0, "payments": 0}
    assert con.execute("SELECT sum(fee) FROM payments WHERE kind = 'milestone'").fetchone()[0] == Decimal("56.00")


def test_contracts_never_paid_are_said_to_be_missing_once_per_import(con):
    from analysis.marketplace import NOT_IN_TRANSACTION_HISTORY

    # two transaction histories in one import: said once, naming the first
    summary = import_files(con, [FILE, FIXTURES / "exports" / "upwork_transactions_2025.csv"])
    said = [w for w in summary.warnings if NOT_IN_TRANSACTION_HISTORY in w]
    assert said == [f"freelancer_transactions.csv: {NOT_IN_TRANSACTION_HISTORY}"]
