"""Atomic imports: every file of one command in one transaction, or nothing.

Readers (``canonical`` and the marketplace formats) append typed rows to the temporary
tables ``in_contracts``, ``in_milestones`` and ``in_payments``; this module validates what
spans files, fills derived values (milestone status, fees, payments), then merges into the
workspace: new rows are inserted, identical rows skipped and changed rows updated.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePath

import duckdb

from analysis import store
from analysis.errors import (
    ROW_MARK, ImportValidationError, Problem, counting_blank_lines, single_problem, warning_rows_counting_blank_lines,
    warning_rows_named, with_unlisted,
)
from analysis.locale import AmbiguousInputError
from analysis.marketplace import COMPLETION_HINT, NOT_IN_TRANSACTION_HISTORY, TRANSACTION_HISTORY_FORMATS
from analysis.parsing import ParseOptions, StagedFile, listed_problems, materialize, stage_csv
from analysis.platforms import UPWORK_FLAT_FEE_FROM, UPWORK_SLIDING_FEE_FROM, fee_sql
from analysis.wording import listed, plural

_IN_TABLES = """
CREATE OR REPLACE TEMP TABLE in_contracts (
    source VARCHAR, contract_id VARCHAR, client VARCHAR, freelancer VARCHAR, title VARCHAR,
    category VARCHAR, platform VARCHAR, contract_type VARCHAR, budget DECIMAL(18,2), currency VARCHAR,
    start_date DATE, planned_end_date DATE, end_date DATE, status VARCHAR, milestone_count INTEGER,
    paid_total DECIMAL(18,2), start_estimated BOOLEAN, _import_id INTEGER, _file VARCHAR, _row BIGINT);
CREATE OR REPLACE TEMP TABLE in_milestones (
    source VARCHAR, contract_id VARCHAR, seq INTEGER, description VARCHAR, amount DECIMAL(18,2),
    due_date DATE, funded_date DATE, submitted_date DATE, paid_date DATE, paid_amount DECIMAL(18,2),
    fee DECIMAL(18,2), status VARCHAR, kind VARCHAR, _import_id INTEGER, _file VARCHAR, _row BIGINT);
CREATE OR REPLACE TEMP TABLE in_payments (
    source VARCHAR, payment_key VARCHAR, contract_id VARCHAR, seq INTEGER, kind VARCHAR, paid_date DATE,
    gross DECIMAL(18,2), fee DECIMAL(18,2), currency VARCHAR, pending BOOLEAN, description VARCHAR,
    _import_id INTEGER, _file VARCHAR, _row BIGINT);
"""

#: What an import says of a file it read as Windows-1252: the one guess it makes about an encoding.
WINDOWS_1252_NOTE = ("Windows-1252 text (it is not UTF-8); if letters in it look wrong after the import, save "
                     "the file as UTF-8 and import it again")

KEYS = {
    "contracts": ("source", "contract_id"),
    "milestones": ("source", "contract_id", "seq"),
    "payments": ("source", "payment_key"),
}
COLUMNS = {
    "contracts": store.CONTRACT_COLUMNS,
    "milestones": store.MILESTONE_COLUMNS,
    "payments": store.PAYMENT_COLUMNS,
}


@dataclass
class ImportContext:
    """What a reader needs while staging one file."""

    source: str
    import_id: int
    options: ParseOptions
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    role: str | None = None
    derive_payments_from_milestones: bool = False
    #: Staged table -> the template columns this file does not have (``_keep_what_files_leave_out``).
    absent: dict[str, list[str]] = field(default_factory=dict)
    # Run after the merge, in the same transaction; each returns warnings (e.g. completions,
    # which need the merged contracts). Raising refuses the whole import.
    finishers: list[Callable[[duckdb.DuckDBPyConnection], list[str]]] = field(default_factory=list)
    #: Contracts a completions file completed, and those it gave what they already had (set by its finisher).
    completed: int = 0
    completed_already: int = 0


@dataclass
class FileReport:
    file: str
    format: str
    rows: int
    import_id: int


@dataclass
class ImportSummary:
    """What an import did. ``to_json()`` is the document SPEC.md promises for ``import --json``."""

    imported: dict[str, int]
    updated: dict[str, int]
    duplicates_skipped: int
    warnings: list[str]
    files: list[FileReport]
    dry_run: bool = False
    #: Contracts completions files completed (status, budget, planned milestones), and those already as given.
    completed: int = 0
    completed_already: int = 0

    def to_json(self) -> dict:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "duplicates_skipped": self.duplicates_skipped,
            "warnings": self.warnings,
            "files": [asdict(f) for f in self.files],
            "dry_run": self.dry_run,
            "completed": self.completed,
            "completed_already": self.completed_already,
        }

    def describe(self) -> str:
        """The counts, then one ``warning:`` line per warning."""
        return "\n".join(self.counts() + [f"warning: {w}" for w in self.warnings])

    def counts(self) -> list[str]:
        """What was (or would be) imported, updated and skipped, as two sentences."""
        i, u = self.imported, self.updated
        return [
            f"{'Would import' if self.dry_run else 'Imported'} {plural(i['contracts'], 'contract')}, "
            f"{plural(i['milestones'], 'milestone')}, {plural(i['payments'], 'payment')} "
            f"from {plural(len(self.files), 'file')}.",
            f"{'Would update' if self.dry_run else 'Updated'} {plural(u['contracts'], 'contract')}, "
            f"{plural(u['milestones'], 'milestone')}, {plural(u['payments'], 'payment')}; "
            f"{self.duplicates_skipped:,} {'are' if self.dry_run else 'were'} already in the workspace unchanged "
            "(contracts, milestones and payments together).",
        ] + ([f"{'Would complete' if self.dry_run else 'Completed'} {plural(self.completed, 'contract')}"
              + (f" ({self.completed_already:,} already as given)" if self.completed_already else "") + "."]
             if self.completed or self.completed_already else [])


# format name -> function(con, staged, ctx) that appends to the in_* tables
Reader = Callable[[duckdb.DuckDBPyConnection, StagedFile, ImportContext], None]
READERS: dict[str, Reader] = {}
# format name -> function(staged) -> bool, tried in order by --format auto
DETECTORS: list[tuple[str, Callable[[StagedFile], bool]]] = []


def register_reader(name: str, reader: Reader, detector: Callable[[StagedFile], bool] | None = None) -> None:
    """Make format ``name`` importable. A reader appends each key (see ``KEYS``) at most once
    per file; copies across the files of one batch are reconciled by ``_check_batch``."""
    READERS[name] = reader
    if detector is not None:
        DETECTORS.append((name, detector))


def _register_builtin_readers() -> None:
    from analysis import canonical

    if "canonical" not in READERS:
        register_reader("canonical", canonical.stage_canonical, lambda s: canonical.role_of(_aliased(s)) is not None)
    from analysis import completions, freelancer, upwork

    if "upwork" not in READERS:
        # Freelancer.com's header names are unknown: one like Upwork's over Freelancer.com's texts is Freelancer.com's.
        register_reader("upwork", upwork.stage_transactions,
                        lambda s: upwork.is_transaction_history(s) and not freelancer.reads_as_freelancer(s))
        register_reader("upwork-weekly", upwork.stage_weekly, upwork.is_weekly_summary)
        register_reader("freelancer", freelancer.stage_transactions, freelancer.is_transactions)
        # Tried before the template: contract_id + status/budget alone would read as a contracts file.
        register_reader("completions", completions.stage_completions)
        DETECTORS.insert(0, ("completions", completions.is_completions))


def _aliased(staged: StagedFile) -> StagedFile:
    from analysis import canonical

    probe = StagedFile(staged.path, staged.display, staged.table, dict(staged.columns))
    canonical.apply_aliases(probe)
    return probe


def detect_format(staged: StagedFile) -> str | None:
    _register_builtin_readers()
    for name, detector in DETECTORS:
        if detector(staged):
            return name
    return None


def _labelled(problems: list[Problem], labels: dict[str, str], mapped: bool = False) -> list[Problem]:
    """Problems naming each column as the user knows it (``StagedFile.labels``); under a mapping,
    a word the template does not know (an unknown status) says the mapping can translate it."""
    shown = [replace(p, column=labels[p.column]) if p.column in labels else p for p in problems]
    if mapped:
        shown = [replace(p, message=p.message + '; the mapping\'s "values" can translate it')
                 if p.message.startswith("unknown ") else p for p in shown]
    return shown


def file_hash(path: Path, stop: threading.Event | None = None) -> str | None:
    """SHA-256 of the file's bytes (the import log's ``content_hash``); None once ``stop`` is set."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            if stop is not None and stop.is_set():
                return None
            digest.update(chunk)
    return digest.hexdigest()


def import_files(
    con: duckdb.DuckDBPyConnection,
    paths: Sequence[str | Path],
    *,
    fmt: str = "auto",
    source: str | None = None,
    options: ParseOptions | None = None,
    display_names: Sequence[str] | None = None,
    dry_run: bool = False,
    mapping: object | None = None,
) -> ImportSummary:
    """Import ``paths`` into the workspace in one transaction.

    Raises ``ImportValidationError`` (nothing written) when any file has a problem.
    ``display_names`` replaces the file names used in messages and the import log (the
    dashboard passes the uploaded names; they are never used as paths).
    With ``dry_run`` everything is checked and counted, then rolled back.
    ``mapping`` (a saved name, a JSON file, a parsed JSON object or a ``mapping.ColumnMapping``)
    renames each file's columns to the template's before it is read as canonical; its name is
    then the default source.
    """
    _register_builtin_readers()
    options = options or ParseOptions()
    column_mapping = None
    if mapping is not None:
        from analysis.mapping import load_mapping, mapped_options

        column_mapping = load_mapping(mapping)
        options = mapped_options(column_mapping, options)
    paths = [Path(p) for p in paths]
    names = list(display_names) if display_names else None
    if not paths:
        raise single_problem("(no file)", None, None, "no files to import")
    paths, names, repeated = _once_each(paths, names)
    names = names or distinct_names(paths)
    once = [f"{names[i]}: given {'twice' if n == 2 else f'{n} times'}: imported once" for i, n in repeated.items()]
    paths, names, copies, hashed = _same_content_once(paths, names)
    once += [f"{copy}: the same content as {original}: imported once" for copy, original in copies]
    try:
        with store.import_transaction(con, dry_run, ("in_contracts", "in_milestones", "in_payments")):
            summary = _import_in_transaction(con, paths, names, fmt, source, options, column_mapping, dry_run, hashed)
    except ImportValidationError as exc:
        raise _rows_as_spreadsheets_number_them(exc, paths, names, options) from None
    summary.warnings[:0] = once
    return summary


def _same_content_once(paths: list[Path], names: list[str]
                       ) -> tuple[list[Path], list[str], list[tuple[str, str]], dict[Path, str]]:
    """``paths`` and ``names`` with a file whose bytes another one already brings (a copy uploaded under
    another name) left out, and the (copy, original) names left out: read twice, its rows were skipped
    as duplicates but the import log listed the copy as a file imported. Files of the same size only are
    hashed (their digests are returned, for the import log); one that cannot be read is kept, for its
    reader to refuse."""
    sizes: dict[int, list[int]] = {}
    for index, path in enumerate(paths):
        try:
            if path.is_file():
                sizes.setdefault(path.stat().st_size, []).append(index)
        except OSError:
            continue
    first: dict[str, int] = {}
    dropped: dict[int, int] = {}
    hashed: dict[Path, str] = {}
    for indexes in sizes.values():
        for index in indexes if len(indexes) > 1 else ():
            try:
                digest = hashed[paths[index]] = file_hash(paths[index])
            except OSError:
                continue
            original = first.setdefault(digest, index)
            if original != index:
                dropped[index] = original
    if not dropped:
        return paths, names, [], hashed
    kept = [i for i in range(len(paths)) if i not in dropped]
    return ([paths[i] for i in kept], [names[i] for i in kept],
            [(names[i], names[o]) for i, o in sorted(dropped.items())], hashed)


def _once_each(paths: list[Path], names: list[str] | None) -> tuple[list[Path], list[str] | None, dict[int, int]]:
    """``paths`` (and their ``names``) with a file given more than once (``import f.csv f.csv``, or by two
    spellings of its path) kept the first time only, and for each file kept that was, how often it was given."""
    def key(path: Path):
        try:
            return path.resolve()
        except (OSError, RuntimeError):  # a symlink loop: refused as "file not found" when read
            return path
    first: dict[Path, int] = {}
    kept, kept_names, times = [], [], {}
    for index, path in enumerate(paths):
        at = first.setdefault(key(path), len(kept))
        if at == len(kept):
            kept.append(path)
            kept_names.append(names[index] if names else None)
        times[at] = times.get(at, 0) + 1
    return kept, (kept_names if names else None), {i: n for i, n in times.items() if n > 1}


def _rows_as_spreadsheets_number_them(error: ImportValidationError, paths: list[Path], names: list[str],
                                      options: ParseOptions) -> ImportValidationError:
    """``error`` with its rows counting the blank lines of their files (see ``counting_blank_lines``):
    worked out only for a refused import, by reading again the files its problems name by row."""
    named = {p.file for p in error.problems if p.row is not None and not p.physical_line}
    named |= {file for p in error.problems for file, _row in p.mentions}
    blanks = _blank_rows(paths, names, options, named)
    return counting_blank_lines(error, blanks) if blanks else error


def _warning_rows_as_spreadsheets_number_them(warnings: list[str], paths: list[Path], names: list[str],
                                              options: ParseOptions) -> list[str]:
    """``warnings`` with the rows they name (``errors.warning_row``) counting the blank lines of their
    files, as errors' rows do; a file is read again only when one of its warnings names a row."""
    marked = [w for w in warnings if warning_rows_named(w)]
    if not marked:
        return warnings
    blanks = _blank_rows(paths, names, options, {n for n in names if any(w.startswith(n + ": ") for w in marked)})
    owner = lambda w: next((n for n in names if w.startswith(n + ": ")), None)  # noqa: E731
    return [warning_rows_counting_blank_lines(w, blanks.get(owner(w), [])) if warning_rows_named(w) else w
            for w in warnings]


def _blank_rows(paths: list[Path], names: list[str], options: ParseOptions, wanted: set[str]) -> dict[str, list[int]]:
    """The blank lines of the files named in ``wanted`` that have some (``csv_structure.blank_rows``):
    DuckDB skips them, so the rows it numbers come before them."""
    from analysis import csv_structure
    from analysis.locale import detect_layout

    blanks = {}
    for path, name in zip(paths, names):
        if name not in wanted:
            continue
        try:
            rows = csv_structure.blank_rows(path, detect_layout(path, options.encoding, options.delimiter))
        except (OSError, UnicodeError, LookupError, ValueError):
            continue  # what cannot be read again keeps the rows as they were
        if rows:
            blanks[name] = rows
    return blanks


def distinct_names(paths: Sequence[Path]) -> list[str]:
    """What messages call each file: its name, or with as many of its folders as tell it apart
    from another file of the same name (``a/contracts.csv``, ``b/contracts.csv``); never the
    whole of a private path when less will do."""
    depth = [1] * len(paths)
    while True:
        # PurePath joins the parts: the root's "/" with "/".join made "//tmp/contracts.csv".
        names = [PurePath(*p.parts[-d:]).as_posix() for p, d in zip(paths, depth)]
        clashing = [i for i, n in enumerate(names) if names.count(n) > 1 and depth[i] < len(paths[i].parts)]
        if not clashing:
            return names
        for i in clashing:
            depth[i] += 1


def _import_in_transaction(con, paths, names, fmt, source, options, column_mapping=None,
                           dry_run: bool = False, hashed: dict[Path, str] | None = None) -> ImportSummary:
    # The import log's content hashes are worked out on a second thread while DuckDB reads the
    # files (hashlib lets go of the GIL): 1M contracts, 423 MB of CSV, ~0.8 s of hashing.
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="milestone-lens-hash") as hashing:
        digests = [_done(hashed[path]) if hashed and path in hashed else hashing.submit(file_hash, path, stop)
                   for path in paths]  # a file ``_same_content_once`` hashed already is not read again
        try:
            return _import_files_in_transaction(con, paths, names, fmt, source, options, column_mapping, digests, dry_run)
        finally:
            stop.set()  # a refused import does not wait for the rest of a big file to be hashed


def _done(value: str) -> Future:
    """A future already holding ``value``."""
    future: Future = Future()
    future.set_result(value)
    return future


def _import_files_in_transaction(con, paths, names, fmt, source, options, column_mapping, digests,
                                 dry_run: bool = False) -> ImportSummary:
    con.execute(_IN_TABLES)
    batch_id = con.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM imports").fetchone()[0]
    problems: list[Problem] = []
    warnings: list[str] = []
    files: list[FileReport] = []
    file_meta: list[tuple[int, str, str, str, str]] = []
    derive_payments = False
    finishers = []
    contexts: list[ImportContext] = []
    absences: list[tuple[int, dict[str, list[str]]]] = []
    for index, (path, name) in enumerate(zip(paths, names)):
        # Lazily: only the canonical reader can type a file straight from it (``canonical._typed_or_problems``).
        staged = stage_csv(con, path, f"stage_{index}", name, options, lazy=column_mapping is None)
        mapping_warnings = []
        if column_mapping is not None:
            from analysis.mapping import apply_mapping

            mapping_warnings = apply_mapping(con, staged, column_mapping)
            file_format = fmt if fmt != "auto" else "canonical"
        else:
            file_format = fmt if fmt != "auto" else detect_format(staged)
        # Only the template's own columns tell it apart: amount, status or budget head other exports too.
        if file_format is None and not staged.has("contract_id") and any(staged.has(f) for f in ("start_date", "seq")):
            raise single_problem(name, 1, "contract_id", "required column 'contract_id' is missing (the header has "
                                 f"the template's other columns: {', '.join(staged.columns)})")
        if file_format is None or file_format not in READERS:
            known = ", ".join(sorted(READERS))
            raise single_problem(
                name, 1, None,
                f"format not recognised from its header ({', '.join(staged.columns.values()) or 'no columns'}); "
                f"use --format ({known}) or a --mapping" if file_format is None else f"unknown format '{file_format}' (known: {known})",
            )
        import_id = con.execute("SELECT nextval('import_id_seq')").fetchone()[0]
        mapped_source = column_mapping.name.strip() if column_mapping is not None and column_mapping.name else None
        ctx = ImportContext(source=source or mapped_source or _default_source(file_format), import_id=import_id, options=options)
        ctx.warnings += mapping_warnings
        if options.encoding is None and staged.encoding == "cp1252":
            ctx.warnings.append(f"read as {WINDOWS_1252_NOTE}")
        if staged.lazy and file_format != "canonical":
            materialize(con, staged)
        try:
            READERS[file_format](con, staged, ctx)
        except ImportValidationError as exc:
            if not staged.labels and column_mapping is None:
                raise
            shown = _labelled(exc.problems, staged.labels, column_mapping is not None)
            if isinstance(exc, AmbiguousInputError):
                raise AmbiguousInputError(shown[0], exc.option) from None
            raise ImportValidationError(shown) from None
        finishers += [(name, finish) for finish in ctx.finishers]
        contexts.append(ctx)
        absences.append((import_id, ctx.absent))
        problems += _labelled(ctx.problems, staged.labels, column_mapping is not None)
        warnings += [f"{name}: {w}" for w in ctx.warnings]
        derive_payments |= ctx.derive_payments_from_milestones
        files.append(FileReport(name, file_format, staged.rows, import_id))
        file_meta.append((import_id, name, digests[index], file_format, ctx.source))
        con.execute(f"DROP TABLE IF EXISTS temp.stage_{index}")
    if problems:
        raise ImportValidationError(problems)
    histories = [f.file for f in files if f.format in TRANSACTION_HISTORY_FORMATS]
    if histories:  # once per import, however many of its files are transaction histories
        warnings += _incomplete_contracts(con, histories, [f.import_id for f in files if f.file in histories])
    said_at = len(warnings)  # where what a payments export cannot hold is said, once its rows are merged
    _check_batch(con)
    _keep_what_files_leave_out(con, absences)
    had_payments = not _is_empty(con, "payments")
    deferred_payments = _derive(con, derive_payments)
    # Whether another source's contracts could be these again: known before the merge, and free when the
    # workspace is new (a big first import pays nothing for the check after it).
    had_contracts = not _is_empty(con, "contracts")
    other_sources = had_contracts and con.execute(
        "SELECT EXISTS (SELECT 1 FROM contracts WHERE source NOT IN (SELECT DISTINCT source FROM in_contracts))").fetchone()[0]
    watched = _completions_to_watch(con, file_meta)
    if watched:
        from analysis import completions  # a reader module: it registers itself with this one

        contradicted_before = completions.contradictions(con, watched)
    if had_payments:
        warnings += _keep_released_payments(con)
        _note_currency_changes(con)
    if had_contracts:
        warnings += _note_contract_changes(con)
    counts = _merge(con, deferred_payments)
    history_ids = [f.import_id for f in files if f.file in histories]
    if any(n for i in history_ids for key, n in counts.get(i, {}).items() if key.endswith(("_new", "_updated"))):
        # Said when the export brought something: the same export again need not repeat it.
        warnings.insert(said_at, f"{histories[0]}: {NOT_IN_TRANSACTION_HISTORY}")
    if had_contracts:
        warnings += _milestones_follow_contract_type(con)
    if had_payments:
        warnings += _retire_contradicted_payments(con)
        warnings += _payments_follow_currency(con)
    for name, finish in finishers:
        warnings += [f"{name}: {w}" for w in finish(con)]
    warnings += _milestone_checks(con, [m[0] for m in file_meta])
    if watched:  # what the new rows make the user's completions contradict (a budget now below what was paid)
        after = completions.contradictions(con, watched)
        new = {kind: [item for item in items if item not in contradicted_before[kind]] for kind, items in after.items()}
        warnings += [f"{file_meta[0][1]}: {w}" for w in completions.contradiction_warnings(new)]
    # A dry run (the dashboard's check before Import) says what would happen, not what has.
    count_twice = "would count twice" if dry_run else "now count twice"
    twice = _same_file_under_another_source(con, file_meta, count_twice)
    warnings += twice or (_same_contracts_under_another_source(con, count_twice) if other_sources else [])
    warnings = _warning_rows_as_spreadsheets_number_them(warnings, paths, names, options)
    for import_id, name, digest, file_format, file_source in file_meta:
        c = counts.get(import_id, {})
        con.execute(
            f"INSERT INTO imports ({store.IMPORT_LOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?)",
            [import_id, batch_id, name, digest.result(), file_format, file_source,
             c.get("contracts_new", 0), c.get("contracts_updated", 0),
             c.get("milestones_new", 0), c.get("milestones_updated", 0),
             c.get("payments_new", 0), c.get("payments_updated", 0),
             c.get("duplicates", 0), [w for w in warnings if w.startswith(name + ":")]],
        )
    total = lambda k: sum(c.get(k, 0) for c in counts.values())  # noqa: E731
    return ImportSummary(
        imported={t: total(f"{t}_new") for t in ("contracts", "milestones", "payments")},
        updated={t: total(f"{t}_updated") for t in ("contracts", "milestones", "payments")},
        duplicates_skipped=total("duplicates"),
        warnings=warnings,
        files=files,
        dry_run=dry_run,
        completed=sum(c.completed for c in contexts),
        completed_already=sum(c.completed_already for c in contexts),
    )


def _completions_to_watch(con, file_meta) -> list[tuple[str, str]]:
    """Completed contracts this import brings rows to, when it brings no completions of its own
    (those name what they contradict themselves)."""
    if any(file_format == "completions" for _, _, _, file_format, _ in file_meta) or _is_empty(con, "contract_completions"):
        return []
    from analysis.completions import completed_contracts_in_import

    return completed_contracts_in_import(con)


def _same_file_under_another_source(con, file_meta, count_twice: str = "now count twice") -> list[str]:
    """Warnings for files imported before, byte for byte, under another source: contract ids are
    unique within a source, so the same rows now stand twice and their money counts twice."""
    warnings = []
    for _, name, digest, file_format, file_source in file_meta:
        if file_format == "completions":  # completes contracts, adds none
            continue
        earlier = con.execute(
            """SELECT source, min(batch_id) FROM imports WHERE content_hash = ? AND source <> ? AND format <> 'completions'
               GROUP BY source ORDER BY min(batch_id)""", [digest.result(), file_source]).fetchall()
        for other, batch in earlier:
            warnings.append(f"{name}: this same file was imported before under source '{other}' (import {batch}), "
                            f"and now under '{file_source}': contract ids are kept apart by source, so its contracts "
                            f"and money {count_twice}; remove one of the two imports (Data page, Import history) "
                            f"or import it under source '{other}' instead")
    return warnings


def _same_contracts_under_another_source(con, count_twice: str = "now count twice", *,
                                         can_choose_source: bool = True) -> list[str]:
    """Warnings for contracts this import brings that another source already holds with the same id,
    start and budget (a renamed mapping with next month's sheet, say): most likely the same
    contracts, now counted twice. Files byte for byte the same are named by the check before this.
    ``can_choose_source``: the import has a ``--source`` option to offer as the other way out."""
    rows = con.execute(
        """SELECT i._file, c.source, count(*), min(i.contract_id)
           FROM (SELECT DISTINCT source, contract_id, start_date, budget, _file FROM in_contracts) i
           JOIN contracts c ON c.contract_id = i.contract_id AND c.source <> i.source
                AND c.start_date = i.start_date AND c.budget IS NOT DISTINCT FROM i.budget
           GROUP BY ALL ORDER BY 1, 2"""
    ).fetchall()
    return [f"{file}: {plural(n, 'contract')} (e.g. '{example}') already stand under source '{other}' with the same id, "
            f"start and budget: if they are the same contracts, they {count_twice}; remove one of the two imports "
            f"(Data page, Import history)" + (f" or import under source '{other}' instead" if can_choose_source else "")
            for file, other, n, example in rows]


def _default_source(file_format: str) -> str:
    return "upwork" if file_format.startswith("upwork") else file_format


def _shown(value) -> str:
    """A stored value as a message quotes it."""
    return "empty" if value is None else f"'{value}'"


def _incomplete_contracts(con, histories: list[str], import_ids: list[int]) -> list[str]:
    """How many contracts the import's transaction histories bring without a status or a budget
    (completed ones count as they are completed): said once for all of them, not once per file."""
    marks = ", ".join("?" for _ in import_ids)
    n = con.execute(
        f"""SELECT count(DISTINCT (c.source, c.contract_id)) FROM in_contracts c
            LEFT JOIN contract_completions cc USING (source, contract_id)
            WHERE c._import_id IN ({marks})
              AND (coalesce(cc.status, c.status) IS NULL
                   OR (c.contract_type = 'fixed' AND coalesce(cc.budget, c.budget) IS NULL))""",
        import_ids,
    ).fetchone()[0]
    if not n:
        return []
    whose = "" if len(histories) == 1 else f"from the {len(histories)} transaction histories of this import; "
    return [f"{histories[0]}: {plural(n, 'contract')} without status or budget ({whose}an export does not say): "
            f"{COMPLETION_HINT}"]


def _check_batch(con) -> None:
    """Checks that span files: conflicting duplicates across files, milestones without a contract."""
    problems: list[Problem] = []
    for table, key in (("in_contracts", KEYS["contracts"]), ("in_milestones", KEYS["milestones"]), ("in_payments", KEYS["payments"])):
        # Within one file, readers already refuse duplicate keys: only batches where several
        # files fill the same table can hold copies.
        if con.execute(f"SELECT count(DISTINCT _import_id) FROM {table}").fetchone()[0] < 2:
            continue
        cols = COLUMNS[table[3:]]
        data_cols = [c for c in cols if c not in key]
        conflicting = con.execute(
            f"""SELECT {', '.join(key)} FROM {table}
                GROUP BY {', '.join(key)}
                HAVING count(DISTINCT ({', '.join(data_cols)})) > 1 ORDER BY min(_import_id), min(_row) LIMIT 5"""
        ).fetchall()
        for key_values in conflicting:
            # The copies in file order: the first one that differs from the first copy, and where.
            copies = con.execute(
                f"""SELECT _file, _row, {', '.join(data_cols)} FROM {table}
                    WHERE {' AND '.join(f'{k} = ?' for k in key)} ORDER BY _import_id, _row""", list(key_values),
            ).fetchall()
            first = copies[0]
            other = next(c for c in copies[1:] if c[2:] != first[2:])
            column = next(name for name, a, b in zip(data_cols, first[2:], other[2:]) if a != b)
            problems.append(Problem.naming(
                other[0], int(other[1]), column,
                f"{table[3:-1]} {'/'.join(map(str, key_values[1:]))}: {column} is "
                f"{_shown(other[2 + data_cols.index(column)])} here but {_shown(first[2 + data_cols.index(column)])} "
                f"in {first[0]} row {ROW_MARK}", [(first[0], int(first[1]))]))
        # identical copies of one row in several files of the batch: keep the first
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {table}
                QUALIFY row_number() OVER (PARTITION BY {', '.join(key)} ORDER BY _import_id, _row) = 1"""
        )
    orphans = con.execute(
        """SELECT m._file, m._row, m.contract_id, m.source,
                  (SELECT string_agg(DISTINCT '''' || c.source || '''', ', ' ORDER BY '''' || c.source || '''') FROM contracts c
                   WHERE c.contract_id = m.contract_id), m.found
           FROM (SELECT *, count(*) OVER () AS found FROM in_milestones m
                 WHERE NOT EXISTS (SELECT 1 FROM in_contracts c WHERE c.source = m.source AND c.contract_id = m.contract_id)
                   AND NOT EXISTS (SELECT 1 FROM contracts c WHERE c.source = m.source AND c.contract_id = m.contract_id)
                 ORDER BY m._import_id, m._row LIMIT 20) m
           ORDER BY m._import_id, m._row"""
    ).fetchall()
    unknown = []
    for file, row, cid, source, elsewhere, _ in orphans:
        # the same id under another source: most likely the milestones of that import, read under the wrong source
        hint = (f" (of source '{source}'; the workspace has it under source {elsewhere}: import this file under "
                "that source, --source or Source name on the Data page)" if elsewhere else "")
        unknown.append(Problem(file, int(row), "contract_id",
                               f"milestone of contract '{cid}', which is neither in this import nor in the workspace{hint}"))
    problems += with_unlisted(unknown, orphans[0][-1] if orphans else 0)  # the rest counted, not listed
    if problems:
        raise ImportValidationError(problems)


def _is_empty(con, table: str) -> bool:
    return con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1)").fetchone()[0] == 0


def _derive(con, derive_payments: bool) -> str | None:
    """Fill what the template lets users leave empty: kind, status, paid amount, fees, payments.

    Returns the query of the payments derived from paid milestones when they are left for
    ``_merge`` to insert (into an empty payments table), else None (they are in ``in_payments``).
    """
    deferred_payments = None
    # Contract attributes for each staged milestone (from this batch, else from the workspace),
    # with a hash of the key: see ``_ctx_join``.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _ctx AS
           SELECT hash(source, contract_id) AS key_hash, * FROM (
               SELECT source, contract_id, contract_type, platform, client, freelancer, currency FROM in_contracts
               UNION ALL
               SELECT source, contract_id, contract_type, platform, client, freelancer, currency FROM contracts c
               WHERE EXISTS (SELECT 1 FROM in_milestones m WHERE m.source = c.source AND m.contract_id = c.contract_id)
                 AND NOT EXISTS (SELECT 1 FROM in_contracts i WHERE i.source = c.source AND i.contract_id = c.contract_id))"""
    )
    on_contract = _ctx_join(con)
    con.execute(
        f"""UPDATE in_milestones m SET kind = 'invoice' FROM _ctx c
            WHERE {on_contract} AND c.contract_type = 'hourly'"""
    )
    # Paid: by its date (status empty or paid), or by its status alone (then of unknown date, named by
    # ``canonical._doubtful_payments``): the amount, unless paid_amount says otherwise.
    con.execute("UPDATE in_milestones SET paid_amount = amount WHERE paid_amount IS NULL "
                "AND (status = 'paid' OR (paid_date IS NOT NULL AND status IS NULL))")
    con.execute(
        """UPDATE in_milestones SET status = CASE
               WHEN paid_date IS NOT NULL THEN 'paid'
               WHEN submitted_date IS NOT NULL THEN 'submitted'
               WHEN funded_date IS NOT NULL THEN 'funded'
               ELSE 'pending' END
           WHERE status IS NULL"""
    )
    if not derive_payments:
        return None
    # Fees left empty follow the platform's rules; Upwork's sliding fee needs what was billed
    # with the client before, across the workspace and this batch.
    fee = fee_sql("platform", "paid_date", "amount", "billed_before", "hourly")
    fees_missing = con.execute(
        "SELECT count(*) FROM in_milestones WHERE fee IS NULL AND status = 'paid' AND paid_amount IS NOT NULL"
    ).fetchone()[0]
    # The running billing total scans every payment in the workspace: only when a fee is missing.
    if fees_missing:
        _derive_fees(con, fee)
    milestone_payments = """
           SELECT m.source, m.contract_id || '#' || m.seq, m.contract_id, m.seq,
                  CASE WHEN m.kind = 'invoice' THEN 'hourly' ELSE 'milestone' END,
                  m.paid_date, m.paid_amount, coalesce(m.fee, 0), c.currency, false, m.description,
                  m._import_id, m._file, m._row
           FROM in_milestones m JOIN _ctx c ON """ + on_contract + """
           WHERE m.status = 'paid' AND m.paid_amount IS NOT NULL
             -- milestones of marketplace exports come with their own payments
             AND NOT EXISTS (SELECT 1 FROM in_payments p WHERE p.source = m.source AND p.contract_id = m.contract_id AND p.seq = m.seq)"""
    if _is_empty(con, "payments"):
        # Nothing to compare them with: ``_merge`` inserts them into the workspace straight from
        # this query, without a staged copy (1M contracts: ~1.5 s less). The payments added to
        # ``in_payments`` below have no seq, so the NOT EXISTS reads the same then as now.
        deferred_payments = milestone_payments
    else:
        con.execute("INSERT INTO in_payments" + milestone_payments)
    # Contract-level exports: paid_total without milestone rows becomes one payment of unknown date.
    if not con.execute("SELECT count(*) FROM in_contracts WHERE paid_total > 0").fetchone()[0]:
        return deferred_payments
    con.execute(
        f"""INSERT INTO in_payments
            SELECT {stand_in_payment_sql("c")}, c._import_id, c._file, c._row
            FROM in_contracts c
            WHERE c.paid_total > 0
              AND NOT EXISTS (SELECT 1 FROM in_milestones m WHERE m.source = c.source AND m.contract_id = c.contract_id)
              AND NOT EXISTS (SELECT 1 FROM milestones m WHERE m.source = c.source AND m.contract_id = c.contract_id)"""
    )
    _stand_in_sliding_fees(con)
    return deferred_payments


def _stand_in_sliding_fees(con) -> None:
    """The fee of a paid_total stand-in under Upwork's 2016–2023 sliding fee, which
    ``stand_in_payment_sql`` works out as if nothing had been billed with the client before (20 %
    of the first $500): here with what was, in this import and in the workspace, by the contracts'
    dates. Only when such a stand-in is staged."""
    sliding = (f"lower(c.platform) = 'upwork' AND coalesce(c.end_date, c.start_date) >= DATE '{UPWORK_SLIDING_FEE_FROM}' "
               f"AND coalesce(c.end_date, c.start_date) < DATE '{UPWORK_FLAT_FEE_FROM}'")
    if not con.execute(
            f"""SELECT count(*) FROM in_payments p JOIN in_contracts c USING (source, contract_id)
                WHERE p.kind = 'contract_total' AND {sliding}""").fetchone()[0]:
        return
    workspace = _BILLED_IN_WORKSPACE.format(staged_again=(
        "EXISTS (SELECT 1 FROM in_payments i WHERE i.source = p.source AND i.payment_key = p.payment_key) "
        "OR EXISTS (SELECT 1 FROM in_milestones m WHERE m.source = p.source AND m.contract_id = p.contract_id AND m.seq = p.seq)"))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _fees AS
            {_billed_before_sql(f'''
                SELECT p.source, p.contract_id, NULL::INTEGER AS seq, coalesce(c.end_date, c.start_date) AS paid_date,
                       p.gross AS amount, c.platform, c.client, c.freelancer, {sliding} AS staged,
                       c.contract_type = 'hourly' AS hourly
                FROM in_payments p JOIN in_contracts c USING (source, contract_id) WHERE p.kind = 'contract_total'
                UNION ALL
                SELECT m.source, m.contract_id, m.seq, m.paid_date, m.paid_amount, c.platform, c.client, c.freelancer, false,
                       c.contract_type = 'hourly'
                FROM in_milestones m JOIN _ctx c USING (source, contract_id)
                WHERE m.status = 'paid' AND m.paid_amount IS NOT NULL
                UNION ALL''' + workspace)}
            SELECT source, contract_id, {fee_sql("platform", "paid_date", "amount", "billed_before", "hourly")} AS fee
            FROM ordered WHERE staged"""
    )
    con.execute(
        """UPDATE in_payments p SET fee = f.fee FROM _fees f
           WHERE p.kind = 'contract_total' AND p.source = f.source AND p.contract_id = f.contract_id""")
    con.execute("DROP TABLE temp._fees")


def stand_in_payment_sql(c: str) -> str:
    """The payment a contract's ``paid_total`` stands for while no milestone carries one, as the
    select list of a payments row up to its description (contract alias ``c``): of unknown date,
    its fee from the platform's rules. Shared by the import and by undoing the import that
    retired it (``workspace_admin.remove_import``)."""
    fee = fee_sql(f"{c}.platform", f"coalesce({c}.end_date, {c}.start_date)", f"{c}.paid_total", "0",
                  f"{c}.contract_type = 'hourly'")
    return (f"{c}.source, {c}.contract_id || '#total', {c}.contract_id, NULL, 'contract_total', NULL, "
            f"{c}.paid_total, {fee}, {c}.currency, false, 'paid_total of a contract-level export'")


def _keep_what_files_leave_out(con, absences: list[tuple[int, dict[str, list[str]]]]) -> None:
    """A column a file does not have says nothing about it: the rows it brings again keep what
    the workspace holds there (a milestones file without ``paid_date`` no longer unpays them).

    A milestone's status is the exception: without its column it is derived again from the
    dates (the file's, and the kept ones), as for a new row. So are the values the import derived
    from a milestone's amount when the file brings another amount: a paid amount that was the
    whole amount follows the new one (a paid amount short of it stays), and a fee kept for a
    paid amount that changes is worked out again from the platform's rules.
    """
    problems = []
    for table in ("contracts", "milestones"):
        if _is_empty(con, table):
            continue
        join = " AND ".join(f"t.{k} = i.{k}" for k in KEYS[table])
        for import_id, absent in absences:
            kept = [c for c in absent.get(f"in_{table}", []) if not (table == "milestones" and c == "status")]
            if not kept:
                continue
            values = {c: f"t.{c}" for c in kept}
            if table == "milestones":
                values |= _follow_the_amount(kept)
            con.execute(
                f"UPDATE in_{table} i SET {', '.join(f'{c} = {v}' for c, v in values.items())} FROM {table} t "
                f"WHERE i._import_id = ? AND {join}", [import_id])
            if table == "contracts" and "contract_type" in kept:
                # The reader checked only the new contracts' budgets (``canonical._contract_sql``).
                rows = con.execute(
                    "SELECT _file, _row, 'budget is required for fixed-price contracts', count(*) OVER () FROM in_contracts "
                    "WHERE _import_id = ? AND contract_type = 'fixed' AND budget IS NULL ORDER BY _row LIMIT 20",
                    [import_id]).fetchall()
                if rows:
                    problems += listed_problems(rows[0][0], "budget", [r[1:] for r in rows])
            for column in (c for c in ("end_date", "planned_end_date") if table == "contracts" and c in kept):
                # A date kept from the workspace must still follow the start the file moves (a workspace
                # holding an end before its start could not be restored from its own Parquet export).
                rows = con.execute(
                    f"SELECT _file, _row, '{column} ' || {column} || ' (kept from the workspace: the file has no "
                    f"{column} column) is before start_date ' || start_date, count(*) OVER () FROM in_contracts "
                    f"WHERE _import_id = ? AND {column} < start_date ORDER BY _row LIMIT 20", [import_id]).fetchall()
                if rows:
                    problems += listed_problems(rows[0][0], column, [r[1:] for r in rows])
    if problems:
        raise ImportValidationError(problems)


def _follow_the_amount(kept: list[str]) -> dict[str, str]:
    """What ``_keep_what_files_leave_out`` keeps of a milestone's paid amount and fee, file row
    ``i`` against stored row ``t``, when the file has no column for them (NULL: derived again)."""
    values = {}
    kept_paid = "CASE WHEN t.paid_amount IS DISTINCT FROM t.amount THEN t.paid_amount END"
    if "paid_amount" in kept:
        values["paid_amount"] = kept_paid
    if "fee" in kept:
        paid_now = f"coalesce({kept_paid if 'paid_amount' in kept else 'i.paid_amount'}, i.amount)"
        values["fee"] = f"CASE WHEN {paid_now} = coalesce(t.paid_amount, t.amount) THEN t.fee END"
    return values


def _milestone_checks(con, import_ids: list[int]) -> list[str]:
    """Two things about this import's fixed-price contracts that are imported as they are but
    named, once per file, with the first contract:

    - milestones adding up to more than the budget. When the first one named has milestones from
      an earlier import that no file of this one lists (a newer export of fewer milestones, which
      the merge cannot tell from a file updating some of them), the warning says how to drop them;
    - no milestones and no ``milestone_count`` (a contract-level file): such a contract counts as
      a single payment, which it may not have been.

    Run after the merge (a milestone may come from the workspace, its budget from this import),
    in one pass over every contract's milestone total (1M contracts: ~0.15 s; restricting it to the
    contracts the import touched first took 0.45 s for a big first import, and every import remakes
    the kept analysis tables from all contracts anyway); only the few contracts found are matched
    to the import's files.
    """
    marks = ", ".join("?" for _ in import_ids)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _milestone_checks AS
            WITH totals AS (
                SELECT source, contract_id, sum(amount) AS total FROM milestones WHERE kind = 'milestone' GROUP BY ALL)
            SELECT c.source, c.contract_id, c.budget, c.currency, t.total, t.total IS NULL AS no_milestones
            FROM contracts c LEFT JOIN totals t USING (source, contract_id)
            WHERE c.contract_type = 'fixed'
              AND (t.total > c.budget
                   OR (t.total IS NULL AND c.milestone_count IS NULL AND c.import_id IN ({marks})
                       AND NOT EXISTS (SELECT 1 FROM contract_completions k WHERE k.source = c.source
                                       AND k.contract_id = c.contract_id AND k.planned_milestones IS NOT NULL)))""",
        import_ids,
    )
    found = []
    if con.execute("SELECT count(*) FROM _milestone_checks").fetchone()[0]:
        found = con.execute(
            """WITH named AS (
                   -- named by the milestones file that lists the contract, else its contracts file
                   SELECT o.*, arg_min(f._file, (f.pick, f._file)) AS file
                   FROM _milestone_checks o
                   JOIN (SELECT source, contract_id, _file, 0 AS pick FROM in_milestones WHERE kind = 'milestone'
                         UNION ALL SELECT source, contract_id, _file, 1 FROM in_contracts) f USING (source, contract_id)
                   GROUP BY ALL)
               SELECT file, no_milestones, count(*) OVER (PARTITION BY file, no_milestones), source, contract_id,
                      total, budget, currency FROM named
               QUALIFY row_number() OVER (PARTITION BY file, no_milestones ORDER BY contract_id) = 1
               ORDER BY file, no_milestones"""
        ).fetchall()
    con.execute("DROP TABLE temp._milestone_checks")
    warnings = []
    for file, no_milestones, n, source, contract_id, total, budget, currency in found:
        if no_milestones:
            warnings.append(
                f"{file}: {plural(n, 'fixed-price contract')} with neither milestones nor a milestone_count (first: "
                f"'{contract_id}'): counted as {'a single payment' if n == 1 else 'single payments'}; if "
                f"{'it was' if n == 1 else 'some were'} paid in milestones, give milestone_count (or import the "
                "milestones), or the planned milestones on the Data page (Complete contracts tab)")
            continue
        text = (f"{file}: {plural(n, 'contract')} whose milestones add up to more than the budget (first: "
                f"'{contract_id}', {total:,.2f} of {budget:,.2f} {currency})")
        earlier = con.execute(
            """SELECT list(seq ORDER BY seq) FROM milestones m WHERE source = ? AND contract_id = ?
               AND EXISTS (SELECT 1 FROM in_milestones i WHERE i.source = m.source AND i.contract_id = m.contract_id)
               AND NOT EXISTS (SELECT 1 FROM in_milestones i WHERE i.source = m.source AND i.contract_id = m.contract_id
                               AND i.seq = m.seq)""", [source, contract_id]).fetchone()[0]
        if earlier:
            one = len(earlier) == 1
            text += (f"; its milestone{'' if one else 's'} {', '.join(map(str, earlier))} came from an earlier import "
                     f"and {'is' if one else 'are'} not in this one: if the contract no longer has "
                     f"{'it' if one else 'them'}, remove the earlier import (Data page, Import history) and import "
                     "the newer files again")
        else:
            text += ": imported as written; check the budget and the amounts"
        warnings.append(text)
    return warnings


def _retire_contradicted_payments(con, limit: int = 5) -> list[str]:
    """Delete the payments the workspace derived that this import's milestones contradict.

    Two kinds, both derived (never rows a file brought as payments): the one payment of
    unknown date a contract-level export's ``paid_total`` stands for, once that contract's
    milestones arrive with payments of their own (keeping both counted the money twice);
    and a milestone's payment when the file now says the milestone is not paid (a newer export
    updates the milestone, so its payment goes with it). Each is named in a warning.
    """
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _retired AS
           SELECT p.source, p.payment_key, p.gross, p.currency, min(m._file) AS file,
                  p.kind = 'contract_total' AS stand_in
           FROM payments p JOIN in_milestones m ON m.source = p.source AND m.contract_id = p.contract_id
           WHERE (p.kind = 'contract_total'
                  AND EXISTS (SELECT 1 FROM payments q WHERE q.source = p.source AND q.contract_id = p.contract_id
                                                        AND q.kind IN ('milestone', 'hourly')))
              OR (p.kind IN ('milestone', 'hourly') AND p.seq = m.seq AND p.payment_key = m.contract_id || '#' || m.seq
                  AND NOT (m.status = 'paid' AND m.paid_amount IS NOT NULL)
                  AND NOT EXISTS (SELECT 1 FROM in_payments i
                                  WHERE i.source = p.source AND i.contract_id = p.contract_id AND i.seq = p.seq))
           GROUP BY ALL"""
    )
    rows = con.execute(
        "SELECT file, stand_in, payment_key, gross, currency FROM _retired ORDER BY file, NOT stand_in, payment_key"
    ).fetchall()
    if rows:
        con.execute("DELETE FROM payments p USING _retired r WHERE p.source = r.source AND p.payment_key = r.payment_key")
    con.execute("DROP TABLE temp._retired")
    warnings = []
    for (file, stand_in), group in itertools.groupby(rows, key=lambda r: (r[0], r[1])):
        group = list(group)
        named = listed([f"{key} ({gross:,.2f} {currency})" for _f, _s, key, gross, currency in group], limit)
        what = ("the paid_total payment of contracts whose milestones it brings (they carry the payments)"
                if stand_in else "the payment of milestones it says are not paid")
        warnings.append(f"{file}: removed {what}: {named}")
    return warnings


def _keep_released_payments(con) -> list[str]:
    """A payment the workspace holds as released that a file lists as not yet released (an
    older export imported after a newer one) stays released, with its fee, and so does its
    milestone: money is not taken back by a bank statement older than the one that showed it.
    Named per file, with the first payment."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _released AS
           SELECT i._file, i._row, t.* FROM in_payments i JOIN payments t USING (source, payment_key)
           WHERE i.pending AND NOT t.pending"""
    )
    found = con.execute(
        """SELECT _file, count(*), sum(gross), arg_min(payment_key, _row), arg_min(gross, _row), arg_min(currency, _row)
           FROM _released GROUP BY ALL ORDER BY _file"""
    ).fetchall()
    if found:
        payments = ", ".join(f"{c} = t.{c}" for c in store.PAYMENT_COLUMNS)
        con.execute(f"UPDATE in_payments i SET {payments} FROM _released t "
                    "WHERE i.source = t.source AND i.payment_key = t.payment_key")
        milestones = ", ".join(f"{c} = t.{c}" for c in store.MILESTONE_COLUMNS)
        con.execute(
            f"""UPDATE in_milestones i SET {milestones} FROM milestones t
                WHERE i.source = t.source AND i.contract_id = t.contract_id AND i.seq = t.seq
                  AND EXISTS (SELECT 1 FROM _released r WHERE r.source = t.source AND r.contract_id = t.contract_id
                              AND r.seq = t.seq)""")
    con.execute("DROP TABLE temp._released")
    return [f"{file}: {plural(n, 'payment')} it lists as not yet released {'was' if n == 1 else 'were'} released in "
            f"an earlier import (first: {key}, {gross:,.2f} {currency}): kept as released, with "
            f"{'its fee' if n == 1 else 'their fees'} (this file is older)"
            for file, n, _total, key, gross, currency in found]


def _note_contract_changes(con) -> list[str]:
    """The contracts this import gives another client or type, in one pass before ``_merge``
    overwrites the old values (``_changed``, for ``_milestones_follow_contract_type``).

    Another client is named: more likely other contracts sharing ids with those of an earlier import
    of the same source (two tools' "1", "2", ...) than corrections, and the update would replace
    them. Per file, with the first; imported as given."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _changed AS
           SELECT i._file, i._row, i._import_id, i.source, i.contract_id, i.contract_type, t.client AS old_client,
                  i.client AS new_client, coalesce(lower(trim(t.client)) <> lower(trim(i.client)), false) AS client_changed,
                  t.contract_type IS DISTINCT FROM i.contract_type AS type_changed
           FROM in_contracts i JOIN contracts t USING (source, contract_id)
           WHERE lower(trim(t.client)) <> lower(trim(i.client)) OR t.contract_type IS DISTINCT FROM i.contract_type"""
    )
    found = con.execute(
        """SELECT _file, count(*), arg_min(contract_id, _row), arg_min(old_client, _row), arg_min(new_client, _row),
                  arg_min(source, _row)
           FROM _changed WHERE client_changed GROUP BY _file ORDER BY _file"""
    ).fetchall()
    return [f"{file}: {plural(n, 'contract')} of source '{source}' now {'names' if n == 1 else 'name'} another client "
            f"(first: '{first}', '{old}' → '{new}'): "
            + ("if it is another contract that only shares its id with one imported before, this import replaces that "
               "one" if n == 1 else "if they are other contracts that only share their ids with ones imported before, "
               "this import replaces those")
            + "; then remove the import and import the file under a source name of its own (--source; Source name on "
            "the Data page)"
            for file, n, first, old, new, source in found]


def _note_currency_changes(con) -> None:
    """The contracts this import moves to another currency (before ``_merge`` overwrites the old one)."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _recurrency AS
           SELECT i.source, i.contract_id, i._import_id, i._file, i._row, t.currency AS old, i.currency AS new
           FROM in_contracts i JOIN contracts t USING (source, contract_id)
           WHERE t.currency IS DISTINCT FROM i.currency"""
    )


def _payments_follow_currency(con) -> list[str]:
    """A contract moved to another currency takes along the payments the workspace derived for
    it (from its milestones, or its ``paid_total``) that this import did not bring again: left
    in the old currency they counted in neither (a contract file changing 'USD' to 'EUR' made
    its paid money vanish from every total). Payments a file brought as rows of their own (a
    transaction history's, in their currency) cannot follow: that import is refused, by row.
    """
    if not con.execute("SELECT count(*) FROM _recurrency").fetchone()[0]:
        con.execute("DROP TABLE temp._recurrency")
        return []
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _moved AS
           SELECT r.*, p.payment_key, p.gross,
                  -- a payment without seq (a bonus, a refund) is a file's own row: coalesce, or NULL let it slip
                  coalesce(p.kind = 'contract_total' OR p.payment_key = p.contract_id || '#' || p.seq, false) AS derived
           FROM _recurrency r JOIN payments p USING (source, contract_id)
           WHERE p.currency = r.old"""
    )
    con.execute("DROP TABLE temp._recurrency")
    stuck = con.execute(
        """SELECT _file, _row, contract_id, old, new, count(*) FROM _moved WHERE NOT derived
           GROUP BY ALL ORDER BY _file, _row LIMIT 20"""
    ).fetchall()
    if stuck:
        raise ImportValidationError([
            Problem(file, int(row), "currency",
                    f"contract '{contract_id}' has {plural(n, 'payment')} in {old} from a transaction history "
                    f"imported earlier: its currency cannot change to {new}")
            for file, row, contract_id, old, new, n in stuck])
    moved = con.execute(
        """SELECT _file, count(DISTINCT contract_id), count(*), arg_min(contract_id, _row), arg_min(old, _row),
                  arg_min(new, _row) FROM _moved GROUP BY ALL ORDER BY _file"""
    ).fetchall()
    con.execute(
        """UPDATE payments p SET currency = m.new, import_id = m._import_id FROM _moved m
           WHERE p.source = m.source AND p.payment_key = m.payment_key"""
    )
    con.execute("DROP TABLE temp._moved")
    return [f"{file}: {plural(contracts, 'contract')} now in another currency (first: '{first}', {old} → {new}); "
            f"{plural(payments, 'payment')} worked out from {'its' if contracts == 1 else 'their'} milestones or "
            f"paid_total moved with {'it' if contracts == 1 else 'them'}"
            for file, contracts, payments, first, old, new in moved]


def _milestones_follow_contract_type(con) -> list[str]:
    """A contract this import turns hourly (or fixed-price) takes along the rows earlier imports
    gave it: its milestones count as invoices (or its invoices as milestones), and so do their
    payments. Left as they were, a fixed-price contract's old invoices were neither milestones
    (its structure and the budget check ignored them) nor anything an hourly report counts.
    Named per file, with the first contract; the budget check that follows then names rows adding
    up to more than the budget, and how to drop them."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _retyped AS
           SELECT i._file, i._row, i._import_id, m.source, m.contract_id, m.seq, i.contract_type
           FROM _changed i JOIN milestones m USING (source, contract_id)
           WHERE i.type_changed AND m.kind <> CASE WHEN i.contract_type = 'hourly' THEN 'invoice' ELSE 'milestone' END"""
    )
    con.execute("DROP TABLE temp._changed")
    found = con.execute(
        """SELECT _file, contract_type, count(DISTINCT contract_id), count(*), arg_min(contract_id, _row)
           FROM _retyped GROUP BY ALL ORDER BY _file, contract_type"""
    ).fetchall()
    if found:
        con.execute(
            """UPDATE milestones m SET kind = CASE WHEN r.contract_type = 'hourly' THEN 'invoice' ELSE 'milestone' END,
                                      import_id = r._import_id
               FROM _retyped r WHERE m.source = r.source AND m.contract_id = r.contract_id AND m.seq = r.seq""")
        con.execute(
            """UPDATE payments p SET kind = CASE WHEN r.contract_type = 'hourly' THEN 'hourly' ELSE 'milestone' END,
                                    import_id = r._import_id
               FROM _retyped r WHERE p.source = r.source AND p.contract_id = r.contract_id AND p.seq = r.seq
                 AND p.payment_key = p.contract_id || '#' || p.seq AND p.kind IN ('hourly', 'milestone')""")
    con.execute("DROP TABLE temp._retyped")
    warnings = []
    for file, contract_type, contracts, rows, first in found:
        hourly = contract_type == "hourly"
        was, now = ("milestone", "invoice") if hourly else ("invoice", "milestone")
        warnings.append(
            f"{file}: {plural(contracts, 'contract')} now {'hourly' if hourly else 'fixed-price'} (first: '{first}'): "
            f"{plural(rows, was)} earlier imports gave {'it' if contracts == 1 else 'them'} now "
            f"{'counts' if rows == 1 else 'count'} as {('an ' if hourly else 'a ') + now if rows == 1 else now + 's'}")
    return warnings


def _ctx_join(con) -> str:
    """The condition joining a staged milestone ``m`` to its contract in ``_ctx`` (``c``).

    Every staged milestone's contract is in ``_ctx`` (``_check_batch`` refuses the others), so
    while no two contracts there share a key hash, equal hashes mean the same contract: one
    integer compared instead of two strings (1M contracts: the payments insert ~0.8 s faster).
    If two ever do, the text keys are compared.
    """
    if con.execute("SELECT count(DISTINCT key_hash) = count(*) FROM _ctx").fetchone()[0]:
        return "c.key_hash = hash(m.source, m.contract_id)"
    return "c.source = m.source AND c.contract_id = m.contract_id"


def _billed_before_sql(paid: str) -> str:
    """``WITH`` a query's paid rows (source, contract_id, seq, paid_date, amount, platform, client,
    freelancer, staged, hourly) as ``ordered``, each with ``billed_before``: what was billed with the same
    client (and freelancer) before it, which Upwork's 2016–2023 sliding fee depends on."""
    return f"""WITH paid AS ({paid}), ordered AS (
                SELECT *, coalesce(sum(amount) OVER (
                    PARTITION BY source, coalesce(client, contract_id), coalesce(freelancer, '')
                    ORDER BY paid_date, contract_id, seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS billed_before
                FROM paid)"""


# The workspace's released payments counted in what was billed with a client (a paid_total stands
# in for its contract's payments on the contract's last date), leaving out those ``staged_again`` lists.
_BILLED_IN_WORKSPACE = """
    SELECT p.source, p.contract_id, p.seq, coalesce(p.paid_date, c.end_date, c.start_date), p.gross, c.platform,
           c.client, c.freelancer, false, c.contract_type = 'hourly'
    FROM payments p JOIN contracts c USING (source, contract_id)
    WHERE NOT p.pending AND p.kind IN ('milestone', 'hourly', 'bonus', 'contract_total') AND NOT ({staged_again})"""


def _derive_fees(con, fee: str) -> None:
    """Fill empty fees of paid staged milestones from the platform rules (``fee``: the SQL expression)."""
    workspace = _BILLED_IN_WORKSPACE.format(staged_again=(
        "EXISTS (SELECT 1 FROM in_milestones m WHERE m.source = p.source AND m.contract_id = p.contract_id AND m.seq = p.seq)"))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _fees AS
            {_billed_before_sql('''
                SELECT m.source, m.contract_id, m.seq, m.paid_date, m.paid_amount AS amount, c.platform,
                       c.client, c.freelancer, true AS staged, c.contract_type = 'hourly' AS hourly
                FROM in_milestones m JOIN _ctx c USING (source, contract_id)
                WHERE m.status = 'paid' AND m.paid_amount IS NOT NULL
                UNION ALL''' + workspace)}
            SELECT source, contract_id, seq, {fee} AS fee FROM ordered WHERE staged"""
    )
    con.execute(
        """UPDATE in_milestones m SET fee = f.fee FROM _fees f
           WHERE m.fee IS NULL AND f.source = m.source AND f.contract_id = m.contract_id AND f.seq = m.seq"""
    )


def _merge(con, deferred_payments: str | None = None) -> dict[int, dict[str, int]]:
    """Insert new rows, update changed ones, skip identical ones; count per import id.

    ``deferred_payments``: a query giving more rows of ``in_payments`` (see ``_derive``), only
    when the payments table is empty."""
    counts: dict[int, dict[str, int]] = {}
    for table in ("contracts", "milestones", "payments"):
        key = KEYS[table]
        cols = [c for c in COLUMNS[table] if c not in key]
        join = " AND ".join(f"t.{k} = i.{k}" for k in key)
        same = " AND ".join(f"t.{c} IS NOT DISTINCT FROM i.{c}" for c in cols)
        all_cols = list(key) + cols
        if _is_empty(con, table):
            # An empty table (a first import): every staged row is new, nothing to compare with.
            staged = f"in_{table}"
            if table == "payments" and deferred_payments is not None:
                staged = f"(SELECT * FROM in_payments UNION ALL {deferred_payments})"
            con.execute(
                f"""INSERT INTO {table} ({', '.join(all_cols)}, first_import_id, import_id)
                    SELECT {', '.join(all_cols)}, _import_id, _import_id FROM {staged}"""
            )
            # The table held nothing before: its rows are the ones just inserted.
            for import_id, n in con.execute(f"SELECT import_id, count(*) FROM {table} GROUP BY ALL").fetchall():
                bucket = counts.setdefault(import_id, {})
                bucket[f"{table}_new"] = bucket.get(f"{table}_new", 0) + n
            continue
        assert not (table == "payments" and deferred_payments is not None)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _cmp AS
                SELECT i._import_id,
                       CASE WHEN t.{key[-1]} IS NULL THEN 'new' WHEN {same} THEN 'same' ELSE 'updated' END AS outcome,
                       {', '.join('i.' + k for k in key)}
                FROM in_{table} i LEFT JOIN {table} t ON {join}"""
        )
        outcomes: dict[str, int] = {}
        for import_id, outcome, n in con.execute("SELECT _import_id, outcome, count(*) FROM _cmp GROUP BY ALL").fetchall():
            bucket = counts.setdefault(import_id, {})
            name = "duplicates" if outcome == "same" else f"{table}_{outcome}"
            bucket[name] = bucket.get(name, 0) + n
            outcomes[outcome] = outcomes.get(outcome, 0) + n
        setters = ", ".join(f"{c} = i.{c}" for c in cols)
        if outcomes.get("updated"):
            con.execute(
                f"""UPDATE {table} t SET {setters}, import_id = i._import_id FROM in_{table} i
                    WHERE {join} AND EXISTS (SELECT 1 FROM _cmp x WHERE x.outcome = 'updated' AND {' AND '.join(f'x.{k} = i.{k}' for k in key)})"""
            )
        if not outcomes.get("new"):
            continue
        # Every staged row new (a first import): no join with _cmp needed (1M contracts: ~3 s less).
        only_new = outcomes["new"] == sum(outcomes.values())
        con.execute(
            f"""INSERT INTO {table} ({', '.join(all_cols)}, first_import_id, import_id)
                SELECT {', '.join('i.' + c for c in all_cols)}, i._import_id, i._import_id
                FROM in_{table} i"""
            + ("" if only_new else f""" JOIN _cmp x ON {' AND '.join(f'x.{k} = i.{k}' for k in key)}
                WHERE x.outcome = 'new'""")
        )
    return counts


def summary_json(summary: ImportSummary) -> str:
    return json.dumps(summary.to_json())
