"""Importing the canonical template: round trips, derived values, idempotency, updates, atomicity.

Expected values are worked out by hand from tests/fixtures/canonical (see comments).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from analysis import store
from analysis.errors import ImportValidationError
from analysis.importing import import_files
from tests.conftest import CANONICAL

TWO_FILES = [CANONICAL / "contracts.csv", CANONICAL / "milestones.csv"]


def snapshot(con) -> dict:
    """Everything a user could lose: all rows of every table, in a stable order."""
    out = {}
    for table, key in (("contracts", "source, contract_id"), ("milestones", "source, contract_id, seq"),
                       ("payments", "source, payment_key"), ("imports", "import_id"),
                       ("contract_completions", "source, contract_id"), ("meta", "key")):
        cols = "*" if table != "imports" else "* EXCLUDE (imported_at)"
        out[table] = con.execute(f"SELECT {cols} FROM {table} ORDER BY {key}").fetchall()
    return out


def refused(con, path, error: type[Exception] = ImportValidationError) -> Exception:
    """The ``error`` importing ``path`` raises, once the workspace is checked to be exactly as before."""
    before = snapshot(con)
    with pytest.raises(error) as err:
        import_files(con, [path])
    assert snapshot(con) == before
    return err.value

def test_two_files_round_trip(con):
    summary = import_files(con, TWO_FILES)
    # 6 contracts; milestones 5 + 1 + 2 + 2 + 1 + 1 = 12; paid ones: C1 x5, C3 x1, C4 x2, C5, C6 = 10
    assert summary.imported == {"contracts": 6, "milestones": 12, "payments": 10}
    assert summary.duplicates_skipped == 0
    structures = dict(con.execute("SELECT contract_id, structure FROM contract_view").fetchall())
    assert structures == {"C1": "milestones", "C2": "single", "C3": "milestones", "C4": "hourly",
                          "C5": "single", "C6": "single"}
    c3 = con.execute("SELECT budget, start_date::VARCHAR, end_date, status FROM contracts WHERE contract_id='C3'").fetchone()
    assert c3 == (Decimal("1200.00"), "2026-11-02", None, "active")  # "$1,200.00" and "Nov 2, 2026"
    assert con.execute("SELECT currency, platform FROM contracts WHERE contract_id='C6'").fetchone() == ("USD", "upwork")
    # Money per currency, by hand:
    # USD gross: C1 5 x 30 + C3 600 + C5 400 + C6 300 = 1450
    # USD fees: C1 10 % (2026) = 5 x 3 = 15; C3 direct = 0;
    #   C5 (Jan 2022, sliding, nothing billed before) 20 % of 400 = 80;
    #   C6 (Mar 2022, 400 billed before with Delta): 100 at 20 % + 200 at 10 % = 40  -> 135
    # EUR (C4 on Freelancer.com): gross 300; fees max(10 %, $5): 20 + 10 = 30
    money = dict((r[0], (r[1], r[2])) for r in con.execute(
        "SELECT currency, sum(gross), sum(fee) FROM payments GROUP BY currency").fetchall())
    assert money == {"USD": (Decimal("1450.00"), Decimal("135.00")), "EUR": (Decimal("300.00"), Decimal("30.00"))}
    statuses = dict(con.execute("SELECT contract_id || '#' || seq, status FROM milestones").fetchall())
    assert statuses["C2#1"] == "funded" and statuses["C3#2"] == "funded" and statuses["C1#5"] == "paid"
    kinds = dict(con.execute("SELECT payment_key, kind FROM payments").fetchall())
    assert kinds["C4#1"] == "hourly" and kinds["C1#1"] == "milestone"


def test_flat_file_gives_the_same_workspace(tmp_path):
    a = store.connect(tmp_path / "a.duckdb")
    b = store.connect(tmp_path / "b.duckdb")
    import_files(a, TWO_FILES)
    summary = import_files(b, [CANONICAL / "flat.csv"])
    assert summary.imported == {"contracts": 6, "milestones": 12, "payments": 10}
    for table in ("contracts", "milestones", "payments"):
        q = f"SELECT * EXCLUDE (first_import_id, import_id) FROM {table} ORDER BY ALL"
        assert a.execute(q).fetchall() == b.execute(q).fetchall(), table


def test_a_flat_file_row_without_milestone_cells_is_a_contract_without_milestones(con, tmp_path):
    """A contract cancelled before any milestone has a row of its own in a flat file, its milestone
    cells empty; a row with some milestone cell but no seq is still refused."""
    flat = tmp_path / "flat.csv"
    header = "contract_id,start_date,end_date,status,budget,seq,amount,paid_date,milestone_status\n"
    flat.write_text(header + "A,2024-01-01,2024-01-09,completed,100,1,100,2024-01-09,\n"
                             "B,2024-01-01,2024-01-03,cancelled,60,,,,\n")
    summary = import_files(con, [flat])
    assert summary.imported == {"contracts": 2, "milestones": 1, "payments": 1}
    assert con.execute("SELECT contract_id, status, structure, milestone_rows FROM contract_view ORDER BY 1").fetchall() == [
        ("A", "completed", "single", 1), ("B", "cancelled", "single", 0)]
    before = snapshot(con)
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "C,2024-01-01,2024-01-03,cancelled,60,,,2024-01-02,\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [bad])
    assert str(err.value).startswith("bad.csv, row 2, column seq: seq is empty")
    assert snapshot(con) == before


def test_contract_level_file(con):
    summary = import_files(con, [CANONICAL / "contract_level.csv"])
    # K1 paid 1000 (direct, no fee), K2 paid nothing (no payment row), K3 paid 200 on Freelancer.com (fee 20)
    assert summary.imported == {"contracts": 3, "milestones": 0, "payments": 2}
    rows = con.execute("SELECT contract_id, structure FROM contract_view ORDER BY 1").fetchall()
    assert rows == [("K1", "milestones"), ("K2", "single"), ("K3", "milestones")]
    assert con.execute("SELECT sum(gross), sum(fee) FROM payments").fetchone() == (Decimal("1200.00"), Decimal("20.00"))


def test_milestones_arriving_with_payments_replace_the_paid_total_stand_in(con, tmp_path):
    """K1's paid_total (1,000, a payment of unknown date) gives way to its milestones' payments,
    so the money is not counted twice; a milestone plan without payments leaves it in place."""
    import_files(con, [CANONICAL / "contract_level.csv"])
    plan = tmp_path / "plan.csv"
    plan.write_text("contract_id,seq,amount,due_date\nK1,1,600,2025-01-15\nK3,1,200,2025-01-15\n")
    assert import_files(con, [plan]).warnings == []
    assert con.execute("SELECT sum(gross) FROM payments").fetchone()[0] == Decimal("1200.00")
    paid = tmp_path / "paid.csv"
    paid.write_text("contract_id,seq,amount,paid_date\nK1,1,600,2025-01-20\nK1,2,400,2025-02-01\n")
    summary = import_files(con, [paid])
    assert summary.warnings == ["paid.csv: removed the paid_total payment of contracts whose milestones it brings "
                                "(they carry the payments): K1#total (1,000.00 USD)"]
    rows = con.execute("SELECT payment_key, gross FROM payments WHERE contract_id = 'K1' ORDER BY 1").fetchall()
    assert rows == [("K1#1", Decimal("600.00")), ("K1#2", Decimal("400.00"))]
    # K3's stand-in (200, Freelancer.com) is untouched: its milestone carries no payment.
    assert con.execute("SELECT sum(gross) FROM payments").fetchone()[0] == Decimal("1200.00")
    # The contract keeps what the user imported: its paid_total is still there.
    assert con.execute("SELECT paid_total FROM contracts WHERE contract_id = 'K1'").fetchone()[0] == Decimal("1000.00")


def test_a_milestone_no_longer_paid_loses_its_payment(con, tmp_path):
    import_files(con, TWO_FILES)
    c1 = con.execute("SELECT seq, gross FROM payments WHERE contract_id = 'C1' ORDER BY seq").fetchall()
    newer = tmp_path / "milestones.csv"
    lines = (CANONICAL / "milestones.csv").read_text().splitlines()
    header, first_c1 = lines[0], next(line for line in lines[1:] if line.startswith("C1,"))
    cols = header.split(",")
    cells = first_c1.split(",")
    for name in ("paid_date", "paid_amount", "status"):
        cells[cols.index(name)] = ""
    newer.write_text(header + "\n" + ",".join(cells) + "\n")
    seq = int(cells[cols.index("seq")])
    summary = import_files(con, [newer])
    assert summary.updated["milestones"] == 1
    gross = dict(c1)[seq]
    assert summary.warnings == [f"milestones.csv: removed the payment of milestones it says are not paid: C1#{seq} ({gross:,.2f} USD)"]
    assert con.execute("SELECT list(seq ORDER BY seq) FROM payments WHERE contract_id = 'C1'").fetchone()[0] == [
        s for s, _ in c1 if s != seq]
    # Importing the original again pays it again.
    assert import_files(con, [CANONICAL / "milestones.csv"]).imported["payments"] == 1


def test_a_file_without_a_column_leaves_that_column_as_it_was(con, tmp_path):
    """Columns a file does not have say nothing: re-imported rows keep the stored values there."""
    import_files(con, TWO_FILES)
    before = snapshot(con)
    partial = tmp_path / "partial.csv"
    partial.write_text("contract_id,seq,amount\nC1,1,30\n")  # no dates, no paid_amount, no status
    summary = import_files(con, [partial])
    assert (summary.updated, summary.warnings, summary.duplicates_skipped) == (
        {"contracts": 0, "milestones": 0, "payments": 0}, [], 2)  # the milestone and its payment
    after = snapshot(con)
    for table in ("contracts", "milestones", "payments"):
        assert after[table] == before[table]
    # C4 is an hourly EUR contract; a file without contract_type and currency keeps both.
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,start_date,status,end_date\nC4,2026-10-01,completed,2026-10-21\n")
    assert import_files(con, [contracts]).updated["contracts"] == 1
    assert con.execute("SELECT contract_type, currency, client, budget, end_date::VARCHAR FROM contracts "
                       "WHERE contract_id = 'C4'").fetchone() == ("hourly", "EUR", "Gamma", None, "2026-10-21")
    # Without a type column, a new contract is fixed-price and needs its budget, as always; so
    # does a stored fixed-price contract whose budget the file clears.
    before = snapshot(con)
    for body, row in [("C4,2026-10-01,completed,\nC9,2026-10-01,active,\n", 3), ("C1,2026-11-01,completed,\n", 2)]:
        bad = tmp_path / "bad.csv"
        bad.write_text("contract_id,start_date,status,budget\n" + body)
        with pytest.raises(ImportValidationError) as err:
            import_files(con, [bad])
        assert str(err.value) == f"bad.csv, row {row}, column budget: budget is required for fixed-price contracts"
        assert snapshot(con) == before
    # A new milestone from a file without dates is pending, as always.
    new = tmp_path / "new.csv"
    new.write_text("contract_id,seq,amount\nC1,9,10\n")
    import_files(con, [new])
    assert con.execute("SELECT status, paid_date FROM milestones WHERE contract_id = 'C1' AND seq = 9").fetchone() == ("pending", None)


def test_a_corrected_amount_carries_what_was_derived_from_it(con, tmp_path):
    """A file correcting a milestone's amount, without paid_amount and fee columns: the paid
    amount that was the whole amount follows it, and the fee is worked out again (kept ones would
    leave the payment at the old amount)."""
    import_files(con, TWO_FILES)
    corrected = tmp_path / "corrected.csv"
    # C1 (Upwork, 2026: 10 %) 30 -> 40; C6 (Upwork, 2022, client Delta billed 400 before by C5):
    # 300 -> 350, so 100 at 20 % + 250 at 10 % = 45.00 instead of 100 at 20 % + 200 at 10 % = 40.00.
    corrected.write_text("contract_id,seq,amount\nC1,1,40\nC6,1,350\n")
    before = con.execute("SELECT fee FROM milestones WHERE contract_id = 'C6'").fetchone()[0]
    assert before == Decimal("40.00")
    summary = import_files(con, [corrected])
    assert summary.updated == {"contracts": 0, "milestones": 2, "payments": 2}
    assert con.execute(
        """SELECT m.contract_id, m.amount, m.paid_amount, m.fee, p.gross, p.fee FROM milestones m
           JOIN payments p ON p.payment_key = m.contract_id || '#' || m.seq
           WHERE (m.contract_id, m.seq) IN (('C1', 1), ('C6', 1)) ORDER BY 1""").fetchall() == [
        ("C1", Decimal("40.00"), Decimal("40.00"), Decimal("4.00"), Decimal("40.00"), Decimal("4.00")),
        ("C6", Decimal("350.00"), Decimal("350.00"), Decimal("45.00"), Decimal("350.00"), Decimal("45.00"))]
    # A paid amount short of the amount (a part payment the user gave) stays when the amount changes;
    # so does its fee, whose payment did not change.
    part = tmp_path / "part.csv"
    part.write_text("contract_id,seq,amount,paid_amount,fee\nC3,1,600,500,7\n")
    import_files(con, [part])
    again = tmp_path / "again.csv"
    again.write_text("contract_id,seq,amount\nC3,1,650\n")
    import_files(con, [again])
    assert con.execute("SELECT amount, paid_amount, fee FROM milestones WHERE contract_id = 'C3' AND seq = 1").fetchone() == (
        Decimal("650.00"), Decimal("500.00"), Decimal("7.00"))
    assert con.execute("SELECT gross, fee FROM payments WHERE payment_key = 'C3#1'").fetchone() == (
        Decimal("500.00"), Decimal("7.00"))


def test_a_contract_changing_type_takes_its_earlier_rows_along(con, tmp_path):
    """C4 was hourly with two paid weekly invoices (200 + 100 EUR); a contracts file correcting it
    to fixed-price (budget 300) makes them its two milestones, and their payments milestone
    payments; turning C1 (five milestones) hourly makes them invoices."""
    import_files(con, TWO_FILES)
    fixed = tmp_path / "fixed.csv"
    fixed.write_text("contract_id,start_date,status,contract_type,budget\nC4,2026-10-01,completed,fixed,300\n")
    summary = import_files(con, [fixed])
    assert summary.warnings == ["fixed.csv: 1 contract now fixed-price (first: 'C4'): 2 invoices earlier imports gave it "
                                "now count as milestones"]
    assert con.execute("SELECT structure, milestone_rows FROM contract_view WHERE contract_id = 'C4'").fetchone() == ("milestones", 2)
    assert con.execute("SELECT list(DISTINCT kind) FROM milestones WHERE contract_id = 'C4'").fetchone()[0] == ["milestone"]
    assert con.execute("SELECT list(kind ORDER BY seq), sum(gross) FROM payments WHERE contract_id = 'C4'").fetchone() == (
        ["milestone", "milestone"], Decimal("300.00"))
    hourly = tmp_path / "hourly.csv"
    hourly.write_text("contract_id,start_date,status,contract_type\nC1,2026-11-01,completed,hourly\n")
    assert import_files(con, [hourly]).warnings == [
        "hourly.csv: 1 contract now hourly (first: 'C1'): 5 milestones earlier imports gave it now count as invoices"]
    assert con.execute("SELECT structure FROM contract_view WHERE contract_id = 'C1'").fetchone()[0] == "hourly"
    assert con.execute("SELECT count(*) FILTER (kind = 'invoice'), count(*) FROM milestones WHERE contract_id = 'C1'").fetchone() == (5, 5)
    assert con.execute("SELECT count(*) FILTER (kind = 'hourly'), count(*) FROM payments WHERE contract_id = 'C1'").fetchone() == (5, 5)
    # The contracts file again, unchanged: nothing more to say.
    assert import_files(con, [hourly]).warnings == []


def test_a_paid_total_under_upworks_sliding_fee_counts_what_was_billed_with_the_client_before(con, tmp_path):
    """Upwork 2016-2023: 20 % of the first $500 billed with a client, 10 % to $10,000, 5 % above,
    over the client's lifetime billing, also when a contract-level export gives only paid totals."""
    totals = tmp_path / "totals.csv"
    totals.write_text("contract_id,client,platform,budget,start_date,end_date,status,milestone_count,paid_total\n"
                      "K1,Kite Co,upwork,500,2022-01-03,2022-02-01,completed,1,500\n"
                      "K2,Kite Co,upwork,500,2022-03-01,2022-04-01,completed,2,500\n"
                      "K3,Kite Co,upwork,9600,2022-05-01,2022-09-01,completed,4,9600\n")
    import_files(con, [totals])
    # K1: 500 at 20 % = 100; K2: 500 at 10 % = 50; K3: 9,000 at 10 % + 600 at 5 % = 930.
    assert con.execute("SELECT contract_id, fee FROM payments ORDER BY 1").fetchall() == [
        ("K1", Decimal("100.00")), ("K2", Decimal("50.00")), ("K3", Decimal("930.00"))]
    # What the workspace already billed the client counts too: Delta paid Dee 400 (C5, January 2022)
    # and 300 (C6, March), so a later 300 pays 10 % = 30 (as its own first contract it would pay 60).
    import_files(con, TWO_FILES)
    later = tmp_path / "later.csv"
    later.write_text("contract_id,client,freelancer,platform,budget,start_date,end_date,status,paid_total\n"
                     "D9,Delta,Dee,upwork,300,2022-06-01,2022-06-20,completed,300\n")
    import_files(con, [later])
    assert con.execute("SELECT fee FROM payments WHERE contract_id = 'D9'").fetchone()[0] == Decimal("30.00")


def test_an_amount_marked_in_another_currency_than_its_contracts_is_refused_without_a_currency_column(con, tmp_path):
    """A milestones file has no currency column: its contract's currency (from the contracts file, or the
    workspace) is the one its amounts must be in, as a file with the column checks row by row."""
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,budget,currency,start_date,status\n"
                         "B1,100,USD,2025-01-01,completed\nB2,100,GBP,2025-01-01,completed\n")
    milestones = tmp_path / "milestones.csv"
    milestones.write_text("contract_id,seq,amount,paid_date\nB2,1,£100,2025-01-05\nB1,1,£100,2025-01-05\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [contracts, milestones])
    assert str(err.value) == ("milestones.csv, row 3, column amount: amount '£100' is in another currency than its "
                              "contract's ('B1', USD): amounts are never converted; give the contract the amount's "
                              "currency (or write the amount without it)")
    assert store.counts(con)["contracts"] == 0
    # B2 is in pounds: its £100 is imported; a later file marking B1's fee in euros is refused by the workspace's USD.
    milestones.write_text("contract_id,seq,amount,paid_date\nB2,1,£100,2025-01-05\nB1,1,100,2025-01-05\n")
    import_files(con, [contracts, milestones])
    assert con.execute("SELECT currency, gross FROM payments WHERE contract_id = 'B2'").fetchone() == ("GBP", Decimal("100.00"))
    before = snapshot(con)
    fee = tmp_path / "fee.csv"
    fee.write_text("contract_id,seq,amount,fee\nB1,1,100,EUR 10\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [fee])
    assert str(err.value).startswith("fee.csv, row 2, column fee: fee 'EUR 10' is in another currency than its "
                                     "contract's ('B1', USD)")
    assert snapshot(con) == before


def test_contracts_an_import_gives_another_client_are_named(con, tmp_path):
    """Two tools' files both numbering their contracts 1, 2, ... under one source: the second would
    replace the first's contracts (Acme's by Zeta's) with nothing said but "updated"."""
    first = tmp_path / "tool_a.csv"
    first.write_text("contract_id,client,budget,start_date,status\n1,Acme,1000,2025-01-01,completed\n"
                     "2,Acme,500,2025-02-01,cancelled\n")
    second = tmp_path / "tool_b.csv"
    second.write_text("contract_id,client,budget,start_date,status\n1,Zeta,200,2025-03-01,completed\n"
                      "2,zeta,300,2025-03-02,completed\n")
    import_files(con, [first])
    summary = import_files(con, [second], dry_run=True)
    assert summary.warnings[0] == (
        "tool_b.csv: 2 contracts of source 'canonical' now name another client (first: '1', 'Acme' → 'Zeta'): if they "
        "are other contracts that only share their ids with ones imported before, this import replaces those; then "
        "remove the import and import the file under a source name of its own (--source; Source name on the Data page)")
    # A client's name written in another case is the same client: nothing to say.
    again = tmp_path / "tool_a_again.csv"
    again.write_text(first.read_text().replace("Acme", "ACME "))
    assert not any("another client" in w for w in import_files(con, [again]).warnings)


def test_reimport_adds_nothing(con):
    import_files(con, TWO_FILES)
    before = snapshot(con)
    summary = import_files(con, TWO_FILES)
    assert summary.imported == {"contracts": 0, "milestones": 0, "payments": 0}
    assert summary.updated == {"contracts": 0, "milestones": 0, "payments": 0}
    assert summary.duplicates_skipped == 6 + 12 + 10
    after = snapshot(con)
    for table in ("contracts", "milestones", "payments"):
        assert after[table] == before[table]


def test_newer_export_updates_changed_rows(con, tmp_path):
    import_files(con, TWO_FILES)
    newer = tmp_path / "newer"
    newer.mkdir()
    # C3 is now completed and its second milestone paid.
    contracts = (CANONICAL / "contracts.csv").read_text().replace(
        'C3,Beta,Bob,Logo,design,direct,fixed,"$1,200.00",USD,"Nov 2, 2026",2026-12-02,,active',
        'C3,Beta,Bob,Logo,design,direct,fixed,"$1,200.00",USD,"Nov 2, 2026",2026-12-02,2026-11-24,completed')
    milestones = (CANONICAL / "milestones.csv").read_text().replace(
        "C3,2,Final files,600,2026-12-02,2026-11-20,,,,,", "C3,2,Final files,600,2026-12-02,2026-11-20,2026-11-22,2026-11-24,,,")
    (newer / "contracts.csv").write_text(contracts)
    (newer / "milestones.csv").write_text(milestones)
    summary = import_files(con, [newer / "contracts.csv", newer / "milestones.csv"])
    assert summary.imported == {"contracts": 0, "milestones": 0, "payments": 1}
    assert summary.updated == {"contracts": 1, "milestones": 1, "payments": 0}
    assert summary.duplicates_skipped == 5 + 11 + 10
    assert con.execute("SELECT status, end_date::VARCHAR FROM contracts WHERE contract_id = 'C3'").fetchone() == ("completed", "2026-11-24")
    assert con.execute("SELECT count(*), sum(gross) FROM payments WHERE contract_id = 'C3'").fetchone() == (2, Decimal("1200.00"))
    # The updated rows remember both imports.
    first, last = con.execute("SELECT first_import_id, import_id FROM contracts WHERE contract_id = 'C3'").fetchone()
    assert first < last


def test_milestones_for_contracts_already_in_the_workspace(con):
    import_files(con, [CANONICAL / "contracts.csv"])
    summary = import_files(con, [CANONICAL / "milestones.csv"])
    assert summary.imported == {"contracts": 0, "milestones": 12, "payments": 10}
    assert con.execute("SELECT sum(fee) FROM payments WHERE currency = 'USD'").fetchone()[0] == Decimal("135.00")


def test_batch_with_one_bad_file_writes_nothing(con, tmp_path):
    import_files(con, [CANONICAL / "contract_level.csv"])
    before = snapshot(con)
    bad = tmp_path / "milestones.csv"
    bad.write_text((CANONICAL / "milestones.csv").read_text().replace("C2,1,Whole article,150", "C2,1,Whole article,15O"))
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [CANONICAL / "contracts.csv", bad])
    assert str(err.value).startswith("milestones.csv, row 7, column amount: cannot read '15O' as an amount")
    assert snapshot(con) == before


def test_import_log_records_each_file(con):
    import_files(con, TWO_FILES)
    rows = con.execute("SELECT file_name, format, source, contracts_new, milestones_new, payments_new, length(content_hash), batch_id FROM imports ORDER BY import_id").fetchall()
    assert rows == [("contracts.csv", "canonical", "canonical", 6, 0, 0, 64, 1),
                    ("milestones.csv", "canonical", "canonical", 0, 12, 10, 64, 1)]
    # Every row knows which import brought it.
    assert con.execute("SELECT DISTINCT first_import_id FROM milestones").fetchall() == [(2,)]
    assert store.data_version(con) == 1


def test_dry_run_counts_and_writes_nothing(con):
    before = snapshot(con)
    summary = import_files(con, TWO_FILES, dry_run=True)
    assert summary.imported["contracts"] == 6 and summary.dry_run
    assert snapshot(con) == before
    assert summary.counts() == ["Would import 6 contracts, 12 milestones, 10 payments from 2 files.",
                                "Would update 0 contracts, 0 milestones, 0 payments; 0 are already in the workspace "
                                "unchanged (contracts, milestones and payments together)."]


def test_same_ids_in_another_source_are_other_contracts(con):
    import_files(con, TWO_FILES)
    summary = import_files(con, TWO_FILES, source="agency-b")
    assert summary.imported["contracts"] == 6
    assert con.execute("SELECT count(*) FROM contracts").fetchone()[0] == 12


def test_workspace_reopens_with_its_data(db_path):
    con = store.connect(db_path)
    import_files(con, TWO_FILES)
    con.close()
    again = store.connect(db_path)
    assert store.counts(again) == {"contracts": 6, "milestones": 12, "payments": 10, "imports": 2}
    assert store.schema_version(again) == store.SCHEMA_VERSION


def test_derived_payments_take_their_own_contracts_currency_and_kind(con):
    # C4 is the fixture's one EUR contract and its one hourly one: its 2 paid invoices are EUR
    # 'hourly' payments; the other 8 paid milestones are USD 'milestone' payments.
    import_files(con, TWO_FILES)
    rows = con.execute(
        "SELECT contract_id, currency, kind, count(*) FROM payments GROUP BY ALL ORDER BY ALL").fetchall()
    assert rows == [("C1", "USD", "milestone", 5), ("C3", "USD", "milestone", 1), ("C4", "EUR", "hourly", 2),
                    ("C5", "USD", "milestone", 1), ("C6", "USD", "milestone", 1)]


def test_contract_join_falls_back_to_text_keys_when_two_contracts_hash_alike(con):
    from analysis.importing import _ctx_join

    con.execute("CREATE TEMP TABLE _ctx (key_hash UBIGINT, source VARCHAR, contract_id VARCHAR)")
    con.execute("INSERT INTO _ctx VALUES (1, 's', 'A'), (2, 's', 'B')")
    assert _ctx_join(con) == "c.key_hash = hash(m.source, m.contract_id)"
    con.execute("INSERT INTO _ctx VALUES (2, 's', 'C')")  # as if 'B' and 'C' hashed alike
    assert _ctx_join(con) == "c.source = m.source AND c.contract_id = m.contract_id"


def test_import_log_holds_each_files_sha256(con):
    import hashlib

    import_files(con, TWO_FILES)
    logged = dict(con.execute("SELECT file_name, content_hash FROM imports").fetchall())
    assert logged == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in TWO_FILES}


def test_milestones_whose_columns_disagree_about_a_payment_are_named(con, tmp_path):
    """Row 2 has a paid_date but says 'submitted' (no payment is derived from it), row 4 was paid
    300 on a 100 milestone: both imported as they are, and each named once with its first row."""
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,budget,start_date,status\nB1,300,2025-01-01,completed\n")
    milestones = tmp_path / "milestones.csv"
    milestones.write_text("contract_id,seq,amount,paid_date,paid_amount,status\n"
                          "B1,1,100,2025-01-05,,submitted\nB1,2,100,2025-01-06,,\nB1,3,100,2025-01-07,300,\n")
    summary = import_files(con, [contracts, milestones])
    assert summary.warnings == [
        "milestones.csv: 1 milestone with a paid_date but a status other than paid (first: row 2): not counted as "
        "paid; leave the status empty to have it read from the dates",
        "milestones.csv: 1 milestone paid more than the milestone's amount (first: row 4): counted as paid; check it "
        "is not a typing slip"]
    assert con.execute("SELECT list(seq ORDER BY seq), sum(gross) FROM payments").fetchone() == ([2, 3], Decimal("400.00"))


def test_a_milestone_marked_paid_without_its_date_counts_as_paid_of_unknown_date(con, tmp_path):
    """It was counted as not paid, silently: a cancelled 300 contract with two milestones marked
    paid showed gross 0 and 300 unpaid. Now: gross 100 + 80, unpaid 300 - 180 = 120, no payment
    date (so no timing), and a warning naming the first row."""
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,budget,start_date,status\nC1,300,2025-01-01,cancelled\n")
    milestones = tmp_path / "milestones.csv"
    milestones.write_text("contract_id,seq,amount,paid_amount,paid_date,status\n"
                          "C1,1,100,,,pending\nC1,2,100,,,paid\nC1,3,100,80,,PAID\n")
    summary = import_files(con, [contracts, milestones])
    assert summary.warnings == [
        "milestones.csv: 2 milestones paid without a paid_date (first: row 3): counted as paid, but left out of "
        "payment timing; add the date the money arrived"]
    assert con.execute("SELECT seq, gross, paid_date FROM payments ORDER BY seq").fetchall() == [
        (2, Decimal("100.00"), None), (3, Decimal("80.00"), None)]
    from analysis import earnings
    from analysis.filters import Filters

    unpaid = earnings.unpaid_on_cancellation(con, Filters())
    assert unpaid.set_index("structure").loc["milestones", "unpaid_on_cancellation"] == 120.0


def test_milestones_adding_up_to_more_than_the_budget_are_named(con, tmp_path):
    """Imported as written, but named: by the amounts (160 on a 100 budget), or because a newer
    milestones file left out one an earlier import gave (a second sample once did this to 1,115
    contracts in silence). A file updating some milestones of a contract, whose sum stays within
    the budget, says nothing."""
    def write(name, text):
        (tmp_path / name).write_text(text)
        return tmp_path / name

    contracts = write("contracts.csv", "contract_id,budget,start_date,status\nA,300,2025-01-01,active\n"
                                       "B,100,2025-01-01,active\n")
    first = write("m1.csv", "contract_id,seq,amount\nA,1,100\nA,2,100\nA,3,100\nB,1,80\nB,2,80\n")
    summary = import_files(con, [contracts, first])
    assert [w for w in summary.warnings if "budget" in w] == [
        "m1.csv: 1 contract whose milestones add up to more than the budget (first: 'B', 160.00 of 100.00 USD): "
        "imported as written; check the budget and the amounts"]
    # Milestone 1 updated alone: A's milestones still add up to its budget.
    assert not any("budget" in w for w in import_files(con, [write("one.csv", "contract_id,seq,amount\nA,1,100\n")]).warnings)
    newer = write("m2.csv", "contract_id,seq,amount\nA,1,150\nA,2,150\n")
    assert [w for w in import_files(con, [newer]).warnings if "budget" in w] == [
        "m2.csv: 1 contract whose milestones add up to more than the budget (first: 'A', 400.00 of 300.00 USD); its "
        "milestone 3 came from an earlier import and is not in this one: if the contract no longer has it, remove the "
        "earlier import (Data page, Import history) and import the newer files again"]
    assert con.execute("SELECT list(amount ORDER BY seq) FROM milestones WHERE contract_id = 'A'").fetchone()[0] == [
        Decimal("150.00"), Decimal("150.00"), Decimal("100.00")]
    # As it says: the earlier import removed, the newer files imported again, A has its two milestones.
    from analysis.workspace_admin import remove_import

    remove_import(con, con.execute("SELECT min(batch_id) FROM imports").fetchone()[0])
    fixed = write("contracts2.csv", "contract_id,budget,start_date,status\nA,300,2025-01-01,active\n")
    assert not any("budget" in w for w in import_files(con, [fixed, newer]).warnings)
    assert con.execute("SELECT list(amount ORDER BY seq) FROM milestones WHERE contract_id = 'A'").fetchone()[0] == [
        Decimal("150.00"), Decimal("150.00")]


def test_fixed_price_contracts_with_nothing_about_their_milestones_are_named(con, tmp_path):
    """A contract-level file without milestone_count: every fixed-price contract counts as a
    single payment, which the import now says; milestone_count, milestone rows, hourly work or
    planned milestones from the Complete contracts tab each settle it."""
    from analysis.completions import complete_contract

    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,budget,start_date,status,contract_type\nA,100,2026-01-01,completed,fixed\n"
                         "B,90,2026-01-01,cancelled,\nH,,2026-01-01,completed,hourly\nM,80,2026-01-01,completed,fixed\n")
    milestones = tmp_path / "milestones.csv"
    milestones.write_text("contract_id,seq,amount\nM,1,40\nM,2,40\n")
    warning = ("contracts.csv: 2 fixed-price contracts with neither milestones nor a milestone_count (first: 'A'): "
               "counted as single payments; if some were paid in milestones, give milestone_count (or import the "
               "milestones), or the planned milestones on the Data page (Complete contracts tab)")
    assert warning in import_files(con, [contracts, milestones]).warnings
    assert dict(con.execute("SELECT contract_id, structure FROM contract_view").fetchall()) == {
        "A": "single", "B": "single", "H": "hourly", "M": "milestones"}
    complete_contract(con, "canonical", "A", planned_milestones=3)
    # Named again when a newer file changes them (an unchanged contract was named when it came).
    contracts.write_text(contracts.read_text().replace(",100,", ",110,").replace(",90,", ",95,"))
    again = [w for w in import_files(con, [contracts]).warnings if "neither milestones" in w]
    assert again == ["contracts.csv: 1 fixed-price contract with neither milestones nor a milestone_count (first: 'B'): "
                     "counted as a single payment; if it was paid in milestones, give milestone_count (or import the "
                     "milestones), or the planned milestones on the Data page (Complete contracts tab)"]
    counted = tmp_path / "counted.csv"
    counted.write_text("contract_id,budget,start_date,status,milestone_count\nA,100,2026-01-01,completed,3\n"
                       "B,90,2026-01-01,cancelled,1\n")
    assert not any("neither milestones" in w for w in import_files(con, [counted]).warnings)


def test_contracts_whose_status_and_dates_disagree_are_named(con, tmp_path):
    """An active contract with an end date, a completed one starting in 2099: imported as written, named."""
    path = tmp_path / "contracts.csv"
    path.write_text("contract_id,budget,start_date,end_date,status,milestone_count\n"
                    "A,100,2026-01-01,2026-02-01,active,1\nB,100,2099-01-01,,completed,1\nC,100,2026-01-01,,active,1\n"
                    "D,100,2098-01-01,,active,1\n")
    summary = import_files(con, [path])
    assert summary.warnings == [
        "contracts.csv: 1 contract marked active with an end_date (first: row 2): counted as active; if it ended, "
        "give its status (completed, cancelled or disputed)",
        "contracts.csv: 1 contract finished but starting after today (first: row 3): imported as written; check the "
        "start_date"]
    assert dict(con.execute("SELECT contract_id, status FROM contracts").fetchall()) == {
        "A": "active", "B": "completed", "C": "active", "D": "active"}


def test_the_same_file_under_another_source_is_named_as_counted_twice(con):
    """Ids are unique within a source: the same bytes under a second source stand twice, and the import says so."""
    import_files(con, TWO_FILES, source="mine")
    assert not any("imported before" in w for w in import_files(con, TWO_FILES, source="mine").warnings)
    summary = import_files(con, TWO_FILES, source="other")
    assert summary.imported["contracts"] > 0  # imported all the same: nothing is lost, the user decides
    batch = con.execute("SELECT min(batch_id) FROM imports WHERE source = 'mine'").fetchone()[0]
    twice = [w for w in summary.warnings if "imported before" in w]
    assert twice == [
        f"{path.name}: this same file was imported before under source 'mine' (import {batch}), and now under 'other': "
        "contract ids are kept apart by source, so its contracts and money now count twice; remove one of the two "
        "imports (Data page, Import history) or import it under source 'mine' instead" for path in TWO_FILES]


def test_the_same_contracts_in_another_file_under_another_source_are_named_too(con, tmp_path):
    """Next month's sheet (one row more) under a renamed source: not the same bytes, the same six contracts."""
    import_files(con, [CANONICAL / "contracts.csv"], source="mine")
    plus = tmp_path / "plus.csv"
    plus.write_text((CANONICAL / "contracts.csv").read_text() + "Z9,Acme,,Extra,design,upwork,fixed,100,USD,2026-01-01,,,active\n")
    summary = import_files(con, [plus], source="renamed")
    assert summary.imported["contracts"] == 7  # imported all the same: nothing is lost, the user decides
    assert [w for w in summary.warnings if "count twice" in w] == [
        "plus.csv: 6 contracts (e.g. 'C1') already stand under source 'mine' with the same id, start and budget: if "
        "they are the same contracts, they now count twice; remove one of the two imports (Data page, Import history) "
        "or import under source 'mine' instead"]
    # A dry run (the dashboard's check) says what would happen, not what has.
    dry = import_files(con, [plus], source="third", dry_run=True)  # the same bytes as under "renamed"
    assert any("would count twice" in w for w in dry.warnings)
    assert not any("now count twice" in w for w in dry.warnings)
    # Other contracts that merely share ids (another agency's C1 with its own start and budget) are not named.
    other = tmp_path / "other.csv"
    other.write_text("contract_id,start_date,status,budget\nC1,2021-03-01,completed,999\n")
    assert not [w for w in import_files(con, [other], source="agency-b").warnings if "count twice" in w]


def test_a_contract_moved_to_another_currency_takes_its_derived_payments_along(con, tmp_path):
    """A contracts file correcting C1 from USD to EUR, without its milestones: C1's five payments
    (worked out from its milestones: 5 × 30, fee 10 % = 3 each) were left in USD and counted in
    neither currency's totals. By hand, after the move: EUR 300 (C4) + 150 gross, 30 + 15 fees;
    USD 1,450 − 150 gross, 135 − 15 fees."""
    import_files(con, TWO_FILES)
    moved = tmp_path / "contracts.csv"
    moved.write_text("contract_id,start_date,status,budget,currency\nC1,2026-11-01,completed,150,EUR\n")
    summary = import_files(con, [moved])
    assert summary.updated["contracts"] == 1
    assert summary.warnings == ["contracts.csv: 1 contract now in another currency (first: 'C1', USD → EUR); "
                                "5 payments worked out from its milestones or paid_total moved with it"]
    money = dict((r[0], (r[1], r[2])) for r in con.execute(
        "SELECT currency, sum(gross), sum(fee) FROM payments GROUP BY currency").fetchall())
    assert money == {"USD": (Decimal("1300.00"), Decimal("120.00")), "EUR": (Decimal("450.00"), Decimal("45.00"))}
    from analysis import earnings
    from analysis.filters import Filters

    shown = earnings.totals(con, Filters(), by=None).set_index("currency")["gross"]
    assert shown.to_dict() == {"EUR": 450.0, "USD": 1300.0}  # the figures, not only the rows


def test_a_kept_end_date_before_the_files_new_start_is_refused(con, tmp_path):
    """A contracts file without end dates moving a start past the stored end would leave an end before
    its start (which the workspace's own Parquet export then cannot restore): refused, file row column."""
    first = tmp_path / "first.csv"
    first.write_text("contract_id,start_date,end_date,planned_end_date,status,budget\n"
                     "A,2026-01-01,2026-01-10,2026-03-01,completed,100\nB,2026-01-01,2026-01-10,,completed,100\n")
    import_files(con, [first])
    before = snapshot(con)
    moved = tmp_path / "moved.csv"
    moved.write_text("contract_id,start_date,status,budget\nB,2026-01-05,completed,100\nA,2026-02-01,completed,100\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [moved])
    assert str(err.value) == ("moved.csv, row 3, column end_date: end_date 2026-01-10 (kept from the workspace: the file "
                              "has no end_date column) is before start_date 2026-02-01")
    assert snapshot(con) == before
    # B's start moves within its dates: kept as before.
    fine = tmp_path / "fine.csv"
    fine.write_text("contract_id,start_date,status,budget\nB,2026-01-05,completed,100\n")
    assert import_files(con, [fine]).updated["contracts"] == 1
    assert con.execute("SELECT start_date::VARCHAR, end_date::VARCHAR FROM contracts WHERE contract_id = 'B'").fetchone() \
        == ("2026-01-05", "2026-01-10")


def test_payments_a_transaction_history_brought_keep_their_contracts_currency(con, tmp_path):
    """An Upwork contract's payments are the export's own rows, in USD: a template file under
    ``--source upwork`` moving that contract to EUR is refused by row and column, and nothing changes."""
    from tests.conftest import FIXTURES

    import_files(con, [FIXTURES / "exports" / "upwork_transactions_2025.csv"])
    before = snapshot(con)
    moved = tmp_path / "contracts.csv"
    moved.write_text("contract_id,start_date,status,budget,currency\n"
                     "Ember Foods / Brand guidelines,2025-10-20,completed,900,EUR\n")
    with pytest.raises(ImportValidationError) as caught:
        import_files(con, [moved], source="upwork")
    paid = sum(1 for row in before["payments"] if row[2] == "Ember Foods / Brand guidelines")
    assert paid > 0
    assert str(caught.value) == (f"contracts.csv, row 2, column currency: contract 'Ember Foods / Brand guidelines' "
                                 f"has {paid} payment{'s' if paid != 1 else ''} in USD from a transaction history "
                                 "imported earlier: its currency cannot change to EUR")
    assert snapshot(con) == before


def test_a_currency_code_iso_4217_does_not_list_is_named(con, tmp_path):
    """'UDS' (a slip for USD) passed the three-letter check and stood as a currency of its own."""
    path = tmp_path / "contracts.csv"
    path.write_text("contract_id,start_date,status,budget,currency\nA1,2025-01-01,completed,100,USD\n"
                    "A2,2025-01-01,completed,100,UDS\nA3,2025-01-01,completed,100,hrk\nA4,2025-01-01,completed,100,BTC\n")
    summary = import_files(con, [path])
    assert "contracts.csv: 2 contracts in a currency ISO 4217 does not list (first: row 3): imported as written and " \
           "reported apart from the other currencies; check the code for a typing slip" in summary.warnings
    assert con.execute("SELECT list(currency ORDER BY contract_id) FROM contracts").fetchone()[0] == ["USD", "UDS", "HRK", "BTC"]


def test_a_transaction_historys_bonus_keeps_its_contracts_currency_too(con, tmp_path):
    """A bonus has no milestone number: the test for a payment the workspace worked out itself was
    NULL for it, so it slipped through and moved to EUR with a warning calling it derived."""
    from tests.conftest import FIXTURES

    import_files(con, [FIXTURES / "exports" / "upwork_transactions_legacy.csv"])
    before = snapshot(con)
    quill = [r for r in before["payments"] if r[2] == "Quill Media / Blog series" and r[8] == "USD"]
    assert any(r[3] is None for r in quill)  # the bonus: no seq
    moved = tmp_path / "contracts.csv"
    moved.write_text("contract_id,start_date,status,budget,currency\nQuill Media / Blog series,2022-09-05,completed,900,EUR\n")
    with pytest.raises(ImportValidationError) as caught:
        import_files(con, [moved], source="upwork")
    assert str(caught.value) == ("contracts.csv, row 2, column currency: contract 'Quill Media / Blog series' has "
                                 f"{len(quill)} payments in USD from a transaction history imported earlier: its currency "
                                 "cannot change to EUR")
    assert snapshot(con) == before


def test_template_columns_a_file_does_not_read_are_named(con, tmp_path):
    """A contracts file (no seq and amount) with a description, fee and due date dropped them without a
    word, as a milestones file did its client; a milestones file's milestone_status was ignored too."""
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,start_date,budget,status,description,fee,due_date\nA1,2024-01-01,100,completed,x,10,2024-01-05\n")
    summary = import_files(con, [contracts])
    assert summary.warnings[0] == (
        "contracts.csv: 3 columns of the template's other file ('description', 'fee', 'due_date') in a contracts file "
        "(one row per contract: it has no seq and amount for milestones): kept aside, not imported")
    milestones = tmp_path / "milestones.csv"
    milestones.write_text("contract_id,seq,amount,milestone_status,client,paid_date,currency\nA1,1,100,paid,Acme,2024-01-03,USD\n")
    summary = import_files(con, [milestones])
    assert summary.warnings == [
        "milestones.csv: 1 column of the template's other file ('client') in a milestones file (one row per milestone: "
        "it has no start_date or budget for contracts): kept aside, not imported"]
    assert con.execute("SELECT contract_id, seq, status, paid_amount FROM milestones").fetchall() == [
        ("A1", 1, "paid", Decimal("100.00"))]
    assert con.execute("SELECT client FROM contracts").fetchone() == (None,)


def test_derived_fees_before_upworks_sliding_fee_and_on_freelancer_hourly_work(con, tmp_path):
    """Before June 2016 Upwork took a flat 10 % (it was 20 %, a rule written nowhere); Freelancer.com's
    $5 minimum is on fixed-price work (SPEC), so a $20 hourly invoice pays $2, not $5 (25 %).
    By hand: U1 1000 x 10 % = 100; F1 hourly 20 x 10 % = 2; F2 fixed 20 -> max(2, 5) = 5; U2 paid_total
    400 in 2015 -> 40; F3 hourly paid_total 30 -> 3."""
    contracts = tmp_path / "contracts.csv"
    contracts.write_text(
        "contract_id,platform,contract_type,budget,start_date,status,paid_total\n"
        "U1,upwork,fixed,1000,2015-06-01,completed,\nF1,freelancer,hourly,,2024-01-01,completed,\n"
        "F2,freelancer,fixed,20,2024-01-01,completed,\nU2,upwork,fixed,400,2015-03-01,completed,400\n"
        "F3,freelancer,hourly,,2024-01-01,completed,30\n")
    milestones = tmp_path / "milestones.csv"
    milestones.write_text("contract_id,seq,amount,paid_date\nU1,1,1000,2015-06-10\nF1,20240101,20,2024-01-10\n"
                          "F2,1,20,2024-01-10\n")
    import_files(con, [contracts, milestones])
    assert con.execute("SELECT contract_id, fee FROM payments ORDER BY contract_id").fetchall() == [
        ("F1", Decimal("2.00")), ("F2", Decimal("5.00")), ("F3", Decimal("3.00")), ("U1", Decimal("100.00")),
        ("U2", Decimal("40.00"))]


def test_three_letters_that_are_no_currency_code_are_not_called_another_currency(con, tmp_path):
    """'TBD 500' was refused as "in another currency than USD"; it is no amount at all. A real code
    (EUR on a USD row) keeps its message, and a row's own code outside ISO 4217 (BTC) is accepted."""
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,start_date,status,budget\nA1,2024-01-01,active,TBD 500\nA2,2024-01-01,active,EUR 500\n")
    err = refused(con, contracts)
    assert [str(p) for p in err.problems] == [
        "contracts.csv, row 2, column budget: cannot read 'TBD 500' as an amount: 'TBD' is no currency code: write the "
        "amount alone, or with its currency",
        "contracts.csv, row 3, column budget: budget 'EUR 500' is in another currency than USD, the default for a row "
        "without a currency: amounts are never converted; give the row the amount's currency"]
    contracts.write_text("contract_id,start_date,status,budget,currency\nA1,2024-01-01,active,500,USD\nB1,2024-01-01,active,100 BTC,BTC\n")
    import_files(con, [contracts])
    milestones = tmp_path / "milestones.csv"  # no currency column: checked against the contract's, once it is known
    milestones.write_text("contract_id,seq,amount\nA1,1,abc0\n")
    assert str(refused(con, milestones)) == (
        "milestones.csv, row 2, column amount: cannot read 'abc0' as an amount: 'abc' is no currency code: write the "
        "amount alone, or with its currency")
