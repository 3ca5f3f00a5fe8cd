"""Every validation error names file, row and column, and leaves the workspace untouched."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from analysis.errors import ImportValidationError
from analysis.importing import import_files
from tests.conftest import CANONICAL
from tests.test_import_canonical import snapshot

HEADER = "contract_id,client,budget,currency,start_date,end_date,status\n"
GOOD = "A1,Acme,100,USD,2026-01-05,2026-01-20,completed\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "body, expected",
    [
        # header is row 1, so the second data line is row 3
        (GOOD + "A2,Acme,100,USD,2026-01-05,,finished\n",
         "contracts.csv, row 3, column status: unknown status 'finished' (expected one of completed, cancelled, disputed, active)"),
        (GOOD + "A2,Acme,100,USD,2026-13-45,,active\n",
         "contracts.csv, row 3, column start_date: cannot read '2026-13-45' as a date"),
        (GOOD + "A2,Acme,12x,USD,2026-01-05,,active\n",
         "contracts.csv, row 3, column budget: cannot read '12x' as an amount"),
        (GOOD + "A2,Acme,-5,USD,2026-01-05,,active\n",
         "contracts.csv, row 3, column budget: budget is negative"),
        (GOOD + "A2,Acme,,USD,2026-01-05,,active\n",
         "contracts.csv, row 3, column budget: budget is required for fixed-price contracts"),
        (GOOD + "A2,Acme,100,USD,2026-01-05,2026-01-01,completed\n",
         "contracts.csv, row 3, column end_date: end_date is before start_date"),
        (GOOD + "A1,Acme,100,USD,2026-01-05,,active\n",
         "contracts.csv, row 3, column contract_id: contract_id 'A1' appears more than once (rows 2, 3)"),
        (GOOD + "A2,Acme,100,US-D,2026-01-05,,active\n",
         "contracts.csv, row 3, column currency: currency 'US-D' is not a three-letter ISO code"),
        (GOOD + ",Acme,100,USD,2026-01-05,,active\n",
         "contracts.csv, row 3, column contract_id: contract_id is empty"),
        (GOOD + "A2,Acme,1.999,USD,2026-01-05,,active\n",  # three decimals are never rounded silently
         "contracts.csv, row 3, column budget: cannot read '1.999' as an amount (three decimals, or a dot between "
         "thousands: then the file writes decimal commas, and the decimal-comma option reads it)"),
        (GOOD + "A2,Acme,100,USD,1850-01-05,,active\n",
         "contracts.csv, row 3, column start_date: the date '1850-01-05' is outside the years 1970 to 2099"),
        (GOOD + "A2,Acme,100,USD,13/01/26,,active\n",  # 13 decides day-first; the year is the problem
         "contracts.csv, row 3, column start_date: the date '13/01/26' has a two-digit year: write years in full, like 2024"),
        # An amount is never converted: one marked in another currency would count as the row's.
        (GOOD + "A2,Acme,£100,USD,2026-01-05,,active\n",
         "contracts.csv, row 3, column budget: budget '£100' is in another currency than USD, the row's currency: "
         "amounts are never converted; give the row the amount's currency"),
        (GOOD + "A2,Acme,100 EUR,gbp,2026-01-05,,active\n",
         "contracts.csv, row 3, column budget: budget '100 EUR' is in another currency than GBP, the row's currency: "
         "amounts are never converted; give the row the amount's currency"),
        (GOOD + "A2,Acme,¥100,,2026-01-05,,active\n",
         "contracts.csv, row 3, column budget: budget '¥100' is in another currency than USD, the default for a row "
         "without a currency: amounts are never converted; give the row the amount's currency"),
    ],
)
def test_contract_errors(con, tmp_path, body, expected):
    before = snapshot(con)
    path = write(tmp_path, "contracts.csv", HEADER + body)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert str(err.value) == expected
    assert "\n" not in str(err.value)
    assert snapshot(con) == before


def test_amounts_marked_in_their_rows_currency_import(con, tmp_path):
    """The currency check reads codes and the unmistakable symbols only: $ is many currencies."""
    body = ("A2,Acme,£100,GBP,2026-01-05,,active\nA3,Acme,EUR 1.234,50,EUR,2026-01-05,,active\n"
            "A4,Acme,¥900,JPY,2026-01-05,,active\nA5,Acme,$100,CAD,2026-01-05,,active\n")
    body = body.replace("EUR 1.234,50", '"EUR 1.234,50"')
    import_files(con, [write(tmp_path, "contracts.csv", HEADER + GOOD + body)])
    assert con.execute("SELECT contract_id, budget, currency FROM contracts ORDER BY 1").fetchall() == [
        ("A1", Decimal("100.00"), "USD"), ("A2", Decimal("100.00"), "GBP"), ("A3", Decimal("1234.50"), "EUR"),
        ("A4", Decimal("900.00"), "JPY"), ("A5", Decimal("100.00"), "CAD")]


def test_a_milestone_amount_in_another_currency_than_its_flat_rows(con, tmp_path):
    head = "contract_id,budget,currency,start_date,status,seq,amount,paid_amount,milestone_status,paid_date\n"
    body = ("X,100,EUR,2026-01-01,completed,1,50,€50,paid,2026-01-02\n"
            "X,100,EUR,2026-01-01,completed,2,£50,,pending,\n")
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [write(tmp_path, "flat.csv", head + body)])
    assert str(err.value) == ("flat.csv, row 3, column amount: amount '£50' is in another currency than EUR, the row's "
                              "currency: amounts are never converted; give the row the amount's currency")
    assert snapshot(con) == before


def test_rows_of_empty_cells_are_skipped_like_blank_lines(con, tmp_path):
    """Spreadsheets save a cleared row as ",,,,": it once refused the whole file ("contract_id is
    empty (and 2 more problems)"). The rows after it keep their numbers in messages."""
    body = GOOD + ",,,,,,\n ,, ,,,,\nA2,Acme,100,USD,2026-01-05,,active\n,,,,,,\n"
    import_files(con, [write(tmp_path, "contracts.csv", HEADER + body)])
    assert [r[0] for r in con.execute("SELECT contract_id FROM contracts ORDER BY 1").fetchall()] == ["A1", "A2"]
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [write(tmp_path, "contracts.csv", HEADER + GOOD + ",,,,,,\nA3,Acme,12x,USD,2026-01-05,,active\n")])
    assert str(err.value) == "contracts.csv, row 4, column budget: cannot read '12x' as an amount"
    assert snapshot(con) == before


def test_missing_required_column(con, tmp_path):
    path = write(tmp_path, "contracts.csv", "contract_id,budget,start_date\nA1,100,2026-01-01\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path], fmt="canonical")
    assert str(err.value).startswith("contracts.csv, row 1, column status: required column 'status' is missing")


def test_a_template_file_without_contract_id_says_so(con, tmp_path):
    path = write(tmp_path, "contracts.csv", "budget,start_date,status\n100,2026-01-01,active\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert str(err.value) == ("contracts.csv, row 1, column contract_id: required column 'contract_id' is missing "
                              "(the header has the template's other columns: budget, start_date, status)")
    # An Upwork weekly summary without its Contract column is not taken for the template.
    weekly = write(tmp_path, "weekly.csv", '"Date","Hours","Amount","Payment type"\n"03/11/2024","2.00","$100.00",""\n')
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [weekly])
    assert str(err.value).startswith("weekly.csv, row 1: format not recognised from its header (Date, Hours, Amount, Payment type)")


def test_a_contracts_file_without_start_date_is_read_as_completions_and_says_what_it_needs(con, tmp_path):
    path = write(tmp_path, "contracts.csv", "contract_id,budget,status\nA,1,active\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert str(err.value) == ("contracts.csv, row 2, column contract_id: no contract 'A' in the workspace or this import "
                              "(this file was read as completions of contracts imported before; a file of new contracts "
                              "needs a start_date column)")


def test_milestones_of_a_contract_another_source_holds_say_which(con, tmp_path):
    """A milestones file imported without the source its contracts went in under: the id is in the
    workspace, and the message says under which source, and how to choose it."""
    contracts = write(tmp_path, "contracts.csv", "contract_id,budget,start_date,status\nP-1,100,2025-01-01,completed\n")
    import_files(con, [contracts], source="Agency tracker")
    steps = write(tmp_path, "steps.csv", "contract_id,seq,amount\nP-1,1,100\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [steps])
    assert str(err.value) == (
        "steps.csv, row 2, column contract_id: milestone of contract 'P-1', which is neither in this import nor in the "
        "workspace (of source 'canonical'; the workspace has it under source 'Agency tracker': import this file under "
        "that source, --source or Source name on the Data page)")
    assert import_files(con, [steps], source="Agency tracker").imported["milestones"] == 1


def test_milestone_errors(con, tmp_path):
    contracts = write(tmp_path, "contracts.csv", HEADER + GOOD)
    cases = {
        "A1,1,50,2026-01-10\nA9,2,50,2026-01-12\n":
            "milestones.csv, row 3, column contract_id: milestone of contract 'A9', which is neither in this import nor in the workspace",
        "A1,1,50,2026-01-10\nA1,1,50,2026-01-12\n":
            "milestones.csv, row 3, column seq: milestone 1 of contract 'A1' appears more than once",
        "A1,one,50,2026-01-10\n":
            "milestones.csv, row 2, column seq: cannot read 'one' as a whole number",
        # Never rounded: 1.5 would otherwise become milestone 2 and replace it.
        "A1,1,50,2026-01-10\nA1,1.5,50,2026-01-12\n":
            "milestones.csv, row 3, column seq: cannot read '1.5' as a whole number",
        "A1,1e1,50,2026-01-10\n":
            "milestones.csv, row 2, column seq: cannot read '1e1' as a whole number",
        "A1,1,-50,2026-01-10\n":
            "milestones.csv, row 2, column amount: amount is negative",
        "A1,1,50,10 Janvier 2026\n":
            "milestones.csv, row 2, column paid_date: cannot read '10 Janvier 2026' as a date",
    }
    for body, expected in cases.items():
        before = snapshot(con)
        milestones = write(tmp_path, "milestones.csv", "contract_id,seq,amount,paid_date\n" + body)
        with pytest.raises(ImportValidationError) as err:
            import_files(con, [contracts, milestones])
        assert str(err.value) == expected
        assert snapshot(con) == before


def test_a_milestone_numbered_1_5_never_replaces_milestone_2(con, tmp_path):
    """Re-importing with a decimal seq used to round it to 2 and overwrite the paid milestone 2."""
    contracts = write(tmp_path, "contracts.csv", HEADER + GOOD)
    first = write(tmp_path, "milestones.csv", "contract_id,seq,amount,paid_date\nA1,1,50,2026-01-10\nA1,2,30,2026-01-12\n")
    import_files(con, [contracts, first])
    before = snapshot(con)
    with pytest.raises(ImportValidationError):
        import_files(con, [write(tmp_path, "more.csv", "contract_id,seq,amount\nA1,1.5,5\n")])
    assert snapshot(con) == before
    # Whole numbers written as 3.0 (pandas writes them so) or +4 are read as such.
    import_files(con, [write(tmp_path, "ok.csv", "contract_id,seq,amount\nA1,3.0,5\nA1,+4,6\n")])
    assert con.execute("SELECT list(seq ORDER BY seq), list(amount ORDER BY seq) FROM milestones").fetchone() == (
        [1, 2, 3, 4], [Decimal("50.00"), Decimal("30.00"), Decimal("5.00"), Decimal("6.00")])


def test_a_decimal_milestone_count_is_refused(con, tmp_path):
    path = write(tmp_path, "contracts.csv", "contract_id,budget,start_date,status,milestone_count\nL3,500,2026-01-05,active,2.5\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert str(err.value) == "contracts.csv, row 2, column milestone_count: cannot read '2.5' as a whole number"


def test_negative_fee_is_refused(con, tmp_path):
    contracts = write(tmp_path, "contracts.csv", HEADER + GOOD)
    milestones = write(tmp_path, "milestones.csv", "contract_id,seq,amount,paid_date,fee\n"
                       "A1,1,50,2026-01-10,5.00\nA1,2,50,2026-01-12,(5.00)\n")
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [contracts, milestones])
    assert str(err.value) == ("milestones.csv, row 3, column fee: fee is negative "
                              "(write the fee the platform took as a positive amount)")
    assert snapshot(con) == before


def test_a_fee_above_what_was_paid_is_refused(con, tmp_path):
    """A fee of 900 on a payment of 250 made net -650 without a word: the fee is taken from the
    payment, so it can be at most what was paid (paid_amount, else the amount it defaults to)."""
    contracts = write(tmp_path, "contracts.csv", HEADER + GOOD)
    before = snapshot(con)
    cases = {
        "contract_id,seq,amount,paid_date,fee\nA1,1,50,2026-01-10,5.00\nA1,2,50,2026-01-12,900\n":
            "milestones.csv, row 3, column fee: fee 900.00 is more than the amount 50.00 it was taken from "
            "(the fee is what the platform kept of this payment, not a rate or a total)",
        # paid_amount, when given, is what the fee came out of: 30 paid of 50, fee 40
        "contract_id,seq,amount,paid_date,paid_amount,fee\nA1,1,50,2026-01-10,30,40\n":
            "milestones.csv, row 2, column fee: fee 40.00 is more than the paid_amount 30.00 it was taken from "
            "(the fee is what the platform kept of this payment, not a rate or a total)",
    }
    for body, expected in cases.items():
        milestones = write(tmp_path, "milestones.csv", body)
        with pytest.raises(ImportValidationError) as err:
            import_files(con, [contracts, milestones])
        assert str(err.value) == expected
        assert snapshot(con) == before
    # A fee of the whole payment is the most it can be: imported (gross 50, fee 50, net 0).
    import_files(con, [contracts, write(tmp_path, "milestones.csv", "contract_id,seq,amount,paid_date,fee\nA1,1,50,2026-01-10,50\n")])
    assert con.execute("SELECT gross, fee FROM payments").fetchall() == [(Decimal("50.00"), Decimal("50.00"))]


def test_a_fee_above_what_was_paid_exits_2_on_the_command_line(cli, db_path, tmp_path):
    contracts = write(tmp_path, "contracts.csv", "contract_id,client,budget,currency,start_date,end_date,status\n"
                      "G1,Good,500,USD,2025-03-01,,active\n")
    milestones = write(tmp_path, "milestones.csv", "contract_id,seq,amount,paid_date,fee\nG1,1,250,2025-03-10,900\n")
    result = cli("import", contracts, milestones)
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "milestone-lens: error: milestones.csv, row 2, column fee: fee 900.00 is more than the amount 250.00 it was "
        "taken from (the fee is what the platform kept of this payment, not a rate or a total)"]
    assert not db_path.exists()


def test_several_problems_are_all_listed(con, tmp_path):
    path = write(tmp_path, "contracts.csv", HEADER + "A1,Acme,x,USD,2026-01-05,,active\nA2,Acme,y,USD,2026-01-05,,nope\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    where = [(p.row, p.column) for p in err.value.problems]
    assert (2, "budget") in where and (3, "budget") in where and (3, "status") in where
    assert str(err.value).endswith("(and 2 more problems)")


def test_the_count_of_problems_is_the_true_one_though_each_check_lists_its_first_20(con, cli, tmp_path):
    """1,200 rows whose budget is x0, x1, ...: a check lists its first 20 rows, and the message said
    "(and 19 more problems)" as if that were all; SQL counts them all: 1,200 + row 3's status = 1,201."""
    rows = "".join(f"A{i},Acme,x{i},USD,2026-01-05,,active\n" for i in range(1200))
    rows = rows.replace("A1,Acme,x1,USD,2026-01-05,,active", "A1,Acme,x1,USD,2026-01-05,,nope")  # row 3
    path = write(tmp_path, "contracts.csv", HEADER + rows)
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert str(err.value) == "contracts.csv, row 2, column budget: cannot read 'x0' as an amount (and 1,200 more problems)"
    assert err.value.total == 1201 and len(err.value.problems) == 21  # 20 budgets listed, 1 status
    assert snapshot(con) == before
    con.close()
    result = cli("import", path)
    assert result.code == 2
    assert result.err == ("milestone-lens: error: contracts.csv, row 2, column budget: cannot read 'x0' as an amount "
                          "(and 1,200 more problems)\n")


def test_an_exports_problem_count_is_the_true_one(con, tmp_path):
    """The marketplace readers list 20 rows of a check too: 25 unreadable Freelancer.com amounts are 25."""
    path = write(tmp_path, "fl.csv", "Date,Description,Currency,Amount,Tax\n" + "".join(
        f"0{1 + i % 9} Jan 2026 10:{i:02d},Done milestone payment from Bo for project Deck (Part {i}) (USD),USD,1O0.00,0.00\n"
        for i in range(25)))
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert str(err.value) == "fl.csv, row 2, column Amount: cannot read '1O0.00' as an amount (and 24 more problems)"


def test_problems_are_listed_top_to_bottom_file_by_file(con, tmp_path):
    # The budget check comes before the date check, but row 2's date is the first problem in the file.
    contracts = write(tmp_path, "contracts.csv", HEADER + "A1,Acme,100,USD,2026-13-45,,active\n"
                      + "A2,Acme,12x,USD,2026-01-05,,active\nA3,Acme,5,USD,2026-01-05,,nope\n")
    milestones = write(tmp_path, "milestones.csv", "contract_id,seq,amount\nA1,one,50\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [contracts, milestones])
    where = [(p.file, p.row, p.column) for p in err.value.problems]
    assert where == [("contracts.csv", 2, "start_date"), ("contracts.csv", 3, "budget"),
                     ("contracts.csv", 4, "status"), ("milestones.csv", 2, "seq")]
    assert str(err.value) == ("contracts.csv, row 2, column start_date: cannot read '2026-13-45' as a date "
                              "(and 3 more problems)")


def test_ambiguous_numeric_dates_are_refused_then_accepted_with_a_flag(con, tmp_path):
    from analysis.parsing import ParseOptions

    path = write(tmp_path, "contracts.csv", HEADER + "A1,Acme,100,USD,05/11/2024,,active\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert str(err.value).endswith("could be day/month or month/day; say which")
    import_files(con, [path], options=ParseOptions(day_first=True))
    assert str(con.execute("SELECT start_date FROM contracts").fetchone()[0]) == "2024-11-05"


def test_numeric_dates_decided_by_the_data(con, tmp_path):
    # 25/11/2024 can only be day-first, so 05/11/2024 is the 5th of November.
    path = write(tmp_path, "contracts.csv", HEADER + "A1,Acme,100,USD,05/11/2024,25/11/2024,completed\n")
    import_files(con, [path])
    assert [str(d) for d in con.execute("SELECT start_date, end_date FROM contracts").fetchone()] == ["2024-11-05", "2024-11-25"]


def test_conflicting_copies_across_files_of_one_batch(con, tmp_path):
    a = write(tmp_path, "a.csv", HEADER + GOOD)
    b = write(tmp_path, "b.csv", HEADER + GOOD.replace("100", "120"))
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [a, b])
    assert str(err.value) == "b.csv, row 2, column budget: contract A1: budget is '120.00' here but '100.00' in a.csv row 2"
    assert snapshot(con) == before
    # Three copies where only the middle one differs: that one is named, with its column.
    c = write(tmp_path, "c.csv", HEADER + GOOD)
    m = write(tmp_path, "m.csv", HEADER + GOOD.replace("Acme", "Acme Ltd"))
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [a, m, c])
    assert str(err.value) == "m.csv, row 2, column client: contract A1: client is 'Acme Ltd' here but 'Acme' in a.csv row 2"


def test_a_flat_file_names_the_detail_that_differs_between_a_contracts_rows(con, tmp_path):
    flat = write(tmp_path, "flat.csv", "contract_id,budget,start_date,status,seq,amount\n"
                 "F1,100,2026-01-05,active,1,50\nF1,100,2026-01-05,active,2,30\nF1,120,2026-01-05,active,3,20\n")
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [flat])
    assert str(err.value) == ("flat.csv, row 4, column budget: contract 'F1' has a different budget here than on row 2 "
                              "(a flat file repeats the contract's details on every row of it)")
    assert snapshot(con) == before


def test_identical_copies_across_files_count_once(con, tmp_path):
    a = write(tmp_path, "a.csv", HEADER + GOOD)
    b = write(tmp_path, "b.csv", HEADER + GOOD)
    summary = import_files(con, [a, b])
    assert summary.imported["contracts"] == 1


def test_empty_file_and_unknown_layout(con, tmp_path):
    empty = write(tmp_path, "empty.csv", "")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [empty])
    assert str(err.value) == "empty.csv: the file is empty"
    other = write(tmp_path, "other.csv", "foo,bar\n1,2\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [other])
    assert str(err.value).startswith("other.csv, row 1: format not recognised from its header (foo, bar)")
    # The header as written, not as normalised for matching ("w_hrung").
    german = write(tmp_path, "de.csv", "Auftrag;Währung;Betrag\nA;EUR;10\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [german])
    assert str(err.value).startswith("de.csv, row 1: format not recognised from its header (Auftrag, Währung, Betrag)")


def test_good_files_still_import_after_a_refusal(con, tmp_path):
    bad = write(tmp_path, "contracts.csv", HEADER + "A1,Acme,100,USD,2026-01-05,,weird\n")
    with pytest.raises(ImportValidationError):
        import_files(con, [bad])
    summary = import_files(con, [CANONICAL / "contracts.csv", CANONICAL / "milestones.csv"])
    assert summary.imported["contracts"] == 6


def test_nul_byte_megabytes_into_the_file_names_its_row_and_column(tmp_path, con):
    """The NUL scan reads the file in 1 MiB chunks and counts lines only once it finds one:
    a NUL in the third chunk must still name the right row (the header and 50,000 rows before it)."""
    rows = 50_000
    line = "A{:07d},Acme,100,USD,2026-01-05,2026-01-20,completed\n"
    body = "".join(line.format(i) for i in range(rows))
    assert len(body) > 2 * (1 << 20)
    path = tmp_path / "contracts.csv"
    path.write_bytes((HEADER + body + "B1,Ac\x00me,100,USD,2026-01-05,2026-01-20,completed\n").encode())
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert str(err.value) == (f"contracts.csv, row {rows + 2}, column client: "
                              "holds a NUL byte (\\x00): the file is damaged or binary, not CSV text")
    assert snapshot(con) == before


def test_rows_after_blank_lines_are_numbered_as_a_spreadsheet_shows_them(con, tmp_path):
    """DuckDB skips blank lines, so a bad budget on line 6 below three of them was named "row 3".
    Counted by hand: header 1, blanks 2–4, A1 5, A2 6."""
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [write(tmp_path, "contracts.csv", HEADER + "\n\n\n" + GOOD + "A2,Acme,12x,USD,2026-01-05,,active\n")])
    assert str(err.value) == "contracts.csv, row 6, column budget: cannot read '12x' as an amount"
    # A blank line inside a quoted cell is part of its row, not a row (A1 3–5 lines, one row: 2).
    quoted = GOOD.replace("Acme", '"Acme\n\nLtd"', 1)
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [write(tmp_path, "contracts.csv", HEADER + quoted + "\nA2,Acme,12x,USD,2026-01-05,,active\n")])
    assert str(err.value) == "contracts.csv, row 4, column budget: cannot read '12x' as an amount"
    # A contract given twice in one file, a blank line between: both rows as the spreadsheet shows them.
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [write(tmp_path, "contracts.csv", HEADER + GOOD + "\n" + GOOD.replace("100", "120"))])
    assert str(err.value) == "contracts.csv, row 4, column contract_id: contract_id 'A1' appears more than once (rows 2, 4)"
    # ... and another file's row a message names: b.csv's A1 differs from a.csv's, on its row 3.
    a = write(tmp_path, "a.csv", HEADER + "\n" + GOOD)
    b = write(tmp_path, "b.csv", HEADER + GOOD.replace("100", "120"))
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [a, b])
    assert str(err.value) == "b.csv, row 2, column budget: contract A1: budget is '120.00' here but '100.00' in a.csv row 3"
    # A NUL byte is found by its line, which counts the blank lines already: row 4, not 5.
    path = tmp_path / "nul.csv"
    path.write_bytes((HEADER + "\n" + GOOD + "B1,Ac\x00me,100,USD,2026-01-05,2026-01-20,completed\n").encode())
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [path])
    assert str(err.value).startswith("nul.csv, row 4, column client: holds a NUL byte")
    assert snapshot(con) == before


def test_blank_lines_above_the_header_are_skipped_and_counted(con, tmp_path):
    """Two blank lines above the header made DuckDB read the header as a row ("row 4: cannot read
    'budget' as an amount"). Now they are skipped like Excel's "sep=" line, which may follow them."""
    import_files(con, [write(tmp_path, "contracts.csv", "\n\n" + HEADER + GOOD)])
    assert con.execute("SELECT contract_id, budget FROM contracts").fetchall() == [("A1", Decimal("100.00"))]
    before = snapshot(con)
    with pytest.raises(ImportValidationError) as err:  # blank 1, blank 2, header 3, A1 4, A2 5
        import_files(con, [write(tmp_path, "contracts.csv", "\n\n" + HEADER + GOOD + "A2,Acme,1x0,USD,2026-01-05,,active\n")])
    assert str(err.value) == "contracts.csv, row 5, column budget: cannot read '1x0' as an amount"
    excel = ("\r\n" + '"sep=;"\r\n' + HEADER.replace(",", ";").replace("\n", "\r\n") + GOOD.replace(",", ";").replace("\n", "\r\n")
             + "\r\nA2;Acme;1x0;USD;2026-01-05;;active\r\n")
    with pytest.raises(ImportValidationError) as err:  # blank 1, sep= 2, header 3, A1 4, blank 5, A2 6
        import_files(con, [write(tmp_path, "excel.csv", excel)])
    assert str(err.value) == "excel.csv, row 6, column budget: cannot read '1x0' as an amount"
    assert snapshot(con) == before


def test_a_wide_files_extra_columns_are_counted_not_all_listed(con, tmp_path):
    """900 columns the template does not have made one warning naming all 900."""
    extra = [f"x{i}" for i in range(900)]
    summary = import_files(con, [write(tmp_path, "wide.csv", HEADER.rstrip("\n") + "," + ",".join(extra) + "\n"
                                       + GOOD.rstrip("\n") + "," * 900 + "\n")])
    assert summary.warnings[0] == ("wide.csv: 900 columns not in the template ('x0', 'x1', 'x2', 'x3', 'x4' and 895 "
                                   "more): kept aside, not imported")


def test_warnings_name_rows_as_a_spreadsheet_shows_them(con, tmp_path):
    """Errors counted the blank lines DuckDB skips, warnings did not: the same file's active contract
    with an end date was "row 2" in the warning and would be "row 5" in an error. Counted by hand:
    header 1, blanks 2–4, A1 5; the import log keeps the same text."""
    path = write(tmp_path, "contracts.csv", HEADER + "\n\n\n" + "A1,Acme,100,USD,2026-01-05,2026-01-20,active\n")
    summary = import_files(con, [path])
    named = [w for w in summary.warnings if "marked active with an end_date" in w]
    assert named == ["contracts.csv: 1 contract marked active with an end_date (first: row 5): counted as active; if it "
                     "ended, give its status (completed, cancelled or disputed)"]
    (logged,) = con.execute("SELECT warnings FROM imports").fetchone()
    assert named[0] in logged
    assert not any("\x1e" in w for w in logged + summary.warnings)
    # Without blank lines the row is DuckDB's own: header 1, A1 2.
    summary = import_files(con, [write(tmp_path, "plain.csv", HEADER + "A2,Acme,100,USD,2026-01-05,2026-01-20,active\n")],
                           source="plain")
    assert any("(first: row 2)" in w for w in summary.warnings)


def test_completions_given_twice_name_both_rows_past_blank_lines(con, tmp_path):
    """The message's list of rows was DuckDB's numbering while its own row counted the blank line:
    "row 4 ... (rows 2, 3)". Header 1, A1 2, blank 3, A1 4."""
    import_files(con, [write(tmp_path, "contracts.csv", HEADER + "A1,Acme,100,USD,2026-01-05,,active\n")])
    before = snapshot(con)
    completions = write(tmp_path, "done.csv", "source,contract_id,status\ncanonical,A1,completed\n\ncanonical,A1,cancelled\n")
    with pytest.raises(ImportValidationError) as err:
        import_files(con, [completions])
    assert str(err.value) == "done.csv, row 4, column contract_id: contract 'A1' is completed twice (rows 2, 4)"
    assert snapshot(con) == before
