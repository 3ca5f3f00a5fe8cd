"""Upwork exports: transaction history (legacy and 2025 layouts) and the weekly summary.

Every expected figure is worked out by hand from the fixture rows in tests/fixtures/exports
(the arithmetic is in the comments).
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from analysis import store
from analysis.completions import complete_contract
from analysis.errors import ImportValidationError
from analysis.importing import import_files
from tests.conftest import FIXTURES
from tests.test_import_canonical import refused, snapshot

EXPORTS = FIXTURES / "exports"
LEGACY = EXPORTS / "upwork_transactions_legacy.csv"
V2025 = EXPORTS / "upwork_transactions_2025.csv"
WEEKLY = EXPORTS / "upwork_weekly_summary.csv"
D = Decimal

HARBOR = "Harbor Apps / Mobile onboarding flow"
QUILL = "Quill Media / Blog series"
PINE = "Pine Data / hourly"


def per_contract(con) -> dict[str, tuple]:
    """contract -> (sum gross, sum fee, pending gross) over its payments."""
    rows = con.execute(
        """SELECT contract_id, sum(gross), sum(fee), coalesce(sum(gross) FILTER (WHERE pending), 0)
           FROM payments WHERE contract_id IS NOT NULL GROUP BY contract_id"""
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def contract_tables(con) -> dict:
    return {t: con.execute(f"SELECT * EXCLUDE (first_import_id, import_id) FROM {t} ORDER BY ALL").fetchall()
            for t in ("contracts", "milestones", "payments")}


def test_legacy_history(con):
    summary = import_files(con, [LEGACY])
    assert summary.files[0].format == "upwork"  # detected from the header
    # 15 rows: 7 contract payments (093, 079, 058, 044, 023, 009, 002), 6 fee rows folded into
    # their payments, 1 withdrawal (072), 1 membership fee (037) -> 9 payments.
    # Contracts: Harbor Apps / Mobile onboarding flow (milestones 1, 2, 3), Quill Media / Blog
    # series (milestone 1 + a bonus), Pine Data hourly (weeks of Aug 15 and Sep 19) -> 3 contracts,
    # 3 + 1 + 2 = 6 milestone rows.
    assert summary.imported == {"contracts": 3, "milestones": 6, "payments": 9}
    assert dict(con.execute("SELECT contract_id, structure FROM contract_view").fetchall()) == {
        HARBOR: "milestones", QUILL: "single", PINE: "hourly"}
    assert per_contract(con) == {
        # 300 + 300 + 300 (Oct 28 has no balance: pending); fees 60 (Ref 079) + 60 (Ref 044)
        HARBOR: (D("900.00"), D("120.00"), D("300.00")),
        # milestone 900 + bonus 120; fees 180 (Ref 009) + 24 (Ref 023)
        QUILL: (D("1020.00"), D("204.00"), D("0")),
        # 165 + 180; fees 12 (Ref 002, listed after its payment) + 36 (Ref 058)
        PINE: (D("345.00"), D("48.00"), D("0")),
    }
    accounts = con.execute(
        "SELECT payment_key, kind, gross, fee FROM payments WHERE contract_id IS NULL ORDER BY 1").fetchall()
    assert accounts == [("411000037", "account_cost", D("0.00"), D("6.00")),      # Connects: a cost of 6
                        ("411000072", "withdrawal", D("-500.00"), D("0.00"))]    # money moved out, not a cost
    milestones = con.execute(
        f"SELECT seq, description, amount, paid_date::VARCHAR, fee, status FROM milestones WHERE contract_id = '{HARBOR}' ORDER BY seq"
    ).fetchall()
    assert milestones == [(1, "Research", D("300.00"), "2022-09-30", D("60.00"), "paid"),
                          (2, "Screens", D("300.00"), "2022-10-14", D("60.00"), "paid"),
                          (3, "Polish and handoff", D("300.00"), None, D("0.00"), "submitted")]
    invoices = con.execute(
        f"SELECT seq, kind, submitted_date::VARCHAR, paid_date::VARCHAR, amount FROM milestones WHERE contract_id = '{PINE}' ORDER BY seq"
    ).fetchall()
    # "Invoice for 08/15/2022-08/21/2022": the week ends Sunday Aug 21, paid Aug 30
    assert invoices == [(20220815, "invoice", "2022-08-21", "2022-08-30", D("165.00")),
                        (20220919, "invoice", "2022-09-25", "2022-10-03", D("180.00"))]
    c = con.execute(f"SELECT client, freelancer, title, platform, start_date::VARCHAR, status, budget FROM contracts WHERE contract_id = '{HARBOR}'").fetchone()
    assert c == ("Harbor Apps", "Sam T.", "Mobile onboarding flow", "upwork", "2022-09-30", None, None)
    assert any("3 contracts without status or budget" in w for w in summary.warnings)
    assert any("1 payment (300.00 USD) not yet released" in w for w in summary.warnings)


def test_2025_history(con):
    summary = import_files(con, [V2025])
    assert summary.files[0].format == "upwork"
    # 9 rows: payments 040 (pending: no balance), 034, 022 (hourly), 016; fees 037 -> 034,
    # 025 -> 022, 019 -> 016 via the Ref ID column; withdrawal 031; Connects 028 -> 6 payments.
    assert summary.imported == {"contracts": 3, "milestones": 4, "payments": 6}
    assert per_contract(con) == {
        "Ember Foods / Brand guidelines": (D("900.00"), D("45.00"), D("450.00")),  # 450 + 450 (pending)
        "Ember Foods / Packaging refresh": (D("860.00"), D("86.00"), D("0")),
        "Lumen Labs / hourly": (D("320.00"), D("32.00"), D("0")),
    }
    assert dict(con.execute("SELECT contract_id, structure FROM contract_view").fetchall()) == {
        "Ember Foods / Brand guidelines": "milestones", "Ember Foods / Packaging refresh": "single",
        "Lumen Labs / hourly": "hourly"}
    # "Invoice for Sep 1-Sep 7, 2025" + "8:00 hrs @ $40.00/hr" in the next column
    assert con.execute("SELECT seq, description, submitted_date::VARCHAR FROM milestones WHERE contract_id = 'Lumen Labs / hourly'").fetchone() == (
        20250901, "8:00 hrs @ $40.00/hr", "2025-09-07")
    assert con.execute("SELECT description FROM milestones WHERE contract_id = 'Ember Foods / Brand guidelines' AND seq = 2").fetchone() == ("Final guide",)
    assert con.execute("SELECT sum(fee) FROM payments WHERE kind = 'account_cost'").fetchone() == (D("6.00"),)
    assert con.execute("SELECT sum(gross) FROM payments WHERE kind = 'withdrawal'").fetchone() == (D("-700.00"),)


def test_a_transaction_history_knows_no_start_so_days_from_the_start_leave_it_out(con, tmp_path):
    """Its first payment stands in for each contract's start; counting days from it would say
    every contract paid on day 0. A template contract of the same source with a real, earlier
    start keeps it, and is the only one measured: 2025-08-01 to its first payment 2025-10-06."""
    from analysis import timing
    from analysis.filters import Filters, prepared

    real = tmp_path / "contracts.csv"
    real.write_text("contract_id,client,budget,start_date,status\n"
                    "Ember Foods / Packaging refresh,Ember Foods,860,2025-08-01,completed\n")
    import_files(con, [real], source="upwork")
    import_files(con, [V2025])
    assert dict(con.execute("SELECT contract_id, start_estimated FROM contracts").fetchall()) == {
        "Ember Foods / Brand guidelines": True, "Ember Foods / Packaging refresh": False, "Lumen Labs / hourly": True}
    first_paid = con.execute("SELECT min(paid_date) FROM payments WHERE contract_id = 'Ember Foods / Packaging refresh' "
                             "AND kind = 'milestone'").fetchone()[0]
    with prepared(con):
        summary = timing.timing_summary(con, Filters(), ("start_to_first_payment",)).set_index("structure")
        assert timing.estimated_starts(con, Filters()) == 2
    assert summary.loc["single", "n"] == 1
    assert summary.loc["single", "median"] == (first_paid - dt.date(2025, 8, 1)).days
    assert summary.loc["milestones", "n"] == 0 and summary.loc["hourly", "n"] == 0
    from analysis.report import build_report

    assert ("days from the start leave out 2 contracts with payments from a platform export, which does not say "
            "when a contract started (its first payment stands in)") in build_report(con).notes


def test_weekly_summary(con):
    summary = import_files(con, [WEEKLY])
    assert summary.files[0].format == "upwork-weekly"
    # Landing page copy (41200871): fixed 200 (Mar 4) + 200 (Mar 11) -> milestones 1, 2; bonus 50.
    # Data cleanup in Python (41188023): hourly weeks of Mar 11 (260) and Mar 18 (170).
    # Press kit translation (41255610): fixed 380 -> single. 6 payments, 2 + 2 + 1 milestones.
    assert summary.imported == {"contracts": 3, "milestones": 5, "payments": 6}
    assert dict(con.execute("SELECT contract_id, structure FROM contract_view").fetchall()) == {
        "41200871": "milestones", "41188023": "hourly", "41255610": "single"}
    assert con.execute("SELECT title FROM contracts WHERE contract_id = '41188023'").fetchone() == ("Data cleanup in Python",)
    # No fees in the summary: Upwork's flat 10 % (2024): 20 + 20 + 5 + 26 + 17 + 38 = 126 on 1,260.
    assert con.execute("SELECT sum(gross), sum(fee) FROM payments").fetchone() == (D("1260.00"), D("126.00"))
    # Hourly money arrives the Wednesday 10 days after the week (Mon Mar 11 - Sun Mar 17) ends: Mar 27.
    assert con.execute("SELECT paid_date::VARCHAR, submitted_date::VARCHAR FROM milestones WHERE contract_id = '41188023' AND seq = 20240311").fetchone() == (
        "2024-03-27", "2024-03-17")
    assert con.execute("SELECT seq, paid_date::VARCHAR FROM milestones WHERE contract_id = '41200871' ORDER BY seq").fetchall() == [
        (1, "2024-03-04"), (2, "2024-03-11")]


def test_a_weekly_summarys_refund_gives_its_fee_back(con, tmp_path):
    """Upwork returns the fee on refunded money; the summary shows none, so it is derived, as the
    fee of that money when it was the last billed with the client."""
    weekly = tmp_path / "weekly_refunds.csv"
    weekly.write_text('"Date","Contract","Hours","Amount","Payment type"\n'
                      '"2022-01-10","Brand book (1)","","600","Fixed Price Payment"\n'
                      '"2022-02-07","Brand book (1)","","-200.00","Refund"\n'
                      '"2024-03-04","Site (2)","","300","Fixed Price Payment"\n'
                      '"2024-03-11","Site (2)","","-100","Refund"\n')
    import_files(con, [weekly])
    # 2022, sliding: 600 pays 500 at 20 % + 100 at 10 % = 110; the refund returns the last 200 billed
    # (400-600): 100 at 20 % + 100 at 10 % = 30 back. 2024, flat 10 %: 30, and 10 back.
    assert con.execute("SELECT kind, gross, fee FROM payments ORDER BY paid_date").fetchall() == [
        ("milestone", D("600.00"), D("110.00")), ("refund", D("-200.00"), D("-30.00")),
        ("milestone", D("300.00"), D("30.00")), ("refund", D("-100.00"), D("-10.00"))]


def test_a_file_forced_through_the_weekly_reader_names_its_own_headers(cli, tmp_path):
    """The message listed the headers as the reader normalises them ("payment_type"), not as the file
    writes them: the user looks for "Payment Type" in their spreadsheet."""
    odd = tmp_path / "odd.csv"
    odd.write_text("Week Of,Payment Type,Total $\n2024-03-04,Fixed Price Payment,200\n")
    result = cli("import", odd, "--format", "upwork-weekly")
    assert result.code == 2
    assert result.err.strip().endswith("the header has Week Of, Payment Type, Total $)")


def test_reimport_adds_nothing(con):
    import_files(con, [LEGACY, V2025, WEEKLY])
    before = contract_tables(con)
    again = import_files(con, [LEGACY, V2025, WEEKLY])
    assert again.imported == {"contracts": 0, "milestones": 0, "payments": 0}
    assert again.updated == {"contracts": 0, "milestones": 0, "payments": 0}
    assert contract_tables(con) == before


def _slice(tmp_path: Path, name: str, keep: list[int], replace: dict[int, str] | None = None) -> Path:
    """A smaller export of the legacy history: its header and the data lines ``keep`` (1-based)."""
    lines = LEGACY.read_text().splitlines()
    body = [(replace or {}).get(i, lines[i]) for i in keep]
    path = tmp_path / name
    path.write_text("\n".join([lines[0], *body]) + "\n")
    return path


def test_overlapping_exports_never_double_count(tmp_path):
    # Older export: Aug 30 - Oct 3 (lines 5-15); newer: Sep 12 - Oct 28 (lines 1-11). They share
    # lines 5-11 (Oct 3 fee/hourly, Sep 30 fee/milestone 1, Sep 21 Connects, Sep 12 fee/bonus).
    older = _slice(tmp_path, "older.csv", list(range(5, 16)))
    newer = _slice(tmp_path, "newer.csv", list(range(1, 12)))
    whole = store.connect(tmp_path / "whole.duckdb")
    import_files(whole, [LEGACY])
    for order in ((older, newer), (newer, older)):
        con = store.connect(tmp_path / f"{order[0].stem}-first.duckdb")
        import_files(con, [order[0]])
        second = import_files(con, [order[1]])
        assert second.duplicates_skipped > 0
        assert contract_tables(con) == contract_tables(whole), order
        con.close()
    # Both in one command, too.
    con = store.connect(tmp_path / "together.duckdb")
    import_files(con, [newer, older])
    assert contract_tables(con) == contract_tables(whole)


def test_pending_payment_released_in_a_newer_export(con, tmp_path):
    import_files(con, [LEGACY])
    # A later export shows milestone 3 with a balance: released, no longer pending.
    released = LEGACY.read_text().splitlines()
    released[1] = released[1] + "1387.00"
    later = tmp_path / "later.csv"
    later.write_text("\n".join(released) + "\n")
    summary = import_files(con, [later])
    assert summary.imported == {"contracts": 0, "milestones": 0, "payments": 0}
    assert summary.updated["payments"] == 1 and summary.updated["milestones"] == 1
    assert per_contract(con)[HARBOR] == (D("900.00"), D("120.00"), D("0"))
    assert con.execute(f"SELECT status, paid_date::VARCHAR FROM milestones WHERE contract_id = '{HARBOR}' AND seq = 3").fetchone() == (
        "paid", "2022-10-28")


def test_completions_survive_newer_exports(con, tmp_path):
    import_files(con, [_slice(tmp_path, "older.csv", list(range(5, 16)))])
    complete_contract(con, "upwork", HARBOR, status="completed", budget=900, planned_milestones=3)
    import_files(con, [LEGACY])
    row = con.execute(f"SELECT status, budget, planned_milestones, structure FROM contract_view WHERE contract_id = '{HARBOR}'").fetchone()
    assert row == ("completed", D("900.00"), 3, "milestones")


def test_header_variants_and_unknown_types(con, tmp_path):
    # Sentence-case 2025 header with "Agency team"/"Client team", no Entered Description,
    # full quoting; a VAT row on the service fee (chain: VAT -> fee -> payment); an unknown
    # type; a Miscellaneous row; a future-dated payment; a bonus naming no contract.
    text = (
        '"Date","Transaction ID","Transaction type","Transaction summary","Transaction summary details","Description 1",'
        '"Description 2","Description 3","Agency team","Freelancer","Client team","Account name","PO","Ref ID","Amount $",'
        '"Amount in local currency","Currency","Current balance $","Payment method"\n'
        '"Jan 5, 2099","9005","Fixed Price","Invoice for Audit: Milestone 2 - Report","","","","","","Ana","Oak Ltd","Ana","","","500.00","","","900.00",""\n'
        '"Mar 3, 2025","9004","Currency Adjustment","FX gain","","","","","","Ana","","Ana","","","1.50","","","401.50",""\n'
        '"Mar 2, 2025","9006","Miscellaneous","Goodwill","","","","","","Ana","","Ana","","","5.00","","","406.50",""\n'
        '"Mar 1, 2025","9003","VAT","VAT on Service Fee","Ref ID 9002","","","","","Ana","Oak Ltd","Ana","","9002","-8.00","","","400.00",""\n'
        '"Mar 1, 2025","9002","Service Fee","Service Fee for Fixed Price","Ref ID 9001","","","","","Ana","Oak Ltd","Ana","","9001","-40.00","","","408.00",""\n'
        '"Mar 1, 2025","9001","Fixed-price","Invoice for Audit: Milestone 1 - Plan","","","","","","Ana","Oak Ltd","Ana","","","400.00","","","448.00",""\n'
        '"Feb 1, 2025","9000","Bonus","Bonus","","","","","","Ana","Elm Co","Ana","","","25.00","","","48.00",""\n'
    )
    path = tmp_path / "sentence_case.csv"
    path.write_text(text)
    summary = import_files(con, [path])
    assert summary.files[0].format == "upwork"
    # Fee on milestone 1: 40 + VAT 8 = 48. Milestone 2 is dated 2099: pending, not earned.
    assert per_contract(con)["Oak Ltd / Audit"] == (D("900.00"), D("48.00"), D("500.00"))
    kinds = dict(con.execute("SELECT payment_key, kind FROM payments").fetchall())
    assert kinds["9004"] == "other" and kinds["9006"] == "other"
    # "Bonus" with no title, and Elm Co has no other contract: kept without one.
    assert con.execute("SELECT contract_id, kind FROM payments WHERE payment_key = '9000'").fetchone() == (None, "bonus")
    assert any("unknown type 'Currency Adjustment'" in w for w in summary.warnings)
    assert any("Miscellaneous" in w for w in summary.warnings)
    assert any("bonus or refund row" in w for w in summary.warnings)


def test_bonus_and_refund_attach_to_their_contract(con, tmp_path):
    head = 'Date,"Ref ID",Type,Description,Agency,Freelancer,Team,"Account Name",PO,Amount,"Amount in local currency",Currency,Balance\n'
    rows = (
        '"Jun 9, 2021",7005,Refund,"Refund for Invoice for Site: Milestone 2 - Pages",,Kim,Birch,Kim,,-100.00,,,490.00\n'
        '"Jun 9, 2021",7006,"Service Fee","Service Fee Refund - Ref ID 7005",,Kim,Birch,Kim,,10.00,,,590.00\n'
        '"Jun 2, 2021",7003,Bonus,"Bonus for Site",,Kim,Birch,Kim,,50.00,,,580.00\n'
        '"Jun 1, 2021",7002,"Fixed Price","Invoice for Site: Milestone 2 - Pages",,Kim,Birch,Kim,,100.00,,,530.00\n'
        '"May 1, 2021",7001,"Fixed Price","Invoice for Site: Milestone 1 - Design",,Kim,Birch,Kim,,400.00,,,430.00\n'
        '"May 9, 2021",7004,Hourly,"Invoice for 05/03/2021-05/09/2021 - 1:00 hrs @ $30.00/hr",,Kim,Birch,Kim,,30.00,,,30.00\n'
        '"May 20, 2021",7007,Bonus,"Bonus",,Kim,Cedar,Kim,,15.00,,,0.00\n'
        '"May 19, 2021",7008,Hourly,"Invoice for 05/10/2021-05/16/2021 - 0:30 hrs @ $30.00/hr",,Kim,Cedar,Kim,,15.00,,,0.00\n'
    )
    path = tmp_path / "bonus.csv"
    path.write_text(head + rows)
    import_files(con, [path])
    payments = {r[0]: r[1:] for r in con.execute("SELECT payment_key, contract_id, kind, seq, gross, fee FROM payments").fetchall()}
    assert payments["7003"] == ("Birch / Site", "bonus", None, D("50.00"), D("0.00"))
    # The refund names milestone 2; Upwork returns its fee share with a positive Service Fee row.
    assert payments["7005"] == ("Birch / Site", "refund", 2, D("-100.00"), D("-10.00"))
    # A bonus without a title goes to the client's only (hourly) contract.
    assert payments["7007"] == ("Cedar / hourly", "bonus", None, D("15.00"), D("0.00"))
    # Milestone 2 paid 100 and was refunded 100: refunded, nothing kept.
    assert con.execute("SELECT status, paid_amount FROM milestones WHERE contract_id = 'Birch / Site' AND seq = 2").fetchone() == (
        "refunded", D("0.00"))
    assert per_contract(con)["Birch / Site"] == (D("450.00"), D("-10.00"), D("0"))  # 400 + 100 + 50 - 100


def test_unreadable_cell_names_file_row_and_column(con, tmp_path):
    lines = LEGACY.read_text().splitlines()
    lines[4] = lines[4].replace("-500.00", "-5OO.00")  # the Oct 10 withdrawal: row 5 as a spreadsheet shows it
    path = tmp_path / "broken.csv"
    path.write_text("\n".join(lines) + "\n")
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert str(err.value) == "broken.csv, row 5, column Amount: cannot read '-5OO.00' as an amount"
    assert snapshot(con) == before


def test_export_without_its_amount_column_names_the_column(con, tmp_path):
    """Auto-detected all the same, so the message says what is missing, not "format not recognised"."""
    rows = list(csv.reader(V2025.open(encoding="utf-8-sig", newline="")))
    drop = rows[0].index("Amount $")
    path = tmp_path / "no_amount.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([c for i, c in enumerate(row) if i != drop] for row in rows)
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    message = str(err.value)
    assert message.startswith("no_amount.csv, row 1: not an Upwork transaction history: no amount column"), message
    assert snapshot(con) == before


def test_cli_import_json(cli):
    result = cli("import", LEGACY, V2025, "--format", "upwork", "--json")
    assert result.code == 0, result.err
    document = result.json()
    assert document["imported"] == {"contracts": 6, "milestones": 10, "payments": 15}  # 3+3, 6+4, 9+6
    assert document["duplicates_skipped"] == 0
    assert any("contracts without status or budget" in w for w in document["warnings"])
    again = cli("import", LEGACY, "--json").json()  # --format auto finds it too
    assert again["imported"] == {"contracts": 0, "milestones": 0, "payments": 0}
    assert again["duplicates_skipped"] == 18  # 3 contracts + 6 milestones + 9 payments


def test_cli_weekly_format(cli):
    result = cli("import", WEEKLY, "--format", "upwork-weekly", "--json")
    assert result.code == 0, result.err
    assert result.json()["imported"] == {"contracts": 3, "milestones": 5, "payments": 6}


def test_hourly_week_across_new_year(con, tmp_path):
    # 2025 layout: "Invoice for Dec 29-Jan 4, 2025" starts in 2024 (Dec 29, 2024 is a Monday).
    path = tmp_path / "newyear.csv"
    path.write_text(
        "Date,Transaction ID,Transaction Type,Transaction Summary,Transaction Summary Details,Description 1,Description 2,"
        "Description 3,Agency,Freelancer,Team,Account Name,PO,Ref ID,Amount $,Amount in local currency,Currency,Current Balance $,Payment Method\n"
        '"Jan 15, 2025",5001,Hourly,"Invoice for Dec 29-Jan 4, 2025",2:00 hrs @ $50.00/hr,,,,,Lee,Fern,Lee,,,100.00,,,100.00,\n'
    )
    import_files(con, [path])
    assert con.execute("SELECT contract_id, seq, submitted_date::VARCHAR, paid_date::VARCHAR FROM milestones").fetchall() == [
        ("Fern / hourly", 20241229, "2025-01-04", "2025-01-15")]


def test_weekly_summary_next_to_a_transaction_history_warns_only_where_they_overlap(con, tmp_path):
    """The summary covers March–April 2024, the histories 2022 and 2025: no week is counted twice,
    so nothing is said. The same summary moved to September 2022 lands on the legacy history's
    weeks, and the warning names both spans."""
    import_files(con, [LEGACY])
    assert not any("also holds" in w for w in import_files(con, [WEEKLY]).warnings)
    assert not any("also holds" in w for w in import_files(con, [V2025]).warnings)
    moved = tmp_path / "weekly_2022.csv"
    moved.write_text(WEEKLY.read_text().replace("2024-03-", "2022-09-").replace("2024-04-", "2022-10-")
                     .replace("(412", "(422").replace("(411", "(421"))  # other contract ids: new contracts
    warnings = import_files(con, [moved]).warnings
    first, last = con.execute("SELECT min(paid_date), max(paid_date) FROM payments p JOIN imports i "
                              "ON i.import_id = p.first_import_id WHERE i.file_name = 'weekly_2022.csv'").fetchone()
    (n, other_first, other_last) = con.execute(
        "SELECT count(DISTINCT contract_id), min(paid_date), max(paid_date) FROM payments WHERE contract_id LIKE '% / %' "
        "AND paid_date BETWEEN ?::DATE - 14 AND ?::DATE + 14", [first, last]).fetchone()
    assert n > 0
    assert (f"weekly_2022.csv: this import or the workspace also holds a transaction history of source 'upwork' with "
            f"payments of {n} contracts from {other_first} to {other_last}, within this file's {first} to {last}") in \
        "\n".join(warnings), warnings


def test_a_weekly_summary_says_contracts_never_paid_are_missing_but_a_template_does_not(con):
    from analysis.marketplace import NOT_IN_TRANSACTION_HISTORY

    weekly = import_files(con, [FIXTURES / "exports" / "upwork_weekly_summary.csv"])
    assert [w for w in weekly.warnings if NOT_IN_TRANSACTION_HISTORY in w] == [
        f"upwork_weekly_summary.csv: {NOT_IN_TRANSACTION_HISTORY}"]
    # The same export again brings nothing, and need not say it again.
    again = import_files(con, [FIXTURES / "exports" / "upwork_weekly_summary.csv"])
    assert again.imported == {"contracts": 0, "milestones": 0, "payments": 0}
    assert not any(NOT_IN_TRANSACTION_HISTORY in w for w in again.warnings)
    template = import_files(con, [FIXTURES / "canonical" / "contracts.csv", FIXTURES / "canonical" / "milestones.csv"],
                            source="other")
    assert not any(NOT_IN_TRANSACTION_HISTORY in w for w in template.warnings)


def test_2025_refund_attaches_by_ref_id_or_by_its_title_with_the_milestone_details(con, tmp_path):
    """The 2025 form spreads the text over Transaction Summary and its Details: "Refund for Site
    audit" + "Milestone 1 - Audit" once made a contract of its own, "Acme Co / Site audit:
    Milestone 1 - Audit", holding the -100 while the real contract kept the money."""
    head = ('Date,Transaction ID,Transaction Type,Transaction Summary,Transaction Summary Details,Description 1,'
            'Description 2,Description 3,Entered Description,Agency,Freelancer,Team,Account Name,PO,Ref ID,Amount $,'
            'Amount in local currency,Currency,Current Balance $,Payment Method\n')
    rows = (
        # Named by the Ref ID column: the invoice of milestone 1.
        '"Mar 9, 2025",8105,Refund,Refund for Site audit,Milestone 1 - Audit,,,,,,Ana,Acme Co,Ana,,8101,-100.00,,,500.00,\n'
        # Named by its text only (no Ref ID): title and milestone number from the two columns.
        '"Mar 8, 2025",8104,Refund,Refund for Logo,Milestone 2 - Final,,,,,,Ana,Acme Co,Ana,,,-30.00,,,600.00,\n'
        '"Mar 3, 2025",8103,Fixed-price,Invoice for Logo,Milestone 2 - Final,,,,,,Ana,Acme Co,Ana,,,30.00,,,630.00,\n'
        '"Mar 2, 2025",8102,Fixed-price,Invoice for Logo,Milestone 1 - Sketch,,,,,,Ana,Acme Co,Ana,,,70.00,,,600.00,\n'
        '"Mar 1, 2025",8101,Fixed-price,Invoice for Site audit,Milestone 1 - Audit,,,,,,Ana,Acme Co,Ana,,,100.00,,,530.00,\n'
        '"Mar 1, 2025",8100,Fixed-price,Invoice for Site audit,Milestone 2 - Report,,,,,,Ana,Acme Co,Ana,,,430.00,,,430.00,\n'
    )
    path = tmp_path / "refunds_2025.csv"
    path.write_text(head + rows)
    import_files(con, [path])
    assert sorted(r[0] for r in con.execute("SELECT contract_id FROM contracts").fetchall()) == [
        "Acme Co / Logo", "Acme Co / Site audit"]
    payments = {r[0]: r[1:] for r in con.execute("SELECT payment_key, contract_id, kind, seq, gross FROM payments").fetchall()}
    assert payments["8105"] == ("Acme Co / Site audit", "refund", 1, D("-100.00"))
    assert payments["8104"] == ("Acme Co / Logo", "refund", 2, D("-30.00"))
    # Each refunded milestone paid back in full: refunded, nothing kept; the others as paid.
    assert con.execute("SELECT contract_id, seq, status, paid_amount FROM milestones ORDER BY contract_id, seq").fetchall() == [
        ("Acme Co / Logo", 1, "paid", D("70.00")), ("Acme Co / Logo", 2, "refunded", D("0.00")),
        ("Acme Co / Site audit", 1, "refunded", D("0.00")), ("Acme Co / Site audit", 2, "paid", D("430.00"))]
    # A later export's refund that names only its Ref ID, an invoice imported before.
    later = tmp_path / "later_2025.csv"
    later.write_text(head + '"Apr 1, 2025",8200,Refund,Refund,,,,,,,Ana,Acme Co,Ana,,8100,-430.00,,,70.00,\n')
    import_files(con, [later])
    assert con.execute("SELECT contract_id, seq FROM payments WHERE payment_key = '8200'").fetchone() == (
        "Acme Co / Site audit", 2)
    assert con.execute("SELECT status FROM milestones WHERE contract_id = 'Acme Co / Site audit' AND seq = 2").fetchone() == (
        "refunded",)


def test_a_row_repeated_exactly_counts_once_and_is_named(con, tmp_path):
    """Two exports pasted into one file repeat rows: each transaction counts once (its fee too),
    and the import says so instead of dropping the copy in silence."""
    clean = store.connect(tmp_path / "clean.duckdb")
    import_files(clean, [LEGACY])
    lines = LEGACY.read_text().splitlines()
    path = tmp_path / "twice.csv"
    path.write_text("\n".join([*lines[:3], lines[2], *lines[3:]]) + "\n")  # spreadsheet row 3 again, as row 4
    summary = import_files(con, [path])
    assert "twice.csv: 1 row repeats an earlier row of the file exactly, with the same Ref ID (first: row 4): counted once" in summary.warnings
    money = "SELECT payment_key, gross, fee FROM payments ORDER BY payment_key"
    assert con.execute(money).fetchall() == clean.execute(money).fetchall()


def test_several_transaction_histories_say_once_what_their_contracts_lack(con):
    """Four exports uploaded together once gave four boxes of the same long advice."""
    from tests.conftest import FIXTURES

    files = [LEGACY, V2025, EXPORTS / "upwork_weekly_summary.csv", FIXTURES / "exports" / "freelancer_transactions.csv"]
    summary = import_files(con, files)
    lacking = [w for w in summary.warnings if "without status or budget" in w]
    (n,) = con.execute("SELECT count(*) FROM contract_view WHERE status IS NULL").fetchone()
    assert n > 0
    assert lacking == [f"upwork_transactions_legacy.csv: {n} contracts without status or budget (from the 4 transaction "
                       "histories of this import; an export does not say): complete their status and budget on the "
                       "Data page (Complete contracts tab), or import a completions CSV (contract_id, status, budget, "
                       "planned_milestones; the command milestone-lens completions writes one to fill in); until then "
                       "they are left out of cancellation figures"]


def test_an_older_export_imported_after_a_newer_one_does_not_unrelease_a_payment(con, tmp_path):
    """The newer export shows milestone 3 released (a balance) with a 30.00 fee row; importing the
    older export again listed it as pending with no fee, and the 300 left the earnings."""
    lines = LEGACY.read_text().splitlines()
    newer = tmp_path / "newer.csv"
    newer.write_text("\n".join([lines[0], '"Nov 4, 2022",411000107,"Service Fee","Service Fee - Fixed Price - Ref ID '
                                '411000093",,"Sam T.","Harbor Apps","Sam T.",,-30.00,,,1357.00', lines[1] + "1387.00"]
                               + lines[2:]) + "\n")
    import_files(con, [LEGACY])
    import_files(con, [newer])
    released = contract_tables(con)
    # By hand: Harbor's three milestones of 300, fees 60 + 60 (2022's 20 % tier) + 30, none pending.
    assert per_contract(con)[HARBOR] == (D("900.00"), D("150.00"), D("0"))
    summary = import_files(con, [LEGACY])
    assert "upwork_transactions_legacy.csv: 1 payment it lists as not yet released was released in an earlier import " \
           "(first: 411000093, 300.00 USD): kept as released, with its fee (this file is older)" in summary.warnings
    assert not any("recorded as pending" in w for w in summary.warnings)
    assert per_contract(con)[HARBOR] == (D("900.00"), D("150.00"), D("0"))
    assert contract_tables(con) == released


def test_a_milestone_number_paid_twice_under_one_contract_name_is_said(con, tmp_path):
    """Quill Media's "Blog post" paid milestone 1 in January and again in March (a second contract
    the export names alike, or a release in parts): added up as one milestone of 450, and said."""
    lines = LEGACY.read_text().splitlines()[:1] + [
        '"Mar 10, 2023",511000050,"Fixed Price","Invoice for Blog post: Milestone 1 - March article",,"Sam T.","Quill Media","Sam T.",,200.00,,,600.00',
        '"Jan 10, 2023",511000030,"Fixed Price","Invoice for Blog post: Milestone 2 - Second half",,"Sam T.","Quill Media","Sam T.",,150.00,,,400.00',
        '"Jan 3, 2023",511000010,"Fixed Price","Invoice for Blog post: Milestone 1 - First half",,"Sam T.","Quill Media","Sam T.",,250.00,,,250.00']
    export = tmp_path / "blog.csv"
    export.write_text("\n".join(lines) + "\n")
    summary = import_files(con, [export])
    assert ("blog.csv: 1 milestone paid in more than one payment (first: 'Quill Media / Blog post', milestone 1: "
            "250.00 on 2023-01-03 and 200.00 on 2023-03-10): added up as one milestone; if it was another contract "
            "with the same client and title, the export cannot tell them apart") in summary.warnings
    assert con.execute("SELECT list(amount ORDER BY seq) FROM milestones").fetchone()[0] == [D("450.00"), D("150.00")]
    # A file that pays each milestone once says nothing of the kind.
    assert not any("more than one payment" in w for w in import_files(con, [LEGACY]).warnings)


def _report_money(con) -> tuple:
    """(gross, fees, net) of the contracts' earnings and the account costs' fees, as the report gives them."""
    from analysis.report import build_report

    main = build_report(con).main
    total = main.earnings_total.iloc[0]
    return (round(total["gross"], 2), round(total["fees"], 2), round(total["net"], 2),
            round(float(main.account_costs["fees"].sum()), 2))


def test_a_fee_row_and_its_payment_in_different_files_count_the_same_in_either_order(tmp_path):
    """The newer export (spreadsheet rows 2-3: milestone 3, pending, and the fee 086 on milestone 2)
    ends just after milestone 2's payment (079), which only the older export (rows 4-16) holds.
    Read newer first, the fee was kept without a contract and counted in no total: fees 312, net 1,653.

    By hand, the whole file: earned gross 300 + 300 (Harbor 1, 2) + 900 + 120 (Quill) + 165 + 180 (Pine)
    = 1,965; fees 60 + 60 + 180 + 24 + 12 + 36 = 372; net 1,593; the Connects' 6 the only account cost."""
    newer = _slice(tmp_path, "newer.csv", [1, 2])
    older = _slice(tmp_path, "older.csv", list(range(3, 16)))
    whole = store.connect(tmp_path / "whole.duckdb")
    import_files(whole, [LEGACY])
    assert _report_money(whole) == (1965.0, 372.0, 1593.0, 6.0)
    runs = {"newer, then older": [[newer], [older]], "older, then newer": [[older], [newer]],
            "together, newer first": [[newer, older]], "together, older first": [[older, newer]]}
    tables = {}
    for name, imports in runs.items():
        con = store.connect(tmp_path / f"{name}.duckdb")
        warnings = [w for batch in imports for w in import_files(con, batch).warnings]
        assert _report_money(con) == (1965.0, 372.0, 1593.0, 6.0), name
        # 079 itself carries no fee (its file has no fee row); 086 is a fee of its own on milestone 2.
        assert con.execute("SELECT contract_id, seq, kind, gross, fee FROM payments WHERE payment_key = '411000086'"
                           ).fetchone() == (HARBOR, 2, "fee", D("0.00"), D("60.00")), name
        assert con.execute(f"SELECT fee FROM milestones WHERE contract_id = '{HARBOR}' AND seq = 2").fetchone() == (
            D("60.00"),), name
        tables[name] = contract_tables(con)
        if name.startswith("newer"):
            assert ("newer.csv: 1 fee row refers to a payment neither in this file nor imported before it (first: "
                    "row 3, Ref ID 411000079): kept as a separate fee; until a file brings that payment, it has no "
                    "contract and counts with the account costs") in warnings
            assert ("older.csv: 1 fee row another file or an earlier import kept apart (60.00 USD; first: 411000086) "
                    "was charged on a payment of this file: now on its contract") in warnings
        con.close()
    assert all(t == tables["newer, then older"] for t in tables.values())
    # Only the newer part: the fee's payment is in no file, so it counts with the account costs:
    # gross 300 (milestone 3) is pending -> nothing earned; account costs 60.
    alone = store.connect(tmp_path / "alone.duckdb")
    import_files(alone, [newer])
    from analysis import earnings
    from analysis.filters import Filters

    assert earnings.account_costs(alone, Filters())[["items", "fees"]].values.tolist() == [[1, 60.0]]


def test_an_older_export_without_a_fee_row_keeps_the_fee_a_newer_one_gave(con, tmp_path):
    """The export without the fee row of milestone 2 (086), imported after the whole one, set 079's
    fee to 0.00: Harbor's fees fell from 120 to 60. Its fee stays 60, and in one command the copy
    with the fee wins whichever file comes first."""
    no_fee = _slice(tmp_path, "no_fee.csv", [1, *range(3, 16)])
    import_files(con, [LEGACY])
    import_files(con, [no_fee])
    assert per_contract(con)[HARBOR] == (D("900.00"), D("120.00"), D("300.00"))
    for order in ((no_fee, LEGACY), (LEGACY, no_fee)):
        together = store.connect(tmp_path / f"{order[0].stem}.duckdb")
        import_files(together, list(order))
        assert per_contract(together)[HARBOR] == (D("900.00"), D("120.00"), D("300.00")), order
        together.close()


def test_a_released_payment_without_a_fee_row_is_named(con, tmp_path):
    """The fixture minus the fee row of milestone 2 (086): 079 (300.00, Oct 14) is released with no
    fee anywhere: stored at 0.00 (not derived: the export is the record of what Upwork took), and said.
    The whole file, and the fee row arriving in the same import, say nothing of the kind."""
    no_fee = _slice(tmp_path, "no_fee.csv", [1, *range(3, 16)])
    summary = import_files(con, [no_fee])
    assert ("no_fee.csv: 1 released payment (300.00 USD; first: 411000079 on 2022-10-14) has no Service Fee row in "
            "this import or the workspace: recorded with a fee of 0.00, so net is overstated if Upwork took one (its "
            "fee is not in the export); import the export that holds those fee rows too") in summary.warnings
    assert con.execute("SELECT fee FROM payments WHERE payment_key = '411000079'").fetchone() == (D("0.00"),)
    other = store.connect(tmp_path / "other.duckdb")
    for files in ([LEGACY], [no_fee, _slice(tmp_path, "fee_only.csv", [2])]):
        assert not any("no Service Fee row" in w for w in import_files(other, files).warnings), files


def test_a_fee_on_a_payment_held_as_pending_shows_it_released(tmp_path):
    """A later export (Nov) holds only the settled fee row (30.00, Nov 11) charged on milestone 3
    (093, 300.00), which the fixture lists without a balance. Counting the fee but not the payment
    made the milestones' fee rate 25 % (Harbor 60 + 60 + 30 = 150 on 300 + 300 earned).

    Upwork takes its fee when it releases a payment, so the fee shows 093 released: Harbor earns
    900 with fees 150, a fee rate of 150 / 900 = 16.7 %; milestone 3 is paid (300.00, fee 30.00).
    The same in either order, and said."""
    november = tmp_path / "november.csv"
    header = LEGACY.read_text().splitlines()[0]
    november.write_text(header + "\n"
                        '"Nov 20, 2022",411000110,Withdrawal,"ACH: xxxx-1142",,,,"Sam T.",,-800.00,,,1027.00\n'
                        '"Nov 11, 2022",411000100,"Service Fee","Service Fee - Fixed Price - Ref ID 411000093",,"Sam T.",'
                        '"Harbor Apps","Sam T.",,-30.00,,,1827.00\n')
    tables = []
    for order in ((LEGACY, november), (november, LEGACY)):
        con = store.connect(tmp_path / f"{order[0].stem}-first.duckdb")
        warnings = [w for f in order for w in import_files(con, [f]).warnings]
        assert per_contract(con)[HARBOR] == (D("900.00"), D("150.00"), D("0")), order
        assert con.execute(f"SELECT status, paid_amount, fee FROM milestones WHERE contract_id = '{HARBOR}' AND seq = 3"
                           ).fetchone() == ("paid", D("300.00"), D("30.00")), order
        from analysis import earnings
        from analysis.filters import Filters, prepared

        with prepared(con):
            rate = earnings.totals(con, Filters()).set_index("structure").loc["milestones", "effective_fee_rate"]
        assert round(rate, 4) == round(150 / 900, 4), order
        assert any("1 payment listed as not yet released (first: 411000093, 300.00 USD) has a settled service fee "
                   "charged on it (first: 411000100 on 2022-11-11): Upwork takes its fee when it releases a payment, "
                   "so it counts as released, with the fee" in w for w in warnings), order
        tables.append(contract_tables(con))
        con.close()
    assert tables[0] == tables[1]


def test_a_bonus_naming_no_contract_is_not_put_on_one_of_several(con):
    """Lumen Labs has an hourly contract and the fixed-price KPI dashboard; its bonus (row 2, 150.00,
    fee 15.00) names neither, by Ref ID or title. It went to the hourly contract in silence; now it
    is kept without a contract, and said. By hand, Lumen Labs' contracts keep their own money:
    hourly 320 (fee 32), KPI dashboard 500 (fee 50)."""
    summary = import_files(con, [EXPORTS / "upwork_2025_bonus_naming_no_contract.csv"])
    assert con.execute("SELECT contract_id, kind, gross, fee FROM payments WHERE payment_key = '812000050'").fetchone() == (
        None, "bonus", D("150.00"), D("15.00"))
    assert per_contract(con)["Lumen Labs / hourly"] == (D("320.00"), D("32.00"), D("0"))
    assert per_contract(con)["Lumen Labs / KPI dashboard"] == (D("500.00"), D("50.00"), D("0"))
    assert ("upwork_2025_bonus_naming_no_contract.csv: 1 bonus or refund row names no contract by Ref ID or title "
            "(first: row 2, 'Bonus: Thanks for the dashboard, great job', 150.00 USD from Lumen Labs), and its client "
            "has no contract or several: which it belongs to would be a guess, so it is kept without a contract, left "
            "out of every contract's earnings") in summary.warnings


def test_a_bonus_naming_no_contract_goes_to_the_clients_only_contract_and_says_so(con, tmp_path):
    """Cedar has one contract (hourly): its untitled bonus (15.00) goes there, as before, but said."""
    head = 'Date,"Ref ID",Type,Description,Agency,Freelancer,Team,"Account Name",PO,Amount,"Amount in local currency",Currency,Balance\n'
    path = tmp_path / "cedar.csv"
    path.write_text(head + '"May 20, 2021",7007,Bonus,"Bonus",,Kim,Cedar,Kim,,15.00,,,30.00\n'
                    '"May 19, 2021",7008,Hourly,"Invoice for 05/10/2021-05/16/2021 - 0:30 hrs @ $30.00/hr",,Kim,Cedar,Kim,,15.00,,,15.00\n')
    summary = import_files(con, [path])
    assert con.execute("SELECT contract_id FROM payments WHERE payment_key = '7007'").fetchone() == ("Cedar / hourly",)
    assert ("cedar.csv: 1 bonus or refund row names no contract by Ref ID or title (first: row 2, 'Bonus', 15.00 USD "
            "from Cedar): put on the client's only contract, 'Cedar / hourly'") in summary.warnings


def test_a_milestones_fee_is_its_own_payments_not_a_bonus_paid_with_it(con):
    """Milestone 2 of Northwind's rebuild: paid 2,500 (fee 250), refunded 1,000 (fee 100 returned),
    and a bonus of 200 (fee 20) naming the same payment by Ref ID. The milestone's paid amount is
    2,500 - 1,000 = 1,500 and its fee 250 - 100 = 150; the bonus's 20 was added in (170)."""
    import_files(con, [EXPORTS / "upwork_2025_sentence_case_bonus_refund.csv"])
    contract = "Northwind, LLC / Website rebuild, phase 2"
    assert con.execute(f"SELECT seq, paid_amount, fee FROM milestones WHERE contract_id = '{contract}' ORDER BY seq"
                       ).fetchall() == [(1, D("1500.00"), D("150.00")), (2, D("1500.00"), D("150.00"))]
    # The contract's payments still count the bonus: 1,500 + 2,500 + 200 - 1,000; fees 150 + 250 + 20 - 100.
    assert per_contract(con)[contract] == (D("3200.00"), D("320.00"), D("0"))


LEGACY_HEADER = 'Date,"Ref ID",Type,Description,Agency,Freelancer,Team,"Account Name",PO,Amount,"Amount in local currency",Currency,Balance\n'


def test_milestone_0_is_refused_as_the_template_refuses_seq_0(con, tmp_path):
    """"Milestone 0 - Screens" was stored as milestone 0, a number the template refuses (seq 1 or more)
    and Upwork never writes. Refused by row and the column the text is in (the 2025 form's details too)."""
    legacy = tmp_path / "zero.csv"
    legacy.write_text(LEGACY_HEADER
                      + '"Oct 20, 2022",411000080,"Fixed Price","Invoice for X: Milestone 1 - Wireframes",,"Sam T.","Harbor Apps","Sam T.",,200.00,,,1347.00\n'
                      + '"Oct 14, 2022",411000079,"Fixed Price","Invoice for X: Milestone 0 - Screens",,"Sam T.","Harbor Apps","Sam T.",,300.00,,,1147.00\n')
    assert str(refused(con, legacy)) == (
        "zero.csv, row 3, column Description: the text 'Invoice for X: Milestone 0 - Screens' names "
        "milestone 0: Upwork numbers milestones from 1; correct the milestone number")
    rows = list(csv.reader(V2025.open(encoding="utf-8-sig", newline="")))
    rows[1][4] = "Milestone 0 - Final guide"  # row 2: "Invoice for Brand guidelines" / "Milestone 2 - Final guide"
    path = tmp_path / "zero_2025.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    assert str(refused(con, path)).startswith("zero_2025.csv, row 2, column Transaction Summary Details: the text "
                                              "'Invoice for Brand guidelines: Milestone 0 - Final guide' names milestone 0")


def test_a_ref_id_a_spreadsheet_turned_into_a_number_is_refused(con, cli, db_path, tmp_path):
    """Excel shows 511000079 as 5.11E+08 and saves it so: the digits are gone, and a second file's payment of
    the same mangled id replaced the first file's (300 paid, then 450 "updating" it). Refused, saying why."""
    first = tmp_path / "excel1.csv"
    first.write_text(LEGACY_HEADER + '10/28/2022,5.11E+08,Fixed Price,"Invoice for Web: Milestone 2 - B",,Sam T.,'
                     'Harbor Apps,Sam T.,,300,,,1147\n')
    second = tmp_path / "excel2.csv"
    second.write_text(LEGACY_HEADER + '11/28/2022,5.11E+08,Fixed Price,"Invoice for Web: Milestone 3 - C",,Sam T.,'
                      'Harbor Apps,Sam T.,,450,,,1597\n')
    before = snapshot(con)
    for path in (first, second):
        with pytest.raises(ImportValidationError) as err:
            import_files(con, [path])
        assert str(err.value) == (
            f"{path.name}, row 2, column Ref ID: the Ref ID '5.11E+08' is a number a spreadsheet wrote in scientific "
            "notation, which has lost the id's digits (two transactions would share it): export the history from "
            "Upwork again and import that file, not one opened and saved in a spreadsheet")
        assert snapshot(con) == before
    # The 2025 form: its Transaction ID, and the Ref ID a fee row names its payment by.
    rows = list(csv.reader(V2025.open(encoding="utf-8-sig", newline="")))
    rows[2][rows[0].index("Ref ID")] = "8.12E+08"  # row 3, the Service Fee on 812000034
    path = tmp_path / "excel_2025.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert str(err.value).startswith("excel_2025.csv, row 3, column Ref ID: the Ref ID '8.12E+08' is a number")
    con.close()
    result = cli("import", first)
    assert result.code == 2 and result.err.count("\n") == 1 and "excel1.csv, row 2, column Ref ID" in result.err


def test_rows_an_upwork_export_names_count_its_blank_lines(con, tmp_path):
    """A blank line pasted between two exports moved every row after it by one in errors but not in
    warnings, nor in the list of rows an error names. Here a blank line is spreadsheet row 3."""
    lines = LEGACY.read_text().splitlines()
    path = tmp_path / "twice.csv"
    path.write_text("\n".join([*lines[:2], "", lines[2], lines[2], *lines[3:]]) + "\n")  # row 4 again, as row 5
    summary = import_files(con, [path])
    assert "twice.csv: 1 row repeats an earlier row of the file exactly, with the same Ref ID (first: row 5): counted once" in summary.warnings
    before = con.execute("SELECT count(*) FROM imports").fetchone()
    changed = lines[2].replace("-60.00", "-61.00")
    assert changed != lines[2]
    path.write_text("\n".join([*lines[:2], "", lines[2], changed, *lines[3:]]) + "\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert ", row 5, " in str(err.value) and "appears twice with different contents (rows 4, 5)" in str(err.value)
    assert con.execute("SELECT count(*) FROM imports").fetchone() == before
