"""Workspaces as Parquet datasets: export, import back, and open read-only out of core.

A dataset is a folder with one sub-folder per table. ``contracts``, ``milestones`` and
``payments`` are hive-partitioned by the contract's start year
(``contracts/start_year=2024/data_0.parquet``; milestones and payments take the year of their
contract, account costs without a contract the year they were paid); every other table is a
single file. ``milestone_lens_dataset.json`` marks the folder and records the schema version.
The files are read without hive partitioning: the year folders only sort them, and a
``key=value`` folder above the dataset (``backups/client=Acme/ds``) must not become a column.

``open_parquet_workspace`` gives a DuckDB connection whose views have the workspace's names
and column types (``contracts`` ... ``contract_view``), reading the files in place with a
memory limit: the analyses run unchanged over histories larger than memory, because DuckDB
streams the Parquet files and spills what does not fit to disk.

``import_parquet`` and ``open_parquet_workspace`` first run ``check_dataset``: it refuses (one line naming
file, row and column) a dataset no workspace could have been exported as, edited by hand or another tool.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from analysis import store
from analysis.canonical import CONTRACT_STATUSES, CONTRACT_TYPES, MILESTONE_STATUSES
from analysis.errors import ImportValidationError, Problem, UserError, single_problem, with_unlisted
from analysis.filters import INCOME_KINDS
from analysis.importing import (
    _IN_TABLES, COLUMNS, KEYS, FileReport, ImportSummary, _check_batch, _merge, _same_contracts_under_another_source,
)
from analysis.parsing import currency_code_sql
from analysis.platforms import FREELANCER_PLATFORMS
from analysis.wording import listed, plural

MARKER = "milestone_lens_dataset.json"
DATASET_FORMAT = "milestone-lens-parquet"
DATASET_VERSION = 1
PARTITION_COLUMN = "start_year"
#: Partitioned tables and the SQL giving each row's partition (the contract's start year).
PARTITIONED: dict[str, str] = {
    "contracts": """SELECT t.*, year(t.start_date) AS start_year FROM contracts t""",
    "milestones": """SELECT t.*, year(c.start_date) AS start_year
                     FROM milestones t LEFT JOIN contracts c ON c.source = t.source AND c.contract_id = t.contract_id""",
    "payments": """SELECT t.*, coalesce(year(c.start_date), year(t.paid_date)) AS start_year
                   FROM payments t LEFT JOIN contracts c ON c.source = t.source AND c.contract_id = t.contract_id""",
}
#: Default memory limit of a Parquet workspace (DuckDB spills to disk beyond it).
DEFAULT_MEMORY_LIMIT = "1GB"
# Import bookkeeping columns every workspace table carries; an import sets them anew.
_BOOKKEEPING = ("first_import_id", "import_id")
#: The payment kinds the importers write (``store``'s payments table; ``fee``: a fee row kept apart).
PAYMENT_KINDS = ("milestone", "hourly", "bonus", "refund", "contract_total", "fee", "account_cost", "withdrawal", "other")
# Values the workspace accepts (the importers write nothing else).
_ALLOWED = {
    ("contracts", "contract_type"): CONTRACT_TYPES,
    ("contracts", "status"): CONTRACT_STATUSES,
    ("milestones", "kind"): ("milestone", "invoice"),
    ("milestones", "status"): MILESTONE_STATUSES,
    ("payments", "kind"): PAYMENT_KINDS,
    ("contract_completions", "status"): CONTRACT_STATUSES,
}


def sql_string(text: str) -> str:
    """A SQL string literal (for file paths in statements that take no parameters)."""
    return "'" + str(text).replace("'", "''") + "'"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    default: str | None = None  # SQL of the column's default (a column a later migration added)


@functools.lru_cache(maxsize=1)
def workspace_schema() -> tuple[dict[str, tuple[Column, ...]], tuple[tuple[str, str], ...]]:
    """Tables (name -> columns) and views (name, CREATE statement) of a freshly migrated workspace.

    Read from a scratch in-memory database, so whatever later migrations add is exported,
    imported and mirrored by Parquet workspaces without changes here.
    """
    scratch = duckdb.connect()
    try:
        store.migrate(scratch)
        tables: dict[str, tuple[Column, ...]] = {}
        for (name,) in scratch.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT internal ORDER BY table_name"
        ).fetchall():
            rows = scratch.execute(
                "SELECT column_name, data_type, is_nullable, column_default FROM duckdb_columns() "
                "WHERE schema_name = 'main' AND table_name = ? ORDER BY column_index", [name],
            ).fetchall()
            tables[name] = tuple(Column(n, t, bool(nullable), default) for n, t, nullable, default in rows)
        views = tuple(scratch.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal ORDER BY view_name"
        ).fetchall())
    finally:
        scratch.close()
    return tables, views


def table_glob(dataset: Path, table: str) -> str:
    """The files of ``table`` in ``dataset`` as a glob DuckDB reads."""
    if table in PARTITIONED:
        return str(dataset / table / "**" / "*.parquet")
    return str(dataset / table / "*.parquet")


def table_source(dataset: Path, table: str, options: str = "") -> str:
    """``read_parquet(...)`` over every file of ``table``, columns united by name; without hive partitioning:
    the year folders only sort the files, and a ``key=value`` folder above the dataset must not become a column."""
    return (f"read_parquet({sql_string(table_glob(dataset, table))}, hive_partitioning = false, union_by_name = true"
            + (f", {options}" if options else "") + ")")


def _table_files(dataset: Path, table: str) -> list[Path]:
    folder = dataset / table
    if not folder.is_dir():
        return []
    return sorted(folder.rglob("*.parquet"))


def is_dataset(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by ``export_parquet``."""
    return (Path(path) / MARKER).is_file()


def dataset_root(path: str | Path) -> Path | None:
    """The dataset folder ``path`` is, or is a file or folder inside (its table files lie at most
    two folders down); None when there is none."""
    path = Path(path)
    for folder in [path, *path.parents][:4]:
        if is_dataset(folder):
            return folder
    return None


def read_manifest(path: str | Path) -> dict:
    """The dataset's marker file; ``UserError`` when ``path`` is not a dataset of ours."""
    dataset = Path(path)
    marker = dataset / MARKER
    root = dataset_root(dataset)
    if dataset.exists() and not dataset.is_dir():
        where = (f"give the dataset it belongs to: {root}" if root else
                 f"give the folder export-parquet wrote (it holds {MARKER})")
        raise UserError(f"{dataset}: is a file, but a Parquet dataset is a folder; {where}")
    if not dataset.is_dir():
        raise UserError(f"{dataset}: no such folder (expected a Parquet dataset written by export-parquet)")
    if not marker.is_file():
        inside = f"; it is inside the dataset {root}: give that folder" if root else "; write one with export-parquet"
        raise UserError(f"{dataset}: not a Milestone Lens Parquet dataset (no {MARKER}){inside}")
    try:
        manifest = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{marker}: cannot be read ({exc})") from None
    if not isinstance(manifest, dict):
        raise UserError(f"{marker}: not a Milestone Lens dataset marker (not a JSON object)")
    if manifest.get("format") != DATASET_FORMAT:
        raise UserError(f"{marker}: not a Milestone Lens dataset marker (format {manifest.get('format')!r})")
    version = manifest.get("schema_version")
    if not _is_count(version) or version < 1:
        raise UserError(f"{marker}: schema_version {version!r} is not a whole number of 1 or more")
    if version > store.SCHEMA_VERSION:
        raise UserError(f"{dataset}: written by a newer Milestone Lens (schema {version} > {store.SCHEMA_VERSION}); upgrade")
    rows = manifest.get("rows")
    if not isinstance(rows, dict) or not all(_is_count(n) and n >= 0 for n in rows.values()):
        raise UserError(f"{marker}: 'rows' does not give each table's row count as a whole number")
    return manifest


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_rows(con: duckdb.DuckDBPyConnection, dataset: Path, manifest: dict) -> None:
    """Each table's files hold as many rows as the marker says (a file deleted, or one added, is
    refused), and every file is readable Parquet; ``UserError`` naming what is wrong.

    Counted from the files' footers (``parquet_file_metadata``): no row is read.
    """
    tables, _ = workspace_schema()
    files = {t: _table_files(dataset, t) for t in tables if t in manifest["rows"]}
    every = [str(f) for fs in files.values() for f in fs]
    counts: dict[str, int] = {}
    if every:
        try:
            counts = dict(con.execute("SELECT file_name, num_rows FROM parquet_file_metadata(?)", [every]).fetchall())
        except duckdb.OutOfMemoryException:
            raise
        except duckdb.Error as exc:
            for f in every:  # which file: one at a time, only now
                try:
                    con.execute("SELECT num_rows FROM parquet_file_metadata(?)", [f]).fetchall()
                except duckdb.Error as one:
                    raise _unreadable(dataset, Path(f), one) from None
            raise UserError(f"{dataset}: the Parquet files cannot be read ({str(exc).splitlines()[0]})") from None
    for table, table_files in files.items():
        found, expected = sum(counts[str(f)] for f in table_files), manifest["rows"][table]
        if found != expected:
            raise UserError(f"{dataset}: the {table} files hold {found:,} rows but {MARKER} says {expected:,}; "
                            "the dataset is incomplete or was changed after it was exported (export it again)")


# --- export ---------------------------------------------------------------------------

@dataclass
class ExportSummary:
    """What ``export_parquet`` wrote."""

    path: str
    rows: dict[str, int]
    files: int
    bytes: int
    partitions: list[int | None] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"path": self.path, "rows": self.rows, "files": self.files, "bytes": self.bytes,
                "partitioned_by": PARTITION_COLUMN, "partitions": self.partitions}

    def describe(self) -> str:
        years = [p for p in self.partitions if p is not None]
        span = f"start years {min(years)}–{max(years)}" if years else "no dated contracts"
        return (f"Exported {plural(self.rows.get('contracts', 0), 'contract')}, "
                f"{plural(self.rows.get('milestones', 0), 'milestone')}, "
                f"{plural(self.rows.get('payments', 0), 'payment')} to {self.path} "
                f"({plural(self.files, 'Parquet file')}, {self.bytes / 1e6:.1f} MB, {span}).")


def export_parquet(con: duckdb.DuckDBPyConnection, out_dir: str | Path, *, overwrite: bool = False) -> ExportSummary:
    """Write every workspace table to a Parquet dataset at ``out_dir`` (hive-partitioned by start year).

    The dataset is written next to ``out_dir`` first and moved into place at the end, so an
    interrupted export leaves no half-written dataset. An existing non-empty ``out_dir`` is
    replaced only with ``overwrite`` and only when it is a dataset of ours.
    """
    target = Path(out_dir)
    if target.exists():
        if not target.is_dir():
            raise UserError(f"{target}: exists and is not a folder")
        if any(target.iterdir()):
            if not overwrite:
                raise UserError(f"{target}: the folder is not empty; choose a new folder or pass --overwrite")
            if not is_dataset(target):
                raise UserError(f"{target}: not a Milestone Lens dataset; refusing to overwrite it")
            foreign = _not_written_by_export(target)
            if foreign:
                raise UserError(f"{target}: holds what export-parquet did not write ({listed(foreign, 3)}); "
                                "refusing to overwrite it: move those elsewhere, or choose a new folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    tables, _views = workspace_schema()
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    previous = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    try:
        # Row order within a file does not matter; not keeping it lets DuckDB stream with less memory.
        con.execute("SET preserve_insertion_order = false")
        rows: dict[str, int] = {}
        for table in tables:
            rows[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if rows[table] == 0:
                continue  # no files: a Parquet workspace reads the table as empty
            if table in PARTITIONED:
                con.execute(
                    f"COPY ({PARTITIONED[table]}) TO {sql_string(partial / table)} "
                    f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY ({PARTITION_COLUMN}))"
                )
            else:
                (partial / table).mkdir()
                con.execute(f"COPY {table} TO {sql_string(partial / table / 'data_0.parquet')} (FORMAT parquet, COMPRESSION zstd)")
        partitions = [r[0] for r in con.execute(
            "SELECT DISTINCT year(start_date) FROM contracts ORDER BY 1 NULLS LAST").fetchall()]
        manifest = {
            "format": DATASET_FORMAT, "version": DATASET_VERSION, "schema_version": store.SCHEMA_VERSION,
            "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "data_version": store.data_version(con), "partitioned_by": PARTITION_COLUMN,
            "partitioned_tables": list(PARTITIONED), "rows": rows,
        }
        (partial / MARKER).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        files = sorted(partial.rglob("*.parquet"))
        size = sum(f.stat().st_size for f in files)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
            partial.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if str(previous).lower() == 'true' else 'false'}")
    return ExportSummary(str(target), rows, len(files), size, partitions)


def _not_written_by_export(dataset: Path) -> list[str]:
    """What in ``dataset`` an export does not write (anything but the marker, the table folders,
    their partition folders and Parquet files), as paths relative to it; ``--overwrite`` would delete it."""
    tables, _ = workspace_schema()
    foreign = []
    for entry in sorted(dataset.iterdir()):
        if entry.name == MARKER and entry.is_file():
            continue
        if entry.name not in tables or not entry.is_dir() or entry.is_symlink():
            foreign.append(entry.name)
            continue
        for inner in sorted(entry.rglob("*")):
            depth = len(inner.relative_to(entry).parts)
            partition = entry.name in PARTITIONED and inner.parent == entry
            if inner.is_symlink():
                ok = False
            elif inner.is_dir():
                ok = partition and inner.name.startswith(f"{PARTITION_COLUMN}=")
            else:
                ok = inner.suffix == ".parquet" and depth == (2 if entry.name in PARTITIONED else 1)
            if not ok:
                foreign.append(str(inner.relative_to(dataset)))
    return foreign


# --- read-only workspace over Parquet ------------------------------------------------------

def _missing_column_sql(dataset: Path, table: str, column: Column, found: set[str]) -> str:
    """What a column the dataset's files lack reads as: worked out from the row and the dataset's
    import log where a migration says how (``store.BACKFILLS``), else the column's default."""
    backfill = store.BACKFILLS.get((table, column.name))
    if backfill is not None and "first_import_id" in found and _table_files(dataset, "imports"):
        imports = table_source(dataset, "imports")
        return f"coalesce({backfill.format(imports=imports)}, {column.default or 'NULL'})"
    return f"CAST({column.default or 'NULL'} AS {column.type})"


def _table_view_sql(dataset: Path, table: str, columns: tuple[Column, ...], con: duckdb.DuckDBPyConnection,
                    located: bool = False) -> str:
    """SELECT giving ``table``'s columns with the workspace's types, from its files (or none).

    ``located``: each value converted with ``TRY_CAST`` (``_refuse_inexact`` has made sure it
    converts exactly), and ``_file`` and ``_row`` say where each row is, for the checks' messages.
    """
    if not _table_files(dataset, table):
        typed = ", ".join(f"CAST(NULL AS {c.type}) AS {c.name}" for c in columns)
        return f"SELECT {typed}{', NULL::VARCHAR AS _file, NULL::BIGINT AS _row' if located else ''} WHERE false"
    source = table_source(dataset, table, "filename = true, file_row_number = true" if located else "")
    found = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    cast = "TRY_CAST" if located else "CAST"
    parts = []
    for c in columns:
        if c.name not in found:
            parts.append(f"{_missing_column_sql(dataset, table, c, set(found))} AS {c.name}")
        elif found[c.name] == c.type:
            parts.append(c.name)  # no cast: keeps filter pushdown into the Parquet scan simple
        else:
            parts.append(f"{cast}({c.name} AS {c.type}) AS {c.name}")
    if located:
        parts.append(f"replace(filename, {sql_string(str(dataset) + os.sep)}, '') AS _file, file_row_number + 1 AS _row")
    return f"SELECT {', '.join(parts)} FROM {source}"


def open_parquet_workspace(
    path: str | Path, *, memory_limit: str = DEFAULT_MEMORY_LIMIT, threads: int | None = None,
    temp_directory: str | Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """A read-only workspace over the dataset at ``path``: same table and view names, same types.

    Nothing is loaded: each view reads the Parquet files when queried. ``memory_limit`` caps
    DuckDB's memory (it spills to ``temp_directory``, default a folder under the system temp
    dir), so analyses run over data larger than memory. Writes fail: the names are views.
    A dataset ``import_parquet`` would refuse is refused with the same ``UserError``
    (``check_dataset``, run out of core before any view is made).
    """
    dataset = Path(path)
    manifest = read_manifest(dataset)
    con = duckdb.connect(":memory:")
    try:
        spill = Path(temp_directory) if temp_directory else Path(tempfile.gettempdir()) / "milestone-lens-spill"
        con.execute(f"SET memory_limit = {sql_string(memory_limit)}")
        con.execute(f"SET temp_directory = {sql_string(spill)}")
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        check_dataset(con, dataset, manifest)
        tables, views = workspace_schema()
        for table, columns in tables.items():
            con.execute(f"CREATE VIEW {table} AS {_table_view_sql(dataset, table, columns, con)}")
        for _name, sql in views:
            con.execute(sql)
    except BaseException:
        con.close()
        raise
    return con


# --- import ---------------------------------------------------------------------------

@dataclass
class ParquetImportSummary(ImportSummary):
    """``ImportSummary`` plus the user completions (status, budget) the dataset carried."""

    completions: int = 0

    def to_json(self) -> dict:
        out = super().to_json()
        out["completions"] = self.completions
        return out

    def counts(self) -> list[str]:
        took = f"{'Would take' if self.dry_run else 'Took'} {plural(self.completions, 'contract completion')}."
        return super().counts() + ([took] if self.completions else [])


def _dataset_hash(dataset: Path) -> str:
    """One digest over the marker and every Parquet file (names and contents)."""
    digest = hashlib.sha256()
    for f in [dataset / MARKER] + sorted(dataset.rglob("*.parquet")):
        digest.update(str(f.relative_to(dataset)).encode())
        with f.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


#: The staging table of each table an import reads from the dataset, and its key.
_STAGED = {"contracts": "in_contracts", "milestones": "in_milestones", "payments": "in_payments",
           "contract_completions": "_in_completions"}
_KEYS = {**KEYS, "contract_completions": ("source", "contract_id"), "imports": ("import_id",)}
#: A currency as every import writes it (the template's rule, after it upper-cases the code).
_CURRENCY_CHECK = (
    f"NOT {currency_code_sql('currency')}", "currency",
    "CASE WHEN regexp_full_match(currency, '[A-Za-z]{3}') THEN 'currency ''' || currency || ''' is not in capitals, "
    "as every import writes it (' || upper(currency) || ')' "
    "ELSE 'currency ''' || currency || ''' is not a three-letter ISO code' END")
#: What a row's values must not meet, as the CSV template (``canonical``) refuses it: (condition, column,
#: message SQL). Payments may be negative (refunds, and the fees refunded with them).
_REFUSED: dict[str, tuple[tuple[str, str, str], ...]] = {
    "contracts": (("budget < 0", "budget", "'budget is negative'"),
                  ("paid_total < 0", "paid_total", "'paid_total is negative'"),
                  ("milestone_count < 0", "milestone_count", "'milestone_count is negative'"),
                  _CURRENCY_CHECK,
                  ("end_date < start_date", "end_date", "'end_date is before start_date'"),
                  ("planned_end_date < start_date", "planned_end_date", "'planned_end_date is before start_date'")),
    "milestones": (("seq < 1", "seq", "'seq must be 1 or more'"), ("amount < 0", "amount", "'amount is negative'"),
                   ("paid_amount < 0", "paid_amount", "'paid_amount is negative'"), ("fee < 0", "fee", "'fee is negative'")),
    "payments": (_CURRENCY_CHECK,),
    "contract_completions": (("budget < 0", "budget", "'budget is negative'"),
                             ("planned_milestones < 1", "planned_milestones", "'planned_milestones must be 1 or more'")),
}
#: A payment of money received whose fee is more than its gross (the template refuses a milestone's fee
#: above what was paid), but on a platform with a minimum fee, whose reader keeps the fee rows the export
#: gives (Freelancer.com's $5 on a $3 milestone); ``_platform``: its contract's (``_OF_CONTRACT``).
_FEE_ABOVE_GROSS = (f"kind IN {INCOME_KINDS} AND gross >= 0 AND fee > gross "
                    f"AND coalesce(lower(_platform) NOT IN {FREELANCER_PLATFORMS}, true)")
#: How a message names the workspace's column types.
_TYPE_WORDS = {"DECIMAL(18,2)": "an amount with at most two decimals", "INTEGER": "a whole number",
               "BIGINT": "a whole number", "DATE": "a date", "TIMESTAMP": "a date and time",
               "BOOLEAN": "true or false"}
_NUMERIC = ("DECIMAL", "INTEGER", "BIGINT", "DOUBLE", "FLOAT", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT",
            "UINTEGER", "USMALLINT", "UTINYINT")


def _relative(dataset: Path, file: Path) -> str:
    """A file of the dataset as messages name it (``contracts/start_year=2022/data_0.parquet``)."""
    return str(file.relative_to(dataset))


def _is_nested(type_name: str) -> bool:
    return type_name.endswith("]") or type_name.startswith(("STRUCT", "MAP", "UNION"))


def _unreadable(dataset: Path, file: Path, exc: Exception) -> ImportValidationError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return single_problem(_relative(dataset, file), None, None, f"not a readable Parquet file ({reason})")


def _file_columns(con, dataset: Path, file: Path) -> dict[str, str]:
    """Names and types of one Parquet file's columns; a one-line error when it is not readable."""
    try:
        return {r[0]: r[1] for r in con.execute(
            f"DESCRIBE SELECT * FROM read_parquet({sql_string(file)}, hive_partitioning = false)").fetchall()}
    except duckdb.OutOfMemoryException:
        raise
    except duckdb.Error as exc:
        raise _unreadable(dataset, file, exc) from None


def _check_columns(con, dataset: Path) -> None:
    """Refuse, as ``import_parquet`` does, a file of any table without a column its table needs
    (``union_by_name`` would read it as empty) or with a nested column (no cast reads it)."""
    tables, _ = workspace_schema()
    for table, columns in tables.items():
        for f, found in _checked_files(con, dataset, table).items():
            # The views read every column, the import bookkeeping too: none may be nested either.
            problem = _nested_column(dataset, f, found, {c.name: c.type for c in columns})
            if problem:
                raise ImportValidationError([problem])


def _required_columns(table: str) -> tuple[str, ...]:
    """The columns every file of ``table`` needs: those an import reads (keys first), or every
    column of a table no import merges (``imports``, ``meta`` ...)."""
    tables, _ = workspace_schema()
    if table in KEYS:
        return (*KEYS[table], *[c for c in COLUMNS[table] if c not in KEYS[table]])
    return tuple(c.name for c in tables[table])


def _checked_files(con, dataset: Path, table: str) -> dict[Path, dict[str, str]]:
    """Each file of ``table`` with its columns (name -> type), once every file has every column
    of ``_required_columns`` and none holds a nested value; else ``ImportValidationError``
    naming each file and its first missing (or nested) column.

    A column with a default (one a later migration added), or a nullable one of the import log,
    may be missing from all the files (a dataset exported before that migration), not from
    some of them.
    """
    tables, _ = workspace_schema()
    cols = _required_columns(table)
    types = {c.name: c.type for c in tables[table]}
    # A column of the import log a later migration added may be NULL (``data_as_of``): no default needed.
    defaults = {c.name: c.default for c in tables[table] if c.default is not None or (c.nullable and table == "imports")}
    per_file = {f: _file_columns(con, dataset, f) for f in _table_files(dataset, table)}
    anywhere = {c for found in per_file.values() for c in found}
    problems = []
    for f, found in per_file.items():
        missing = [c for c in cols if c not in found and (c not in defaults or c in anywhere)]
        nested = _nested_column(dataset, f, found, {c: types[c] for c in cols})
        if missing:
            problems.append(Problem(_relative(dataset, f), None, missing[0],
                                    f"column '{missing[0]}' is missing (every {table} file needs {', '.join(cols)})"))
        elif nested:
            problems.append(nested)
    if problems:
        raise ImportValidationError(problems)
    return per_file


def _readable_as(have: str, want: str) -> bool:
    """Whether a file's column of type ``have`` can hold values of the workspace's type ``want``
    (``_refuse_inexact`` then checks each value): the type itself, text, or the same kind of value
    (a number for a number, a date or a time without a zone for a date). DuckDB cannot read a
    BOOLEAN or an INTERVAL as a date at all: it fails the whole scan."""
    if have == want:
        return True
    if _is_nested(have):
        return False
    if want == "VARCHAR" or have == "VARCHAR":
        return True
    if want.startswith(_NUMERIC):
        return have.startswith(_NUMERIC)
    if want in ("DATE", "TIMESTAMP"):
        return have == "DATE" or (have.startswith("TIMESTAMP") and "TIME ZONE" not in have)
    return False


def _nested_column(dataset: Path, file: Path, found: dict[str, str], types: dict[str, str]) -> Problem | None:
    """The problem of the first of ``file``'s columns (``found``: name -> type) the workspace
    knows (``types``) that holds nested values of another type, or values of a type not
    ``_readable_as`` its own, if any."""
    nested = [c for c in types if c in found and not _readable_as(found[c], types[c])]
    if not nested:
        return None
    column = nested[0]
    return Problem(_relative(dataset, file), None, column, f"column '{column}' holds {found[column]}, not {types[column]}")


def _stage_table(con, dataset: Path, table: str, import_id: int | None, keep_import_ids: bool = False) -> None:
    """Append the dataset's ``table`` rows to its staging table with file and row for messages
    (``check_dataset`` has refused what no workspace could hold, so each value converts exactly).

    ``keep_import_ids``: each row keeps the import id the dataset gives it (``import_id`` falls
    back to the new one where it has none), for a restore with its import history.
    """
    if not _table_files(dataset, table):
        return
    tables, _ = workspace_schema()
    cols = ", ".join(_required_columns(table))
    # A dataset exported before a migration added a column with a default gets it worked out or that
    # default, when none of its files has the column (``_checked_files`` let it through only then).
    typed = _table_view_sql(dataset, table, tables[table], con, located=True)
    extra, params = ("_import_id, ", [import_id]) if import_id is not None else ("", [])
    given_id = "coalesce(import_id, ?), " if keep_import_ids else "?, "
    con.execute(f"INSERT INTO {_STAGED[table]} ({cols}, {extra}_file, _row) "
                f"SELECT {cols}, {given_id if extra else ''}_file, _row FROM ({typed})", params)


def _stage_import_history(con, dataset: Path) -> bool:
    """Stage the dataset's import log (``_in_imports``, checked by ``check_dataset``) when every staged
    row names one of its imports: True then, and the restore keeps it; else False, and the rows take
    the new import's id. A column of the log a dataset exported before it was added stays NULL."""
    if not _table_files(dataset, "imports"):
        return False
    tables, _ = workspace_schema()
    log = _table_view_sql(dataset, "imports", tables["imports"], con)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _in_imports AS {log}")
    orphans = con.execute(
        " UNION ALL ".join(f"SELECT count(*) FROM in_{t} WHERE _import_id NOT IN (SELECT import_id FROM _in_imports)"
                           for t in KEYS)).fetchall()
    return not any(n for (n,) in orphans)


def _keep_what_histories_learnt(con) -> None:
    """What the workspace learnt from more of a transaction history than the dataset saw stays: a
    contract's estimated start (its first payment) is the earliest either knows, and a fee row the
    workspace put on its payment's contract stays there where the dataset kept it apart. A backup
    of part of an export, merged into a workspace holding more of it, moved starts later and made
    fees account costs (a CSV import of the same part changes nothing)."""
    con.execute(
        """UPDATE in_contracts i SET start_date = w.start_date FROM contracts w
           WHERE w.source = i.source AND w.contract_id = i.contract_id AND w.start_estimated AND i.start_estimated
             AND w.start_date < i.start_date""")
    con.execute(
        """UPDATE in_payments i SET contract_id = w.contract_id, seq = w.seq FROM payments w
           WHERE w.source = i.source AND w.payment_key = i.payment_key AND i.kind = 'fee' AND w.kind = 'fee'
             AND i.contract_id IS NULL AND w.contract_id IS NOT NULL""")


def _attach_fees_apart(con) -> None:
    """After a merge, a fee row kept apart (its payment was in no file seen before) goes onto the
    contract of the payment it names by Ref ID once the workspace holds that payment, whichever side
    brought the fee and the payment, as the Upwork reader does when a later file brings it
    (``upwork._attach_fees``); not when that payment carries a fee of its own, which already counted it."""
    from analysis.upwork import REF_ID_RE

    con.execute(
        f"""UPDATE payments f SET contract_id = p.contract_id, seq = CASE WHEN p.kind <> 'bonus' THEN p.seq END
            FROM payments p
            WHERE f.kind = 'fee' AND f.contract_id IS NULL AND p.source = f.source
              AND p.payment_key = regexp_extract(f.description, '{REF_ID_RE}', 1)
              AND p.kind NOT IN ('fee', 'account_cost', 'withdrawal') AND p.contract_id IS NOT NULL
              AND coalesce(p.fee, 0) = 0
              AND (EXISTS (SELECT 1 FROM in_payments i WHERE i.source = f.source AND i.payment_key = f.payment_key)
                   OR EXISTS (SELECT 1 FROM in_payments i WHERE i.source = p.source AND i.payment_key = p.payment_key))""")


def _made_at(log: str) -> str:
    """SQL for when the rows an import log row (alias ``log``) brought were made: the import's time, or
    for a Parquet merge the newest import of the dataset it merged (``data_as_of``; NULL for merges
    made before schema 3, which then give way to any dataset as they did)."""
    return f"CASE WHEN {log}.format = 'parquet' THEN {log}.data_as_of ELSE {log}.imported_at END"


def _data_as_of(con) -> object:
    """When the newest rows of the staged dataset were made (its import log's newest ``_made_at``)."""
    return con.execute(f"SELECT max(coalesce({_made_at('di')}, di.imported_at)) FROM _in_imports di").fetchone()[0]


def _keep_newer_rows(con, name: str) -> list[str]:
    """Rows the workspace has from an import made after the dataset's version of them stay as the
    workspace has them (newest wins, as for completions): an older backup merged back must not undo
    later corrections, whether they came from files or from a newer backup merged before. Named in
    one warning, with the first contract."""
    kept, first = 0, None
    for table in KEYS:
        keys = KEYS[table]
        join = " AND ".join(f"w.{k} = i.{k}" for k in keys)
        differs = " OR ".join(f"w.{c} IS DISTINCT FROM i.{c}" for c in COLUMNS[table])
        older = (f"""FROM in_{table} i JOIN {table} w ON {join} JOIN imports wi ON wi.import_id = w.import_id
                     JOIN _in_imports di ON di.import_id = i._import_id
                     WHERE {_made_at('wi')} > coalesce({_made_at('di')}, di.imported_at) AND ({differs})""")
        left = [r[0] for r in con.execute(
            f"""DELETE FROM in_{table} d WHERE EXISTS (SELECT 1 {older} AND {' AND '.join(f'd.{k} = i.{k}' for k in keys)})
                RETURNING contract_id""").fetchall()]
        if left:
            kept += len(left)
            first = first or min((c for c in left if c is not None), default=None)  # account costs have none
    if not kept:
        return []
    return [f"{name}: kept {plural(kept, 'row')} as the workspace has {'it' if kept == 1 else 'them'}, imported after "
            f"the dataset's version (first: contract '{first}'): the older version is not taken"]


def _retire_stand_ins(con, name: str, limit: int = 5) -> list[str]:
    """After a merge, delete the ``paid_total`` stand-in payment (``contract_total``) of each contract
    the dataset touched that now has milestone or hourly payments, as a CSV import of its milestones
    does: a workspace paid by the total meeting a backup with the milestones (or the other way
    round) counted the money twice. Named in one warning; removing the merge brings them back."""
    retired = con.execute(
        """DELETE FROM payments p
           WHERE p.kind = 'contract_total'
             AND EXISTS (SELECT 1 FROM payments q WHERE q.source = p.source AND q.contract_id = p.contract_id
                                                   AND q.kind IN ('milestone', 'hourly'))
             AND (EXISTS (SELECT 1 FROM in_payments i WHERE i.source = p.source AND i.contract_id = p.contract_id)
                  OR EXISTS (SELECT 1 FROM in_milestones i WHERE i.source = p.source AND i.contract_id = p.contract_id))
           RETURNING payment_key, gross, currency"""
    ).fetchall()
    if not retired:
        return []
    named = listed([f"{key} ({gross:,.2f} {currency})" for key, gross, currency in sorted(retired)], limit)
    return [f"{name}: removed the paid_total payment of contracts whose milestones carry the payments: {named}"]


def _restore_import_history(con, dataset: Path) -> int:
    """After the merge of a restore: the import log back, each row's first import as the dataset
    says (the merge wrote its last), and the id sequence past the restored ids. How many imports."""
    for table in KEYS:
        files = _table_files(dataset, table)
        if not files:
            continue
        source = table_source(dataset, table)
        if "first_import_id" not in {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}:
            continue
        keys = KEYS[table]
        con.execute(
            f"""UPDATE {table} t SET first_import_id = d.first_import_id
                FROM (SELECT {', '.join(keys)}, TRY_CAST(first_import_id AS INTEGER) AS first_import_id FROM {source}
                      WHERE first_import_id IS DISTINCT FROM import_id AND first_import_id IS NOT NULL) d
                WHERE {' AND '.join(f't.{k} = d.{k}' for k in keys)}""")
    cols = [r[0] for r in con.execute("DESCRIBE _in_imports").fetchall()]
    con.execute(f"INSERT INTO imports ({', '.join(cols)}) SELECT {', '.join(cols)} FROM _in_imports")
    top, restored = con.execute("SELECT coalesce(max(import_id), 0), count(*) FROM _in_imports").fetchone()
    current = con.execute("SELECT nextval('import_id_seq')").fetchone()[0]
    if top > current:  # DuckDB has no ALTER SEQUENCE ... RESTART: draw the ids the log now holds
        con.execute("SELECT max(nextval('import_id_seq')) FROM range(?)", [top - current])
    return int(restored)


def _refuse_inexact(con, source: str, prefix: str, retyped: dict[str, tuple[str, str]]) -> None:
    """Refuse values of columns whose files hold another type than the workspace's (``retyped``:
    column -> (type in the files, workspace type)) that do not convert, or convert to another value."""
    failing = []
    for c, (have, want) in retyped.items():
        if want == "VARCHAR":
            continue  # any scalar reads as text unchanged
        if want.startswith(_NUMERIC) and have.startswith((*_NUMERIC, "VARCHAR")):
            changed = f"TRY_CAST({c} AS DOUBLE) IS DISTINCT FROM CAST(TRY_CAST({c} AS {want}) AS DOUBLE)"
        else:
            changed = f"CAST(TRY_CAST({c} AS {want}) AS {have}) IS DISTINCT FROM {c}"
        words = _TYPE_WORDS.get(want, f"a {want}")
        quoted = f"'''' || CAST({c} AS VARCHAR) || ''''"
        failing.append((
            f"{c} IS NOT NULL AND (TRY_CAST({c} AS {want}) IS NULL OR {changed})", c,
            f"CASE WHEN TRY_CAST({c} AS {want}) IS NULL THEN {quoted} || ' is not {words}' "
            f"ELSE {quoted} || ' does not convert exactly to {words} (it would be ' "
            f"|| CAST(TRY_CAST({c} AS {want}) AS VARCHAR) || ')' END"))
    if not failing:
        return
    cells = ", ".join(f"CASE WHEN {cond} THEN [{sql_string(c)}, {msg}] END" for cond, c, msg in failing)
    found = con.execute(
        f"""SELECT replace(filename, ?, ''), file_row_number + 1, list_filter([{cells}], lambda x: x IS NOT NULL)
            FROM {source} WHERE {' OR '.join(f'({cond})' for cond, _, _ in failing)}
            ORDER BY filename, file_row_number LIMIT 20""", [prefix]).fetchall()
    if found:
        raise ImportValidationError([Problem(f, int(r), c, m) for f, r, bad in found for c, m in bad])


def check_dataset(con: duckdb.DuckDBPyConnection, dataset: Path, manifest: dict) -> None:
    """Refuse, naming file, row and column, a dataset no workspace could have been exported as: row
    counts other than the marker's, an unreadable file, a missing or nested column, a value that does
    not convert exactly to the workspace's type, and a value an import refuses (``_value_problems``).

    ``import_parquet`` and ``open_parquet_workspace`` both run it. It reads the files in place with
    streaming SQL (aggregates and joins DuckDB spills to disk beyond its memory limit), loading nothing.
    """
    check_rows(con, dataset, manifest)
    _check_columns(con, dataset)
    tables, _ = workspace_schema()
    prefix = str(dataset) + os.sep
    relations = {}
    for table, columns in tables.items():
        if not _table_files(dataset, table):
            continue
        source = table_source(dataset, table, "filename = true, file_row_number = true")
        found = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        _refuse_inexact(con, source, prefix, {c.name: (found[c.name], c.type) for c in columns
                                               if c.name in found and found[c.name] != c.type})
        relations[table] = f"({_table_view_sql(dataset, table, columns, con, located=True)})"
    problems = _value_problems(con, relations)
    if problems:
        raise ImportValidationError(problems)


def _failing(con, relation: str, condition: str, column: str | None, message_sql: str) -> list[Problem]:
    """The first 20 rows of ``relation`` (with ``_file`` and ``_row``) meeting ``condition``, the last
    counting the rest (as ``parsing.failing_rows`` lists one file's)."""
    rows = con.execute(f"SELECT _file, _row, {message_sql}, count(*) OVER () FROM {relation} WHERE {condition} "
                       "ORDER BY _file, _row LIMIT 20").fetchall()
    return with_unlisted([Problem(f, int(r), column, str(m)) for f, r, m, _ in rows], rows[0][3] if rows else 0)


def _row_checks(table: str) -> list[tuple[str, str, str]]:
    """(condition, column, message SQL) of what no value of ``table`` may be: empty where the workspace
    needs a value, a code it does not know, and what the CSV template refuses (``_REFUSED``)."""
    tables, _ = workspace_schema()
    checks = []
    for column in tables[table]:
        if table in KEYS and column.name in _BOOKKEEPING:
            continue  # an import sets them anew
        if not column.nullable:
            checks.append((f"{column.name} IS NULL", column.name, sql_string(f"{column.name} is empty")))
        allowed = _ALLOWED.get((table, column.name))
        if allowed:
            checks.append((f"{column.name} NOT IN {allowed}", column.name,
                           f"'unknown {column.name} ''' || {column.name} || ''' (expected one of {', '.join(allowed)})'"))
    return checks + list(_REFUSED.get(table, ()))


#: Checks spanning tables, on a row of milestones or payments joined to its contract: (condition, column,
#: message SQL), the contract's key and platform read as ``_contract`` and ``_platform`` (NULL: none).
_OF_CONTRACT = {
    "milestones": (("_contract IS NULL", "contract_id",
                    "'milestone of contract ''' || contract_id || ''', which is not among the dataset''s contracts'"),),
    "payments": (("contract_id IS NOT NULL AND _contract IS NULL", "contract_id",
                  "'payment of contract ''' || contract_id || ''', which is not among the dataset''s contracts "
                  "(a payment without a contract leaves contract_id empty)'"),
                 (_FEE_ABOVE_GROSS, "fee",
                  "'fee ' || fee || ' is more than the gross ' || gross || ' it was taken from (the fee is what "
                  "the platform kept of this payment, not a rate or a total)'")),
}


def _value_problems(con, relations: dict[str, str]) -> list[Problem]:
    """Problems in the dataset's rows (``relations``: table -> its typed rows with ``_file`` and ``_row``):
    ``_row_checks`` (one scan of each table counts them all) and duplicate keys; once those pass, what
    spans tables (``_OF_CONTRACT``, one join of each table to the contracts)."""
    problems: list[Problem] = []
    for table, rel in relations.items():
        problems += _checked(con, rel, _row_checks(table)) + _duplicate_keys(con, table, rel)
    if problems:
        return problems
    contracts = relations.get("contracts", "(SELECT NULL::VARCHAR AS source, NULL::VARCHAR AS contract_id, "
                                           "NULL::VARCHAR AS platform WHERE false)")
    for table, checks in _OF_CONTRACT.items():
        if table in relations:
            joined = (f"(SELECT t.*, c.contract_id AS _contract, c.platform AS _platform FROM {relations[table]} t "
                      f"LEFT JOIN {contracts} c ON c.source = t.source AND c.contract_id = t.contract_id)")
            problems += _checked(con, joined, list(checks))
    return problems


def _checked(con, rel: str, checks: list[tuple[str, str, str]]) -> list[Problem]:
    """The rows of ``rel`` failing each check: one scan counts the failures of all, and only the
    checks that fail list their rows."""
    if not checks:
        return []
    failing = con.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE coalesce({c}, false))" for c, _, _ in checks)
                          + f" FROM {rel}").fetchone()
    return [p for (cond, column, message), n in zip(checks, failing) if n
            for p in _failing(con, rel, f"coalesce({cond}, false)", column, message)]


def _duplicate_keys(con, table: str, rel: str) -> list[Problem]:
    """Rows of ``table`` whose key another row has: first a pass grouping the keys' hashes (cheap, and
    spilled to disk when they do not fit in memory), then, only for hashes seen twice, their rows."""
    keys = _KEYS.get(table)
    if not keys:
        return []
    key = ", ".join(keys)
    twice = [r[0] for r in con.execute(f"SELECT hash({key}) FROM {rel} GROUP BY 1 HAVING count(*) > 1 LIMIT 100").fetchall()]
    if not twice:
        return []
    dups = con.execute(
        f"""SELECT {key}, list(_file || ' row ' || _row ORDER BY _file, _row) FROM {rel}
            WHERE list_contains(?::UBIGINT[], hash({key})) GROUP BY {key} HAVING count(*) > 1
            ORDER BY min(_file), min(_row) LIMIT 5""", [twice]).fetchall()
    what = {"contract_completions": "completion of contract", "imports": "import"}.get(table, table[:-1])
    problems = []
    for *values, where in dups:
        file, row = where[1].rsplit(" row ", 1)
        shown = values[1:] if len(values) > 1 else values  # the source is left out of a message
        problems.append(Problem(file, int(row), None,
                                f"{what} {'/'.join(map(str, shown))} appears more than once (first at {where[0]})"))
    return problems


def _completions_staging_sql() -> str:
    """The temporary table the dataset's completions are staged in: the workspace's columns, file and row."""
    tables, _ = workspace_schema()
    cols = ", ".join(f"{c.name} {c.type}" for c in tables["contract_completions"])
    return f"CREATE OR REPLACE TEMP TABLE _in_completions ({cols}, _file VARCHAR, _row BIGINT)"


def _merge_completions(con) -> int:
    """Take the staged user completions: new ones, and newer versions of existing ones."""
    changed = con.execute(
        """SELECT count(*) FROM _in_completions i LEFT JOIN contract_completions t USING (source, contract_id)
           WHERE t.contract_id IS NULL
              OR (i.updated_at > t.updated_at AND (t.status IS DISTINCT FROM i.status OR t.budget IS DISTINCT FROM i.budget
                  OR t.planned_milestones IS DISTINCT FROM i.planned_milestones))"""
    ).fetchone()[0]
    con.execute(
        """DELETE FROM contract_completions t USING _in_completions i
           WHERE t.source = i.source AND t.contract_id = i.contract_id AND i.updated_at > t.updated_at"""
    )
    con.execute(
        """INSERT INTO contract_completions
           SELECT i.source, i.contract_id, i.status, i.budget, i.planned_milestones, i.updated_at FROM _in_completions i
           WHERE NOT EXISTS (SELECT 1 FROM contract_completions t WHERE t.source = i.source AND t.contract_id = i.contract_id)"""
    )
    return int(changed)


def import_parquet(con: duckdb.DuckDBPyConnection, path: str | Path, *, dry_run: bool = False) -> ParquetImportSummary:
    """Import a dataset written by ``export_parquet`` into the workspace, in one transaction.

    Rows merge like any import (new inserted, identical skipped, changed updated; keys keep
    their ``source``); user completions come along. Problems raise ``ImportValidationError``
    naming the Parquet file, row and column, and nothing is written.
    """
    dataset = Path(path)
    manifest = read_manifest(dataset)
    check_dataset(con, dataset, manifest)
    name = dataset.name or str(dataset)
    try:
        with store.import_transaction(con, dry_run, ("in_contracts", "in_milestones", "in_payments", "_cmp", "_in_completions")):
            con.execute(_IN_TABLES)
            batch_id = con.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM imports").fetchone()[0]
            import_id = con.execute("SELECT nextval('import_id_seq')").fetchone()[0]
            con.execute(_completions_staging_sql())
            # Into an empty workspace, a dataset is a restore: its rows keep their imports, and
            # the import history comes back (each import can be removed on its own again).
            restoring = store.holds_nothing(con)
            for table in _STAGED:
                _stage_table(con, dataset, table, import_id if table in KEYS else None, keep_import_ids=True)
            dated = _stage_import_history(con, dataset)
            _keep_what_histories_learnt(con)
            restoring = restoring and dated
            kept_newer = [] if restoring or not dated else _keep_newer_rows(con, name)
            if not restoring:
                for table in KEYS:
                    con.execute(f"UPDATE in_{table} SET _import_id = ?", [import_id])
            _check_batch(con)
            # Whether another source's contracts could be these again (known before the merge, as ``import`` does).
            other_sources = con.execute(
                "SELECT EXISTS (SELECT 1 FROM contracts WHERE source NOT IN (SELECT DISTINCT source FROM in_contracts))"
            ).fetchone()[0]
            counts: dict[str, int] = {}
            for per_import in _merge(con).values():
                for key, n in per_import.items():
                    counts[key] = counts.get(key, 0) + n
            completions = _merge_completions(con)
            _attach_fees_apart(con)
            retired = _retire_stand_ins(con, name)
            if other_sources:  # said once for the dataset's contracts, not once per year folder
                con.execute("UPDATE in_contracts SET _file = 'contracts'")
            warnings = kept_newer + retired + ([f"{name}/{w}" for w in _same_contracts_under_another_source(
                con, "would count twice" if dry_run else "now count twice", can_choose_source=False)] if other_sources else [])
            if manifest["schema_version"] < store.DATA_SCHEMA_VERSION:
                warnings.append(f"{name}: written with workspace schema {manifest['schema_version']}; "
                                "columns added since are left empty")
            staged_rows = sum(con.execute(f"SELECT count(*) FROM in_{t}").fetchone()[0] for t in KEYS)
            sources = sorted(r[0] for r in con.execute("SELECT DISTINCT source FROM in_contracts").fetchall())
            if restoring:
                restored = _restore_import_history(con, dataset)
                warnings.append(f"{name}: restored into an empty workspace with its import history "
                                f"({plural(restored, 'imported file')}), each import removable on its own as before")
            else:
                con.execute(
                    f"INSERT INTO imports ({store.IMPORT_LOG_COLUMNS}, data_as_of) "
                    "VALUES (?, ?, ?, ?, 'parquet', ?, now(), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [import_id, batch_id, name, _dataset_hash(dataset), ",".join(sources) or "parquet",
                     counts.get("contracts_new", 0), counts.get("contracts_updated", 0),
                     counts.get("milestones_new", 0), counts.get("milestones_updated", 0),
                     counts.get("payments_new", 0), counts.get("payments_updated", 0),
                     counts.get("duplicates", 0), warnings, _data_as_of(con) if dated else None],
                )
            summary = ParquetImportSummary(
                imported={t: counts.get(f"{t}_new", 0) for t in KEYS},
                updated={t: counts.get(f"{t}_updated", 0) for t in KEYS},
                duplicates_skipped=counts.get("duplicates", 0),
                warnings=warnings,
                files=[FileReport(name, "parquet", staged_rows, import_id)],
                dry_run=dry_run,
                completions=completions,
            )
    except (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException) as exc:
        # What the checks above did not foresee in the files: still one line, nothing written.
        raise UserError(f"{dataset}: cannot be imported ({str(exc).splitlines()[0]})") from None
    return summary
