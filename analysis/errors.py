"""Errors a user can act on. The CLI prints ``str(error)`` on one line and exits 2."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace


class UserError(Exception):
    """Bad input or a state the user can fix; never a traceback on the command line."""


class WorkspaceBusyError(UserError):
    """Another process holds the workspace file."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one cell (or row, or file) of an input file."""

    file: str
    row: int | None  # row number as a spreadsheet shows it: the header is row 1
    column: str | None
    message: str
    #: ``row`` is a line of the file, so it counts blank lines already; else it counts the records
    #: DuckDB reads (blank lines skipped) until ``ImportValidationError.counting_blank_lines``.
    physical_line: bool = field(default=False, compare=False)
    #: Other rows the message names, (file, row) each, and the message with ``ROW_MARK``s where
    #: they go (``Problem.naming``): ``counting_blank_lines`` moves them too.
    mentions: tuple[tuple[str, int], ...] = field(default=(), compare=False)
    template: str | None = field(default=None, compare=False, repr=False)
    #: Rows failing the same check as this one that are not listed (a check lists its first rows only):
    #: counted in SQL, so "(and N more problems)" says the true number.
    unlisted: int = field(default=0, compare=False)

    @classmethod
    def naming(cls, file: str, row: int | None, column: str | None, template: str,
               mentions: list[tuple[str, int]]) -> Problem:
        """A problem whose message names other rows: ``template`` holds ``ROW_MARK`` once per mention."""
        return cls(file, row, column, _rendered(template, [r for _, r in mentions]),
                   mentions=tuple(mentions), template=template)

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


def with_unlisted(problems: list[Problem], found: int) -> list[Problem]:
    """``problems``, the first rows of ``found`` failing one check, the last of them counting those left out."""
    if problems and found > len(problems):
        problems = [*problems[:-1], replace(problems[-1], unlisted=int(found) - len(problems))]
    return problems


#: Where a ``Problem.naming`` message writes the next row it mentions.
ROW_MARK = "\x1frow\x1f"


def _rendered(template: str, rows: list[int]) -> str:
    """``template`` with each ``ROW_MARK`` replaced by the next of ``rows``."""
    first, *rest = template.split(ROW_MARK)
    assert len(rest) == len(rows), "one ROW_MARK per mentioned row"
    return first + "".join(f"{row}{part}" for row, part in zip(rows, rest))


class ImportValidationError(UserError):
    """The files of one import had problems; nothing was written."""

    def __init__(self, problems: list[Problem]):
        # Top to bottom, file by file (in the order the files came), as a user fixes them;
        # problems of a whole file (no row) first. The first one is the one-line message.
        files = list(dict.fromkeys(p.file for p in problems))
        self.problems = sorted(problems, key=lambda p: (files.index(p.file), p.row if p.row is not None else 0))
        first = str(self.problems[0]).replace("\n", " ")
        #: Every problem found, the listed ones and those their checks counted but did not list.
        self.total = len(self.problems) + sum(p.unlisted for p in self.problems)
        more = self.total - 1
        super().__init__(first + (f" (and {more:,} more problem{'s' if more != 1 else ''})" if more else ""))


#: Around a row number a warning names (``warning_row``), until ``warning_rows_counting_blank_lines``.
WARNING_ROW = "\x1e"
_WARNING_ROW_RE = re.compile(WARNING_ROW + r"(\d+)" + WARNING_ROW)


def warning_row(row: int) -> str:
    """"row R" for a warning about its file, R as DuckDB numbered it: the import moves it past the
    file's blank lines, as errors' rows are (``warning_rows_counting_blank_lines``)."""
    return f"row {WARNING_ROW}{int(row)}{WARNING_ROW}"


def warning_rows_named(warning: str) -> bool:
    return WARNING_ROW in warning


def warning_rows_counting_blank_lines(warning: str, blank_rows: list[int]) -> str:
    """``warning`` with each ``warning_row`` written as a spreadsheet numbers it (``blank_rows``:
    the file's blank lines, ascending)."""
    return _WARNING_ROW_RE.sub(lambda m: str(spreadsheet_row(int(m.group(1)), blank_rows)), warning)


def spreadsheet_row(row: int, blank_rows: list[int]) -> int:
    """A row DuckDB numbered (blank lines skipped) as a spreadsheet numbers it: past each blank line above it."""
    for blank in blank_rows:
        if blank <= row:
            row += 1
    return row


def counting_blank_lines(error: ImportValidationError, blank_rows: dict[str, list[int]]) -> ImportValidationError:
    """``error`` with each row moved past the blank lines above it (``blank_rows``: file -> the
    rows that are blank lines, ascending), as a spreadsheet numbers the rows: DuckDB skips
    blank lines, so the rows it numbers are counted without them. The same class, same option."""
    def spreadsheet_row_of(file: str, row: int) -> int:
        return spreadsheet_row(row, blank_rows.get(file, []))

    def moved(problem: Problem) -> Problem:
        if problem.physical_line:
            return problem
        row = None if problem.row is None else spreadsheet_row_of(problem.file, problem.row)
        if problem.template is None:
            return replace(problem, row=row)
        mentions = tuple((file, spreadsheet_row_of(file, r)) for file, r in problem.mentions)
        return replace(problem, row=row, mentions=mentions,
                       message=_rendered(problem.template, [r for _, r in mentions]))

    out = ImportValidationError.__new__(type(error))
    out.__dict__.update(error.__dict__)
    ImportValidationError.__init__(out, [moved(p) for p in error.problems])
    return out


def single_problem(file: str, row: int | None, column: str | None, message: str) -> ImportValidationError:
    return ImportValidationError([Problem(file, row, column, message)])
