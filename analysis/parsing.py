"""Reading CSV files into DuckDB and turning their text cells into typed values, in SQL.

Files are read by DuckDB's own CSV reader as text (every column ``VARCHAR``) into a
temporary staging table; typed values are then produced by the SQL expressions below, so
that a cell which does not parse can be reported by file, row and column instead of
failing the whole read with a reader error. A reader may first type a file in one pass
straight from the reader (``stage_csv(lazy=True)``) and stage it only when some cell needs
the text (``materialize``): see ``canonical``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from analysis.errors import ROW_MARK, ImportValidationError, Problem, single_problem, with_unlisted
from analysis.locale import AmbiguousInputError, TextLayout

# Date formats that are never ambiguous, tried in order.
TEXT_DATE_FORMATS = (
    "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ",
    "%Y/%m/%d", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%d %b %Y", "%d %B %Y", "%d-%b-%Y",
    "%d %b %Y %H:%M", "%d %b %Y %H:%M:%S", "%b %d, %Y %H:%M", "%Y%m%d",
)
DAY_FIRST_FORMATS = ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%y", "%d.%m.%y", "%d/%m/%Y %H:%M", "%d.%m.%Y %H:%M")
MONTH_FIRST_FORMATS = ("%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p")
# A numeric date whose day/month order must be known: 05/11/2024, 5.11.24 ...
NUMERIC_DATE_RE = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})(\s.*)?$"
#: Dates outside [from, to) are refused as implausible (a year 9999 or 0001 is a typo or a placeholder).
PLAUSIBLE_DATES = ("1970-01-01", "2100-01-01")

_SP = r"\s\x{00A0}\x{202F}"  # spaces, including the no-break spaces spreadsheets write


@dataclass(frozen=True)
class ParseOptions:
    """How ambiguous cells are read. ``None`` means: decide from the data or refuse."""

    day_first: bool | None = None
    decimal_comma: bool | None = None
    encoding: str | None = None  # a Python codec name; None: detect (UTF-8, UTF-16, Windows-1252)
    delimiter: str | None = None  # None: detect (comma, semicolon, tab, pipe)


def _sql_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in items) + "]"


def date_sql(expr: str, day_first: bool | None) -> str:
    """DuckDB expression turning the text ``expr`` into a DATE (NULL when it does not parse)."""
    return f"CAST({timestamp_sql(expr, day_first)} AS DATE)"


def timestamp_sql(expr: str, day_first: bool | None, plausible: bool = True) -> str:
    """Like ``date_sql`` but keeps the time of day (``06 Jan 2026 23:52``) as a TIMESTAMP."""
    formats = TEXT_DATE_FORMATS
    if day_first is True:
        formats = formats + DAY_FIRST_FORMATS
    elif day_first is False:
        formats = formats + MONTH_FIRST_FORMATS
    parsed = f"try_strptime(nullif(trim({expr}), ''), {_sql_list(formats)})"
    if not plausible:
        return parsed
    low, high = PLAUSIBLE_DATES
    # Dates outside the plausible years read as NULL, so every reader refuses 9999-12-31 where it
    # refuses text that is no date. DuckDB parses the repeated expression once (no cost on 1M rows).
    return f"(CASE WHEN {parsed} >= TIMESTAMP '{low}' AND {parsed} < TIMESTAMP '{high}' THEN {parsed} END)"


def date_problem_sql(expr: str, day_first: bool | None) -> str:
    """SQL for the message about a non-empty date cell that ``date_sql`` reads as NULL."""
    low, high = PLAUSIBLE_DATES
    outside = f"is outside the years {low[:4]} to {int(high[:4]) - 1}"
    parsed = timestamp_sql(expr, day_first, plausible=False)
    return (f"CASE WHEN year({parsed}) < 100 AND NOT regexp_matches({expr}, '[0-9]{{4}}') "
            f"THEN 'the date ''' || trim({expr}) || ''' has a two-digit year: write years in full, like 2024' "
            f"WHEN {parsed} IS NOT NULL "
            f"THEN 'the date ''' || trim({expr}) || ''' {outside}' "
            f"ELSE 'cannot read ''' || {expr} || ''' as a date' END")


def amount_problem_sql(expr: str, decimal_comma: bool | None) -> str:
    """SQL for the message about a non-empty amount cell that ``amount_sql`` reads as NULL:
    ``1.500`` under decimal points is three decimals, or a dot between thousands."""
    message = f"'cannot read ''' || {expr} || ''' as an amount'"
    if decimal_comma:
        return message
    thousands = f"regexp_full_match(trim({expr}), '[^0-9]*[0-9]{{1,3}}([.][0-9]{{3}})+[^0-9]*')"
    return (f"CASE WHEN {thousands} THEN {message} || ' (three decimals, or a dot between thousands: then the file "
            f"writes decimal commas, and the decimal-comma option reads it)' ELSE {message} END")


def amount_sql(expr: str, decimal_comma: bool | None = False) -> str:
    """DuckDB expression turning ``$1,234.50``, ``(12.00)``, ``+250.00``, ``1.234,50`` into DECIMAL(18,2).

    Returns NULL for empty cells and for anything that is not plainly an amount (so that the
    caller can report it); never rounds: more than two decimals does not parse.
    """
    s = f"trim({expr})"
    core = amount_core_sql(expr)
    if decimal_comma:
        valid = f"'^([0-9]{{1,3}}([.''{_SP}][0-9]{{3}})+|[0-9]+)(,[0-9]{{1,2}})?$'"
        number = f"replace(regexp_replace({core}, '[.''{_SP}]', '', 'g'), ',', '.')"
    else:
        valid = f"'^([0-9]{{1,3}}([,''{_SP}][0-9]{{3}})+|[0-9]+)(\\.[0-9]{{1,2}})?$'"
        number = f"regexp_replace({core}, '[,''{_SP}]', '', 'g')"
    negative = f"regexp_matches(regexp_extract({s}, '^[^0-9]*'), '[-(]')"
    # Fast path for the common plain form (``1234.50``): one anchored match and a cast instead
    # of the regex rewrites below (8x faster on a million-row column).
    mark = "," if decimal_comma else "\\."
    plain = f"regexp_full_match({expr}, '[0-9]{{1,15}}({mark}[0-9]{{1,2}})?')"
    plain_value = f"CAST(replace({expr}, ',', '.') AS DECIMAL(18, 2))" if decimal_comma else f"CAST({expr} AS DECIMAL(18, 2))"
    return (
        f"CASE WHEN {plain} THEN {plain_value} "
        f"WHEN nullif({s}, '') IS NULL THEN NULL "
        f"WHEN NOT regexp_matches({core}, {valid}) THEN NULL "
        f"ELSE (CASE WHEN {negative} THEN -1 ELSE 1 END) * TRY_CAST({number} AS DECIMAL(18, 2)) END"
    )


def whole_number_sql(expr: str) -> str:
    """DuckDB expression turning ``3``, ``+3`` or ``3.0`` into an INTEGER.

    NULL for empty cells and for anything that is not plainly a whole number (``1.5``, ``1e1``,
    ``3 pcs``), so the caller can report it: a plain ``TRY_CAST`` would round ``1.5`` to 2, and
    a milestone numbered 1.5 would silently replace milestone 2.
    """
    s = f"trim({expr})"
    return f"CASE WHEN regexp_full_match({s}, '[+-]?[0-9]{{1,9}}(\\.0+)?') THEN TRY_CAST({s} AS INTEGER) END"


def amount_core_sql(expr: str) -> str:
    """DuckDB expression: the digits and separators of an amount, without sign, currency or brackets."""
    prefix = f"'^[{_SP}+\\-(]*([A-Za-z]{{3}})?[{_SP}]*[$€£¥₹]?[{_SP}]*[+\\-]?[{_SP}]*'"
    suffix = f"'[{_SP})]*([A-Za-z]{{3}}|[$€£¥₹])?[{_SP})]*$'"
    return f"regexp_replace(regexp_replace(trim({expr}), {prefix}, ''), {suffix}, '')"


#: ISO 4217's codes, current and recently withdrawn (a contract from 2019 may be in HRK): a code
#: outside them is imported as written (crypto, say) but named, as a likely typing slip ("UDS").
ISO_4217 = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BYR BZD
CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EEK EGP ERN ETB EUR FJD FKP GBP
GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
KWD KYD KZT LAK LBP LKR LRD LSL LTL LVL LYD MAD MDL MGA MKD MMK MNT MOP MRO MRU MUR MVR MWK MXN MXV MYR MZN
NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE
SLL SOS SRD SSP STD STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED
VEF VES VND VUV WST XAF XAG XAU XCD XCG XDR XOF XPD XPF XPT YER ZAR ZMK ZMW ZWG ZWL
""".split())
#: The same codes as a DuckDB list body, for ``... IN (ISO_4217_SQL)``.
ISO_4217_SQL = ", ".join(f"'{code}'" for code in sorted(ISO_4217))


def other_currency_sql(text: str, currency: str) -> str:
    """DuckDB condition: the amount cell ``text`` (trimmed text, or NULL) names a currency, by its
    ISO code or an unmistakable symbol (£, €, ₹; ¥ for JPY or CNY), other than ``currency`` (the
    row's). ``$`` is left alone: a dozen currencies write it. Amounts are never converted, so
    ``£100`` on a USD row would be counted as 100 dollars."""
    return (f"(regexp_matches({text}, '[A-Za-z£€₹¥]') AND CASE "
            f"WHEN regexp_matches({text}, '[A-Za-z]{{3}}') THEN {currency_letters_sql(text)} <> {currency} "
            f"WHEN contains({text}, '£') THEN {currency} <> 'GBP' WHEN contains({text}, '€') THEN {currency} <> 'EUR' "
            f"WHEN contains({text}, '₹') THEN {currency} <> 'INR' WHEN contains({text}, '¥') THEN {currency} NOT IN ('JPY', 'CNY') "
            "ELSE false END)")


def currency_letters_sql(text: str, upper: bool = True) -> str:
    """DuckDB expression: the first three letters of an amount cell (``'TBD'`` of ``TBD 500``), upper case
    to compare with codes, or as written to quote them back."""
    letters = f"regexp_extract({text}, '([A-Za-z]{{3}})', 1)"
    return f"upper({letters})" if upper else letters


#: What a message says after the three letters marking an amount that are no currency code:
#: ``TBD 500`` is not an amount in another currency, it is not an amount.
NO_CURRENCY_CODE = "is no currency code: write the amount alone, or with its currency"


def not_a_currency_sql(text: str) -> str:
    """DuckDB condition: the amount cell ``text`` is marked with three letters ISO 4217 does not list."""
    return f"(regexp_matches({text}, '[A-Za-z]{{3}}') AND {currency_letters_sql(text)} NOT IN ({ISO_4217_SQL}))"


def normalize_header(name: str) -> str:
    """``" Start Date\\ufeff"`` → ``start_date``: headers match whatever their case and spacing."""
    cleaned = name.replace("\ufeff", "").strip().lower()
    cleaned = re.sub(r"[^0-9a-z$]+", "_", cleaned).strip("_")
    return cleaned


@dataclass
class StagedFile:
    """A CSV file read as text into a temporary table ``table``."""

    path: Path
    display: str  # what messages call the file (its name, never a full private path)
    table: str
    columns: dict[str, str] = field(default_factory=dict)  # normalized name -> column name in table
    rows: int = 0
    extra_columns: list[str] = field(default_factory=list)
    row_base: int = 0  # smallest rowid (tables made inside a transaction do not start at 0)
    encoding: str = "utf-8"  # as detected (or given): see analysis.locale
    delimiter: str = ","
    sample_rows: list[dict[str, str | None]] = field(default_factory=list)  # first rows, for detectors
    #: Set while the file is not yet in ``table`` (``stage_csv(lazy=True)``): the ``read_csv(...)``
    #: that reads it, for a reader to type the file straight from it; ``materialize`` stages it.
    source_sql: str | None = None
    layout: TextLayout | None = field(default=None, repr=False)  # as detected: what ``materialize`` reads with
    #: What messages call a column of ``table`` that is not the file's own (a mapping's translated
    #: copy of ``State`` is called ``State``): table column -> name.
    labels: dict[str, str] = field(default_factory=dict)
    #: The name of the column mapping that renamed the columns (``mapping.apply_mapping``; "" unnamed), if one did,
    #: and the file's own header before it did.
    mapping: str | None = None
    file_header: list[str] = field(default_factory=list)

    @property
    def lazy(self) -> bool:
        return self.source_sql is not None

    def sample_values(self, name: str) -> list[str]:
        """Non-empty sample cells of a normalized column (what format detectors look at)."""
        real = self.columns.get(name)
        if real is None:
            return []
        return [str(r[real]).strip() for r in self.sample_rows if r.get(real) not in (None, "")]

    @property
    def row_expr(self) -> str:
        """SQL for a row's number as a spreadsheet shows it (header = row 1)."""
        return f"(rowid - {int(self.row_base)} + 2)"

    def col(self, name: str) -> str:
        """Quoted column reference for a normalized header, or SQL NULL when the file lacks it."""
        real = self.columns.get(name)
        return quote_ident(real) if real is not None else "CAST(NULL AS VARCHAR)"

    def has(self, name: str) -> bool:
        return name in self.columns


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB; user-supplied names only ever reach SQL this way."""
    return '"' + name.replace('"', '""') + '"'


SAMPLE_ROWS = 200


def stage_csv(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, display: str | None = None,
    options: ParseOptions | None = None, *, lazy: bool = False,
) -> StagedFile:
    """Read ``path`` with DuckDB's CSV reader, all columns as text, into temp table ``table``.

    With ``lazy``, a file DuckDB reads as is (UTF-8) is only looked at: its header and first
    rows, with ``source_sql`` set for a reader that types it in one pass straight from the
    file; ``materialize`` stages it when the reader needs the text (see ``canonical``).

    The encoding (UTF-8 with or without BOM, UTF-16, Windows-1252) and the delimiter (comma,
    semicolon, tab, pipe) are detected unless ``options`` gives them; files DuckDB cannot
    read directly are streamed through a UTF-8 copy. The table's ``rowid`` keeps file order;
    ``StagedFile.row_expr`` turns it into the row number a spreadsheet shows.
    """
    from analysis.locale import detect_layout

    from analysis import csv_structure

    display = display or path.name
    if not path.exists():
        raise single_problem(display, None, None, "file not found")
    if not path.is_file():
        from analysis.parquet_store import is_dataset

        if is_dataset(path):
            raise single_problem(display, None, None, "is a Parquet dataset folder (written by export-parquet), not a CSV "
                                 f"file: use milestone-lens import-parquet {path}")
        raise single_problem(display, None, None, "is a folder or a device, not a file")
    if path.stat().st_size == 0:
        raise single_problem(display, None, None, "the file is empty")
    options = options or ParseOptions()
    try:
        binary = csv_structure.binary_problem(path, display)
        if binary is not None:
            raise ImportValidationError([binary])
        layout = detect_layout(path, options.encoding, options.delimiter)
        csv_structure.check_header(path, layout, display)
    except (LookupError, UnicodeError) as exc:
        raise single_problem(display, None, None, f"cannot be decoded ({exc})") from None
    except OSError as exc:
        raise single_problem(display, None, None, f"cannot be read ({exc.strerror or exc})") from None
    staged = StagedFile(path=path, display=display, table=table, encoding=layout.encoding,
                        delimiter=layout.delimiter, layout=layout)
    if lazy and layout.encoding in ("utf-8", "utf-8-sig") and layout.skip_lines == 0:
        source = _read_csv_sql(path, layout.delimiter)
        try:
            result = con.execute(f"SELECT * FROM {source} LIMIT {SAMPLE_ROWS}")
            names, sample = [d[0] for d in result.description], result.fetchall()
        except (UnicodeError, duckdb.Error) as exc:  # the transaction is over: say why, as a staged read would
            raise read_failure(staged, exc) from None
        if sample and _set_columns(staged, names) is None:
            staged.sample_rows = [dict(zip(names, r)) for r in sample]
            staged.source_sql = source
            return staged
    materialize(con, staged)
    return staged


def _read_csv_sql(path: Path, delimiter: str) -> str:
    """The ``read_csv`` call that reads a file DuckDB can read as is, every column as text."""
    def literal(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    return (f"read_csv({literal(str(path))}, all_varchar = true, header = true, auto_detect = true, sample_size = -1, "
            f"strict_mode = true, skip = 0, delim = {literal(delimiter)}, encoding = 'utf-8', "
            # RFC 4180 quoting given, not sniffed: sniffing it read a 1M-row file three times slower.
            "quote = '\"', escape = '\"')")


def _set_columns(staged: StagedFile, names: list[str]) -> str | None:
    """Map normalized headers to the table's column ``names``; the first name whose header
    repeats an earlier one, if any (then nothing is mapped)."""
    columns: dict[str, str] = {}
    for name in names:
        key = normalize_header(name)
        if key in columns:
            return name
        columns[key] = name
    staged.columns = columns
    return None


def read_failure(staged: StagedFile, exc: Exception) -> ImportValidationError:
    """The problem to report when DuckDB's CSV reader failed on ``staged``'s file (which also
    ends the transaction: the import is refused). DuckDB's report names neither row nor
    column: they are found by a second, streaming pass.

    DuckDB running out of memory is not the file's fault: that exception goes on unchanged (the
    command line words it, and names ``$MILESTONE_LENS_MEMORY_LIMIT``), not as "cannot be read as CSV".
    """
    from analysis import csv_structure

    if isinstance(exc, duckdb.OutOfMemoryException):
        raise exc
    layout, display = staged.layout, staged.display
    found = csv_structure.diagnose(staged.path, layout, display)
    if found is not None:
        return ImportValidationError([found])
    if isinstance(exc, UnicodeError):
        return single_problem(display, None, None, f"is not valid {layout.encoding} text ({exc.reason})")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    line = re.search(r"[Ll]ine:?\s*(\d+)", str(exc))
    return ImportValidationError([Problem(display, int(line.group(1)) + layout.skip_lines if line else None, None,
                                          f"cannot be read as CSV ({first})", physical_line=True)])


def materialize(con: duckdb.DuckDBPyConnection, staged: StagedFile) -> None:
    """Read the whole file as text into ``staged.table`` (what every check that names rows reads)."""
    from analysis.locale import utf8_file

    path, display, table, layout = staged.path, staged.display, staged.table, staged.layout
    was_lazy, staged.source_sql = staged.lazy, None
    try:
        with utf8_file(path, layout) as readable:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {_read_csv_sql(readable, layout.delimiter)}")
    except (UnicodeError, duckdb.Error) as exc:
        raise read_failure(staged, exc) from None
    names = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
    if not was_lazy:  # a lazy file's headers are mapped already (and readers may have aliased them)
        repeated = _set_columns(staged, names)
        if repeated is not None:
            raise single_problem(display, 1, repeated, f"the header '{normalize_header(repeated)}' appears twice")
    base = con.execute(f"SELECT coalesce(min(rowid), 0) FROM {table}").fetchone()[0]
    # A row of empty cells (",,,," where a spreadsheet once had content) is skipped like a blank
    # line; the rows after it keep their numbers (a row's number comes from its rowid).
    con.execute(f"DELETE FROM {table} WHERE " + " AND ".join(f"nullif(trim({quote_ident(n)}), '') IS NULL" for n in names))
    staged.rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    if staged.rows == 0:
        raise single_problem(display, 2 + layout.skip_lines, None, "no rows below the header: nothing to import")
    staged.row_base = base
    if layout.skip_lines:
        staged.row_base -= layout.skip_lines  # row numbers still count the "sep=" line
    sample = con.execute(f"SELECT * FROM {table} ORDER BY rowid LIMIT {SAMPLE_ROWS}").fetchall()
    staged.sample_rows = [dict(zip(names, r)) for r in sample]


def first_problems(
    con: duckdb.DuckDBPyConnection,
    staged: StagedFile,
    condition: str,
    column: str | None,
    message_sql: str,
    limit: int = 20,
) -> list[Problem]:
    """Rows of ``staged`` where ``condition`` holds, as Problems (row numbers as a spreadsheet shows them):
    the first ``limit``, the last of them counting the rest (``Problem.unlisted``)."""
    return failing_rows(con, staged.display, column, staged.table, condition, message_sql,
                        row=staged.row_expr, order="rowid", limit=limit)


def currency_code_sql(expr: str) -> str:
    """SQL: ``expr`` is a currency as every import stores it, three capital letters (``USD``)."""
    return f"regexp_full_match({expr}, '[A-Z]{{3}}')"


def failing_rows(con: duckdb.DuckDBPyConnection, display: str, column: str | None, table: str, condition: str,
                 message_sql: str, *, row: str = "_row", order: str = "_row", limit: int = 20) -> list[Problem]:
    """The rows of ``table`` failing one check (``condition``), as Problems of the file ``display``: the first
    ``limit`` by ``order``, each numbered by ``row`` (a typed table keeps the spreadsheet's in ``_row``), the
    last listed counting those left out. Every reader's checks list and count their failures through it."""
    rows = con.execute(f"SELECT {row}, {message_sql}, count(*) OVER () FROM {table} WHERE {condition} "
                       f"ORDER BY {order} LIMIT {int(limit)}").fetchall()
    return listed_problems(display, column, rows)


def listed_problems(file: str, column: str | None, rows: list[tuple]) -> list[Problem]:
    """Problems from ``(row, message, how many rows failed the check)`` rows, the first of a check's
    failures (``... count(*) OVER () ... LIMIT n``): the last one listed counts those left out."""
    return with_unlisted([Problem(file, int(r[0]), column, str(r[1])) for r in rows], rows[0][2] if rows else 0)


def numeric_date_sql(expr: str) -> str:
    """SQL: the text ``expr`` is a numeric date whose day/month order matters (``05/11/2024``).
    ``detect_day_first`` decides from these cells only; with none, there is nothing to decide."""
    # A value starting with three digits (every ISO date) cannot match: the cheap test first.
    return f"(NOT ({expr} GLOB '[0-9][0-9][0-9]*') AND regexp_matches({expr}, '{NUMERIC_DATE_RE}'))"


def detect_day_first(con: duckdb.DuckDBPyConnection, staged: StagedFile, columns: list[str]) -> bool | None:
    """Decide day/month order from the whole of the given date columns.

    Returns True (some value proves day-first), False (proves month-first) or None (no
    numeric dates at all). Raises when numeric dates exist but nothing decides, or when
    the column contradicts itself.
    """
    present = [c for c in columns if staged.has(c)]
    if not present:
        return None
    order = list(staged.columns)
    parts = " UNION ALL ".join(
        # The column as staged (the file's own header, or a mapping's column): errors name what the user sees.
        # ``i``: its place in the file, so that of two cells of one row the one further right is the later.
        f"SELECT rowid, {order.index(c)} AS i, '{staged.columns[c].replace(chr(39), chr(39) * 2)}' AS col, "
        f"{staged.col(c)} AS v FROM {staged.table}" for c in present
    )
    row = con.execute(
        f"""
        WITH d AS ({parts}), n AS (
            SELECT rowid, i, col, v,
                   CAST(regexp_extract(v, '{NUMERIC_DATE_RE}', 1) AS INTEGER) AS a,
                   CAST(regexp_extract(v, '{NUMERIC_DATE_RE}', 2) AS INTEGER) AS b
            FROM d WHERE {numeric_date_sql('v')}
        )
        SELECT count(*), count(*) FILTER (WHERE a > 12), count(*) FILTER (WHERE b > 12),
               min((rowid, i, col, v)) FILTER (WHERE a > 12), min((rowid, i, col, v)) FILTER (WHERE b > 12),
               min((rowid, i, col, v))
        FROM n
        """
    ).fetchone()
    total, day_proofs, month_proofs, day_cell, month_cell, first_cell = row
    if not total:
        return None

    def parts_of(cell: tuple) -> tuple[int, int, str, str]:
        """(row as a spreadsheet shows it, place in the file, column, value) of the first such cell (row, then column order)."""
        return int(cell[0]) - int(staged.row_base) + 2, int(cell[1]), str(cell[2]), str(cell[3])

    if day_proofs and month_proofs:
        later, earlier = sorted([(*parts_of(day_cell), "day-first"), (*parts_of(month_cell), "month-first")],
                                reverse=True)
        # The other cell by its row, and by its column too when that is not the one the problem names
        # (two cells of one row: "row 2, column start_date").
        where = f"row {ROW_MARK}" + (f", column {earlier[2]}" if earlier[2] != later[2] else "")
        raise AmbiguousInputError(Problem.naming(
            staged.display, later[0], later[2],
            f"'{later[3]}' can only be read {later[4]}, but {where} ('{earlier[3]}') only {earlier[4]}; "
            "fix the file, or say which", [(staged.display, earlier[0])],
        ), "day_first")
    if day_proofs:
        return True
    if month_proofs:
        return False
    first_row, _, first_col, example = parts_of(first_cell)
    raise AmbiguousInputError(Problem(
        staged.display, first_row, first_col,
        f"dates like '{example}' could be day/month or month/day; say which",
    ), "day_first")
