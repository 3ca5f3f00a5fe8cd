"""``milestone-lens export-parquet DIR`` and ``milestone-lens import-parquet DIR``.

The workspace as a Parquet dataset hive-partitioned by contract start year (see
``analysis.parquet_store``): to hand a history to other tools, to move it between machines,
or to analyse more data than fits in memory.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis import parquet_store
from analysis.cli import command, print_summary, workspace_to_read, workspace_to_write


def _configure_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, metavar="DIR", help="folder to write the dataset to (new or empty)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset in DIR")
    p.add_argument("--json", action="store_true", help="print a JSON document")


@command("export-parquet", _configure_export)
def run_export_parquet(args: argparse.Namespace) -> int:
    """Write the workspace to a Parquet dataset partitioned by start year."""
    with workspace_to_read(args, "no workspace to export; import a history first") as con:
        summary = parquet_store.export_parquet(con, args.dir, overwrite=args.overwrite)
    print_summary(args, summary)
    return 0


def _configure_import(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, metavar="DIR", help="a dataset written by export-parquet")
    p.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    p.add_argument("--json", action="store_true", help="print a JSON document")


@command("import-parquet", _configure_import)
def run_import_parquet(args: argparse.Namespace) -> int:
    """Import a Parquet dataset written by export-parquet (all of it or nothing)."""
    parquet_store.read_manifest(args.dir)  # a clear error before the workspace is opened
    with workspace_to_write(args, keep_if_new=not args.dry_run) as con:
        summary = parquet_store.import_parquet(con, args.dir, dry_run=args.dry_run)
    print_summary(args, summary)
    return 0
