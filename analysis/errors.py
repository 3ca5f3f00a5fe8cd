"""Errors a user can act on. The CLI prints ``str(error)`` on one line and exits 2."""

from __future__ import annotations

from dataclasses import dataclass


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

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


class ImportValidationError(UserError):
    """The files of one import had problems; nothing was written."""

    def __init__(self, problems: list[Problem]):
        # Top to bottom, file by file (in the order the files came), as a user fixes them;
        # problems of a whole file (no row) first. The first one is the one-line message.
        files = list(dict.fromkeys(p.file for p in problems))
        self.problems = sorted(problems, key=lambda p: (files.index(p.file), p.row if p.row is not None else 0))
        first = str(self.problems[0]).replace("\n", " ")
        more = len(self.problems) - 1
        super().__init__(first + (f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""))


def single_problem(file: str, row: int | None, column: str | None, message: str) -> ImportValidationError:
    return ImportValidationError([Problem(file, row, column, message)])
