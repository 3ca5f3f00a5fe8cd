"""The analysis tables every change keeps in the workspace (``analysis.analysis_tables``).

They must never change an answer: the report read through them equals the report computed
from the rows by temporary tables (the way a workspace without them is analysed), and a
change made behind Milestone Lens's back (SQL on the file) is seen, not hidden behind them.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from analysis import cancellation, completions, importing, store, workspace_admin
from analysis.errors import ImportValidationError
from analysis.filters import ANALYSIS_SCHEMA, Filters, _tables, prepared
from analysis.report import build_report, report_json

TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def sample_con(con):
    workspace_admin.load_sample(con)
    return con


def kept_tables(con) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = ?", [ANALYSIS_SCHEMA]).fetchall()}


def tables_in_use(con) -> str:
    with prepared(con):
        return _tables().contracts


def report_doc(con, filters: Filters | None = None) -> dict:
    return json.loads(json.dumps(report_json(build_report(con, filters or Filters(), TODAY)), default=str))


def assert_same(a, b, path="") -> None:
    """Equal JSON, floats to 1e-9 (sums in another order differ in the last bits)."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for key in a:
            assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (path, a, b)
    else:
        assert a == b, (path, a, b)


def test_an_import_keeps_them_and_analyses_read_them(sample_con):
    kept = kept_tables(sample_con)
    assert {"built", "contracts", "payments", "d_contract_payments", "d_paid_toward_budget",
            "d_timing_contract", "d_client_history", "d_active_values_30"} <= kept
    # The milestones are a view (a copy with one column more would cost an import its writing time).
    assert sample_con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = ?",
                              [ANALYSIS_SCHEMA]).fetchall() == [("milestones",)]
    assert tables_in_use(sample_con) == f"{ANALYSIS_SCHEMA}.contracts"
    # They hold what the workspace holds: one row per contract, the sample's 2,000.
    assert sample_con.execute(f"SELECT count(*) FROM {ANALYSIS_SCHEMA}.contracts").fetchone()[0] == \
        sample_con.execute("SELECT count(*) FROM contracts").fetchone()[0] == 2000
    # A report makes no table of its own in the workspace and leaves no temporary one behind.
    def tables():
        return sample_con.execute("SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL").fetchall()

    before = tables()
    report_doc(sample_con)
    assert tables() == before


def test_report_through_them_equals_the_report_from_the_rows(sample_con):
    kept = report_doc(sample_con)
    sample_con.execute(f"DROP SCHEMA {ANALYSIS_SCHEMA} CASCADE")  # a workspace written by an older version
    assert tables_in_use(sample_con).startswith("_ml_contracts_")
    assert_same(kept, report_doc(sample_con))


def test_the_kept_contracts_are_the_enriched_contracts_row_by_row(sample_con):
    """Every row of the kept enriched contracts equals the one computed from the rows (the
    temporary table a workspace without them is analysed by), with the same columns, no row more."""
    with prepared(sample_con):
        kept = _tables().contracts
        assert kept == f"{ANALYSIS_SCHEMA}.contracts"
        columns = [r[0] for r in sample_con.execute(f"DESCRIBE {kept}").fetchall()]
    sample_con.execute(f"CREATE TEMP TABLE kept_copy AS SELECT * FROM {kept}")
    sample_con.execute(f"DROP SCHEMA {ANALYSIS_SCHEMA} CASCADE")
    with prepared(sample_con):
        fresh = _tables().contracts
        assert fresh.startswith("_ml_contracts_")
        assert [r[0] for r in sample_con.execute(f"DESCRIBE {fresh}").fetchall()] == columns
        differences = sample_con.execute(
            f"SELECT count(*) FROM ((SELECT * FROM kept_copy EXCEPT ALL SELECT * FROM {fresh}) "
            f"UNION ALL (SELECT * FROM {fresh} EXCEPT ALL SELECT * FROM kept_copy))").fetchone()[0]
        rows = sample_con.execute(f"SELECT count(*) FROM {fresh}").fetchone()[0]
    assert (differences, rows) == (0, 2000)


def test_filtered_report_through_them_equals_the_report_from_the_rows(sample_con):
    """Filters on the workspace's own contract columns (platform, start date, currency)."""
    filtered = Filters(platform="upwork", date_from="2025-03-01", currency="USD")
    assert tables_in_use(sample_con) == f"{ANALYSIS_SCHEMA}.contracts"
    kept = report_doc(sample_con, filtered)
    assert kept["contracts"] == sample_con.execute(
        "SELECT count(*) FROM contract_view WHERE platform = 'upwork' AND start_date >= DATE '2025-03-01' "
        "AND currency = 'USD'").fetchone()[0] > 0
    sample_con.execute(f"DROP SCHEMA {ANALYSIS_SCHEMA} CASCADE")
    assert_same(kept, report_doc(sample_con, filtered))


def test_a_change_made_with_sql_is_seen(sample_con):
    """An UPDATE run on the file by hand bumps no data version: the kept tables no longer match
    the rows, so the analyses compute from the rows."""
    def finished_single_cancelled() -> int:
        return int(cancellation.rates_by_structure(sample_con, Filters(currency="USD"))
                   .set_index("structure").loc["single", "cancelled"])

    before = finished_single_cancelled()
    changed = sample_con.execute(
        """UPDATE contracts SET status = 'completed' WHERE status = 'cancelled' AND currency = 'USD'
           AND (source, contract_id) IN (SELECT source, contract_id FROM contract_view WHERE structure = 'single')"""
    ).fetchone()[0]
    assert changed > 0
    assert tables_in_use(sample_con).startswith("_ml_contracts_")
    assert finished_single_cancelled() == before - changed
    # The next change through Milestone Lens makes them again, from the edited rows.
    store_version = store.data_version(sample_con)
    with store.transaction(sample_con):
        store.bump_data_version(sample_con)
    assert store.data_version(sample_con) == store_version + 1
    assert tables_in_use(sample_con) == f"{ANALYSIS_SCHEMA}.contracts"
    assert finished_single_cancelled() == before - changed


def test_imports_leave_no_temporary_table_behind(sample_con, tmp_path):
    """A dashboard keeps its connection for days: an import's staging must not stay in memory."""
    workspace_admin.remove_import(sample_con, 1)
    importing.import_files(sample_con, [store.SAMPLE_DIR / "contracts.csv"], fmt="canonical", source="sample")
    importing.import_files(sample_con, [store.SAMPLE_DIR / "contracts.csv", store.SAMPLE_DIR / "milestones.csv"],
                           fmt="canonical", source="sample", dry_run=True)
    importing.import_files(sample_con, [store.SAMPLE_DIR / "milestones.csv"], fmt="canonical", source="sample")
    assert sample_con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall() == []


def test_a_refused_import_leaves_them_as_they_were(sample_con, tmp_path):
    built = sample_con.execute(f"SELECT * FROM {ANALYSIS_SCHEMA}.built").fetchall()
    bad = tmp_path / "contracts.csv"
    bad.write_text("contract_id,client,start_date,status,budget\nN1,Acme,2026-01-05,won,100\n")
    with pytest.raises(ImportValidationError):
        importing.import_files(sample_con, [bad], fmt="canonical", source="sample")
    assert sample_con.execute(f"SELECT * FROM {ANALYSIS_SCHEMA}.built").fetchall() == built
    assert tables_in_use(sample_con) == f"{ANALYSIS_SCHEMA}.contracts"


def test_removing_an_import_remakes_them(sample_con, tmp_path):
    extra = tmp_path / "more.csv"
    extra.write_text("contract_id,client,start_date,status,budget,currency\nN1,Acme,2026-01-05,cancelled,100,USD\n")
    batch = importing.import_files(sample_con, [extra], fmt="canonical", source="extra")
    assert sample_con.execute(f"SELECT count(*) FROM {ANALYSIS_SCHEMA}.contracts").fetchone()[0] == 2001
    batch_id = sample_con.execute("SELECT max(batch_id) FROM imports").fetchone()[0]
    assert batch.imported["contracts"] == 1
    workspace_admin.remove_import(sample_con, batch_id)
    assert sample_con.execute(f"SELECT count(*) FROM {ANALYSIS_SCHEMA}.contracts").fetchone()[0] == 2000
    assert tables_in_use(sample_con) == f"{ANALYSIS_SCHEMA}.contracts"


def test_completions_saved_together_in_one_change(sample_con):
    ids = [r[0] for r in sample_con.execute(
        "SELECT contract_id FROM contracts WHERE status = 'active' ORDER BY contract_id LIMIT 2").fetchall()]
    version = store.data_version(sample_con)
    refused = completions.complete_contracts(sample_con, [
        ("sample", ids[0], {"status": "cancelled"}),
        ("sample", ids[1], {"status": "completed", "budget": "1250.50"}),
        ("sample", "NO-SUCH-CONTRACT", {"status": "completed"}),
        ("sample", ids[1], {"status": "won"}),
    ])
    assert [(i, str(e)) for i, e in refused] == [
        (2, "no contract 'NO-SUCH-CONTRACT' in source 'sample'"),
        (3, "unknown status 'won' (expected one of completed, cancelled, disputed, active)"),
    ]
    assert store.data_version(sample_con) == version + 1  # one change for both saved rows
    kept = dict(sample_con.execute(
        f"SELECT contract_id, status FROM {ANALYSIS_SCHEMA}.contracts WHERE contract_id IN (?, ?)", ids).fetchall())
    assert kept == {ids[0]: "cancelled", ids[1]: "completed"}
    assert sample_con.execute(
        f"SELECT budget FROM {ANALYSIS_SCHEMA}.contracts WHERE contract_id = ?", [ids[1]]).fetchone()[0] == \
        pytest.approx(1250.50)
    assert tables_in_use(sample_con) == f"{ANALYSIS_SCHEMA}.contracts"


def test_keys_that_hash_alike_fall_back_to_row_numbers(sample_con):
    """Two contracts whose (source, contract_id) hash alike cannot be made on purpose (64 bits),
    so the fallback is asked for (``row_number_keys``): nothing is kept, blocks key by row number,
    same answers."""
    from analysis import analysis_tables, filters

    expected = report_doc(sample_con)
    assert filters.store_analysis_tables(sample_con, analysis_tables._derived_tables, row_number_keys=True) is False
    assert kept_tables(sample_con) == set()
    with prepared(sample_con, row_number_keys=True):
        made = _tables()
        assert made.contracts.startswith("_ml_contracts_")
        ids = sample_con.execute(f"SELECT min(cid), max(cid), count(*) FROM {made.contracts}").fetchone()
        assert ids == (1, 2000, 2000)
        # the report's own blocks nest in this one, so it is computed through the row-number keys
        assert_same(expected, report_doc(sample_con))
        assert _tables() is made


def test_hashed_keys_unique_sees_two_contracts_sharing_a_key(sample_con):
    """The check the fallback rests on: true on the real contracts, false once one contract's
    key is set to another's (what a hash collision would look like)."""
    from analysis import filters

    with prepared(sample_con):
        contracts = _tables().contracts
        assert filters._hashed_keys_unique(sample_con, contracts) is True
        sample_con.execute(f"CREATE TEMP TABLE collided AS SELECT * FROM {contracts}")
    sample_con.execute("UPDATE collided SET cid = (SELECT min(cid) FROM collided) WHERE cid = (SELECT max(cid) FROM collided)")
    assert sample_con.execute("SELECT count(*), count(DISTINCT contract_id) FROM collided").fetchone() == (2000, 2000)
    assert filters._hashed_keys_unique(sample_con, "collided") is False
