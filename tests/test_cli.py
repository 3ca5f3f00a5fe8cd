"""The command line as users script it: JSON on stdout, one-line errors, exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CANONICAL, ROOT

TWO_FILES = [CANONICAL / "contracts.csv", CANONICAL / "milestones.csv"]


def test_import_json_document(cli):
    result = cli("import", *TWO_FILES, "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)  # stdout holds exactly one JSON document
    assert doc["imported"] == {"contracts": 6, "milestones": 12, "payments": 10}
    assert doc["duplicates_skipped"] == 0
    assert doc["warnings"] == []
    again = cli("import", *TWO_FILES, "--json").json()
    assert again["imported"] == {"contracts": 0, "milestones": 0, "payments": 0}
    assert again["duplicates_skipped"] == 28


def test_import_text_summary(cli):
    result = cli("import", *TWO_FILES)
    assert result.code == 0
    assert "Imported 6 contracts, 12 milestones, 10 payments from 2 files." in result.out


def test_bad_file_exit_2_one_line(cli, tmp_path, db_path):
    bad = tmp_path / "contracts.csv"
    bad.write_text("contract_id,budget,start_date,status\nA1,100,2026-01-01,finished\n")
    result = cli("import", bad)
    assert result.code == 2
    assert result.out == ""
    assert result.err.strip() == (
        "milestone-lens: error: contracts.csv, row 2, column status: unknown status 'finished' "
        "(expected one of completed, cancelled, disputed, active)")


def test_missing_file(cli, tmp_path):
    result = cli("import", tmp_path / "nope.csv")
    assert result.code == 2
    assert result.err.strip() == "milestone-lens: error: nope.csv: file not found"


def test_bad_arguments_exit_2(cli):
    assert cli("sample", "--contracts", "many").code == 2
    assert cli("sample", "--contracts", "0").code == 2


def test_sample_out_writes_canonical_csvs(cli, tmp_path):
    result = cli("sample", "--contracts", "300", "--seed", "3", "--out", tmp_path / "s", db=None)
    assert result.code == 0
    header = (tmp_path / "s" / "contracts.csv").read_text().splitlines()[0]
    assert header.replace('"', "").split(",")[:3] == ["contract_id", "client", "freelancer"]
    assert len((tmp_path / "s" / "contracts.csv").read_text().splitlines()) == 301


def test_sample_out_never_writes_over_files(cli, tmp_path):
    (tmp_path / "s").mkdir()
    mine = tmp_path / "s" / "contracts.csv"
    mine.write_text("contract_id,budget\nMINE,1\n")
    result = cli("sample", "--contracts", "5", "--out", tmp_path / "s", db=None)
    assert (result.code, result.err) == (2, f"milestone-lens: error: --out {tmp_path / 's'}: already holds contracts.csv; "
                                            "give a new or empty folder (nothing is written over)\n")
    assert mine.read_text() == "contract_id,budget\nMINE,1\n" and not (tmp_path / "s" / "milestones.csv").exists()
    result = cli("sample", "--contracts", "5", "--out", mine, db=None)
    assert result.code == 2 and "is a file; give a folder" in result.err


def test_sample_imports_into_the_workspace(cli, db_path):
    result = cli("sample", "--contracts", "500", "--seed", "11", "--json")
    assert result.code == 0, result.err
    assert result.json()["imported"]["contracts"] == 500
    from analysis import store

    con = store.connect(db_path)
    assert con.execute("SELECT count(*) FROM contracts WHERE source = 'sample'").fetchone()[0] == 500
    con.close()


def test_sample_is_imported_only_into_an_empty_workspace(cli, db_path):
    """A second sample would update the first one's contracts and keep milestones it does not have
    (1,115 of 2,000 contracts with the wrong milestone count, seen before this refusal)."""
    assert cli("sample", "--contracts", "50", "--seed", "1").code == 0
    before = db_path.read_bytes()
    result = cli("sample", "--contracts", "50", "--seed", "9")
    assert (result.code, result.err) == (2, "milestone-lens: error: the workspace already holds contracts; "
                                            "the sample is only loaded into an empty workspace\n")
    assert db_path.read_bytes() == before
    assert cli("import", *TWO_FILES, db=db_path.with_name("mine.duckdb")).code == 0
    assert cli("sample", "--contracts", "5", db=db_path.with_name("mine.duckdb")).code == 2


def test_real_process_exit_status_and_no_traceback(tmp_path):
    """The installed entry point, as a user runs it."""
    bad = tmp_path / "contracts.csv"
    bad.write_text("contract_id,budget,start_date,status\nA1,-3,2026-01-01,active\n")
    exe = Path(sys.executable).parent / "milestone-lens"
    env = dict(os.environ, MILESTONE_LENS_DB=str(tmp_path / "ws.duckdb"))
    proc = subprocess.run([str(exe), "import", str(bad)], capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "milestone-lens: error: contracts.csv, row 2, column budget: budget is negative"
    # The refused first import left no workspace behind.
    assert not (tmp_path / "ws.duckdb").exists()
    ok = subprocess.run([str(exe), "import", *map(str, TWO_FILES), "--json"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert ok.returncode == 0 and json.loads(ok.stdout)["imported"]["contracts"] == 6
    # The environment variable chose the workspace.
    assert (tmp_path / "ws.duckdb").exists()


def test_refused_or_dry_run_import_into_a_new_path_leaves_no_workspace(cli, tmp_path):
    bad = tmp_path / "contracts.csv"
    bad.write_text("contract_id,budget,start_date,status\nA1,100,2026-13-01,active\n")
    fresh = tmp_path / "new" / "fresh.duckdb"
    assert cli("import", bad, db=fresh).code == 2
    assert cli("import", *TWO_FILES, "--dry-run", "--json", db=fresh).json()["imported"]["contracts"] == 6
    assert cli("sample", "--contracts", "0", db=fresh).code == 2
    assert not fresh.exists()
    assert not (tmp_path / "new").exists() or list((tmp_path / "new").iterdir()) == []


def test_refused_import_leaves_an_existing_workspace_byte_for_byte(cli, tmp_path, db_path):
    assert cli("import", *TWO_FILES).code == 0
    before = db_path.read_bytes()
    bad = tmp_path / "contracts.csv"
    bad.write_text("contract_id,budget,start_date,status\nA1,100,2026-13-01,active\n")
    assert cli("import", bad).code == 2
    assert cli("import", *TWO_FILES, "--dry-run").code == 0
    assert db_path.read_bytes() == before


@pytest.mark.parametrize("limit", ["1MB", "2MB", "3MB"])
def test_running_out_of_memory_while_reading_a_csv_is_one_line(cli, tmp_path, db_path, monkeypatch, limit):
    """Capped this low, DuckDB runs out of memory in its CSV reader on the 1,500-contract sample's
    (well-formed) contracts.csv. That used to say "contracts.csv: cannot be read as CSV (Out of
    Memory Error ...)"; now the line every command gives for it, exit 2, the workspace as it was."""
    from analysis import sample, store
    from tests.workspace_snapshot import snapshot

    assert cli("import", *TWO_FILES).code == 0
    con = store.connect(db_path, read_only=True)
    before = snapshot(con)
    con.close()
    contracts, _milestones = sample.write_csvs(tmp_path / "csv", 1500, seed=11)
    monkeypatch.setenv(store.MEMORY_LIMIT_ENV_VAR, limit)
    out = cli("import", contracts)
    assert (out.code, out.err) == (2, f"milestone-lens: error: out of memory: DuckDB is capped at {limit} "
                                      "($MILESTONE_LENS_MEMORY_LIMIT); raise it, e.g. MILESTONE_LENS_MEMORY_LIMIT=4GB, "
                                      "and run the command again\n")
    monkeypatch.delenv(store.MEMORY_LIMIT_ENV_VAR)
    con = store.connect(db_path, read_only=True)
    assert snapshot(con) == before
    con.close()


def _heavy_modules_after(argv: list[str], env: dict) -> list[str]:
    """Which of pandas, statsmodels and SciPy a fresh interpreter has loaded after ``milestone-lens ARGV``."""
    code = ("import contextlib, io, json, sys\n"
            "from analysis.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    status = main({argv!r})\n"
            "assert status == 0, status\n"
            "print(json.dumps([m for m in ('pandas', 'statsmodels', 'scipy') if m in sys.modules]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name, content", [
    ("contracts.csv", b"contract_id,budget\nA1,100\n"),  # DuckDB would read it as data, in memory
    ("plan.json", b'{"budget": 150}\n'),                   # likewise
    ("notes.txt", b"not a database\n"),
    ("touched.duckdb", b""),
    ("folder", None),
])
def test_db_that_is_not_a_workspace_is_refused_and_left_alone(cli, tmp_path, name, content):
    """Before, an import into ``--db contracts.csv`` said "Imported" and kept nothing (exit 0),
    and a folder or a text file ended in a traceback."""
    target = tmp_path / name
    if content is None:
        target.mkdir()
    else:
        target.write_bytes(content)
    said = "is a folder, not a workspace file" if content is None else "exists but is not a workspace"
    for args in (["import", *TWO_FILES], ["report", "--json"],
                 ["split", "--budget", "150", "--days", "5", "--milestones", "5", "--calibrate"]):
        result = cli(*args, db=target)
        assert result.code == 2, (args, result.err)
        assert result.err == f"milestone-lens: error: {target}: {said}" + result.err.split(said, 1)[1], result.err
        assert result.err.count("\n") == 1, result.err
    assert target.is_dir() if content is None else target.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no .wal or other file beside it


def test_db_in_memory_is_refused(cli, monkeypatch):
    """``--db :memory:`` (or ``$MILESTONE_LENS_DB``) would import into a database that vanishes with the process."""
    result = cli("import", *TWO_FILES, db=Path(":memory:"))
    assert result.code == 2 and "':memory:' keeps nothing after the command" in result.err
    monkeypatch.setenv("MILESTONE_LENS_DB", ":memory:")
    result = cli("import", *TWO_FILES, db=None)
    assert result.code == 2 and "':memory:' keeps nothing after the command" in result.err


def test_commands_load_only_what_they_use(tmp_path):
    """A small import does not pay for starting pandas or the statistics stack (optimisations.md, stops 18–19)."""
    env = dict(os.environ, MILESTONE_LENS_DB=str(tmp_path / "ws.duckdb"))
    assert _heavy_modules_after(["import", *map(str, TWO_FILES)], env) == []
    assert _heavy_modules_after(["import", "--dry-run", *map(str, TWO_FILES)], env) == []
    assert _heavy_modules_after(["export-parquet", str(tmp_path / "parquet")], env) == []
    assert _heavy_modules_after(["--help"], env) == []
    # The check itself can see them: the report does use all three.
    assert _heavy_modules_after(["report", "--json"], env) == ["pandas", "statsmodels", "scipy"]


def test_every_command_module_is_listed_where_the_command_line_finds_it():
    from analysis import cli

    cli.build_parser()  # without argv: every command's module
    plugins = {name: (run.__module__, cli.command_help(run)) for name, (_configure, run) in cli._COMMANDS.items()
               if run.__module__ != "analysis.cli"}
    assert plugins == cli.PLUGIN_COMMANDS
    exe = str(Path(sys.executable).parent / "milestone-lens")
    for argv in ([exe, "report"], [exe, "split"], [exe, "import-parquet"], [sys.executable, "-m", "analysis.cli", "report"]):
        proc = subprocess.run([*argv, "--help"], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 0 and f"usage: milestone-lens {argv[-1]}" in proc.stdout, proc.stderr


def test_the_overview_lists_every_command_without_loading_them(tmp_path):
    exe = str(Path(sys.executable).parent / "milestone-lens")
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0
    listed = " ".join(proc.stdout.split())  # argparse wraps the lines
    for name, line in [("sample", "Write or import a synthetic contract history."),
                       ("report", "The full comparison: cancellation risk, payment timing, earnings, exposure."),
                       ("split", "What-if splitter: a milestone plan against one payment at the end."),
                       ("import-parquet", "Import a Parquet dataset written by export-parquet (all of it or nothing).")]:
        assert f"{name} {line}" in listed
    typo = subprocess.run([exe, "reprot"], capture_output=True, text=True, cwd=ROOT)
    assert typo.returncode == 2 and "invalid choice: 'reprot'" in typo.stderr and "'report'" in typo.stderr


@pytest.mark.parametrize("argv", [["split", "--budget", "150", "--days", "5", "--milestones", "5"],
                                  ["split", "--budget", "150", "--days", "5", "--milestones", "5", "--json"]])
def test_a_reader_that_leaves_early_ends_the_command_quietly(argv):
    """``milestone-lens ... | head -1``: the pipe is closed before the command writes, so every
    write fails; before, Python printed a BrokenPipeError traceback."""
    exe = str(Path(sys.executable).parent / "milestone-lens")
    proc = subprocess.Popen([exe, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert err == ""


def test_usage_errors_point_to_the_commands_own_help(cli):
    """An option the command does not have was reported by the top-level parser, pointing to
    `milestone-lens --help`, which does not list it; a mistyped format passed argparse."""
    result = cli("report", "--bogus")
    assert (result.code, result.err) == (2, "milestone-lens: error: report: unrecognized arguments: --bogus "
                                            "(milestone-lens report --help lists the options)\n")
    result = cli("import", TWO_FILES[0], "--format", "bogus")
    assert result.code == 2
    assert result.err == ("milestone-lens: error: import: argument --format: invalid choice: 'bogus' (choose from "
                          "'auto', 'canonical', 'completions', 'freelancer', 'upwork', 'upwork-weekly') "
                          "(milestone-lens import --help lists the options)\n")
    assert cli("--bogus").err.endswith("(milestone-lens --help lists the options)\n")


def test_files_of_the_same_name_are_told_apart_by_their_folders(cli, tmp_path):
    for folder, body in (("a", "A,100,2026-01-01,active"), ("a/sub", "B,1x0,2026-01-01,active")):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "contracts.csv").write_text("contract_id,budget,start_date,status\n" + body + "\n")
    result = cli("import", tmp_path / "a" / "contracts.csv", tmp_path / "a" / "sub" / "contracts.csv")
    assert (result.code, result.err) == (2, "milestone-lens: error: sub/contracts.csv, row 2, column budget: "
                                            "cannot read '1x0' as an amount\n")


def test_a_file_where_a_folder_is_needed_is_one_line_and_exit_2(cli, tmp_path):
    """``--db afile/ws.duckdb`` and ``export-parquet afile/out`` (afile a file) ended in a FileExistsError
    traceback, exit 1; now one line naming the path, exit 2, and nothing written."""
    afile = tmp_path / "afile"
    afile.write_text("notes\n")
    result = cli("import", CANONICAL / "contracts.csv", db=afile / "ws.duckdb")
    assert (result.code, result.out) == (2, "")
    assert result.err == f"milestone-lens: error: {afile}: File exists (a file where a folder is needed)\n"
    assert cli("import", CANONICAL / "contracts.csv").code == 0
    result = cli("export-parquet", afile / "out")
    assert (result.code, result.err) == (2, f"milestone-lens: error: {afile}: File exists (a file where a folder is needed)\n")
    assert afile.read_text() == "notes\n"


def test_a_file_given_twice_is_imported_once(cli, tmp_path, db_path):
    """`import f.csv f.csv` logged two imports of it, and its warnings named it by its whole path with a
    double slash (//tmp/...): telling the two apart went up to the root. Now it is read once, and said."""
    path = tmp_path / "contracts.csv"
    path.write_text("contract_id,client,budget,currency,start_date,end_date,status\nG1,Good,500,USD,2025-03-01,,active\n")
    result = cli("import", path, path, "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["imported"] == {"contracts": 1, "milestones": 0, "payments": 0}
    assert [f["file"] for f in doc["files"]] == ["contracts.csv"]
    assert doc["warnings"][0] == "contracts.csv: given twice: imported once"
    assert all(w.startswith("contracts.csv: ") for w in doc["warnings"]), doc["warnings"]
    # The same file by another spelling of its path is the same file.
    again = cli("import", path, tmp_path / "." / "contracts.csv", "--json").json()
    assert again["duplicates_skipped"] == 1 and again["warnings"][0] == "contracts.csv: given twice: imported once"
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("SELECT batch_id, file_name FROM imports ORDER BY import_id").fetchall() == [
            (1, "contracts.csv"), (2, "contracts.csv")]


def test_a_copy_of_a_file_under_another_name_is_imported_once(cli, tmp_path, db_path):
    """`import contracts.csv contracts_copy.csv` read both: the copy's row was skipped as a duplicate,
    but the import log listed the copy as a second file imported. A file of the same size with other
    bytes is a file of its own (G1 -> G2: both imported)."""
    path = tmp_path / "contracts.csv"
    path.write_text("contract_id,client,budget,currency,start_date,end_date,status\nG1,Good,500,USD,2025-03-01,,active\n")
    copy = tmp_path / "contracts_copy.csv"
    copy.write_bytes(path.read_bytes())
    other = tmp_path / "other.csv"
    other.write_text(path.read_text().replace("G1", "G2"))
    doc = cli("import", path, copy, other, "--json").json()
    assert doc["imported"]["contracts"] == 2 and doc["duplicates_skipped"] == 0
    assert [f["file"] for f in doc["files"]] == ["contracts.csv", "other.csv"]
    assert doc["warnings"][0] == "contracts_copy.csv: the same content as contracts.csv: imported once"
    # Hashed once to compare them, those digests are the import log's (the same bytes as hashlib's).
    import hashlib

    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("SELECT file_name, content_hash FROM imports ORDER BY import_id").fetchall() == [
            (p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in (path, other)]


def test_files_told_apart_up_to_the_root_have_no_double_slash():
    from analysis.importing import distinct_names

    assert distinct_names([Path("/a/x.csv"), Path("/b/x.csv"), Path("/x.csv")]) == ["a/x.csv", "b/x.csv", "/x.csv"]
    assert distinct_names([Path("/x.csv"), Path("/x.csv")]) == ["/x.csv", "/x.csv"]


@pytest.mark.parametrize("command, message", [
    (["split", "--budget", "800", "--days", "20", "--milestones", "4", "--calibrate"], "no workspace to calibrate from"),
    (["completions"], "no workspace yet"),
    (["export-parquet", "OUT"], "no workspace to export"),
])
def test_read_only_commands_on_a_duckdb_file_without_a_workspace(cli, tmp_path, command, message):
    """A DuckDB file no Milestone Lens wrote to (a copy taken without its .wal, another tool's empty
    database) has none of the tables these commands read: a one-line error, the file untouched."""
    import duckdb

    blank = tmp_path / "blank.duckdb"
    duckdb.connect(str(blank)).close()
    before = blank.read_bytes()
    result = cli(*[str(tmp_path / "out") if a == "OUT" else a for a in command], db=blank)
    assert result.code == 2 and f"{blank}: {message}" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert blank.read_bytes() == before and not (tmp_path / "out").exists()
