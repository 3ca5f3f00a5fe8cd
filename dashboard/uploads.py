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
from analysis.errors import ImportValidationError, Problem, UserError
from analysis.importing import ImportSummary, import_files
from analysis.locale import AmbiguousInputError
from analysis.mapping import VALUE_FIELDS, ColumnMapping, ColumnPreview, inspect_file
from analysis.parsing import ParseOptions, quote_ident, stage_csv

PREVIEW_ROWS = 5
#: What the mapping table says for a column that feeds no field.
NOT_IMPORTED = "(not imported)"
#: Columns with at most this many distinct words get a translation table (status words …).
MAX_WORDS = 25


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
    #: ``problem`` as the import names it (file, row, column), for the upload's table of problems.
    problems: list[Problem] = field(default_factory=list)
    #: For a file no reader recognises: its columns with sample values, a suggested mapping, and
    #: the distinct words of each column that has few of them (for translating status words).
    columns: list[ColumnPreview] | None = None
    suggestion: ColumnMapping | None = None
    words: dict[str, list[str]] = field(default_factory=dict)

    @property
    def needs_mapping(self) -> bool:
        return self.problem is None and self.format is None


@dataclass
class UploadCheck:
    """The dry run of an upload: what it would import, or every problem found (nothing written)."""

    files: list[FilePreview] = field(default_factory=list)
    mapping: ColumnMapping | None = None
    summary: ImportSummary | None = None
    problems: pd.DataFrame | None = None
    #: How many problems there are: those listed in ``problems`` and those their checks counted but did not list.
    problem_count: int = 0
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
        # ``getbuffer`` (an UploadedFile is a BytesIO) is a view of the bytes Streamlit already holds:
        # writing it does not copy a large upload once more in memory. DuckDB then streams the file.
        view = uploaded.getbuffer() if hasattr(uploaded, "getbuffer") else uploaded.getvalue()
        with path.open("wb") as out:
            out.write(view)
        if isinstance(view, memoryview):
            view.release()
        paths.append(path)
        names.append(display_name(uploaded.name))
    return paths, names


def preview_file(con: duckdb.DuckDBPyConnection, path: Path, name: str, options: ParseOptions, index: int) -> FilePreview:
    """Read one file as text and detect its format, without importing anything."""
    table = f"preview_{int(index)}"
    try:
        staged = stage_csv(con, path, table, name, options)
        head = con.execute(f"SELECT * FROM {table} ORDER BY rowid LIMIT {PREVIEW_ROWS}").df()
        preview = FilePreview(name, importing.detect_format(staged), staged.rows, head)
        if preview.needs_mapping:
            inspection = inspect_file(path, name, options)
            preview.columns, preview.suggestion = inspection.columns, inspection.suggestion
            preview.words = few_words(con, table, list(staged.columns.values()))
        return preview
    except UserError as exc:
        return FilePreview(name, problem=str(exc), problems=list(getattr(exc, "problems", [])))
    finally:
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def few_words(con: duckdb.DuckDBPyConnection, table: str, headers: list[str]) -> dict[str, list[str]]:
    """Per column, its distinct trimmed values when there are at most ``MAX_WORDS`` of them (one scan)."""
    if not headers:
        return {}
    lists = ", ".join(
        f"list(DISTINCT nullif(trim({quote_ident(h)}), '')) FILTER (WHERE nullif(trim({quote_ident(h)}), '') IS NOT NULL)"
        for h in headers
    )
    row = con.execute(f"SELECT {lists} FROM {table}").fetchone()
    return {h: sorted(values) for h, values in zip(headers, row) if values and len(values) <= MAX_WORDS}


def problems_frame(error: ImportValidationError, previews: Sequence[FilePreview] = ()) -> pd.DataFrame:
    """Every problem of a refused import, one row each (file, row, column, message), in the order
    ``ImportValidationError`` keeps them: file by file, top to bottom. An import stops at the first
    file it cannot read at all; the ``previews`` of the files after it add theirs."""
    named = {p.file for p in error.problems}
    problems = [*error.problems, *(p for f in previews for p in f.problems if p.file not in named)]
    order = {f.name: i for i, f in enumerate(previews)}
    problems.sort(key=lambda p: order.get(p.file, -1))  # stable: each file's own order kept
    frame = pd.DataFrame([asdict(p) for p in problems], columns=["file", "row", "column", "message"])
    frame["row"] = frame["row"].astype("Int64")
    return frame


def check_upload(con: duckdb.DuckDBPyConnection, files: Sequence[Upload], fmt: str = "auto",
                 source: str | None = None, options: ParseOptions | None = None,
                 mapping: ColumnMapping | None = None) -> UploadCheck:
    """Preview every file and dry-run the import of all of them together; the workspace is not changed.

    Files no reader recognises need a ``mapping``: without one, the check stops after the
    previews (``needs_mapping``) instead of reporting the unknown header as an error.
    """
    options = options or ParseOptions()
    check = UploadCheck(mapping=mapping)
    with tempfile.TemporaryDirectory(prefix="milestone-lens-upload-") as tmp:
        paths, names = write_uploads(files, Path(tmp))
        check.files = [preview_file(con, p, n, options, i) for i, (p, n) in enumerate(zip(paths, names))]
        if mapping is None and fmt == "auto" and any(f.needs_mapping for f in check.files):
            return check
        try:
            check.summary = import_files(con, paths, fmt=fmt, source=source, options=options,
                                         display_names=names, dry_run=True, mapping=mapping)
        except AmbiguousInputError as exc:
            check.ambiguous_option = exc.option
            check.problems = problems_frame(exc)
            check.problem_count = exc.total
        except ImportValidationError as exc:
            check.problems = problems_frame(exc, check.files)
            # the previews of files after the one the import stopped at add theirs to the table
            check.problem_count = exc.total + len(check.problems) - len(exc.problems)
        except UserError as exc:
            check.error = str(exc)
    return check


def run_import(con: duckdb.DuckDBPyConnection, files: Sequence[Upload], fmt: str = "auto",
               source: str | None = None, options: ParseOptions | None = None,
               mapping: ColumnMapping | None = None) -> ImportSummary:
    """Import the uploaded files for real, in one transaction (all or nothing)."""
    with tempfile.TemporaryDirectory(prefix="milestone-lens-upload-") as tmp:
        paths, names = write_uploads(files, Path(tmp))
        return import_files(con, paths, fmt=fmt, source=source, options=options or ParseOptions(),
                            display_names=names, mapping=mapping)


def summary_frame(summary: ImportSummary) -> pd.DataFrame:
    """New and updated rows per table, as a two-row table."""
    rows = [{"": "new", **summary.imported}, {"": "updated", **summary.updated}]
    return pd.DataFrame(rows, columns=["", "contracts", "milestones", "payments"])


# --- the column mapping step ---------------------------------------------------------------------

def mapping_frame(preview: FilePreview) -> pd.DataFrame:
    """One row per column of an unrecognised file: header, what its values look like, samples,
    and the template field suggested for it (or ``NOT_IMPORTED``) — the table the user edits."""
    chosen = {header: target for target, header in (preview.suggestion.fields if preview.suggestion else {}).items()}
    return pd.DataFrame(
        [{"column": c.name, "looks like": c.looks_like, "samples": " · ".join(c.samples[:3]),
          "field": chosen.get(c.name, NOT_IMPORTED)} for c in preview.columns or []],
        columns=["column", "looks like", "samples", "field"],
    )


def mapping_from_frame(frame: pd.DataFrame, name: str = "", defaults: dict[str, str] | None = None,
                       values: dict[str, dict[str, str]] | None = None, day_first: bool | None = None,
                       decimal_comma: bool | None = None) -> ColumnMapping:
    """The ``ColumnMapping`` an edited mapping table describes; a field chosen twice is refused."""
    fields: dict[str, str] = {}
    for column, target in zip(frame["column"], frame["field"]):
        if not isinstance(target, str) or not target or target == NOT_IMPORTED:
            continue
        if target in fields:
            raise UserError(f"'{target}' is chosen for two columns ('{fields[target]}' and '{column}'); keep one")
        fields[target] = str(column)
    return ColumnMapping(
        name=name.strip(), fields=fields, day_first=day_first, decimal_comma=decimal_comma,
        defaults={k: v.strip() for k, v in (defaults or {}).items() if v and v.strip()},
        values={k: {word: meaning for word, meaning in v.items() if meaning} for k, v in (values or {}).items()
                if any(v.values())},
    )


def words_to_translate(preview: FilePreview, mapping: ColumnMapping) -> dict[str, list[str]]:
    """For each mapped field with fixed words (status, contract_type, milestone_status): the file's
    words that are not already one of them."""
    out = {}
    for target, allowed in VALUE_FIELDS.items():
        header = mapping.fields.get(target)
        if header is None:
            continue
        unknown = [w for w in preview.words.get(header, []) if w.lower() not in allowed]
        if unknown:
            out[target] = unknown
    return out
