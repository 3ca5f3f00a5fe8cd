"""Uploaded CSV files: checked (preview, detected format, dry-run import) before anything is
written, then imported all together or not at all.

Uploads are written to a private temporary directory under generated names (``upload-1.csv``
…); the names the user's files had are only ever shown and logged as text, never used as
paths. No Streamlit here: the Data page calls these with its workspace cursor.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb
import pandas as pd

from analysis import importing
from analysis.errors import ImportValidationError, UserError
from analysis.importing import ImportSummary, import_files
from analysis.locale import AmbiguousInputError
from analysis.parsing import ParseOptions, stage_csv

PREVIEW_ROWS = 5


class Upload(Protocol):
    """What ``st.file_uploader`` hands over (``UploadedFile``): a name and the bytes."""

    name: str

    def getvalue(self) -> bytes: ...


@dataclass
class FilePreview:
    """One uploaded file as read: its detected format, size and first rows (or why it cannot be read)."""

    name: str
    format: str | None = None
    rows: int = 0
    head: pd.DataFrame | None = None
    problem: str | None = None


@dataclass
class UploadCheck:
    """The dry run of an upload: what it would import, or every problem found (nothing written)."""

    files: list[FilePreview] = field(default_factory=list)
    summary: ImportSummary | None = None
    problems: pd.DataFrame | None = None
    error: str | None = None
    #: The ``ParseOptions`` field the user must choose (``day_first``, ``decimal_comma``) when the data cannot decide.
    ambiguous_option: str | None = None


def display_name(name: str) -> str:
    """The uploaded file's own name, as text for messages: no folders, no control characters."""
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip()
    return base[:120] or "upload.csv"


def write_uploads(files: Sequence[Upload], directory: Path) -> tuple[list[Path], list[str]]:
    """Write uploaded files as ``upload-1.csv``, ``upload-2.csv`` … and return paths and display names."""
    paths, names = [], []
    for index, uploaded in enumerate(files, start=1):
        path = directory / f"upload-{index}.csv"
        path.write_bytes(uploaded.getvalue())
        paths.append(path)
        names.append(display_name(uploaded.name))
    return paths, names


def preview_file(con: duckdb.DuckDBPyConnection, path: Path, name: str, options: ParseOptions, index: int) -> FilePreview:
    """Read one file as text and detect its format, without importing anything."""
    table = f"preview_{int(index)}"
    try:
        staged = stage_csv(con, path, table, name, options)
        head = con.execute(f"SELECT * FROM {table} ORDER BY rowid LIMIT {PREVIEW_ROWS}").df()
        return FilePreview(name, importing.detect_format(staged), staged.rows, head)
    except UserError as exc:
        return FilePreview(name, problem=str(exc))
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def problems_frame(error: ImportValidationError) -> pd.DataFrame:
    """Every problem of a refused import, one row each (file, row, column, message), in file and row order."""
    frame = pd.DataFrame([asdict(p) for p in error.problems], columns=["file", "row", "column", "message"])
    frame["row"] = frame["row"].astype("Int64")
    file_order = {name: i for i, name in enumerate(dict.fromkeys(frame["file"]))}
    frame["_order"] = frame["file"].map(file_order)
    frame = frame.sort_values(["_order", "row"], na_position="first", kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)


def check_upload(con: duckdb.DuckDBPyConnection, files: Sequence[Upload], fmt: str = "auto",
                 source: str | None = None, options: ParseOptions | None = None) -> UploadCheck:
    """Preview every file and dry-run the import of all of them together; the workspace is not changed."""
    options = options or ParseOptions()
    check = UploadCheck()
    with tempfile.TemporaryDirectory(prefix="milestone-lens-upload-") as tmp:
        paths, names = write_uploads(files, Path(tmp))
        check.files = [preview_file(con, p, n, options, i) for i, (p, n) in enumerate(zip(paths, names))]
        try:
            check.summary = import_files(con, paths, fmt=fmt, source=source, options=options,
                                         display_names=names, dry_run=True)
        except AmbiguousInputError as exc:
            check.ambiguous_option = exc.option
            check.problems = problems_frame(exc)
        except ImportValidationError as exc:
            check.problems = problems_frame(exc)
        except UserError as exc:
            check.error = str(exc)
    return check


def run_import(con: duckdb.DuckDBPyConnection, files: Sequence[Upload], fmt: str = "auto",
               source: str | None = None, options: ParseOptions | None = None) -> ImportSummary:
    """Import the uploaded files for real, in one transaction (all or nothing)."""
    with tempfile.TemporaryDirectory(prefix="milestone-lens-upload-") as tmp:
        paths, names = write_uploads(files, Path(tmp))
        return import_files(con, paths, fmt=fmt, source=source, options=options or ParseOptions(),
                            display_names=names)


def summary_frame(summary: ImportSummary) -> pd.DataFrame:
    """New and updated rows per table, as a two-row table."""
    rows = [{"": "new", **summary.imported}, {"": "updated", **summary.updated}]
    return pd.DataFrame(rows, columns=["", "contracts", "milestones", "payments"])
