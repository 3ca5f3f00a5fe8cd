"""Parquet datasets: export, the read-only Parquet workspace, and import back.

Expected values are worked out by hand from tests/fixtures/canonical (see the comments in
test_import_canonical.py); the sample-based checks compare the Parquet workspace with the
DuckDB file it was exported from.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path
from decimal import Decimal

import duckdb
import pytest

from analysis import parquet_store, sample, store
from analysis.errors import ImportValidationError, UserError
from analysis.importing import import_files
from tests.conftest import CANONICAL

TWO_FILES = [CANONICAL / "contracts.csv", CANONICAL / "milestones.csv"]
TODAY = dt.date(2026, 11, 25)
DATA_TABLES = {"contracts": "source, contract_id", "milestones": "source, contract_id, seq",
               "payments": "source, payment_key", "contract_completions": "source, contract_id"}


def rows(con, table: str) -> list[tuple]:
    """A table's rows without the import bookkeeping (ids differ between workspaces)."""
    exclude = " EXCLUDE (first_import_id, import_id)" if table != "contract_completions" else ""
    return con.execute(f"SELECT *{exclude} FROM {table} ORDER BY {DATA_TABLES[table]}").fetchall()


def columns(con, table: str) -> list[tuple[str, str]]:
    """Names and types (a view cannot declare NOT NULL, so nullability is left out)."""
    return [r[:2] for r in con.execute(f"DESCRIBE {table}").fetchall()]


@pytest.fixture
def fixture_workspace(tmp_path):
    con = store.connect(tmp_path / "fixture.duckdb")
    import_files(con, TWO_FILES)
    yield con
    con.close()


@pytest.fixture(scope="module")
def sample_workspace(tmp_path_factory):
    """The 1,500-contract sample as a DuckDB file and as a Parquet dataset exported from it."""
    folder = tmp_path_factory.mktemp("parquet_sample")
    csvs = sample.write_csvs(folder / "csv", 1500, seed=11)
    con = store.connect(folder / "sample.duckdb")
    import_files(con, csvs, fmt="canonical", source="sample")
    parquet_store.export_parquet(con, folder / "dataset")
    yield con, folder / "dataset"
    con.close()


def test_export_partitions_by_contract_start_year(fixture_workspace, tmp_path):
    summary = parquet_store.export_parquet(fixture_workspace, tmp_path / "ds")
    ds = tmp_path / "ds"
    # C5 and C6 started in 2022, C1-C4 in 2026.
    assert sorted(p.name for p in (ds / "contracts").iterdir()) == ["start_year=2022", "start_year=2026"]
    assert summary.partitions == [2022, 2026]
    assert summary.rows["contracts"] == 6 and summary.rows["milestones"] == 12 and summary.rows["payments"] == 10
    # A milestone sits in its contract's partition: C5's one milestone (2022) and C3's two (2026).
    in_2022 = duckdb.sql(
        f"SELECT contract_id, seq FROM read_parquet('{ds}/milestones/start_year=2022/*.parquet') ORDER BY ALL").fetchall()
    assert in_2022 == [("C5", 1), ("C6", 1)]
    manifest = json.loads((ds / parquet_store.MARKER).read_text())
    assert manifest["schema_version"] == store.SCHEMA_VERSION and manifest["rows"]["payments"] == 10


def test_parquet_workspace_gives_the_hand_worked_figures(fixture_workspace, tmp_path):
    parquet_store.export_parquet(fixture_workspace, tmp_path / "ds")
    con = parquet_store.open_parquet_workspace(tmp_path / "ds", memory_limit="256MB")
    structures = dict(con.execute("SELECT contract_id, structure FROM contract_view").fetchall())
    assert structures == {"C1": "milestones", "C2": "single", "C3": "milestones", "C4": "hourly",
                          "C5": "single", "C6": "single"}
    money = {r[0]: (r[1], r[2]) for r in con.execute(
        "SELECT currency, sum(gross), sum(fee) FROM payments GROUP BY currency").fetchall()}
    # USD gross 5 x 30 + 600 + 400 + 300 = 1450, fees 15 + 0 + 80 + 40 = 135; EUR 300 and 30.
    assert money == {"USD": (Decimal("1450.00"), Decimal("135.00")), "EUR": (Decimal("300.00"), Decimal("30.00"))}
    # Same names, same column types as the workspace file.
    for table in ("contracts", "milestones", "payments", "contract_view"):
        assert columns(con, table) == columns(fixture_workspace, table), table
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "244.1 MiB"  # 256 MB
    assert store.data_version(con) == store.data_version(fixture_workspace)


def test_parquet_workspace_is_read_only(fixture_workspace, tmp_path):
    parquet_store.export_parquet(fixture_workspace, tmp_path / "ds")
    con = parquet_store.open_parquet_workspace(tmp_path / "ds")
    with pytest.raises(duckdb.Error):
        con.execute("INSERT INTO contract_completions VALUES ('canonical', 'C1', 'cancelled', NULL, NULL, now())")
    with pytest.raises(duckdb.Error):
        store.bump_data_version(con)
    assert con.execute("SELECT count(*) FROM contracts").fetchone()[0] == 6


def test_empty_workspace_exports_and_opens(con, tmp_path):
    summary = parquet_store.export_parquet(con, tmp_path / "ds")
    assert summary.rows["contracts"] == 0 and summary.files >= 1  # meta and schema_version only
    pq = parquet_store.open_parquet_workspace(tmp_path / "ds")
    assert pq.execute("SELECT count(*) FROM contract_view").fetchone()[0] == 0
    assert columns(pq, "contracts") == columns(con, "contracts")


def _close(a, b, path="") -> list[str]:
    """Differences between two JSON documents; floats equal to 1e-9 (summation order may differ)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _close(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _close(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float):
        same = math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
        return [] if same else [f"{path}: {a} vs {b}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def test_report_over_parquet_equals_report_over_the_workspace_file(sample_workspace):
    from analysis import report
    from analysis.filters import Filters

    con, dataset = sample_workspace
    pq = parquet_store.open_parquet_workspace(dataset)
    for filters in (Filters(), Filters(platform="upwork", date_from="2022-01-01")):
        on_file = json.loads(json.dumps(report.report_json(report.build_report(con, filters, TODAY)), default=str))
        on_parquet = json.loads(json.dumps(report.report_json(report.build_report(pq, filters, TODAY)), default=str))
        assert on_file["by_structure"], "the report has per-structure figures"
        assert _close(on_file, on_parquet) == []


def test_sample_tables_are_identical_through_parquet(sample_workspace):
    con, dataset = sample_workspace
    pq = parquet_store.open_parquet_workspace(dataset)
    for table in ("contracts", "milestones", "payments"):
        q = f"SELECT * FROM {table} ORDER BY {DATA_TABLES[table]}"
        assert pq.execute(q).fetchall() == con.execute(q).fetchall(), table
    q = "SELECT structure, count(*), sum(budget) FROM contract_view GROUP BY ALL ORDER BY 1"
    assert pq.execute(q).fetchall() == con.execute(q).fetchall()


def test_import_round_trips_and_reimport_adds_nothing(fixture_workspace, tmp_path):
    fixture_workspace.execute(
        "INSERT INTO contract_completions VALUES ('canonical', 'C3', 'cancelled', 1250, 3, TIMESTAMP '2026-11-24 10:00:00')")
    parquet_store.export_parquet(fixture_workspace, tmp_path / "ds")
    target = store.connect(tmp_path / "target.duckdb")
    summary = parquet_store.import_parquet(target, tmp_path / "ds")
    assert summary.imported == {"contracts": 6, "milestones": 12, "payments": 10}
    assert summary.completions == 1
    assert summary.describe().splitlines()[2] == "Took 1 contract completion."
    for table in DATA_TABLES:
        assert rows(target, table) == rows(fixture_workspace, table), table
    # The completion applies in the target as in the source.
    assert target.execute("SELECT status, budget FROM contract_view WHERE contract_id = 'C3'").fetchone() == (
        "cancelled", Decimal("1250.00"))
    version = store.data_version(target)
    again = parquet_store.import_parquet(target, tmp_path / "ds")
    assert again.imported == {"contracts": 0, "milestones": 0, "payments": 0}
    assert again.duplicates_skipped == 6 + 12 + 10 and again.completions == 0
    assert store.data_version(target) == version + 1
    # Into the empty target the dataset was a restore: the source's import log came back as it was
    # (the fixture's two files, one import); the second import of the dataset is logged as one.
    log = "SELECT format, file_name, contracts_new FROM imports ORDER BY import_id"
    assert target.execute(log).fetchall() == fixture_workspace.execute(log).fetchall() + [("parquet", "ds", 0)]
    assert [r[:2] for r in fixture_workspace.execute(log).fetchall()] == [("canonical", "contracts.csv"),
                                                                        ("canonical", "milestones.csv")]


def _as_schema_1(dataset) -> None:
    """Rewrite a dataset's contracts as schema 1 wrote them: without ``start_estimated``; and its
    import log without ``data_as_of`` (schema 3)."""
    contracts = dataset / "contracts"
    scratch = duckdb.connect()
    for log in (dataset / "imports").glob("*.parquet"):
        scratch.execute(f"COPY (SELECT * EXCLUDE (data_as_of) FROM read_parquet('{log}')) TO '{log}.old' (FORMAT parquet)")
        Path(f"{log}.old").replace(log)
    old = scratch.execute(f"SELECT * EXCLUDE (start_estimated) FROM read_parquet('{contracts}/**/*.parquet', "
                          "hive_partitioning = true)").df()
    shutil.rmtree(contracts)
    scratch.register("old", old)
    scratch.execute(f"COPY old TO '{contracts}' (FORMAT parquet, PARTITION_BY (start_year))")
    scratch.close()


def test_a_dataset_from_before_start_estimated_reads_and_imports_with_its_default(fixture_workspace, tmp_path):
    """Schema 1 datasets have no ``start_estimated`` column: opened and imported, every contract
    gets the column's default (false: the template's start dates are real), nothing is refused."""
    parquet_store.export_parquet(fixture_workspace, tmp_path / "ds")
    _as_schema_1(tmp_path / "ds")
    opened = parquet_store.open_parquet_workspace(tmp_path / "ds")
    assert opened.execute("SELECT count(*), bool_or(start_estimated) FROM contract_view").fetchone() == (6, False)
    opened.close()
    target = store.connect(tmp_path / "target.duckdb")
    assert parquet_store.import_parquet(target, tmp_path / "ds").imported["contracts"] == 6
    assert rows(target, "contracts") == rows(fixture_workspace, "contracts")


def test_import_updates_changed_rows(fixture_workspace, tmp_path):
    parquet_store.export_parquet(fixture_workspace, tmp_path / "v1")
    target = store.connect(tmp_path / "target.duckdb")
    parquet_store.import_parquet(target, tmp_path / "v1")
    fixture_workspace.execute("UPDATE contracts SET status = 'completed', end_date = DATE '2026-12-01' WHERE contract_id = 'C3'")
    parquet_store.export_parquet(fixture_workspace, tmp_path / "v1", overwrite=True)
    summary = parquet_store.import_parquet(target, tmp_path / "v1")
    assert summary.updated == {"contracts": 1, "milestones": 0, "payments": 0}
    assert target.execute("SELECT status FROM contracts WHERE contract_id = 'C3'").fetchone()[0] == "completed"


def _snapshot(con) -> dict:
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("contracts", "milestones", "payments", "imports", "meta", "contract_completions")}


def test_bad_row_names_file_row_and_column_and_writes_nothing(fixture_workspace, tmp_path):
    parquet_store.export_parquet(fixture_workspace, tmp_path / "ds")
    part = tmp_path / "ds" / "contracts" / "start_year=2022" / "data_0.parquet"
    bad = tmp_path / "bad.parquet"
    # The second row of the file (C6) gets a status the workspace does not know.
    duckdb.execute(f"""COPY (SELECT * REPLACE (CASE WHEN contract_id = 'C6' THEN 'lost' ELSE status END AS status)
                       FROM read_parquet('{part}') ORDER BY contract_id) TO '{bad}' (FORMAT parquet)""")
    shutil.move(bad, part)
    target = store.connect(tmp_path / "target.duckdb")
    before = _snapshot(target)
    with pytest.raises(ImportValidationError) as err:
        parquet_store.import_parquet(target, tmp_path / "ds")
    assert str(err.value) == ("contracts/start_year=2022/data_0.parquet, row 2, column status: "
                              "unknown status 'lost' (expected one of completed, cancelled, disputed, active)")
    assert _snapshot(target) == before


def test_cli_export_and_import(cli, tmp_path, db_path):
    assert cli("import", *TWO_FILES).code == 0
    out = cli("export-parquet", tmp_path / "ds", "--json")
    assert out.code == 0, out.err
    assert out.json()["rows"]["contracts"] == 6 and out.json()["partitions"] == [2022, 2026]
    again = cli("export-parquet", tmp_path / "ds")
    assert again.code == 2 and "not empty" in again.err and "--overwrite" in again.err
    assert len(again.err.strip().splitlines()) == 1
    assert cli("export-parquet", tmp_path / "ds", "--overwrite").code == 0
    other = tmp_path / "other.duckdb"
    dry = cli("import-parquet", tmp_path / "ds", "--dry-run", "--json", db=other)
    assert dry.code == 0 and dry.json()["dry_run"] and dry.json()["imported"]["contracts"] == 6
    assert not other.exists()  # a dry run into a new path leaves no workspace behind
    done = cli("import-parquet", tmp_path / "ds", "--json", db=other)
    assert done.json()["imported"] == {"contracts": 6, "milestones": 12, "payments": 10}


def test_cli_refuses_what_is_not_a_dataset(cli, tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "x.parquet").write_bytes(b"")
    out = cli("import-parquet", tmp_path / "plain")
    assert out.code == 2 and "not a Milestone Lens Parquet dataset" in out.err
    assert cli("import-parquet", tmp_path / "missing").code == 2
    with pytest.raises(UserError):
        parquet_store.open_parquet_workspace(tmp_path / "plain")
    # Overwrite never deletes a folder that is not a dataset of ours.
    db = store.connect(tmp_path / "w.duckdb")
    with pytest.raises(UserError):
        parquet_store.export_parquet(db, tmp_path / "plain", overwrite=True)
    assert (tmp_path / "plain" / "x.parquet").exists()


def test_workspace_connections_cap_duckdb_memory(tmp_path, monkeypatch):
    con = store.connect(tmp_path / "w.duckdb")
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "953.6 MiB"  # 1 GB
    con.close()
    monkeypatch.setenv(store.MEMORY_LIMIT_ENV_VAR, "2GB")
    con = store.connect(tmp_path / "w.duckdb")
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "1.8 GiB"  # 2 GB
    con.close()
    monkeypatch.setenv(store.MEMORY_LIMIT_ENV_VAR, "lots")
    with pytest.raises(UserError, match="MILESTONE_LENS_MEMORY_LIMIT"):
        store.connect(tmp_path / "w.duckdb")


# --- what import-parquet refuses (nothing stored is changed) ------------------------------

def _rewrite(path, select: str, order: str = "contract_id", copied: str | None = None) -> None:
    """Write ``path`` again as ``SELECT <select> FROM <the file> ORDER BY <order>``, the rows meeting
    ``copied`` twice."""
    scratch = duckdb.connect()
    tmp = path.with_suffix(".tmp")
    again = f" UNION ALL SELECT {select} FROM read_parquet('{path}') WHERE {copied}" if copied else ""
    scratch.execute(f"COPY (SELECT {select} FROM read_parquet('{path}'){again} ORDER BY {order}) TO '{tmp}' (FORMAT parquet)")
    scratch.close()
    tmp.replace(path)


def _marker_says(dataset, table: str, rows: int) -> None:
    """The dataset's marker counts ``rows`` rows of ``table`` (as after a change made with care)."""
    marker = dataset / parquet_store.MARKER
    manifest = json.loads(marker.read_text())
    manifest["rows"][table] = rows
    marker.write_text(json.dumps(manifest))


def _stored(db_path) -> dict:
    con = store.connect(db_path, read_only=True)
    try:
        return _snapshot(con)
    finally:
        con.close()


def assert_refused(cli, db_path, dataset, before, expected: str) -> None:
    """``import-parquet`` refuses ``dataset`` with the one line ``expected`` (exit 2, workspace as
    ``before``), and ``open_parquet_workspace`` and ``report --parquet`` with the same message."""
    out = cli("import-parquet", dataset)
    assert (out.code, out.err) == (2, f"milestone-lens: error: {expected}\n")
    assert _stored(db_path) == before
    with pytest.raises(UserError) as err:
        parquet_store.open_parquet_workspace(dataset)
    assert str(err.value) == expected
    report = cli("report", "--json", "--parquet", dataset, db=None)
    assert (report.code, report.out, report.err) == (2, "", f"milestone-lens: error: {expected}\n")


@pytest.fixture
def exported(cli, tmp_path, db_path):
    """The canonical fixture in the CLI's workspace, with completions of C3 and C5, exported to ``ds``."""
    assert cli("import", *TWO_FILES).code == 0
    con = store.connect(db_path)
    con.execute("""INSERT INTO contract_completions VALUES
                   ('canonical', 'C3', 'cancelled', 1250, 3, TIMESTAMP '2026-11-24 10:00:00'),
                   ('canonical', 'C5', 'completed', 400, NULL, TIMESTAMP '2026-11-24 10:00:00')""")
    con.close()
    assert cli("export-parquet", tmp_path / "ds").code == 0
    return tmp_path / "ds"


C2022 = "contracts/start_year=2022/data_0.parquet"  # C5 (row 1) and C6 (row 2)
M2022 = "milestones/start_year=2022/data_0.parquet"  # C5 seq 1 (row 1) and C6 seq 1 (row 2)
COMPLETIONS = "contract_completions/data_0.parquet"  # C3 (row 1) and C5 (row 2)
C6 = "CASE WHEN contract_id = 'C6' THEN {} ELSE {} END"


@pytest.mark.parametrize("file, select, expected", [
    (C2022, "* EXCLUDE (budget)", f"{C2022}, column budget: column 'budget' is missing"),
    (C2022, "* REPLACE (" + C6.format("'abc'", "CAST(budget AS VARCHAR)") + " AS budget)",
     f"{C2022}, row 2, column budget: 'abc' is not an amount with at most two decimals"),
    (C2022, "* REPLACE (" + C6.format("'13/01/2024'", "CAST(start_date AS VARCHAR)") + " AS start_date)",
     f"{C2022}, row 2, column start_date: '13/01/2024' is not a date"),
    (M2022, "* REPLACE (" + C6.format("'soon'", "CAST(paid_date AS VARCHAR)") + " AS paid_date)",
     f"{M2022}, row 2, column paid_date: 'soon' is not a date"),
    (C2022, "* REPLACE (" + C6.format("-5.00", "budget") + " AS budget)",
     f"{C2022}, row 2, column budget: budget is negative"),
    (M2022, "* REPLACE (" + C6.format("12.344", "CAST(amount AS DOUBLE)") + " AS amount)",
     f"{M2022}, row 2, column amount: '12.344' does not convert exactly to an amount with at most two decimals "
     "(it would be 12.34)"),
    (M2022, "* REPLACE (" + C6.format("1.5", "CAST(seq AS DOUBLE)") + " AS seq)",
     f"{M2022}, row 2, column seq: '1.5' does not convert exactly to a whole number (it would be 2)"),
    (COMPLETIONS, "* REPLACE (CASE WHEN contract_id = 'C5' THEN 'oops' ELSE status END AS status)",
     f"{COMPLETIONS}, row 2, column status: unknown status 'oops' (expected one of completed, cancelled, disputed, active)"),
    (COMPLETIONS, "* REPLACE (CASE WHEN contract_id = 'C5' THEN -1 ELSE budget END AS budget)",
     f"{COMPLETIONS}, row 2, column budget: budget is negative"),
    (COMPLETIONS, "* EXCLUDE (budget)", f"{COMPLETIONS}, column budget: column 'budget' is missing"),
], ids=["column-missing", "budget-text", "date-day-first", "paid-date-text", "budget-negative", "amount-rounded",
        "seq-fraction", "completion-status", "completion-budget-negative", "completion-column-missing"])
def test_import_parquet_refuses_values_it_cannot_keep_exactly(cli, db_path, exported, file, select, expected):
    """Each of these used to import with exit 0, the bad value read as NULL (or rounded) over the
    stored one; now: one line naming file, row and column, exit 2, the workspace as it was."""
    before = _stored(db_path)
    _rewrite(exported / file, select)
    out = cli("import-parquet", exported)
    assert out.code == 2, out.out
    line = out.err.strip()
    assert len(line.splitlines()) == 1
    assert line.startswith(f"milestone-lens: error: {expected}"), line
    assert _stored(db_path) == before


P2022 = "payments/start_year=2022/data_0.parquet"  # C5#1 (row 1: 400.00, fee 80.00) and C6#1 (row 2: 300.00, fee 40.00)
IMPORTS = "imports/data_0.parquet"  # contracts.csv (row 1, import 1) and milestones.csv (row 2, import 2)


@pytest.mark.parametrize("file, select, expected", [
    (M2022, "* REPLACE (" + C6.format("1.5", "CAST(seq AS DOUBLE)") + " AS seq)",
     f"{M2022}, row 2, column seq: '1.5' does not convert exactly to a whole number (it would be 2)"),
    (C2022, "* REPLACE (" + C6.format("'abc'", "CAST(budget AS VARCHAR)") + " AS budget)",
     f"{C2022}, row 2, column budget: 'abc' is not an amount with at most two decimals"),
    (C2022, "* REPLACE (" + C6.format("'13/01/2024'", "CAST(start_date AS VARCHAR)") + " AS start_date)",
     f"{C2022}, row 2, column start_date: '13/01/2024' is not a date"),
    (C2022, "* REPLACE (" + C6.format("true", "false") + " AS start_date)",
     f"{C2022}, column start_date: column 'start_date' holds BOOLEAN, not DATE"),
], ids=["seq-fraction", "budget-text", "date-day-first", "date-as-boolean"])
def test_report_parquet_refuses_what_import_parquet_refuses(cli, db_path, exported, file, select, expected):
    """``report --parquet`` checked only row counts and columns, then read with a plain CAST: C6's
    milestone 1.5 as a second milestone 2 (exit 0, wrong figures), 'abc' or 13/01/2024 as a
    ConversionException traceback (exit 1). Now import-parquet's one line, exit 2."""
    before = _stored(db_path)
    _rewrite(exported / file, select)
    assert_refused(cli, db_path, exported, before, expected)


def test_report_parquet_refuses_a_contract_copied_with_the_marker_corrected(cli, db_path, exported):
    """C6 twice in the 2022 file (rows 2 and 3) and the marker saying 7 contracts: the row counts
    agree, and ``report --parquet`` counted C6 (budget 300) twice."""
    before = _stored(db_path)
    _rewrite(exported / C2022, "*", copied="contract_id = 'C6'")
    _marker_says(exported, "contracts", 7)
    assert_refused(cli, db_path, exported, before, f"{C2022}, row 3: contract C6 appears more than once "
                                                   f"(first at {C2022} row 2)")


@pytest.mark.parametrize("file, select, expected", [
    (P2022, "* REPLACE (" + C6.format("9000.00", "fee") + " AS fee)",
     f"{P2022}, row 2, column fee: fee 9000.00 is more than the gross 300.00 it was taken from (the fee is what "
     "the platform kept of this payment, not a rate or a total)"),
    (P2022, "* REPLACE (" + C6.format("'Ghost'", "contract_id") + " AS contract_id)",
     f"{P2022}, row 2, column contract_id: payment of contract 'Ghost', which is not among the dataset's contracts "
     "(a payment without a contract leaves contract_id empty)"),
    (M2022, "* REPLACE (" + C6.format("'Ghost'", "contract_id") + " AS contract_id)",
     f"{M2022}, row 2, column contract_id: milestone of contract 'Ghost', which is not among the dataset's contracts"),
    (C2022, "* REPLACE (" + C6.format("'usd'", "currency") + " AS currency)",
     f"{C2022}, row 2, column currency: currency 'usd' is not in capitals, as every import writes it (USD)"),
    (C2022, "* REPLACE (" + C6.format("'dollars'", "currency") + " AS currency)",
     f"{C2022}, row 2, column currency: currency 'dollars' is not a three-letter ISO code"),
    (P2022, "* REPLACE (" + C6.format("'US$'", "currency") + " AS currency)",
     f"{P2022}, row 2, column currency: currency 'US$' is not a three-letter ISO code"),
    (C2022, "* REPLACE (" + C6.format("DATE '2000-01-01'", "end_date") + " AS end_date)",
     f"{C2022}, row 2, column end_date: end_date is before start_date"),
    (C2022, "* REPLACE (" + C6.format("DATE '2022-02-28'", "planned_end_date") + " AS planned_end_date)",
     f"{C2022}, row 2, column planned_end_date: planned_end_date is before start_date"),
    (P2022, "* REPLACE (" + C6.format("'foo'", "kind") + " AS kind)",
     f"{P2022}, row 2, column kind: unknown kind 'foo' (expected one of milestone, hourly, bonus, refund, "
     "contract_total, fee, account_cost, withdrawal, other)"),
], ids=["fee-above-gross", "payment-of-no-contract", "milestone-of-no-contract", "currency-lower-case",
        "currency-word", "payment-currency", "end-before-start", "planned-end-before-start", "payment-kind"])
def test_import_parquet_refuses_what_the_csv_template_refuses(cli, db_path, exported, file, select, expected):
    """Values no import writes, which import-parquet took with exit 0 (C6's 300.00 payment with a
    9,000.00 fee: net 260.00 became -8,700.00; the payment of 'Ghost' left C6 unpaid; 'usd' reported
    apart from USD) and report --parquet read as they were: now refused by both, with the rule and
    wording of the CSV template where it has one."""
    before = _stored(db_path)
    _rewrite(exported / file, select)
    assert_refused(cli, db_path, exported, before, expected)


def test_a_fee_above_the_gross_stands_on_a_platform_with_a_minimum_fee(cli, db_path, exported):
    """Freelancer.com's $5 minimum on a $3 milestone comes through its reader as the export gives
    it, so a workspace may hold a fee above its payment there: C4 (platform freelancer) week 2,
    100.00 EUR with its fee 10.00 made 150.00, imports (one payment updated) and opens."""
    _rewrite(exported / "payments/start_year=2026/data_0.parquet",
             "* REPLACE (CASE WHEN payment_key = 'C4#2' THEN 150.00 ELSE fee END AS fee)")
    out = cli("import-parquet", exported, "--json")
    assert out.code == 0, out.err
    assert out.json()["updated"] == {"contracts": 0, "milestones": 0, "payments": 1}
    con = store.connect(db_path, read_only=True)
    assert con.execute("SELECT gross, fee FROM payments WHERE payment_key = 'C4#2'").fetchone() == (
        Decimal("100.00"), Decimal("150.00"))
    con.close()
    parquet_store.open_parquet_workspace(exported).close()


IMPORT_LOG = ("import_id, batch_id, file_name, content_hash, format, source, imported_at, contracts_new, contracts_updated, "
              "milestones_new, milestones_updated, payments_new, payments_updated, duplicates_skipped, warnings, data_as_of")


@pytest.mark.parametrize("select, expected", [
    ("* EXCLUDE (file_name)", f"{IMPORTS}, column file_name: column 'file_name' is missing (every imports file needs "
                              f"{IMPORT_LOG})"),
    ("* REPLACE (CASE WHEN import_id = 1 THEN '1a' ELSE CAST(import_id AS VARCHAR) END AS import_id)",
     f"{IMPORTS}, row 1, column import_id: '1a' is not a whole number"),
    ("* REPLACE (CASE WHEN import_id = 2 THEN 'x' ELSE CAST(imported_at AS VARCHAR) END AS imported_at)",
     f"{IMPORTS}, row 2, column imported_at: 'x' is not a date and time"),
], ids=["column-missing", "import-id-text", "imported-at-text"])
def test_a_damaged_import_log_is_refused(cli, db_path, exported, select, expected):
    """import-parquet did not check the dataset's import log: without file_name it quietly became
    one import of its own (exit 0), text in import_id or imported_at was a BinderException
    traceback (exit 1). Now one line, exit 2, as for the other tables."""
    before = _stored(db_path)
    _rewrite(exported / IMPORTS, select, order="import_id")
    assert_refused(cli, db_path, exported, before, expected)


def test_import_parquet_warns_when_the_contracts_stand_under_another_source(cli, tmp_path, db_path):
    """The fixture imported under source 'canonical', then a dataset of the same files imported
    under source 'other': the six contracts (C5, C6 from 2022; C1-C4 from 2026) would count twice."""
    other = tmp_path / "other.duckdb"
    assert cli("import", *TWO_FILES, "--source", "other", db=other).code == 0
    assert cli("export-parquet", tmp_path / "ds", db=other).code == 0
    assert cli("import", *TWO_FILES).code == 0
    out = cli("import-parquet", tmp_path / "ds", "--json")
    assert out.code == 0, out.err
    tail = ("already stand under source 'canonical' with the same id, start and budget: if they are the same "
            "contracts, they now count twice")
    # One warning for the dataset's contracts, not one per year folder (it was 2 here, 8 for the sample).
    assert [w[:w.index(";")] for w in out.json()["warnings"]] == [f"ds/contracts: 6 contracts (e.g. 'C1') {tail}"]
    # import-parquet has no --source option: the way out it names is the one it has.
    assert all(w.endswith("; remove one of the two imports (Data page, Import history)") for w in out.json()["warnings"])
    # The import log keeps them, as it does for a CSV import.
    con = store.connect(db_path, read_only=True)
    logged = con.execute("SELECT len(warnings) FROM imports WHERE format = 'parquet'").fetchone()[0]
    con.close()
    assert logged == 1


def test_an_incomplete_dataset_is_refused_by_its_row_counts(cli, db_path, exported):
    """Deleting the 2022 milestones file (C5 and C6's milestones) leaves 10 of the 12 the marker counts."""
    before = _stored(db_path)
    (exported / M2022).unlink()
    expected = (f"{exported}: the milestones files hold 10 rows but milestone_lens_dataset.json says 12; "
                "the dataset is incomplete or was changed after it was exported (export it again)")
    assert_refused(cli, db_path, exported, before, expected)


@pytest.mark.parametrize("marker, expected", [
    ("[1, 2]", "not a Milestone Lens dataset marker (not a JSON object)"),
    ('{"format": "milestone-lens-parquet", "schema_version": "two", "rows": {}}',
     "schema_version 'two' is not a whole number of 1 or more"),
    ('{"format": "milestone-lens-parquet", "schema_version": 2, "rows": {"contracts": "6"}}',
     "'rows' does not give each table's row count as a whole number"),
])
def test_a_broken_marker_is_one_line(cli, db_path, exported, marker, expected):
    before = _stored(db_path)
    (exported / parquet_store.MARKER).write_text(marker)
    out = cli("import-parquet", exported)
    assert (out.code, out.err) == (2, f"milestone-lens: error: {exported / parquet_store.MARKER}: {expected}\n")
    assert _stored(db_path) == before


@pytest.mark.parametrize("damage", ["truncated", "not-parquet"])
def test_an_unreadable_parquet_file_is_one_line(cli, db_path, exported, damage):
    before = _stored(db_path)
    part = exported / C2022
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2] if damage == "truncated" else b"contract_id,budget\n")
    out = cli("import-parquet", exported)
    assert out.code == 2
    assert out.err.startswith(f"milestone-lens: error: {C2022}: not a readable Parquet file (") and out.err.count("\n") == 1
    assert _stored(db_path) == before
    with pytest.raises(UserError, match="not a readable Parquet file"):
        parquet_store.open_parquet_workspace(exported)


def test_a_struct_column_is_one_line(cli, db_path, exported):
    before = _stored(db_path)
    _rewrite(exported / C2022, "* REPLACE ({'v': budget} AS budget)")
    expected = f"{C2022}, column budget: column 'budget' holds STRUCT(v DECIMAL(18,2)), not DECIMAL(18,2)"
    assert_refused(cli, db_path, exported, before, expected)


@pytest.mark.parametrize("file, column", [
    (C2022, "budget"),  # the 2026 contracts file has it
    (C2022, "start_estimated"),  # has a default, but the 2026 file has it: not a dataset from before it
    (COMPLETIONS, "budget"),  # no file has it, and it has no default
], ids=["budget-in-one-file", "defaulted-column-in-one-file", "completion-column-in-no-file"])
def test_a_dataset_missing_a_column_is_not_opened(cli, db_path, exported, file, column):
    """``open_parquet_workspace`` used to read such a column as empty (``union_by_name``): C5 and
    C6 without budgets, or as estimated starts; now it refuses the dataset with import-parquet's line."""
    _rewrite(exported / file, f"* EXCLUDE ({column})")
    with pytest.raises(UserError) as err:
        parquet_store.open_parquet_workspace(exported)
    assert str(err.value).startswith(f"{file}, column {column}: column '{column}' is missing (every "), str(err.value)
    assert "\n" not in str(err.value)
    out = cli("import-parquet", exported)
    assert (out.code, out.err) == (2, f"milestone-lens: error: {err.value}\n")


def test_running_out_of_memory_is_one_line(cli, tmp_path, sample_workspace, monkeypatch):
    """The 1,500-contract sample imported with DuckDB capped at 4 MB runs out of memory."""
    _con, dataset = sample_workspace
    monkeypatch.setenv(store.MEMORY_LIMIT_ENV_VAR, "4MB")
    target = tmp_path / "small.duckdb"
    out = cli("import-parquet", dataset, db=target)
    assert (out.code, out.err) == (2, "milestone-lens: error: out of memory: DuckDB is capped at 4MB "
                                      "($MILESTONE_LENS_MEMORY_LIMIT); raise it, e.g. MILESTONE_LENS_MEMORY_LIMIT=4GB, "
                                      "and run the command again\n")
    assert not target.exists()  # the workspace the command made goes again


def test_messages_point_a_parquet_file_or_dataset_to_import_parquet(cli, tmp_path, db_path, exported):
    part = exported / C2022
    loose = tmp_path / "loose.parquet"
    shutil.copy(part, loose)
    marker = parquet_store.MARKER
    before = _stored(db_path)
    said = {
        ("import-parquet", part): f"{part}: is a file, but a Parquet dataset is a folder; "
                                  f"give the dataset it belongs to: {exported}",
        ("import-parquet", loose): f"{loose}: is a file, but a Parquet dataset is a folder; "
                                   f"give the folder export-parquet wrote (it holds {marker})",
        ("import-parquet", exported / "contracts"): f"{exported / 'contracts'}: not a Milestone Lens Parquet dataset "
                                                    f"(no {marker}); it is inside the dataset {exported}: give that folder",
        ("import", part): f"data_0.parquet: is a Parquet file, not a CSV text file: it belongs to the dataset {exported}: "
                          f"use milestone-lens import-parquet {exported}",
        ("import", loose): "loose.parquet: is a Parquet file, not a CSV text file: use milestone-lens import-parquet "
                           f"with the dataset folder export-parquet wrote (it holds {marker})",
        ("import", exported): f"ds: is a Parquet dataset folder (written by export-parquet), not a CSV file: "
                              f"use milestone-lens import-parquet {exported}",
    }
    for args, expected in said.items():
        out = cli(*args)
        assert (out.code, out.err) == (2, f"milestone-lens: error: {expected}\n"), args
    out = cli("report", "--parquet", part, db=None)  # the same words: not import-parquet's
    assert (out.code, out.err) == (2, f"milestone-lens: error: {part}: is a file, but a Parquet dataset is a folder; "
                                      f"give the dataset it belongs to: {exported}\n")
    assert _stored(db_path) == before
    # A dataset given as --db is neither opened nor written into.
    files = sorted(exported.rglob("*"))
    out = cli("report", "--json", db=exported)
    assert (out.code, out.err) == (2, f"milestone-lens: error: {exported}: is a Parquet dataset (written by export-parquet), "
                                      f"not a workspace file; import it into one with milestone-lens import-parquet "
                                      f"{exported} --db WORKSPACE.duckdb, or report on it in place with "
                                      f"milestone-lens report --parquet {exported}\n")
    assert sorted(exported.rglob("*")) == files


def test_report_parquet_on_the_command_line_equals_the_workspace_report(cli, db_path, exported, monkeypatch):
    """``report --parquet DIR`` reads the dataset in place: the same JSON as the workspace it came from."""
    on_file = cli("report", "--json", "--today", "2026-03-31")
    files = sorted((p, p.stat().st_mtime_ns) for p in exported.rglob("*"))
    monkeypatch.setenv("MILESTONE_LENS_MEMORY_LIMIT", "256MB")
    on_parquet = cli("report", "--json", "--today", "2026-03-31", "--parquet", exported, db=None)
    assert (on_file.code, on_parquet.code) == (0, 0), on_parquet.err
    assert on_file.json()["by_structure"] and _close(on_file.json(), on_parquet.json()) == []
    assert sorted((p, p.stat().st_mtime_ns) for p in exported.rglob("*")) == files  # read, never written
    text = cli("report", "--today", "2026-03-31", "--parquet", exported, db=None)
    assert text.code == 0 and text.out == cli("report", "--today", "2026-03-31").out
    both = cli("report", "--parquet", exported)  # --db added too
    assert (both.code, both.err) == (2, "milestone-lens: error: report: --db and --parquet both name the data to "
                                        "report on; give one\n")
    missing = cli("report", "--parquet", exported / "nope", db=None)
    assert missing.code == 2 and missing.err.count("\n") == 1


def test_reversed_dates_name_the_report_options(cli):
    """The message used to name the Python fields (date_from, date_to), not the options the user typed."""
    assert cli("import", *TWO_FILES).code == 0
    out = cli("report", "--from", "2026-05-01", "--to", "2026-01-01")
    assert (out.code, out.err) == (2, "milestone-lens: error: the start-date range is reversed: "
                                      "--from (date_from) 2026-05-01 is after --to (date_to) 2026-01-01\n")


def test_overwrite_refuses_a_dataset_holding_files_it_did_not_write(cli, exported):
    """--overwrite used to delete the whole folder, the user's notes with it."""
    (exported / "notes.txt").write_text("mine")
    (exported / "contracts" / "start_year=2022" / "readme.md").write_text("mine too")
    before = {p: p.read_bytes() for p in exported.rglob("*") if p.is_file()}
    out = cli("export-parquet", exported, "--overwrite")
    assert (out.code, out.err) == (2, f"milestone-lens: error: {exported}: holds what export-parquet did not write "
                                      "(contracts/start_year=2022/readme.md, notes.txt); refusing to overwrite it: "
                                      "move those elsewhere, or choose a new folder\n")
    assert {p: p.read_bytes() for p in exported.rglob("*") if p.is_file()} == before
    # Without them, the dataset is replaced as before.
    (exported / "notes.txt").unlink()
    (exported / "contracts" / "start_year=2022" / "readme.md").unlink()
    assert cli("export-parquet", exported, "--overwrite").code == 0


def test_a_dataset_imported_into_an_empty_workspace_restores_its_import_history(tmp_path):
    """Three imports, the third updating C1's budget (first import 1, last 3): the restored
    workspace holds every row with the same import ids and the same log, so removing an import
    there does what it does in the original; a later import gets an id of its own."""
    from analysis import workspace_admin

    source = store.connect(tmp_path / "source.duckdb")
    import_files(source, [TWO_FILES[0]])
    import_files(source, [TWO_FILES[1]])
    newer = tmp_path / "newer.csv"
    newer.write_text("contract_id,start_date,status,budget\nC1,2026-11-01,completed,175\n")
    import_files(source, [newer])
    parquet_store.export_parquet(source, tmp_path / "ds")
    target = store.connect(tmp_path / "target.duckdb")
    summary = parquet_store.import_parquet(target, tmp_path / "ds")
    assert summary.warnings == ["ds: restored into an empty workspace with its import history (3 imported files), "
                                "each import removable on its own as before"]
    everything = {**DATA_TABLES, "imports": "import_id"}
    for table, key in everything.items():
        q = f"SELECT * FROM {table} ORDER BY {key}"
        assert target.execute(q).fetchall() == source.execute(q).fetchall(), table
    assert target.execute("SELECT first_import_id, import_id, budget FROM contracts WHERE contract_id = 'C1'"
                          ).fetchone() == (1, 3, Decimal("175.00"))
    # Removing the milestones' import: the same in both.
    for con in (source, target):
        workspace_admin.remove_import(con, 2)
    for table, key in everything.items():
        q = f"SELECT * EXCLUDE (imported_at) FROM {table} ORDER BY {key}" if table == "imports" else \
            f"SELECT * FROM {table} ORDER BY {key}"
        assert target.execute(q).fetchall() == source.execute(q).fetchall(), table
    assert target.execute("SELECT count(*) FROM milestones").fetchone()[0] == 0
    later = import_files(target, [TWO_FILES[1]])
    assert later.files[0].import_id == 4 and target.execute("SELECT max(batch_id) FROM imports").fetchone()[0] == 4


def test_a_dataset_imported_into_a_workspace_with_data_is_one_import(fixture_workspace, tmp_path):
    """Merged into a workspace that holds something, the dataset is logged as one import of its own:
    removing it takes exactly what it brought."""
    from analysis import workspace_admin

    parquet_store.export_parquet(fixture_workspace, tmp_path / "ds")
    target = store.connect(tmp_path / "target.duckdb")
    other = tmp_path / "other.csv"
    other.write_text("contract_id,start_date,status,budget\nZ9,2026-01-01,completed,99\n")
    import_files(target, [other])
    summary = parquet_store.import_parquet(target, tmp_path / "ds")
    assert summary.imported == {"contracts": 6, "milestones": 12, "payments": 10} and summary.warnings == []
    assert target.execute("SELECT format, file_name FROM imports ORDER BY import_id").fetchall() == [
        ("canonical", "other.csv"), ("parquet", "ds")]
    workspace_admin.remove_import(target, 2)
    assert target.execute("SELECT contract_id FROM contracts").fetchall() == [("Z9",)]


def test_an_older_backup_merged_back_does_not_undo_later_corrections(tmp_path):
    """C1's budget corrected to 175 after the backup was exported: merging the backup (150,
    imported before) keeps 175 and says so; a dataset holding the newer version does update."""
    target = store.connect(tmp_path / "target.duckdb")  # imported first: its rows are the oldest here
    import_files(target, TWO_FILES)
    source = store.connect(tmp_path / "source.duckdb")
    import_files(source, TWO_FILES)
    parquet_store.export_parquet(source, tmp_path / "backup")
    corrected = tmp_path / "corrected.csv"
    corrected.write_text("contract_id,start_date,status,budget\nC1,2026-11-01,completed,175\n")
    import_files(source, [corrected])
    before = rows(source, "contracts")
    summary = parquet_store.import_parquet(source, tmp_path / "backup")
    assert summary.updated == {"contracts": 0, "milestones": 0, "payments": 0}
    assert summary.warnings == ["backup: kept 1 row as the workspace has it, imported after the dataset's version "
                                "(first: contract 'C1'): the older version is not taken"]
    assert rows(source, "contracts") == before
    assert source.execute("SELECT budget FROM contracts WHERE contract_id = 'C1'").fetchone()[0] == Decimal("175.00")
    # The other way round: the dataset's C1 (175) was imported after the target's (150).
    parquet_store.export_parquet(source, tmp_path / "newer")
    summary = parquet_store.import_parquet(target, tmp_path / "newer")
    assert summary.updated["contracts"] == 1 and summary.warnings == []
    assert target.execute("SELECT budget FROM contracts WHERE contract_id = 'C1'").fetchone()[0] == Decimal("175.00")


def test_a_schema_1_dataset_marks_the_estimated_starts_from_its_import_log(tmp_path):
    """Before ``start_estimated`` existed, a transaction history's contracts (start = first payment)
    were not marked: the workspace migration marks them from the import log, and a dataset of that
    age now gets the same mark when opened or imported (it read false: days to first payment 0)."""
    from tests.conftest import FIXTURES

    source = store.connect(tmp_path / "source.duckdb")
    import_files(source, [FIXTURES / "exports" / "upwork_transactions_legacy.csv"])
    import_files(source, TWO_FILES)
    marked = "SELECT source, contract_id, start_estimated FROM contracts ORDER BY ALL"
    expected = source.execute(marked).fetchall()
    assert {s for s, _c, e in expected if e} == {"upwork"} and any(not e for _s, _c, e in expected)
    parquet_store.export_parquet(source, tmp_path / "ds")
    _as_schema_1(tmp_path / "ds")
    opened = parquet_store.open_parquet_workspace(tmp_path / "ds")
    assert opened.execute(marked).fetchall() == expected
    opened.close()
    target = store.connect(tmp_path / "target.duckdb")
    parquet_store.import_parquet(target, tmp_path / "ds")
    assert target.execute(marked).fetchall() == expected


def _two_backups_and_a_target(tmp_path):
    """bk1 (A1 active, 100) and the later bk2 (A1 completed, 150) of one workspace, and a target
    workspace holding other data (Z9). Returns the source and the target connections."""
    source = store.connect(tmp_path / "source.duckdb")
    v1, v2 = tmp_path / "v1.csv", tmp_path / "v2.csv"
    v1.write_text("contract_id,start_date,status,budget\nA1,2026-01-05,active,100\n")
    v2.write_text("contract_id,start_date,end_date,status,budget\nA1,2026-01-05,2026-02-01,completed,150\n")
    import_files(source, [v1])
    parquet_store.export_parquet(source, tmp_path / "bk1")
    import_files(source, [v2])
    parquet_store.export_parquet(source, tmp_path / "bk2")
    target = store.connect(tmp_path / "target.duckdb")
    other = tmp_path / "other.csv"
    other.write_text("contract_id,start_date,status,budget\nZ9,2026-01-01,completed,99\n")
    import_files(target, [other])
    return source, target


def test_backups_merged_in_order_end_with_the_newer_ones_rows(tmp_path):
    """bk1 then bk2 merged into a workspace holding other data: A1's row from bk1 dated from that
    merge, so bk2's newer version was refused as "older"."""
    _source, target = _two_backups_and_a_target(tmp_path)
    parquet_store.import_parquet(target, tmp_path / "bk1")
    summary = parquet_store.import_parquet(target, tmp_path / "bk2")
    assert summary.updated["contracts"] == 1 and summary.warnings == []
    assert target.execute("SELECT status, budget FROM contracts WHERE contract_id = 'A1'").fetchone() == (
        "completed", Decimal("150.00"))


def test_backups_merged_in_reverse_order_keep_the_newer_ones_rows(tmp_path):
    """bk2 (A1 completed, 150) merged first, then the older bk1 (A1 active, 100): bk2's rows date from
    its newest import (``data_as_of``), not from the merge, so bk1 cannot undo them; a merge without
    that date (made before schema 3) still gives way, as it did."""
    source, target = _two_backups_and_a_target(tmp_path)
    (newest,) = source.execute("SELECT max(imported_at) FROM imports").fetchone()
    parquet_store.import_parquet(target, tmp_path / "bk2")
    assert target.execute("SELECT data_as_of FROM imports WHERE format = 'parquet'").fetchone() == (newest,)
    summary = parquet_store.import_parquet(target, tmp_path / "bk1", dry_run=True)
    assert summary.updated["contracts"] == 0
    assert summary.warnings == ["bk1: kept 1 row as the workspace has it, imported after the dataset's version "
                                "(first: contract 'A1'): the older version is not taken"]
    parquet_store.import_parquet(target, tmp_path / "bk1")
    assert target.execute("SELECT status, budget FROM contracts WHERE contract_id = 'A1'").fetchone() == (
        "completed", Decimal("150.00"))
    # The merge of bk2 as an older Milestone Lens logged it: no date, so bk1 is taken as before.
    target.execute("UPDATE imports SET data_as_of = NULL WHERE file_name = 'bk2'")
    assert parquet_store.import_parquet(target, tmp_path / "bk1", dry_run=True).updated["contracts"] == 1


def test_a_schema_2_dataset_reads_and_merges_without_a_warning_about_the_import_log(fixture_workspace, tmp_path):
    """Schema 3 added only ``imports.data_as_of``: a backup written before it opens for report --parquet
    (it was refused: "column 'data_as_of' is missing") and merges with no "columns added since" warning,
    which would speak of a column no user sees; a schema 1 backup still gets it (``start_estimated``)."""
    parquet_store.export_parquet(fixture_workspace, tmp_path / "ds")
    log = tmp_path / "ds" / "imports" / "data_0.parquet"
    scratch = duckdb.connect()
    scratch.execute(f"COPY (SELECT * EXCLUDE (data_as_of) FROM read_parquet('{log}')) TO '{log}.old' (FORMAT parquet)")
    scratch.close()
    Path(f"{log}.old").replace(log)
    marker = tmp_path / "ds" / parquet_store.MARKER
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "schema_version": 2}))
    opened = parquet_store.open_parquet_workspace(tmp_path / "ds")
    assert opened.execute("SELECT count(*), count(data_as_of) FROM imports").fetchone() == (2, 0)
    opened.close()
    target = store.connect(tmp_path / "target.duckdb")
    other = tmp_path / "other.csv"
    other.write_text("contract_id,start_date,status,budget\nZ9,2026-01-01,completed,99\n")
    import_files(target, [other])
    summary = parquet_store.import_parquet(target, tmp_path / "ds")
    assert summary.imported["contracts"] == 6 and summary.warnings == []
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "schema_version": 1}))
    assert parquet_store.import_parquet(target, tmp_path / "ds", dry_run=True).warnings == [
        "ds: written with workspace schema 1; columns added since are left empty"]


def test_a_key_value_folder_above_the_dataset_changes_no_column(fixture_workspace, tmp_path):
    """Read with hive partitioning, ``backups/client=Acme/ds`` gave every contract the client Acme
    (and ``currency=EUR`` would have relabelled the amounts): the restore and report --parquet must
    see the rows as exported, whatever the folders around the dataset are called."""
    dataset = tmp_path / "client=Acme" / "currency=EUR" / "source=elsewhere" / "ds"
    dataset.parent.mkdir(parents=True)
    parquet_store.export_parquet(fixture_workspace, dataset)
    target = store.connect(tmp_path / "target.duckdb")
    parquet_store.import_parquet(target, dataset)
    assert rows(target, "contracts") == rows(fixture_workspace, "contracts")
    log = "SELECT import_id, file_name, format, source FROM imports ORDER BY import_id"
    assert target.execute(log).fetchall() == fixture_workspace.execute(log).fetchall()  # the restored import log too
    opened = parquet_store.open_parquet_workspace(dataset)
    clients = "SELECT client, currency, count(*) FROM contracts GROUP BY ALL ORDER BY ALL"
    assert opened.execute(clients).fetchall() == fixture_workspace.execute(clients).fetchall()
    opened.close()


def _k1_milestones(folder) -> Path:
    """K1's four milestones of 250, paid: the payments its contract-level paid_total (1,000) stood for."""
    path = folder / "k1_milestones.csv"
    path.write_text("contract_id,seq,amount,due_date,paid_date,paid_amount,status\n" + "".join(
        f"K1,{i},250,2025-01-{7 * i:02d},2025-01-{7 * i + 1:02d},250,paid\n" for i in range(1, 5)))
    return path


@pytest.mark.parametrize("workspace_has", ["total", "milestones"])
def test_a_merge_keeps_one_of_a_paid_total_and_the_milestone_payments_it_stood_for(tmp_path, workspace_has):
    """contract_level.csv pays K1 1,000 (paid_total), K3 200, K2 nothing: 1,200 in all. Merging a backup
    with K1's four paid milestones into the total-only workspace, or a total-only backup into the one with
    the milestones, kept both and counted 2,200; the stand-in goes, as a CSV import of the milestones does."""
    level = CANONICAL / "contract_level.csv"
    with_ms = store.connect(tmp_path / "with_ms.duckdb")
    import_files(with_ms, [level])
    import_files(with_ms, [_k1_milestones(tmp_path)])
    total_only = store.connect(tmp_path / "total_only.duckdb")
    import_files(total_only, [level])
    gross = "SELECT sum(gross), list(DISTINCT kind ORDER BY kind) FILTER (WHERE contract_id = 'K1') FROM payments"
    assert with_ms.execute(gross).fetchone() == (Decimal("1200.00"), ["milestone"])
    assert total_only.execute(gross).fetchone() == (Decimal("1200.00"), ["contract_total"])
    source, target = (with_ms, total_only) if workspace_has == "total" else (total_only, with_ms)
    parquet_store.export_parquet(source, tmp_path / "ds")
    summary = parquet_store.import_parquet(target, tmp_path / "ds")
    assert target.execute(gross).fetchone() == (Decimal("1200.00"), ["milestone"])
    assert ("ds: removed the paid_total payment of contracts whose milestones carry the payments: "
            "K1#total (1,000.00 USD)") in summary.warnings
    if workspace_has == "total":  # removing the merge takes its milestones, and the total pays K1 again
        from analysis import workspace_admin

        (batch,) = target.execute("SELECT batch_id FROM imports WHERE format = 'parquet'").fetchone()
        assert workspace_admin.remove_import(target, batch).restored_totals == 1
        assert target.execute(gross).fetchone() == (Decimal("1200.00"), ["contract_total"])


def test_a_backup_of_part_of_a_transaction_history_does_not_undo_what_the_whole_taught(tmp_path):
    """The legacy Upwork export cut in two: rows 2–8 (newer) and 9–16 (older). A workspace holding both
    halves starts Harbor Apps on 2022-09-30 and Pine Data on 2022-08-30 (their first payments, in the
    older half) and puts fee 411000051 on Harbor's milestone 1 (its payment 411000044 is in the older
    half). A backup of a workspace holding only the newer half starts them 2022-10-14 and 2022-10-03
    and keeps the fee apart; merged in, it moved the starts and made the fee an account cost.
    Importing the newer half's CSV again changes nothing; the merge must not either."""
    from tests.conftest import FIXTURES

    lines = (FIXTURES / "exports" / "upwork_transactions_legacy.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    older, newer = tmp_path / "older.csv", tmp_path / "newer.csv"
    older.write_text(lines[0] + "".join(lines[8:16]), encoding="utf-8")
    newer.write_text(lines[0] + "".join(lines[1:8]), encoding="utf-8")
    full = store.connect(tmp_path / "full.duckdb")
    import_files(full, [older])
    import_files(full, [newer])
    part = store.connect(tmp_path / "part.duckdb")
    import_files(part, [newer])
    parquet_store.export_parquet(part, tmp_path / "part_ds")
    starts = "SELECT contract_id, start_date FROM contracts ORDER BY 1"
    fee = "SELECT contract_id, seq, kind, fee FROM payments WHERE payment_key = '411000051'"
    assert part.execute(fee).fetchone() == (None, None, "fee", Decimal("60.00"))
    before = _snapshot(full)
    assert full.execute(fee).fetchone() == ("Harbor Apps / Mobile onboarding flow", 1, "fee", Decimal("60.00"))
    assert [(c, str(d)) for c, d in full.execute(starts).fetchall()] == [
        ("Harbor Apps / Mobile onboarding flow", "2022-09-30"), ("Pine Data / hourly", "2022-08-30"),
        ("Quill Media / Blog series", "2022-09-05")]
    summary = parquet_store.import_parquet(full, tmp_path / "part_ds")
    assert summary.updated == {"contracts": 0, "milestones": 0, "payments": 0}
    after = _snapshot(full)
    assert {t: v for t, v in after.items() if t not in ("imports", "meta")} == {
        t: v for t, v in before.items() if t not in ("imports", "meta")}
    # The other way round: the backup of the newer half merged into a workspace holding the older half
    # ends as importing the newer half's CSV does (the fee onto Harbor's milestone 1, the starts kept).
    older_only = store.connect(tmp_path / "older_only.duckdb")
    import_files(older_only, [older])
    parquet_store.import_parquet(older_only, tmp_path / "part_ds")
    merged = _snapshot(older_only)
    assert merged["contracts"] == after["contracts"] and merged["payments"] == after["payments"]


def test_a_fee_the_workspace_kept_apart_goes_onto_the_payment_a_merged_dataset_brings(tmp_path):
    """The legacy Upwork export's fee 411000051 (60.00) names payment 411000044 (Harbor Apps' milestone 1),
    which is in the older half: a workspace holding only the newer half keeps the fee apart, with no contract.
    Merging a backup of the older half must put it on Harbor's milestone 1, as importing that half's CSV does."""
    from tests.conftest import FIXTURES

    lines = (FIXTURES / "exports" / "upwork_transactions_legacy.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    older, newer = tmp_path / "older.csv", tmp_path / "newer.csv"
    older.write_text(lines[0] + "".join(lines[8:16]), encoding="utf-8")
    newer.write_text(lines[0] + "".join(lines[1:8]), encoding="utf-8")
    fee = "SELECT contract_id, seq FROM payments WHERE payment_key = '411000051'"
    by_csv = store.connect(tmp_path / "by_csv.duckdb")
    import_files(by_csv, [newer])
    assert by_csv.execute(fee).fetchone() == (None, None)
    import_files(by_csv, [older])
    assert by_csv.execute(fee).fetchone() == ("Harbor Apps / Mobile onboarding flow", 1)
    source = store.connect(tmp_path / "older_only.duckdb")
    import_files(source, [older])
    parquet_store.export_parquet(source, tmp_path / "older_ds")
    by_merge = store.connect(tmp_path / "by_merge.duckdb")
    import_files(by_merge, [newer])
    parquet_store.import_parquet(by_merge, tmp_path / "older_ds")
    assert by_merge.execute(fee).fetchone() == ("Harbor Apps / Mobile onboarding flow", 1)
    fees = "SELECT sum(fee) FILTER (WHERE contract_id IS NOT NULL), sum(fee) FILTER (WHERE contract_id IS NULL) FROM payments"
    assert by_merge.execute(fees).fetchone() == by_csv.execute(fees).fetchone()
