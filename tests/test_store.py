"""The workspace file: schema versions, migrations, the lock message, data versions."""

from __future__ import annotations

import subprocess
import sys

import pytest

from analysis import store
from analysis.errors import UserError, WorkspaceBusyError
from analysis.importing import import_files
from tests.conftest import CANONICAL


def test_new_workspace_is_at_the_current_schema(con):
    assert store.schema_version(con) == store.SCHEMA_VERSION
    assert store.is_empty(con)
    assert store.data_version(con) == 0


def test_opening_an_older_file_applies_the_missing_migrations(db_path, monkeypatch):
    con = store.connect(db_path)
    import_files(con, [CANONICAL / "contracts.csv", CANONICAL / "milestones.csv"])
    con.close()
    # A later release adds a migration: opening the file applies it once and keeps the data.
    v2 = "ALTER TABLE contracts ADD COLUMN notes VARCHAR; UPDATE contracts SET notes = 'migrated';"
    monkeypatch.setattr(store, "MIGRATIONS", store.MIGRATIONS + [v2])
    monkeypatch.setattr(store, "SCHEMA_VERSION", len(store.MIGRATIONS))
    con = store.connect(db_path)
    assert store.schema_version(con) == len(store.MIGRATIONS)
    assert con.execute("SELECT count(*), min(notes) FROM contracts").fetchone() == (6, "migrated")
    con.close()
    con = store.connect(db_path)  # applied once only
    assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(store.MIGRATIONS)


def test_version_1_workspace_marks_the_starts_transaction_histories_estimated(db_path, monkeypatch):
    """Schema 2 adds ``start_estimated``: contracts an Upwork or Freelancer.com import made (their
    start is the first payment's date) are marked, template ones are not; a read-only open
    upgrades the file first, so every analysis finds the column."""
    with monkeypatch.context() as m:
        m.setattr(store, "MIGRATIONS", store.MIGRATIONS[:1])
        m.setattr(store, "SCHEMA_VERSION", 1)
        con = store.connect(db_path)
        for import_id, fmt in ((1, "upwork"), (2, "canonical")):
            con.execute("INSERT INTO imports VALUES (?, ?, 'f.csv', 'h', ?, ?, now(), 1, 0, 0, 0, 0, 0, 0, [])",
                        [import_id, import_id, fmt, fmt])
            con.execute("INSERT INTO contracts (source, contract_id, contract_type, currency, start_date, "
                        "first_import_id, import_id) VALUES (?, 'C1', 'fixed', 'USD', DATE '2025-01-02', ?, ?)",
                        [fmt, import_id, import_id])
        con.close()
    con = store.connect(db_path, read_only=True)
    assert store.schema_version(con) == store.SCHEMA_VERSION
    assert con.execute("SELECT source, start_estimated FROM contract_view ORDER BY source").fetchall() == [
        ("canonical", False), ("upwork", True)]
    con.close()


def test_a_newer_file_is_refused(db_path, monkeypatch):
    store.connect(db_path).close()
    monkeypatch.setattr(store, "MIGRATIONS", [])
    monkeypatch.setattr(store, "SCHEMA_VERSION", 0)
    with pytest.raises(UserError, match="newer than this program"):
        store.connect(db_path)


def test_workspace_held_by_another_process_gives_a_clear_message(db_path):
    store.connect(db_path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db_path)!r}); print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(WorkspaceBusyError, match="in use by another process"):
            store.connect(db_path, wait_seconds=0.5)
    finally:
        holder.kill()
        holder.wait()
    store.connect(db_path).close()  # free again once the other process is gone
