"""``milestone-lens``: the command line SPEC.md describes.

Each subcommand is a small function over the analysis package. User errors print one line
on stderr and exit 2; ``--json`` prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import duckdb

from analysis import store
from analysis.errors import UserError
from analysis.locale import AmbiguousInputError
from analysis.wording import plural

EXIT_USER_ERROR = 2
#: How the command line says what the data could not decide (``AmbiguousInputError.option``),
#: added to its message, which ends "say which".
SAY_WHICH = {"day_first": "with --day-first or --month-first", "decimal_comma": "with --decimal-comma (amounts like 1.234,56)"}

# name -> (configure parser, run); other modules add their commands with ``command``.
_COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, configure: Callable[[argparse.ArgumentParser], None]):
    """Register ``milestone-lens NAME``: ``configure`` adds its arguments, the decorated function runs it."""

    def wrap(run: Callable[[argparse.Namespace], int]):
        _COMMANDS[name] = (configure, run)
        return run

    return wrap


def emit_json(document: object) -> None:
    sys.stdout.write(json.dumps(document, default=_json_default) + "\n")


def print_summary(args: argparse.Namespace, summary) -> None:
    """A command's summary (``to_json``/``describe``): one JSON document with ``--json``, else its text."""
    if args.json:
        emit_json(summary.to_json())
    else:
        print(summary.describe())


def _json_default(value: object):
    import datetime as dt
    import decimal

    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "item") and type(value).__module__ == "numpy":  # a numpy scalar an analysis let through
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _workspace_file(text: str) -> Path:
    """``--db``: a file; DuckDB's ``:memory:`` would keep nothing once the command ends."""
    if text.strip() == ":memory:":
        raise argparse.ArgumentTypeError("':memory:' keeps nothing after the command: give a file path such as ws.duckdb")
    return Path(text)


def open_workspace(args: argparse.Namespace):
    return store.connect(args.db)


@contextlib.contextmanager
def workspace_to_read(args: argparse.Namespace, missing: str, *, read_only: bool = True) -> Iterator:
    """The existing workspace of a command that only reads it, closed at the end. When there is
    none at ``--db`` (or only a DuckDB file no Milestone Lens ever wrote to, read-only: there is no
    table to read), a one-line error ``<path>: <missing>``, and nothing is created."""
    path = Path(args.db) if args.db is not None else store.default_db_path()
    if not path.exists():
        raise UserError(f"{path}: {missing}")
    con = store.connect(path, read_only=read_only)
    if read_only and store.schema_version(con) == 0:
        con.close()
        raise UserError(f"{path}: {missing}")
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def workspace_to_write(args: argparse.Namespace, *, keep_if_new: bool = True) -> Iterator:
    """The workspace of a command that writes to it, closed at the end.

    When this command made the workspace file (there was none at ``--db``) and then fails, or
    only checked (``keep_if_new=False``: a dry run), the file goes again: the database is
    exactly as before the command, which here means there is none.
    """
    path = Path(args.db) if args.db is not None else store.default_db_path()
    companions = [path.with_name(path.name + suffix) for suffix in (".wal", ".tmp")]
    made = not path.exists() and not any(p.exists() for p in companions)
    con = open_workspace(args)
    finished = False
    try:
        yield con
        finished = True
    finally:
        con.close()
        if made and not (finished and keep_if_new):
            path.unlink(missing_ok=True)
            companions[0].unlink(missing_ok=True)
            shutil.rmtree(companions[1], ignore_errors=True)


# --- sample ---------------------------------------------------------------------------

def _configure_sample(p: argparse.ArgumentParser) -> None:
    p.add_argument("--contracts", type=int, default=2000, help="how many contracts (default 2000)")
    p.add_argument("--seed", type=int, default=7, help="random seed (same seed, same history)")
    p.add_argument("--out", type=Path, help="write canonical CSVs here instead of importing (imports only into an empty workspace)")
    p.add_argument("--json", action="store_true", help="print a JSON document")


@command("sample", _configure_sample)
def run_sample(args: argparse.Namespace) -> int:
    """Write or import a synthetic contract history."""
    from analysis import sample
    from analysis.workspace_admin import load_sample

    if args.contracts < 1:
        raise UserError("--contracts must be at least 1")
    if args.out is not None:
        if args.out.exists() and not args.out.is_dir():
            raise UserError(f"--out {args.out}: is a file; give a folder to write contracts.csv and milestones.csv in")
        there = [name for name in ("contracts.csv", "milestones.csv") if (args.out / name).exists()]
        if there:
            raise UserError(f"--out {args.out}: already holds {' and '.join(there)}; give a new or empty folder "
                            "(nothing is written over)")
        paths = sample.write_csvs(args.out, args.contracts, args.seed)
        if args.json:
            emit_json({"written": [str(p) for p in paths], "contracts": args.contracts, "seed": args.seed})
        else:
            print(f"Wrote {plural(args.contracts, 'contract')} (seed {args.seed}) to {paths[0]} and {paths[1]}")
        return 0
    with tempfile.TemporaryDirectory(prefix="milestone-lens-sample-") as tmp:
        paths = sample.write_csvs(tmp, args.contracts, args.seed)
        with workspace_to_write(args) as con:
            summary = load_sample(con, paths)
    print_summary(args, summary)
    return 0


# --- import ---------------------------------------------------------------------------

def _configure_import(p: argparse.ArgumentParser) -> None:
    from analysis.importing import READERS, _register_builtin_readers

    _register_builtin_readers()
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--format", default="auto", choices=["auto", *sorted(READERS)], metavar="FORMAT",
                   help="auto (default), " + ", ".join(sorted(READERS)))
    p.add_argument("--mapping", type=Path, help="a column mapping saved as JSON")
    p.add_argument("--source", help="name of the source the contract ids belong to")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--day-first", dest="day_first", action="store_const", const=True, help="numeric dates are day/month/year")
    order.add_argument("--month-first", dest="day_first", action="store_const", const=False, help="numeric dates are month/day/year")
    p.add_argument("--decimal-comma", action="store_const", const=True, default=None, help="amounts like 1.234,50")
    p.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    p.add_argument("--json", action="store_true", help="print a JSON document")


@command("import", _configure_import)
def run_import(args: argparse.Namespace) -> int:
    """Import CSV files into the workspace, all of them or nothing."""
    from analysis.importing import import_files
    from analysis.parsing import ParseOptions

    options = ParseOptions(day_first=args.day_first, decimal_comma=args.decimal_comma)
    extra = {}
    if args.mapping is not None:
        extra["mapping"] = args.mapping
    with workspace_to_write(args, keep_if_new=not args.dry_run) as con:
        summary = import_files(con, args.files, fmt=args.format, source=args.source, options=options,
                               dry_run=args.dry_run, **extra)
    print_summary(args, summary)
    return 0


# --- dashboard ------------------------------------------------------------------------

def _configure_dashboard(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, help="port to serve on (default from streamlit_config.toml)")
    p.add_argument("--sample-if-empty", action="store_true", help="load the bundled sample history into an empty workspace first")
    p.add_argument("--private-workspaces", action="store_true",
                   help="for a shared deployment: every browser session works in its own temporary workspace, "
                        "invisible to the others and deleted when the session ends (--db and --sample-if-empty are ignored)")


@command("dashboard", _configure_dashboard)
def run_dashboard(args: argparse.Namespace) -> int:
    """Start the Streamlit dashboard with streamlit_config.toml applied."""
    from dashboard.launcher import launch

    return launch(db=args.db, port=args.port, sample_if_empty=args.sample_if_empty,
                  private_workspaces=args.private_workspaces)


# --- entry point ----------------------------------------------------------------------

#: Commands registered by other modules -> (that module, the command's one-line help). Only the
#: module of the command being run is imported (all of them when ``build_parser`` gets no
#: ``argv``): ``report`` loads statsmodels and SciPy, which a small ``import`` or the overview
#: ``--help`` has no use for (1.7 s → 0.8 s and 1.4 s → 0.2 s, optimisations.md). The overview
#: lists the commands not loaded by these lines, which a test keeps equal to their docstrings.
PLUGIN_COMMANDS = {
    "report": ("analysis.report", "The full comparison: cancellation risk, payment timing, earnings, exposure."),
    "split": ("analysis.splitter_cli", "What-if splitter: a milestone plan against one payment at the end."),
    "completions": ("analysis.completions_cli", "Print a CSV of the contracts still missing a status or budget, to fill in and import."),
    "export-parquet": ("analysis.exports_cli", "Write the workspace to a Parquet dataset partitioned by start year."),
    "import-parquet": ("analysis.exports_cli", "Import a Parquet dataset written by export-parquet (all of it or nothing)."),
}


def _requested_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` asks for, when it is the first word (options come after it)."""
    return argv[0] if argv and not argv[0].startswith("-") else None


def _load_plugin_commands(argv: Sequence[str] | None = None) -> None:
    """Import the module that registers the command ``argv`` runs; every such module without ``argv``."""
    import importlib

    if argv is None:
        modules = [module for module, _help in PLUGIN_COMMANDS.values()]
    else:
        wanted = _requested_command(argv)
        modules = [PLUGIN_COMMANDS[wanted][0]] if wanted in PLUGIN_COMMANDS and wanted not in _COMMANDS else []
    for module in dict.fromkeys(modules):
        importlib.import_module(module)


class _OneLineErrors(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (SPEC: every error is one line, exit 2)."""

    #: The command the arguments asked for: the root parser reports options no command knows
    #: ("unrecognized arguments"), and its help is where the right ones are listed.
    requested: str | None = None

    def error(self, message: str):
        command = self.prog.removeprefix("milestone-lens").strip() or (
            self.requested if message.startswith("unrecognized arguments") else "")
        hint = f" (milestone-lens {command + ' ' if command else ''}--help lists the options)"
        self.exit(EXIT_USER_ERROR, f"milestone-lens: error: {command + ': ' if command else ''}{message}{hint}\n")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``'s command (every command's when ``argv`` is None)."""
    _load_plugin_commands(argv)
    parser = _OneLineErrors(prog="milestone-lens", description="Do milestones pay off? Import contract histories and compare.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = _requested_command(argv) if argv is not None else None
    parser.requested = wanted if wanted in _COMMANDS else None
    for name, (configure, run) in _COMMANDS.items():
        p = sub.add_parser(name, help=command_help(run))
        p.add_argument("--db", type=_workspace_file, default=None,
                       help=f"workspace file (default ${store.DB_ENV_VAR} or data/workspace.duckdb)")
        configure(p)
    for name, (_module, line) in PLUGIN_COMMANDS.items():
        if name not in _COMMANDS:  # listed by the overview and known to a mistyped command; not run here
            sub.add_parser(name, help=line)
    return parser


def command_help(run: Callable[[argparse.Namespace], int]) -> str | None:
    """A command's one-line help: the first line of its function's docstring."""
    return (run.__doc__ or "").strip().splitlines()[0] if run.__doc__ else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_USER_ERROR
    try:
        return _COMMANDS[args.command][1](args)
    except UserError as exc:
        line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, AmbiguousInputError):
            line += f" {SAY_WHICH[exc.option]}"
            if getattr(args, "mapping", None):  # or once for all, in the mapping the user keeps
                line += f", or set \"{exc.option}\" in the mapping"
        print(f"milestone-lens: error: {line}", file=sys.stderr)
        return EXIT_USER_ERROR
    except duckdb.OutOfMemoryException:
        # Rolled back like any failed command; the cap is the user's to raise.
        limit = os.environ.get(store.MEMORY_LIMIT_ENV_VAR, "").strip() or store.DEFAULT_MEMORY_LIMIT
        print(f"milestone-lens: error: out of memory: DuckDB is capped at {limit} (${store.MEMORY_LIMIT_ENV_VAR}); "
              f"raise it, e.g. {store.MEMORY_LIMIT_ENV_VAR}=4GB, and run the command again", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # ``... | head``: the reader has all it wanted
        return _reader_gone()
    except (OSError, duckdb.IOException) as exc:
        # The machine refused a read or write the checks did not foresee (a file where a folder is
        # needed, read-only storage, a full disk): one line, not a traceback; the transaction rolled back.
        print(f"milestone-lens: error: {_os_error_line(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR


def _os_error_line(exc: Exception) -> str:
    """``afile: File exists (a file where a folder is needed)``, or DuckDB's first line."""
    if isinstance(exc, OSError) and exc.filename is not None:
        line = f"{exc.filename}: {exc.strerror or type(exc).__name__}"
        if isinstance(exc, (FileExistsError, NotADirectoryError)):
            line += " (a file where a folder is needed)"
        return line
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


#: Exit status of a command whose reader closed the pipe: as if SIGPIPE had ended it (128 + 13).
EXIT_BROKEN_PIPE = 141


def _reader_gone() -> int:
    """Stop writing quietly: what is still buffered for stdout goes nowhere, not into a traceback at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


def entry() -> None:
    try:
        status = main()
        sys.stdout.flush()  # a reader that left after the last write is only noticed here
    except BrokenPipeError:
        status = _reader_gone()
    sys.exit(status)


if __name__ == "__main__":
    # ``python -m analysis.cli``: other modules register their commands with ``analysis.cli``,
    # which is not this ``__main__`` copy of it, so run that one.
    from analysis.cli import entry as _entry

    _entry()
