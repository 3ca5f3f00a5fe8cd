"""The workspace: one DuckDB file holding contracts, milestones, payments and the import log.

The schema is versioned from day one: ``MIGRATIONS`` is an ordered list and opening a
workspace applies whatever the file has not seen yet, inside a transaction.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from analysis.errors import UserError, WorkspaceBusyError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
SAMPLE_DIR = DATA_DIR / "sample"
DB_ENV_VAR = "MILESTONE_LENS_DB"
#: DuckDB's memory cap for a workspace connection (it spills to ``<db>.tmp`` beyond it); its own
#: default, 80 % of RAM, let a 1M-contract import hold 3 GB. ``$MILESTONE_LENS_MEMORY_LIMIT`` overrides.
MEMORY_LIMIT_ENV_VAR = "MILESTONE_LENS_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "1GB"

# Contract columns as imported (the comparison for "identical re-import" uses these).
CONTRACT_COLUMNS = (
    "client", "freelancer", "title", "category", "platform", "contract_type", "budget",
    "currency", "start_date", "planned_end_date", "end_date", "status", "milestone_count",
    "paid_total", "start_estimated",
)
MILESTONE_COLUMNS = (
    "description", "amount", "due_date", "funded_date", "submitted_date", "paid_date",
    "paid_amount", "fee", "status", "kind",
)
#: The import log's columns an import writes, in the order of its INSERT (later columns stay NULL).
IMPORT_LOG_COLUMNS = ("import_id, batch_id, file_name, content_hash, format, source, imported_at, contracts_new, "
                      "contracts_updated, milestones_new, milestones_updated, payments_new, payments_updated, "
                      "duplicates_skipped, warnings")
PAYMENT_COLUMNS = (
    "contract_id", "seq", "kind", "paid_date", "gross", "fee", "currency", "pending", "description",
)

_V1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL);
CREATE TABLE meta (key VARCHAR NOT NULL, value VARCHAR);
INSERT INTO meta VALUES ('data_version', '0');
CREATE SEQUENCE import_id_seq START 1;
CREATE TABLE imports (
    import_id INTEGER NOT NULL,
    batch_id INTEGER NOT NULL,
    file_name VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    format VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    imported_at TIMESTAMP NOT NULL,
    contracts_new INTEGER NOT NULL, contracts_updated INTEGER NOT NULL,
    milestones_new INTEGER NOT NULL, milestones_updated INTEGER NOT NULL,
    payments_new INTEGER NOT NULL, payments_updated INTEGER NOT NULL,
    duplicates_skipped INTEGER NOT NULL,
    warnings VARCHAR[]
);
CREATE TABLE contracts (
    source VARCHAR NOT NULL,
    contract_id VARCHAR NOT NULL,
    client VARCHAR, freelancer VARCHAR, title VARCHAR, category VARCHAR, platform VARCHAR,
    contract_type VARCHAR NOT NULL,          -- 'fixed' | 'hourly'
    budget DECIMAL(18, 2),
    currency VARCHAR NOT NULL,
    start_date DATE,
    planned_end_date DATE,
    end_date DATE,
    status VARCHAR,                          -- completed|cancelled|disputed|active; NULL = unknown
    milestone_count INTEGER,                 -- declared by contract-level exports
    paid_total DECIMAL(18, 2),               -- declared by contract-level exports
    first_import_id INTEGER NOT NULL,
    import_id INTEGER NOT NULL               -- the import that last wrote this row
);
CREATE TABLE milestones (
    source VARCHAR NOT NULL,
    contract_id VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    description VARCHAR,
    amount DECIMAL(18, 2),
    due_date DATE, funded_date DATE, submitted_date DATE, paid_date DATE,
    paid_amount DECIMAL(18, 2),
    fee DECIMAL(18, 2),
    status VARCHAR,                          -- pending|funded|submitted|paid|refunded|cancelled
    kind VARCHAR NOT NULL,                   -- 'milestone' | 'invoice' (hourly)
    first_import_id INTEGER NOT NULL,
    import_id INTEGER NOT NULL
);
CREATE TABLE payments (
    source VARCHAR NOT NULL,
    payment_key VARCHAR NOT NULL,            -- unique within source (transaction id, or contract#seq)
    contract_id VARCHAR,                     -- NULL for account costs (withdrawals, connects)
    seq INTEGER,
    kind VARCHAR NOT NULL,                   -- milestone|hourly|bonus|refund|contract_total|account_cost|other
    paid_date DATE,
    gross DECIMAL(18, 2) NOT NULL,           -- what the client paid (negative for refunds)
    fee DECIMAL(18, 2) NOT NULL,             -- what the platform took
    currency VARCHAR NOT NULL,
    pending BOOLEAN NOT NULL,                -- not yet earned (e.g. Upwork rows with empty balance)
    description VARCHAR,
    first_import_id INTEGER NOT NULL,
    import_id INTEGER NOT NULL
);
-- What an export cannot know, completed by the user; survives re-imports.
CREATE TABLE contract_completions (
    source VARCHAR NOT NULL,
    contract_id VARCHAR NOT NULL,
    status VARCHAR,
    budget DECIMAL(18, 2),
    planned_milestones INTEGER,
    updated_at TIMESTAMP NOT NULL
);
"""

# The effective view every analysis reads: completions override imports, structure derived.
_CONTRACT_VIEW = """
CREATE OR REPLACE VIEW contract_view AS
WITH m AS (
    SELECT source, contract_id, count(*) AS milestone_rows
    FROM milestones WHERE kind = 'milestone' GROUP BY source, contract_id
)
SELECT
    c.source, c.contract_id, c.client, c.freelancer, c.title, c.category, c.platform,
    c.contract_type, c.currency, c.start_date, c.planned_end_date, c.end_date,
    coalesce(cc.status, c.status) AS status,
    coalesce(cc.budget, c.budget) AS budget,
    coalesce(m.milestone_rows, 0) AS milestone_rows,
    coalesce(cc.planned_milestones, c.milestone_count) AS planned_milestones,
    CASE
        WHEN c.contract_type = 'hourly' THEN 'hourly'
        WHEN greatest(coalesce(m.milestone_rows, 0),
                      coalesce(cc.planned_milestones, c.milestone_count, 0)) >= 2 THEN 'milestones'
        ELSE 'single'
    END AS structure,
    c.first_import_id, c.import_id
FROM contracts c
LEFT JOIN m USING (source, contract_id)
LEFT JOIN contract_completions cc USING (source, contract_id);
"""

# Version 2: a transaction history knows no contract's start, only its first payment, which
# then stands in as ``start_date``; ``start_estimated`` says so, and days counted from the start
# leave such contracts out. Contracts made by those readers before are marked from the import log.
#: How a column a migration added is worked out for rows written before it: SQL over the row's
#: other columns and the import log ``{imports}``. The migration runs it over a workspace; a Parquet
#: dataset exported before the migration gets it when opened or imported (``parquet_store``).
BACKFILLS = {
    ("contracts", "start_estimated"):
        "first_import_id IN (SELECT import_id FROM {imports} WHERE format IN ('upwork', 'upwork-weekly', 'freelancer'))",
}
_V2 = f"""
ALTER TABLE contracts ADD COLUMN start_estimated BOOLEAN NOT NULL DEFAULT false;
UPDATE contracts SET start_estimated = true
WHERE {BACKFILLS["contracts", "start_estimated"].format(imports="imports")};
""" + _CONTRACT_VIEW.replace(
    "c.contract_type, c.currency, c.start_date, c.planned_end_date, c.end_date,",
    "c.contract_type, c.currency, c.start_date, c.start_estimated, c.planned_end_date, c.end_date,")

# Version 3: a Parquet dataset merged into a workspace that holds data dates its rows from the
# dataset's newest import (``data_as_of``), not from the merge: an older backup merged later then
# cannot undo what a newer one brought (``parquet_store._keep_newer_rows``). NULL for file imports
# and for merges made before.
_V3 = "ALTER TABLE imports ADD COLUMN data_as_of TIMESTAMP;"

MIGRATIONS: list[str] = [_V1 + _CONTRACT_VIEW, _V2, _V3]
SCHEMA_VERSION = len(MIGRATIONS)
#: The last schema that added a column to the imported data (later ones only touch the import log):
#: a dataset written before it has columns left to their defaults, which an import says.
DATA_SCHEMA_VERSION = 2


def default_db_path() -> Path:
    """The workspace file: ``$MILESTONE_LENS_DB`` or ``data/workspace.duckdb``."""
    env = os.environ.get(DB_ENV_VAR)
    if env and env.strip() == ":memory:":
        raise UserError(f"${DB_ENV_VAR}: ':memory:' keeps nothing after the command: give a file path such as ws.duckdb")
    return Path(env) if env else DATA_DIR / "workspace.duckdb"


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set lock" in text)


def memory_limit() -> str:
    """DuckDB's memory cap for every connection: ``$MILESTONE_LENS_MEMORY_LIMIT`` or 1 GB, checked."""
    limit = os.environ.get(MEMORY_LIMIT_ENV_VAR, DEFAULT_MEMORY_LIMIT).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", limit, re.IGNORECASE):
        raise UserError(f"${MEMORY_LIMIT_ENV_VAR}: '{limit}' is not a memory size like 1GB or 512MB")
    return limit


def connect(path: str | Path | None = None, *, read_only: bool = False, wait_seconds: float = 5.0) -> duckdb.DuckDBPyConnection:
    """Open (and migrate) the workspace file, waiting briefly if another process holds it."""
    db_path = Path(path) if path is not None else default_db_path()
    limit = memory_limit()
    in_memory = str(path) == ":memory:"  # asked for by name (tests); the command line refuses it (``cli``)
    if not in_memory:
        check_workspace_path(db_path)
    if not read_only and not in_memory:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(str(db_path), read_only=read_only)
            break
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                raise WorkspaceBusyError(
                    f"{db_path}: the workspace is in use by another process "
                    "(a running dashboard or import); try again when it has finished"
                ) from None
            time.sleep(0.2)
    if not in_memory and con.execute("SELECT file FROM pragma_database_list WHERE name = current_database()").fetchone()[0] is None:
        con.close()  # DuckDB read the path as data (an existing .csv or .json), in memory: nothing would be kept
        raise UserError(f"{db_path}: not a workspace file; give --db a path ending in .duckdb")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET memory_limit = '{limit}'")
    if not read_only:
        migrate(con)
    elif 0 < schema_version(con) < SCHEMA_VERSION:
        # Written by an older Milestone Lens: upgraded once (as any writer would), then read.
        con.close()
        connect(db_path, wait_seconds=wait_seconds).close()
        return connect(db_path, read_only=True, wait_seconds=wait_seconds)
    return con


def check_workspace_path(db_path: Path) -> None:
    """A path that exists must be a DuckDB database file (its header says ``DUCK``): a folder or
    a CSV given as ``--db`` by mistake is refused, never opened, read as data or written over."""
    if not db_path.exists():
        return
    if db_path.is_dir():
        from analysis.parquet_store import is_dataset

        if is_dataset(db_path):
            raise UserError(f"{db_path}: is a Parquet dataset (written by export-parquet), not a workspace file; "
                            f"import it into one with milestone-lens import-parquet {db_path} --db WORKSPACE.duckdb, "
                            f"or report on it in place with milestone-lens report --parquet {db_path}")
        raise UserError(f"{db_path}: is a folder, not a workspace file; give a file path such as {db_path / 'workspace.duckdb'}")
    try:
        with db_path.open("rb") as handle:
            header = handle.read(12)
    except OSError as exc:
        raise UserError(f"{db_path}: cannot read the workspace file ({exc.strerror or exc})") from None
    if header[8:12] != b"DUCK":
        raise UserError(f"{db_path}: exists but is not a workspace (a DuckDB database file); "
                        "give --db a new path or a workspace made by Milestone Lens")


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version' AND table_schema = 'main'"
    ).fetchone()[0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Apply every migration the file has not seen, each in its own transaction."""
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        raise UserError(f"workspace schema {current} is newer than this program ({SCHEMA_VERSION}); upgrade Milestone Lens")
    for version in range(current + 1, SCHEMA_VERSION + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(MIGRATIONS[version - 1])
            con.execute("INSERT INTO schema_version VALUES (?, now())", [version])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


#: How long a write waits for another write to the same workspace in this process (a second
#: dashboard session importing while the first one's import runs) before it is told to retry.
WRITE_WAIT_SECONDS = 120.0
_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _database_key(con: duckdb.DuckDBPyConnection) -> str:
    """The file behind ``con`` (every cursor of one workspace gives the same key)."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    return str(Path(row[0]).resolve()) if row and row[0] else f"memory:{id(con)}"


@contextlib.contextmanager
def writing(con: duckdb.DuckDBPyConnection, wait_seconds: float | None = None) -> Iterator[None]:
    """One writer at a time per workspace in this process.

    DuckDB lets two cursors of one connection run write transactions side by side, and the
    second to commit fails with a raw "Transaction conflict" (both bump the data version).
    Writes therefore queue here; one that waits longer than ``wait_seconds`` gets a
    ``WorkspaceBusyError`` saying to retry, and a conflict DuckDB still reports (a writer
    outside this lock) is said the same way. Writers in other processes are kept out by
    DuckDB's file lock (``connect`` waits, then says the workspace is in use).
    """
    key = _database_key(con)
    with _WRITE_LOCKS_GUARD:
        lock = _WRITE_LOCKS.setdefault(key, threading.RLock())
    wait = WRITE_WAIT_SECONDS if wait_seconds is None else wait_seconds
    if not lock.acquire(timeout=wait):
        raise WorkspaceBusyError(
            "another import or change is being written to this workspace right now; "
            "nothing was changed: try again in a moment")
    try:
        yield
    except duckdb.TransactionException as exc:
        raise WorkspaceBusyError(
            "the workspace changed while this was being written (another session wrote to it at the same time); "
            "nothing was changed: try again") from exc
    finally:
        lock.release()


@contextlib.contextmanager
def import_transaction(con: duckdb.DuckDBPyConnection, dry_run: bool = False,
                       temp_tables: tuple[str, ...] = ()) -> Iterator[None]:
    """An import's transaction: every file or nothing. It commits (bumping the data version) when
    the block ends normally, or rolls back for a ``dry_run`` and on any exception; the import's
    temporary tables (``temp_tables`` and any other the block made) are dropped either way, so a
    long-running dashboard does not keep a copy of each import's staging in memory. Writers take
    turns (``writing``)."""
    def temporary() -> set[str]:
        return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}

    with writing(con):
        existing = temporary()
        con.execute("BEGIN TRANSACTION")
        try:
            yield
            if dry_run:
                con.execute("ROLLBACK")
            else:
                bump_data_version(con)
                con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        finally:
            made: set[str] = set()
            with contextlib.suppress(duckdb.Error):
                made = temporary() - existing
            for table in sorted(set(temp_tables) | made):
                with contextlib.suppress(duckdb.Error):
                    con.execute(f'DROP TABLE IF EXISTS temp."{table}"')


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing: commit when the block ends normally, roll back on any exception.
    Writers to one workspace take turns (``writing``)."""
    with writing(con):
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        else:
            con.execute("COMMIT")


def bump_data_version(con: duckdb.DuckDBPyConnection) -> None:
    """Mark the data as changed so cached query results are recomputed, and remake the analysis
    tables kept for the new data (``analysis.analysis_tables``). Call it inside the writer's
    transaction, after the change: the tables then commit, or roll back, with the data."""
    from analysis import analysis_tables  # the analyses sit above this module

    con.execute("UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = 'data_version'")
    analysis_tables.rebuild(con)


def data_version(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()[0])


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How many rows the workspace holds, per table."""
    row = con.execute(
        "SELECT (SELECT count(*) FROM contracts), (SELECT count(*) FROM milestones), "
        "(SELECT count(*) FROM payments), (SELECT count(*) FROM imports)"
    ).fetchone()
    return dict(zip(("contracts", "milestones", "payments", "imports"), row))


def is_empty(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT count(*) FROM contracts").fetchone()[0] == 0


def holds_nothing(con: duckdb.DuckDBPyConnection) -> bool:
    """No contract, and nothing else either: no import logged, no payment (account costs have no
    contract), no milestone, no completion. Stricter than ``is_empty``: what a restore needs."""
    return not con.execute(
        "SELECT EXISTS (SELECT 1 FROM imports) OR EXISTS (SELECT 1 FROM contracts) OR EXISTS (SELECT 1 FROM payments) "
        "OR EXISTS (SELECT 1 FROM milestones) OR EXISTS (SELECT 1 FROM contract_completions)").fetchone()[0]
