"""Spreadsheets from every locale: encoding, delimiter, decimal comma and date order.

Everything is decided from the data itself — the whole file for the encoding, the whole
column for decimal commas (and, in ``parsing.detect_day_first``, for date order) — and the
user is asked only when the data cannot decide, with a message naming the flag that does.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from analysis.errors import ImportValidationError, Problem

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

    from analysis.parsing import StagedFile

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "cp1252", "latin-1")
_CHUNK = 1 << 20
_SAMPLE_CHARS = 256 * 1024


class AmbiguousInputError(ImportValidationError):
    """The data cannot decide how to read it; ``option`` names the ParseOptions field that does.

    Its message ends "say which": each interface adds how, the command line its flags
    (``cli.SAY_WHICH``), the dashboard where its choice for ``option`` is.
    """

    def __init__(self, problem: Problem, option: str):
        super().__init__([problem])
        self.option = option


@dataclass(frozen=True)
class TextLayout:
    """How a CSV file is written: its codec, delimiter and whether an Excel ``sep=`` line comes first."""

    encoding: str  # a Python codec name from ENCODINGS
    delimiter: str
    skip_lines: int = 0  # the lines above the header: blank ones, and Excel's "sep=;" line

    @property
    def description(self) -> str:
        names = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16-le": "UTF-16 (little-endian)",
                 "utf-16-be": "UTF-16 (big-endian)", "cp1252": "Windows-1252", "latin-1": "Latin-1"}
        return f"{names.get(self.encoding, self.encoding)}, {DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))}-separated"


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode text"), else Windows-1252.

    UTF-8 is checked over the whole file (a single accented letter near the end decides);
    ASCII chunks are skipped cheaply.
    """
    with path.open("rb") as handle:
        head = handle.read(4096)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith(codecs.BOM_UTF16_LE):
            return "utf-16-le"
        if head.startswith(codecs.BOM_UTF16_BE):
            return "utf-16-be"
        if len(head) >= 4 and head.count(0) * 4 >= len(head):
            # UTF-16 without a BOM: ASCII characters leave a zero byte in every pair.
            even_zeros = head[0::2].count(0)
            odd_zeros = head[1::2].count(0)
            return "utf-16-be" if even_zeros > odd_zeros else "utf-16-le"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        utf8 = True
        while chunk := handle.read(_CHUNK):
            if chunk.isascii():
                continue
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                utf8 = False
                break
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
        if utf8:
            return "utf-8"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("cp1252")()
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
        except UnicodeDecodeError:
            # Bytes Windows-1252 leaves undefined (Shift-JIS, say): not guessed (Latin-1 reads anything,
            # as garbage); the read refuses the file naming the first such byte's row and column.
            pass
        return "cp1252"


def read_text_sample(path: Path, encoding: str, chars: int = _SAMPLE_CHARS) -> tuple[str, bool]:
    """The first ``chars`` characters of the file, and whether that is the whole file."""
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        text = handle.read(chars)
        complete = handle.read(1) == ""
    return text.lstrip("\ufeff"), complete


def detect_delimiter(sample: str, complete: bool = True) -> str:
    """The delimiter that splits the header and the rows into the same number (> 1) of fields.

    Ties go to the one giving more columns; a file of one column is read as comma-separated.
    """
    best: tuple[float, int] | None = None
    choice = ","
    for delimiter in DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO(sample), delimiter=delimiter, quotechar='"'))
        except csv.Error:
            continue
        if not complete and len(rows) > 1:
            rows = rows[:-1]  # the sample may end in the middle of a row
        rows = [r for r in rows if any(cell.strip() for cell in r)]
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(len(r) == width for r in rows) / len(rows)
        score = (consistent, width)
        if best is None or score > best:
            best, choice = score, delimiter
    return choice


def detect_layout(path: Path, encoding: str | None = None, delimiter: str | None = None) -> TextLayout:
    """Encoding and delimiter of ``path``; given values are used as they are."""
    encoding = encoding or detect_encoding(path)
    sample, complete = read_text_sample(path, encoding)
    lines = sample.split("\n")
    # Blank lines above the header (DuckDB would take the first for the header, and the header for
    # a row) are skipped like Excel's "sep=;" line, which comes next if at all; rows still count them.
    skip = 0
    while skip < len(lines) - 1 and not lines[skip].lstrip("\ufeff").strip():
        skip += 1
    sep_hint = re.fullmatch(r'"?sep=(.)"?', lines[skip].lstrip("\ufeff").strip(), flags=re.IGNORECASE)
    if sep_hint:
        skip += 1
        delimiter = delimiter or sep_hint.group(1)
    if delimiter is None:
        body = "\n".join(lines[skip:]) if skip else sample
        delimiter = detect_delimiter(body, complete)
    return TextLayout(encoding=encoding, delimiter=delimiter, skip_lines=skip)


@contextlib.contextmanager
def utf8_file(path: Path, layout: TextLayout) -> Iterator[Path]:
    """``path`` itself when DuckDB can read it as is (UTF-8), else a streamed UTF-8 copy, removed afterwards."""
    if layout.encoding in ("utf-8", "utf-8-sig") and layout.skip_lines == 0:
        yield path
        return
    fd, name = tempfile.mkstemp(prefix="milestone-lens-", suffix=".csv")
    try:
        with path.open("r", encoding=layout.encoding, errors="strict", newline="") as src, \
                os.fdopen(fd, "w", encoding="utf-8", newline="") as dst:
            for _ in range(layout.skip_lines):
                src.readline()
            first = True
            while chunk := src.read(_CHUNK):
                dst.write(chunk.lstrip("\ufeff") if first else chunk)
                first = False
        yield Path(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


# --- decimal comma --------------------------------------------------------------------

# Values that can only be read one way (amounts never have more than two decimals):
# 12,5  1234,56  1.234,56  1 234,56  1.234.567  -> decimal comma
# 12.50  1,234.50  1 234.50  1,234,567          -> decimal point
# A lone thousands group (1.234 or 1,234) decides nothing: it may as well be a mistyped
# amount with three decimals, which is reported rather than read as thousands.
_GROUP = r"[' \x{00A0}\x{202F}]"  # thousands separators that say nothing about the decimal mark
_COMMA_PROOF = (r"^([0-9]+,[0-9]{1,2}|[0-9]{1,3}(\.[0-9]{3})+,[0-9]{1,2}|[0-9]{1,3}(\.[0-9]{3}){2,}"
                r"|[0-9]{1,3}(" + _GROUP + r"[0-9]{3})+,[0-9]{1,2})$")
_POINT_PROOF = (r"^([0-9]+\.[0-9]{1,2}|[0-9]{1,3}(,[0-9]{3})+\.[0-9]{1,2}|[0-9]{1,3}(,[0-9]{3}){2,}"
                r"|[0-9]{1,3}(" + _GROUP + r"[0-9]{3})+\.[0-9]{1,2})$")


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def detect_decimal_comma(con: duckdb.DuckDBPyConnection, staged: StagedFile, columns: list[str]) -> bool | None:
    """Decide the decimal mark from every value of the given amount columns (normalized names).

    True when some value can only be read with a decimal comma (``1.234,56``, ``12,5``),
    False when some value proves a decimal point (``12.50``, ``1,234.50``), None when no
    value decides (whole numbers read the same either way). Values proving both raise, naming the
    rows and the flag.
    """
    from analysis.parsing import amount_core_sql

    present = [c for c in columns if staged.has(c)]
    if not present:
        return None
    parts = " UNION ALL ".join(
        f"SELECT {staged.row_expr} AS row_no, {_sql_str(staged.columns[c])} AS col, "
        f"{amount_core_sql(staged.col(c))} AS core, {staged.col(c)} AS raw FROM {staged.table} "
        f"WHERE nullif(trim({staged.col(c)}), '') IS NOT NULL"
        for c in present
    )
    row = con.execute(
        f"""WITH v AS ({parts})
            SELECT count(*) FILTER (WHERE regexp_matches(core, {_sql_str(_COMMA_PROOF)})),
                   count(*) FILTER (WHERE regexp_matches(core, {_sql_str(_POINT_PROOF)})),
                   arg_min(row_no, row_no) FILTER (WHERE regexp_matches(core, {_sql_str(_COMMA_PROOF)})),
                   arg_min(col, row_no) FILTER (WHERE regexp_matches(core, {_sql_str(_COMMA_PROOF)})),
                   arg_min(raw, row_no) FILTER (WHERE regexp_matches(core, {_sql_str(_COMMA_PROOF)})),
                   arg_min(row_no, row_no) FILTER (WHERE regexp_matches(core, {_sql_str(_POINT_PROOF)})),
                   arg_min(col, row_no) FILTER (WHERE regexp_matches(core, {_sql_str(_POINT_PROOF)})),
                   arg_min(raw, row_no) FILTER (WHERE regexp_matches(core, {_sql_str(_POINT_PROOF)}))
            FROM v"""
    ).fetchone()
    commas, points, c_row, c_col, c_raw, p_row, p_col, p_raw = row
    if commas and points:
        later = max((c_row, c_col, c_raw, "decimal comma"), (p_row, p_col, p_raw, "decimal point"))
        earlier = min((c_row, c_col, c_raw, "decimal comma"), (p_row, p_col, p_raw, "decimal point"))
        raise AmbiguousInputError(Problem(
            staged.display, int(later[0]), later[1],
            f"'{later[2]}' is written with a {later[3]} but row {earlier[0]} ('{earlier[2]}') with a "
            f"{earlier[3]}; fix the file, or say which",
        ), "decimal_comma")
    if commas:
        return True
    if points:
        return False
    return None


def decimal_mark_sql(expr: str) -> str:
    """SQL: the amount text ``expr`` could tell a decimal comma from a decimal point. Cheap
    (a million-row column in a fraction of the regex scan): without a comma, or two dots, in
    any value, nothing can prove a decimal comma or contradict a point."""
    return f"(contains({expr}, ',') OR {expr} LIKE '%.%.%')"


def resolve_decimal_comma(con: duckdb.DuckDBPyConnection, staged: StagedFile, given: bool | None, columns: list[str]) -> bool:
    """The user's choice when given, else what the data proves (a decimal point when nothing does)."""
    if given is not None:
        return given
    present = [c for c in columns if staged.has(c)]
    if not present:
        return False
    tests = " OR ".join(decimal_mark_sql(staged.col(c)) for c in present)
    could = con.execute(f"SELECT bool_or({tests}) FROM {staged.table}").fetchone()[0]
    if not could:
        return False
    return bool(detect_decimal_comma(con, staged, columns))


def resolve_day_first(con: duckdb.DuckDBPyConnection, staged: StagedFile, given: bool | None, columns: list[str]) -> bool | None:
    """The user's day/month order when given, else what the whole of the date columns prove."""
    if given is not None:
        return given
    from analysis.parsing import detect_day_first

    return detect_day_first(con, staged, columns)
