"""Completing what an export cannot know (status, budget, planned milestones); completions survive re-imports."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from analysis import completions, store
from analysis.completions import KEEP, complete_contract
from analysis.errors import ImportValidationError, UserError
from analysis.importing import import_files
from tests.conftest import CANONICAL, FIXTURES
from tests.test_import_canonical import snapshot

LEGACY = FIXTURES / "exports" / "upwork_transactions_legacy.csv"
HARBOR = "Harbor Apps / Mobile onboarding flow"
QUILL = "Quill Media / Blog series"
PINE = "Pine Data / hourly"
D = Decimal


def view(con, contract_id: str) -> tuple:
    return con.execute(
        "SELECT status, budget, planned_milestones, structure FROM contract_view WHERE contract_id = ?", [contract_id]
    ).fetchone()


def write(tmp_path: Path, text: str, name: str = "completions.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_complete_contract_and_keep(con):
    import_files(con, [LEGACY])
    # Blog series has one milestone so far: single, until the user says 3 were planned.
    assert view(con, QUILL) == (None, None, None, "single")
    version = con.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()[0]
    complete_contract(con, "upwork", QUILL, status="Cancelled", budget="2700", planned_milestones=3)
    assert view(con, QUILL) == ("cancelled", D("2700.00"), 3, "milestones")
    assert con.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()[0] != version
    complete_contract(con, "upwork", QUILL, budget=3000)  # status and planned milestones kept
    assert view(con, QUILL) == ("cancelled", D("3000.00"), 3, "milestones")
    complete_contract(con, "upwork", QUILL, planned_milestones=None)  # cleared
    assert view(con, QUILL) == ("cancelled", D("3000.00"), None, "single")
    complete_contract(con, "upwork", QUILL, status=None, budget=None)
    assert con.execute("SELECT count(*) FROM contract_completions").fetchone() == (0,)
    assert KEEP is completions.KEEP


@pytest.mark.parametrize("kwargs, message", [
    ({"status": "finished"}, "unknown status 'finished'"),
    ({"budget": "-5"}, "budget must be zero or more"),
    ({"budget": "lots"}, "budget 'lots' is not an amount"),
    ({"planned_milestones": 0}, "planned milestones must be 1 or more"),
    ({"planned_milestones": 2.5}, "planned milestones '2.5' is not a whole number"),  # not cut to 2
    ({"planned_milestones": "3 or 4"}, "planned milestones '3 or 4' is not a whole number"),
    ({"budget": "100.005"}, "budget '100.005' has more than two decimals"),  # not rounded to 100.00
])
def test_complete_contract_refuses_bad_values(con, kwargs, message):
    import_files(con, [LEGACY])
    before = snapshot(con)
    with pytest.raises(UserError) as err:
        complete_contract(con, "upwork", QUILL, **kwargs)
    assert message in str(err.value)
    assert snapshot(con) == before


def test_unknown_contract(con):
    import_files(con, [LEGACY])
    with pytest.raises(UserError, match="no contract 'Nope' in source 'upwork'"):
        complete_contract(con, "upwork", "Nope", status="active")


def test_completions_csv_on_top_of_an_export(con, tmp_path):
    import_files(con, [LEGACY])
    assert completions.count_incomplete(con) == 3  # a transaction history knows no status or budget
    path = write(tmp_path, (
        "contract_id,status,budget,planned_milestones\n"
        f"{HARBOR},completed,\"$1,200.00\",4\n"
        f"{QUILL},cancelled,,\n"
        f"{PINE},active,,\n"
    ))
    summary = import_files(con, [path])
    assert summary.files[0].format == "completions"
    assert (summary.completed, summary.completed_already) == (3, 0)
    assert summary.counts()[-1] == "Completed 3 contracts."  # a count, not a warning
    assert not any("completed" in w for w in summary.warnings)
    assert view(con, HARBOR) == ("completed", D("1200.00"), 4, "milestones")
    assert view(con, PINE) == ("active", None, None, "hourly")
    # Quill is fixed-price without a budget: still incomplete; Pine is hourly and needs none.
    table = completions.completion_table(con, only_incomplete=True)
    assert list(table["contract_id"]) == [QUILL]
    assert completions.count_incomplete(con) == 1
    # Empty cells leave what was completed before; a re-import changes nothing.
    path2 = write(tmp_path, f"contract_id,budget\n{QUILL},900\n", "more.csv")
    import_files(con, [path2])
    assert view(con, QUILL) == ("cancelled", D("900.00"), None, "single")
    again = import_files(con, [path2])
    assert again.counts()[-1] == "Completed 0 contracts (1 already as given)."


def test_completions_survive_reimport_of_the_export(con, tmp_path):
    import_files(con, [LEGACY])
    import_files(con, [write(tmp_path, f"contract_id,status,budget\n{HARBOR},disputed,900\n")])
    import_files(con, [LEGACY])
    assert view(con, HARBOR) == ("disputed", D("900.00"), None, "milestones")


def test_export_and_completions_in_one_command(cli, tmp_path):
    path = write(tmp_path, f"contract_id,status,budget,planned_milestones\n{QUILL},completed,900,1\n")
    result = cli("import", path, LEGACY, "--json")  # the completions file may come first
    assert result.code == 0, result.err
    document = result.json()
    assert document["imported"] == {"contracts": 3, "milestones": 6, "payments": 9}
    assert (document["completed"], document["completed_already"]) == (1, 0)


def test_bad_completions_refused_with_row_and_column(con, tmp_path):
    import_files(con, [LEGACY])
    before = snapshot(con)
    cases = [
        (f"contract_id,status\n{HARBOR},done\n", "completions.csv, row 2, column status: unknown status 'done'"),
        (f"contract_id,budget\n{HARBOR},12x\n", "completions.csv, row 2, column budget: cannot read '12x' as an amount"),
        (f"contract_id,planned_milestones\n{HARBOR},two\n",
         "completions.csv, row 2, column planned_milestones: cannot read 'two' as a whole number"),
        (f"contract_id,planned_milestones\n{HARBOR},2.5\n",
         "completions.csv, row 2, column planned_milestones: cannot read '2.5' as a whole number"),
        (f"contract_id,status\n{HARBOR},active\nGhost / job,active\n",
         "completions.csv, row 3, column contract_id: no contract 'Ghost / job' in the workspace or this import"),
    ]
    for text, message in cases:
        with pytest.raises(ImportValidationError) as err:
            import_files(con, [write(tmp_path, text)])
        assert str(err.value).startswith(message), str(err.value)
        assert snapshot(con) == before


def test_same_id_in_two_sources_needs_a_source(con, tmp_path):
    import_files(con, [CANONICAL / "contracts.csv", CANONICAL / "milestones.csv"])
    import_files(con, [CANONICAL / "contracts.csv", CANONICAL / "milestones.csv"], source="other")
    path = write(tmp_path, "contract_id,planned_milestones\nC2,3\n")
    with pytest.raises(ImportValidationError, match=r"exists in several sources \(canonical, other\): add a source column or use --source"):
        import_files(con, [path])
    import_files(con, [path], source="other")
    assert con.execute("SELECT source, structure FROM contract_view WHERE contract_id = 'C2' ORDER BY 1").fetchall() == [
        ("canonical", "single"), ("other", "milestones")]


def test_completions_the_imported_rows_contradict_are_named(con, tmp_path):
    """Saved as given (the user may know better), each named: Packaging refresh was paid 860 but
    given a budget of 500; the hourly Lumen Labs contract given a budget; Brand guidelines has two
    milestones in the export but one planned."""
    import_files(con, [FIXTURES / "exports" / "upwork_transactions_2025.csv"])
    done = tmp_path / "done.csv"
    done.write_text("contract_id,status,budget,planned_milestones\n"
                    "Ember Foods / Packaging refresh,completed,500,\n"
                    "Lumen Labs / hourly,completed,100,\n"
                    "Ember Foods / Brand guidelines,completed,900,1\n")
    warnings = import_files(con, [done]).warnings
    assert warnings == [
        "done.csv: 1 contract given a budget below what was already paid toward it: Ember Foods / Packaging refresh "
        "(budget 500.00, paid 860.00); check the budget",
        "done.csv: a budget given for 1 hourly contract (Lumen Labs / hourly): hourly work is not valued by a budget, "
        "so it is not used",
        "done.csv: fewer planned milestones than imported for 1 contract: Ember Foods / Brand guidelines "
        "(1 planned, 2 imported); the structure follows the larger",
    ]
    assert con.execute("SELECT budget FROM contract_view WHERE contract_id = 'Ember Foods / Packaging refresh'"
                       ).fetchone()[0] == Decimal("500.00")
    # The dashboard's save names the same for the contracts it saved.
    assert completions.completion_warnings(con, [("upwork", "Lumen Labs / hourly")]) == [warnings[1].split(": ", 1)[1]]


def test_a_template_contracts_file_gives_a_transaction_historys_contracts_their_dates(cli, db_path, tmp_path):
    """Completions carry no dates; the way the report names (a template contracts file under the export's
    source) gives them, and a later import of the export keeps them."""
    import json

    assert cli("import", LEGACY).code == 0
    done = write(tmp_path, f"contract_id,status,budget\n{HARBOR},completed,900\n{QUILL},cancelled,1800\n")
    assert cli("import", done).code == 0
    doc = json.loads(cli("report", "--json", "--today", "2026-01-01").out)
    assert doc["time_to_cancellation"]["excluded"]["no_end_date"] == 2  # both finished, neither has an end
    note = next(n for n in doc["notes"] if "no end date" in n)
    assert completions.DATES_FROM_TEMPLATE in note

    dates = write(tmp_path, "contract_id,start_date,status,budget,end_date,planned_end_date\n"
                            f"{HARBOR},2022-09-01,completed,900,2022-11-30,2022-11-15\n"
                            f"{QUILL},2022-09-01,cancelled,1800,2022-10-10,2022-12-01\n", "contracts.csv")
    assert cli("import", dates, "--source", "upwork").code == 0
    assert cli("import", LEGACY).code == 0  # the export again: nothing of the dates is lost
    doc = json.loads(cli("report", "--json", "--today", "2026-01-01").out)
    assert doc["time_to_cancellation"]["excluded"]["no_end_date"] == 0
    assert not any("no end date" in n for n in doc["notes"])
    con = store.connect(db_path, read_only=True)
    rows = con.execute("SELECT contract_id, start_date::VARCHAR, end_date::VARCHAR, start_estimated FROM contracts "
                       "WHERE contract_id IN (?, ?) ORDER BY contract_id", [HARBOR, QUILL]).fetchall()
    con.close()
    assert rows == [(HARBOR, "2022-09-01", "2022-11-30", False), (QUILL, "2022-09-01", "2022-10-10", False)]


def test_the_completions_command_lists_what_to_complete_and_its_file_goes_back_in(cli, db_path, tmp_path):
    """The legacy export leaves all 3 contracts without status or budget (by hand: Harbor 3 milestones paid
    200 + 200 + 200, Quill 1 milestone, Pine hourly); the printed CSV, filled in, is a completions file."""
    import csv
    import io

    assert cli("import", LEGACY).code == 0
    result = cli("completions")
    assert result.code == 0
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert list(rows[0])[:5] == ["source", "contract_id", "status", "budget", "planned_milestones"]
    assert sorted(r["contract_id"] for r in rows) == sorted([HARBOR, QUILL, PINE])
    assert all(r["source"] == "upwork" and r["status"] == "" and r["budget"] == "" for r in rows)
    assert "3 contracts to complete" in result.err
    for r in rows:
        r.update(status="completed", budget="" if r["contract_id"] == PINE else "900")
    filled = tmp_path / "todo.csv"
    with filled.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    imported = cli("import", filled, "--json")
    assert imported.code == 0, imported.err
    assert imported.json()["completed"] == 3
    left = cli("completions")
    assert left.out.splitlines()[1:] == [] and "nothing to complete" in left.err
    every = list(csv.DictReader(io.StringIO(cli("completions", "--all").out)))
    assert {r["contract_id"]: r["status"] for r in every} == {HARBOR: "completed", QUILL: "completed", PINE: "completed"}


def test_the_completions_command_without_a_workspace_exits_2(cli, tmp_path):
    result = cli("completions", db=tmp_path / "none.duckdb")
    assert result.code == 2 and result.err.startswith("milestone-lens: error: ") and "import a history first" in result.err
    assert not (tmp_path / "none.duckdb").exists()


def test_a_later_import_that_pays_past_a_completed_budget_says_so_once(con, tmp_path):
    """Priya's project by hand: the first export holds her first payment (250.00), completed with a budget of
    300.00; the newer export adds the second (250.00): 500.00 paid against 300.00, named once."""
    from tests.test_freelancer import FILE, PRIYA

    lines = FILE.read_text().splitlines(keepends=True)
    first = tmp_path / "first.csv"
    first.write_text("".join(line for line in lines if "19 Jan 2026" not in line))
    import_files(con, [first])
    import_files(con, [write(tmp_path, f"contract_id,status,budget\n{PRIYA},completed,300\n")])
    newer = import_files(con, [FILE])
    assert [w for w in newer.warnings if "budget below" in w] == [
        f"freelancer_transactions.csv: 1 contract given a budget below what was already paid toward it: {PRIYA} "
        "(budget 300.00, paid 500.00); check the budget"]
    again = import_files(con, [FILE])  # nothing new: the contradiction was said already
    assert not [w for w in again.warnings if "budget below" in w]


def test_a_completion_a_later_file_changes_is_named(con, tmp_path):
    """A second completions file changed cancelled / 1,800.00 into disputed / 1,700.00 and said only
    "Completed 1 contract". Filling a value left empty changes none, so it is not named."""
    import_files(con, [write(tmp_path, "contract_id,start_date,status,budget\nA1,2024-01-01,active,100\n", "c.csv")])
    first = import_files(con, [write(tmp_path, "source,contract_id,status\ncanonical,A1,cancelled\n", "first.csv")])
    assert not any("replaced" in w for w in first.warnings)
    filled = import_files(con, [write(tmp_path, "contract_id,budget\nA1,1800\n", "filled.csv")])
    assert not any("replaced" in w for w in filled.warnings)
    second = import_files(con, [write(tmp_path, "contract_id,status,budget\nA1,disputed,1700\n", "second.csv")])
    assert second.warnings == [
        "second.csv: replaced 1 earlier completion (first: contract 'A1', status cancelled, budget 1,800.00, planned "
        "milestones empty; now status disputed, budget 1,700.00, planned milestones empty)"]
    assert view(con, "A1")[:2] == ("disputed", D("1700.00"))
