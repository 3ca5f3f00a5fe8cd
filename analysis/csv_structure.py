"""Why a file is not a readable CSV, said by row and column.

DuckDB's CSV reader is fast but, when a file is broken, answers with a multi-line sniffer
report ("It was not possible to automatically detect the CSV parsing dialect") that names
neither the row nor the column. The checks here run before DuckDB reads a file (cheap ones:
binary content, the header) and after it refuses one (``diagnose``, a streaming pass with
Python's ``csv`` module), so every broken file is answered with one line a person can act on:
``orders.csv, row 3, column status: a quoted value starts here and is never closed``.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from analysis.errors import Problem, single_problem
from analysis.locale import TextLayout, read_text_sample
from analysis.parsing import normalize_header

#: More columns than this is not a contract history (DuckDB needs a minute for 100,000 of them).
MAX_COLUMNS = 1000
#: Longest row (in characters) read; DuckDB's own limit (``max_line_size``) is 2,000,000 bytes.
MAX_ROW_CHARS = 2_000_000
_CHUNK = 1 << 20
_BINARY_SAMPLE = 64 * 1024
#: Share of control characters (other than tab, CR, LF) above which a file is not text.
_CONTROL_SHARE = 0.01
_CONTROL_BYTES = bytes([*range(1, 9), 11, 12, *range(14, 32), 127])  # NUL has its own message

# File signatures of what people upload instead of a CSV, and what to do about it.
_SIGNATURES: tuple[tuple[int, bytes, str, str], ...] = (
    (0, b"PK\x03\x04", "an Excel workbook (.xlsx) or a ZIP archive", "open it in a spreadsheet and save it as CSV"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel workbook (.xls)", "open it in a spreadsheet and save it as CSV"),
    (0, b"%PDF", "a PDF document", "export the data as CSV instead"),
    (0, b"\x1f\x8b", "a gzip-compressed file", "decompress it first"),
    (0, b"\x89PNG", "a PNG image", "choose the CSV export"),
    (0, b"\xff\xd8\xff", "a JPEG image", "choose the CSV export"),
    (0, b"SQLite format 3\x00", "an SQLite database", "export its tables as CSV"),
    (0, b"PAR1", "a Parquet file", "use milestone-lens import-parquet"),
    (8, b"DUCK", "a DuckDB database (a workspace?)", "open it with --db instead"),
)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
#: Text files that are not CSV, by how they start (after a BOM and blank space), and what to do about it.
_TEXT_FORMATS: tuple[tuple[re.Pattern, str, str], ...] = (
    (re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<\?xml[^>]*>\s*(<!--.*?-->\s*)*<(!doctype\s+)?html", re.I | re.S),
     "an HTML page (a web page saved under a .csv name: a login or error page, perhaps)",
     "download the CSV export again, or save the page's table as CSV"),
    (re.compile(r"<\?xml\s", re.I), "an XML document", "export the data as CSV instead"),
    # An object with a key, or an array of values: no CSV header starts so.
    (re.compile(r"\{\s*(\"|\})|\[\s*(\{|\[|\"|\]|-?[0-9]|true\b|false\b|null\b)"),
     "a JSON document", "export the data as CSV instead, or convert the JSON to CSV"),
)


def _text_start(head: bytes) -> str:
    """The start of the file as text, without a BOM and leading blank space (for ``_TEXT_FORMATS``)."""
    codec = "utf-16" if head.startswith(_UTF16_BOMS) else "utf-16-le" if _looks_utf16(head) and head[1:2] == b"\x00" \
        else "utf-16-be" if _looks_utf16(head) else "latin-1"
    return head[:4096].decode(codec, errors="ignore").lstrip("\ufeff\u00ef\u00bb\u00bf \t\r\n")


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 (with or without a BOM) has zero bytes by design; ``locale.detect_encoding`` decides the same way."""
    return head.startswith(_UTF16_BOMS) or (len(head) >= 4 and head.count(0) * 4 >= len(head))


def binary_problem(path: Path, display: str) -> Problem | None:
    """A problem when ``path`` is a binary file (a workbook, an image, a database, random bytes) or holds NUL bytes."""
    with path.open("rb") as handle:
        head = handle.read(_BINARY_SAMPLE)
        for offset, signature, what, advice in _SIGNATURES:
            if head[offset:offset + len(signature)] == signature:
                if signature == b"PAR1":
                    advice = _parquet_advice(path)
                return Problem(display, None, None, f"is {what}, not a CSV text file: {advice}")
        text = _text_start(head)
        for pattern, what, advice in _TEXT_FORMATS:
            if pattern.match(text):
                return Problem(display, None, None, f"is {what}, not a CSV text file: {advice}")
        if _looks_utf16(head):
            return None
        controls = sum(head.count(b) for b in _CONTROL_BYTES)
        if controls >= 8 and controls > _CONTROL_SHARE * len(head):
            return Problem(display, None, None,
                           f"is not text ({controls:,} control characters in its first {len(head):,} bytes): "
                           "a binary file, not a CSV export")
        # A NUL anywhere (a damaged or padded file): found by memchr over the whole file, cheap. The
        # lines before it are counted only when there is one (counting every chunk's newlines doubled the cost).
        handle.seek(0)
        offset = 0
        while chunk := handle.read(_CHUNK):
            at = chunk.find(b"\x00")
            if at >= 0:
                handle.seek(0)
                newlines = chunk.count(b"\n", 0, at)
                for _ in range(offset // _CHUNK):  # every earlier chunk was a whole _CHUNK
                    newlines += handle.read(_CHUNK).count(b"\n")
                line_start = chunk.rfind(b"\n", 0, at) + 1
                prefix = chunk[line_start:at].decode("latin-1") if line_start else None
                return _nul_problem(path, display, newlines + 1, prefix)
            offset += len(chunk)
    return None


def _parquet_advice(path: Path) -> str:
    """What to do with a Parquet file given to ``import``: ``import-parquet`` with its dataset's folder."""
    from analysis.parquet_store import MARKER, dataset_root  # loads DuckDB's Parquet side only here

    root = dataset_root(path.parent)
    if root is not None:
        return f"it belongs to the dataset {root}: use milestone-lens import-parquet {root}"
    return f"use milestone-lens import-parquet with the dataset folder export-parquet wrote (it holds {MARKER})"


def _nul_problem(path: Path, display: str, line_no: int, prefix: str | None) -> Problem:
    header = _header_names(path)
    column = None
    if prefix is not None and header:
        column = _column_name(header, _field_index(prefix, _guess_delimiter(path)))
    return Problem(display, line_no, column, "holds a NUL byte (\\x00): the file is damaged or binary, not CSV text",
                   physical_line=True)


def _guess_delimiter(path: Path) -> str:
    with path.open("rb") as handle:
        line = handle.readline(64 * 1024).decode("latin-1")
    return max((",", ";", "\t", "|"), key=line.count)


def _header_names(path: Path, delimiter: str | None = None, encoding: str = "utf-8") -> list[str]:
    """The first line's names, read leniently (for naming a column in a message)."""
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        line = handle.readline(64 * 1024).lstrip("\ufeff").rstrip("\r\n")
        if line.strip('"').lower().startswith("sep=") and len(line.strip('"')) == 5:
            line = handle.readline(64 * 1024).rstrip("\r\n")
    line = line.replace("\x00", "")
    try:
        return next(csv.reader([line], delimiter=delimiter or _guess_delimiter(path)), [])
    except csv.Error:
        return []


def _field_index(prefix: str, delimiter: str) -> int:
    """Which value (0-based) of a row the end of ``prefix`` (the row's text so far) is in."""
    if not prefix:
        return 0  # nothing read of the row yet: its first value
    try:
        return len(next(csv.reader([prefix], delimiter=delimiter), [""])) - 1
    except csv.Error:
        return prefix.count(delimiter)


def _column_name(header: list[str], position: int) -> str:
    """The header's name for value ``position`` (0-based), or its number when the header has no name there."""
    if 0 <= position < len(header) and header[position].strip():
        return header[position].strip().lstrip("\ufeff")
    return f"{position + 1}"


def _text_lines(path: Path, layout: TextLayout) -> Iterator[str]:
    with path.open("r", encoding=layout.encoding, errors="replace", newline="") as handle:
        for _ in range(layout.skip_lines):
            handle.readline(MAX_ROW_CHARS)
        while line := handle.readline(MAX_ROW_CHARS + 1):
            yield line


def check_header(path: Path, layout: TextLayout, display: str) -> list[str]:
    """The header's names, before DuckDB reads the file; raises when there is no header, when it
    has more than ``MAX_COLUMNS`` columns, or when a name appears twice."""
    sample, complete = read_text_sample(path, layout.encoding)
    lines = sample.splitlines(keepends=True)[layout.skip_lines:]
    body = "".join(lines)
    if not body.strip():
        raise single_problem(display, None, None, "the file is empty")
    try:
        header = next(csv.reader(io.StringIO(body.lstrip("\r\n")), delimiter=layout.delimiter, quotechar='"'))
    except (csv.Error, StopIteration):
        return []  # a quoting problem: DuckDB refuses the file and ``diagnose`` names it
    first_row = 1 + layout.skip_lines
    if len(header) > MAX_COLUMNS:
        more = "" if complete or "\n" in body or "\r" in body else " or more"
        raise single_problem(
            display, first_row, _column_name(header, MAX_COLUMNS),
            f"the header has {len(header):,}{more} columns; at most {MAX_COLUMNS:,} can be read (is this the right file?)",
        )
    seen: dict[str, str] = {}
    for name in header:
        key = normalize_header(name)
        if not key:
            continue
        if key in seen:
            raise single_problem(display, first_row, name.strip(),
                                 f"the header names '{key}' twice ('{seen[key].strip()}' and '{name.strip()}'); "
                                 "rename or remove one")
        seen[key] = name
    return header


def diagnose(path: Path, layout: TextLayout, display: str) -> Problem | None:
    """The first thing that makes ``path`` unreadable as CSV, by row and column, or None when nothing is found.

    Rows are counted the way ``StagedFile.row_expr`` counts them (the header is row 1, blank
    lines are skipped, an Excel ``sep=`` line counts); one streaming pass, so a 1 GB file
    costs time but not memory.
    """
    problem = _decoding_problem(path, layout, display)
    if problem is not None:
        return problem
    limit = csv.field_size_limit()
    csv.field_size_limit(MAX_ROW_CHARS)
    try:
        return _structure_problem(path, layout, display)
    finally:
        csv.field_size_limit(limit)


def _decoding_problem(path: Path, layout: TextLayout, display: str) -> Problem | None:
    """Where the bytes stop being ``layout.encoding`` text: the row and column of the first bad byte."""
    decoder_class = codecs.getincrementaldecoder(layout.encoding)
    decoder = decoder_class(errors="strict")
    lines = 0  # line breaks decoded so far
    tail = ""  # the text of the current line so far (bounded)
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                good = decoder_class(errors="replace").decode(exc.object[:exc.start], final=False)
                lines += good.count("\n")
                tail = (tail + good).rsplit("\n", 1)[-1]
                bad = exc.object[exc.start:exc.end]
                column = None
                if lines > 0:
                    header = _header_names(path, layout.delimiter, layout.encoding)
                    if header:
                        column = _column_name(header, _field_index(tail.lstrip("\ufeff"), layout.delimiter))
                return Problem(display, lines + 1, column,
                               f"byte{'s' if len(bad) > 1 else ''} {bad.hex(' ')} {'are' if len(bad) > 1 else 'is'} not "
                               f"valid {_encoding_name(layout.encoding)} text ({exc.reason}); save the file again as UTF-8",
                               physical_line=True)
            if not chunk:
                return None
            lines += text.count("\n")
            tail = (tail + text).rsplit("\n", 1)[-1][-MAX_ROW_CHARS:]


def _encoding_name(encoding: str) -> str:
    return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16",
            "cp1252": "Windows-1252", "latin-1": "Latin-1"}.get(encoding, encoding)


class _Lines:
    """Lines of a text file for ``csv.reader``, remembering where each record starts and ends."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines
        self.line_no = 0  # physical lines read so far
        self.last = ""
        self.too_long = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.line_no += 1
        self.last = line
        if len(line) > MAX_ROW_CHARS:
            self.too_long = True
            raise StopIteration
        return line


def _terminator(line: str) -> str:
    if line.endswith("\r\n"):
        return "CR LF"
    if line.endswith("\n"):
        return "LF"
    if line.endswith("\r"):
        return "CR"
    return ""


def _is_blank(record: list[str], after_header: bool) -> bool:
    """A record DuckDB skips: an empty line (or, below the header, a line of one empty cell)."""
    return not record or (len(record) == 1 and not record[0] and after_header)


def blank_rows(path: Path, layout: TextLayout) -> list[int]:
    """The rows of ``path`` that are blank lines, as a spreadsheet numbers them (header row 1, a
    ``sep=`` line counted): DuckDB skips those lines, so the rows it numbers come before them.
    One streaming pass, only when a refused import names rows (``importing``)."""
    lines = _Lines(_text_lines(path, layout))
    reader = csv.reader(lines, delimiter=layout.delimiter, quotechar='"', doublequote=True)
    row, blanks, header = layout.skip_lines, [], False
    try:
        for record in reader:
            row += 1
            if _is_blank(record, header):
                blanks.append(row)
            header = header or bool(record)
    except csv.Error:
        pass  # the rows up to an unreadable one are what a message before it can need
    return blanks


def _structure_problem(path: Path, layout: TextLayout, display: str) -> Problem | None:
    lines = _Lines(_text_lines(path, layout))
    reader = csv.reader(lines, delimiter=layout.delimiter, quotechar='"', doublequote=True, strict=True)
    row = layout.skip_lines  # the row number of the last record read, as a spreadsheet shows it
    header: list[str] | None = None
    header_end = ""
    while True:
        start_line = lines.line_no + 1
        try:
            record = next(reader)
        except StopIteration:
            if lines.too_long:
                return _long_row_problem(display, row + 1, header, lines.last, layout.delimiter)
            return None
        except csv.Error as exc:
            return _quoting_problem(path, layout, display, row + 1, start_line, header, str(exc))
        if _is_blank(record, header is not None):
            continue  # DuckDB skips it too
        row += 1
        ending = _terminator(lines.last)
        if header is None:
            header = [h.lstrip("\ufeff") for h in record]
            header_end = ending
            continue
        if len(record) != len(header):
            cut = "" if ending else "; the file ends in the middle of this row (cut short?)"
            if len(record) > len(header):
                return Problem(display, row, _column_name(header, len(header)),
                               f"this row has {len(record)} values but the header names {len(header)} columns "
                               f"(a delimiter inside an unquoted value?){cut}")
            return Problem(display, row, _column_name(header, len(record)),
                           f"this row has {len(record)} value{'s' if len(record) != 1 else ''} but the header names "
                           f"{len(header)} columns{cut}")
        if ending and header_end and ending != header_end and "CR" in (ending, header_end) and ending != "LF":
            return Problem(display, row, None,
                           f"this row ends with a {ending} line break while the header ends with {header_end}; "
                           "save the file again so that every line ends the same way")


def _long_row_problem(display: str, row: int, header: list[str] | None, start: str, delimiter: str) -> Problem:
    position = _field_index(start[:MAX_ROW_CHARS], delimiter)
    column = _column_name(header, position) if header else None
    what = "the header" if header is None else "this row"
    return Problem(display, row, column,
                   f"{what} is longer than {MAX_ROW_CHARS:,} characters; is this a CSV export?")


def _quoting_problem(path: Path, layout: TextLayout, display: str, row: int, start_line: int,
                     header: list[str] | None, reason: str) -> Problem:
    """Read the record that starts on ``start_line`` by hand: which value's quote is never closed, or
    what follows a closing quote."""
    delimiter = layout.delimiter
    text = []
    size = 0
    for number, line in enumerate(_text_lines(path, layout), start=1):
        if number < start_line:
            continue
        text.append(line)
        size += len(line)
        if size > MAX_ROW_CHARS:
            break
    record = "".join(text)[:MAX_ROW_CHARS]
    field = 0
    quoted = False
    at_start = True
    opened_at = 0
    i = 0
    while i < len(record):
        ch = record[i]
        if quoted:
            if ch == '"':
                if record[i + 1:i + 2] == '"':
                    i += 2
                    continue
                quoted = False
                nxt = record[i + 1:i + 2]
                if nxt not in ("", delimiter, "\r", "\n"):
                    return Problem(display, row, _name(header, field),
                                   f"a quoted value is followed by {nxt!r} before the next {_delimiter_name(delimiter)}; "
                                   'a quote inside a value must be doubled ("")')
        elif ch == '"' and at_start:
            quoted, opened_at = True, i
        elif ch == delimiter:
            field += 1
            at_start = True
            i += 1
            continue
        elif ch in "\r\n":
            break
        at_start = False
        i += 1
    if quoted:
        lines_spanned = record.count("\n", opened_at)
        where = "and is never closed" if len("".join(text)) <= MAX_ROW_CHARS else \
            f"and runs on for more than {MAX_ROW_CHARS:,} characters"
        return Problem(display, row, _name(header, field),
                       f"a quoted value starts here {where} (a missing closing quote?"
                       f"{f' it swallows the {lines_spanned} lines after it' if lines_spanned > 1 else ''})")
    return Problem(display, row, None, f"cannot be read as CSV ({reason})")


def _name(header: list[str] | None, position: int) -> str | None:
    return _column_name(header, position) if header else None


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(delimiter, repr(delimiter))
