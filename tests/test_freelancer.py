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
from tests.test_import_canonical import snapshot

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


def test_mixed_currencies_refused(con, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(
        "Date,Description,Currency,Amount,Tax\n"
        "01 Mar 2026 10:00,Done milestone payment from Bo for project Deck (Part 1) (USD),USD,+100.00,0.00\n"
        "02 Mar 2026 10:00,Done milestone payment from Bo for project Deck (Part 2) (EUR),EUR,+100.00,0.00\n"
    )
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert str(err.value).startswith("mixed.csv, row 3, column Currency: the file mixes currencies (USD, EUR)")
    assert snapshot(con) == before


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
