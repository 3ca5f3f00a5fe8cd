"""A full, comparable picture of a workspace: every row of every table, the views, the sequences.

Tests that a refused import, a killed process or a lost race "left the workspace as it was"
compare two snapshots for equality: not counts, every value.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from analysis.parsing import quote_ident


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Every table's rows (sorted), every view's definition and every sequence's definition."""
    picture: dict[str, object] = {}
    tables = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE' "
        "ORDER BY table_name"
    ).fetchall()
    for (table,) in tables:
        columns = [r[0] for r in con.execute(f"DESCRIBE {quote_ident(table)}").fetchall()]
        rows = con.execute(f"SELECT * FROM main.{quote_ident(table)} ORDER BY ALL").fetchall()
        picture[f"table {table}"] = (tuple(columns), rows)
    for name, sql in con.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' ORDER BY view_name"
    ).fetchall():
        picture[f"view {name}"] = sql
    for name, start, increment in con.execute(
        "SELECT sequence_name, start_value, increment_by FROM duckdb_sequences() WHERE schema_name = 'main' "
        "ORDER BY sequence_name"
    ).fetchall():
        # Not last_value: DuckDB never rolls a sequence back (a refused import uses up an import id,
        # which no table holds; the next import simply gets a higher one).
        picture[f"sequence {name}"] = (start, increment)
    return picture


def snapshot_file(path: Path) -> dict[str, object]:
    """``snapshot`` of a workspace file, opened read-only (and so without migrating it)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return snapshot(con)
    finally:
        con.close()

