"""Any other CSV: a mapping from a file's columns to the template's fields, saved by name.

The dashboard's Data page drives these functions: ``inspect_file`` shows each column with
sample values and what the file already is (a known format needs no mapping), then
``suggest_mapping`` proposes which column feeds which field; the user corrects it,
``save_mapping`` stores it as JSON under a name, and ``import_files(..., mapping=...)`` or
``milestone-lens import FILE --mapping NAME_OR_FILE.json`` applies it.

A mapping file::

    {"name": "My agency sheet",
     "fields": {"contract_id": "Job ID", "start_date": "Started", "budget": "Price", ...},
     "day_first": true, "decimal_comma": null,
     "defaults": {"platform": "direct", "currency": "EUR"},
     "values": {"status": {"Closed": "completed", "Ended early": "cancelled"}}}

``fields`` maps template field -> column header (any case); ``defaults`` fills fields the
file lacks (or leaves empty); ``values`` translates the file's words into the template's.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from analysis import canonical, store
from analysis.errors import UserError, single_problem
from analysis.parsing import ParseOptions, StagedFile, normalize_header, quote_ident, stage_csv
from analysis.wording import listed, plural

MAPPINGS_ENV_VAR = "MILESTONE_LENS_MAPPINGS"
MAPPING_VERSION = 1

#: Every field a column can be mapped to, contracts first (the order the Data page shows).
FIELDS: tuple[str, ...] = tuple(dict.fromkeys(canonical.CONTRACT_FIELDS + canonical.MILESTONE_FIELDS + ("milestone_status",)))
DATE_FIELDS = frozenset(canonical.CONTRACT_DATES + canonical.MILESTONE_DATES)
AMOUNT_FIELDS = frozenset(("budget", "paid_total", "amount", "paid_amount", "fee"))
INTEGER_FIELDS = frozenset(("seq", "milestone_count"))
#: Fields whose words ``values`` may translate, and the words the template accepts.
VALUE_FIELDS = {
    "status": canonical.CONTRACT_STATUSES,
    "contract_type": canonical.CONTRACT_TYPES,
    "milestone_status": canonical.MILESTONE_STATUSES,
}
FIELD_HELP = {
    "contract_id": "identifies the contract (required)",
    "client": "client name or id", "freelancer": "who did the work", "title": "contract title",
    "category": "kind of work", "platform": "upwork, freelancer, fiverr, direct …",
    "contract_type": "fixed or hourly", "budget": "agreed total price (fixed-price: required)",
    "currency": "ISO code, default USD", "start_date": "date the contract started (required)",
    "planned_end_date": "agreed delivery date", "end_date": "date it ended",
    "status": "completed, cancelled, disputed or active (required)",
    "milestone_count": "number of milestones (contract-level files)", "paid_total": "total paid (contract-level files)",
    "seq": "milestone number 1, 2, 3 …", "description": "milestone description", "amount": "milestone amount",
    "due_date": "milestone due date", "funded_date": "date funded", "submitted_date": "date submitted",
    "paid_date": "date paid", "paid_amount": "amount paid", "fee": "platform fee on the payment",
    "milestone_status": "pending, funded, submitted, paid, refunded or cancelled",
}
# Header words (normalized) that usually mean a field, beyond the field's own name.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "contract_id": ("id", "contract", "contract_no", "contract_number", "job_id", "job", "job_no", "project_id",
                    "order_id", "order", "order_no", "reference", "ref", "contract_ref", "engagement_id"),
    "client": ("client_name", "customer", "customer_name", "buyer", "company", "employer", "team", "client_team", "account"),
    "freelancer": ("freelancer_name", "contractor", "seller", "worker", "provider", "assignee", "consultant", "member"),
    "title": ("project", "project_name", "job_title", "contract_title", "contract_name", "name", "subject", "gig"),
    "category": ("skill", "service", "job_category", "work_type", "segment"),
    "platform": ("marketplace", "site", "channel", "source"),
    "contract_type": ("type", "contract_kind", "pricing", "billing_type", "payment_type", "kind"),
    "budget": ("price", "contract_value", "value", "fixed_price", "agreed_price", "agreed_amount", "total_budget",
               "contract_amount", "total_price", "fee_agreed"),
    "currency": ("cur", "ccy", "currency_code"),
    "start_date": ("start", "started", "started_on", "date_started", "begin", "began", "opened", "opened_on", "created",
                   "created_at", "created_on", "start_time", "contract_start", "date"),
    "planned_end_date": ("planned_end", "deadline", "due", "delivery_date", "expected_end", "target_date"),
    "end_date": ("end", "ended", "ended_on", "closed", "closed_on", "closed_date", "finish", "finished", "finished_on",
                 "completed_at", "completed_on", "date_ended", "contract_end"),
    "status": ("state", "contract_status", "outcome", "result", "stage"),
    "milestone_count": ("milestones", "number_of_milestones", "n_milestones", "milestones_count", "num_milestones"),
    "paid_total": ("paid", "total_paid", "earned", "received", "total_earned", "amount_paid_total"),
    "seq": ("milestone", "milestone_no", "milestone_number", "milestone_seq", "sequence", "step", "phase", "installment"),
    "description": ("milestone_description", "milestone_name", "milestone_title", "details", "task", "deliverable"),
    "amount": ("milestone_amount", "milestone_value", "milestone_price", "installment_amount"),
    "due_date": ("milestone_due", "due", "milestone_deadline"),
    "funded_date": ("funded", "escrow_date", "funded_at", "deposited"),
    "submitted_date": ("submitted", "delivered", "delivery", "submitted_at", "delivered_at"),
    "paid_date": ("paid_on", "released", "release_date", "payment_date", "paid_at", "released_at"),
    "paid_amount": ("amount_paid", "released_amount", "payment_amount", "paid_value"),
    "fee": ("platform_fee", "service_fee", "commission", "fees"),
    "milestone_status": ("milestone_state",),
}
_NAME_RE = re.compile(r"^[\w][\w .,()+&-]{0,79}$")
_DATE_RE = re.compile(
    r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|[A-Za-z]{3,9}\.? \d{1,2},? \d{4}|\d{1,2} [A-Za-z]{3,9}\.? \d{4})"
)
_AMOUNT_RE = re.compile(r"^\s*[+\-(]?\s*([A-Za-z]{3}\s*)?[$€£¥₹]?\s*[+\-]?\d[\d.,' \u00a0\u202f]*\)?\s*([A-Za-z]{3}|[$€£¥₹])?\s*$")
_INT_RE = re.compile(r"^\s*\d{1,6}\s*$")


@dataclass
class ColumnMapping:
    """Which column of a file feeds which template field (see the module docstring)."""

    name: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    day_first: bool | None = None
    decimal_comma: bool | None = None
    defaults: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    def describe(self) -> str:
        """What the mapping does, in one line: a saved one picked for a file is shown before it is used.
        ``Job ID → contract_id, State → status; every row: currency EUR; status: Done → completed; dates day first``."""
        parts = [", ".join(f"{column} → {target}" for target, column in self.fields.items())]
        if self.defaults:
            parts.append("every row: " + ", ".join(f"{target} {value}" for target, value in self.defaults.items()))
        parts += [f"{target}: " + ", ".join(f"{word} → {means}" for word, means in words.items())
                  for target, words in self.values.items() if words]
        if self.day_first is not None:
            parts.append("dates day first" if self.day_first else "dates month first")
        if self.decimal_comma is not None:
            parts.append("decimal comma" if self.decimal_comma else "decimal point")
        return "; ".join(p for p in parts if p)

    def to_json(self) -> dict:
        return {"version": MAPPING_VERSION, "name": self.name, "fields": dict(self.fields),
                "day_first": self.day_first, "decimal_comma": self.decimal_comma,
                "defaults": dict(self.defaults), "values": {k: dict(v) for k, v in self.values.items()}}

    @classmethod
    def from_json(cls, document: object, where: str = "mapping") -> ColumnMapping:
        """Build from a parsed JSON document, refusing anything malformed with a message naming ``where``."""
        if not isinstance(document, Mapping):
            raise UserError(f"{where}: a column mapping is a JSON object with a 'fields' object")
        fields = document.get("fields")
        if not isinstance(fields, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items()):
            raise UserError(f"{where}: 'fields' must map template fields to column headers (text to text)")
        defaults = document.get("defaults") or {}
        values = document.get("values") or {}
        if not isinstance(defaults, Mapping) or not all(isinstance(v, (str, int, float)) for v in defaults.values()):
            raise UserError(f"{where}: 'defaults' must map template fields to values")
        if not isinstance(values, Mapping) or not all(
            isinstance(v, Mapping) and all(isinstance(a, str) and isinstance(b, str) for a, b in v.items()) for v in values.values()
        ):
            raise UserError(f"{where}: 'values' must map a field to an object of file value -> template value")
        for key in ("day_first", "decimal_comma"):
            if document.get(key) not in (None, True, False):
                raise UserError(f"{where}: '{key}' must be true, false or null")
        mapping = cls(
            name=str(document.get("name") or ""),
            fields={str(k): str(v) for k, v in fields.items() if str(v).strip()},
            day_first=document.get("day_first"),
            decimal_comma=document.get("decimal_comma"),
            defaults={str(k): str(v) for k, v in defaults.items()},
            values={str(k): {str(a): str(b) for a, b in v.items()} for k, v in values.items()},
        )
        problems = mapping.problems()
        if problems:
            raise UserError(f"{where}: {problems[0]}")
        return mapping

    def problems(self, headers: Sequence[str] | None = None) -> list[str]:
        """What is wrong with this mapping (for a file with ``headers``, when given); empty when usable."""
        out: list[str] = []
        for target in list(self.fields) + list(self.defaults) + list(self.values):
            if target not in FIELDS:
                out.append(f"'{target}' is not a template field (fields: {', '.join(FIELDS)})")
        for target, allowed in VALUE_FIELDS.items():
            for word in list(self.values.get(target, {}).values()) + ([self.defaults[target]] if target in self.defaults else []):
                if word.strip().lower() not in allowed:
                    out.append(f"'{word}' is not a {target} (expected one of {', '.join(allowed)})")
        for target in self.values:
            if target not in VALUE_FIELDS and target in FIELDS:
                out.append(f"values can only translate {', '.join(VALUE_FIELDS)}, not {target}")
        if headers is not None:
            present = {normalize_header(h) for h in headers}
            for target, header in self.fields.items():
                if normalize_header(header) not in present:
                    out.append(f"the file has no column '{header}' (mapped to {target})")
        return out

    def missing_required(self, headers: Sequence[str] = ()) -> list[str]:
        """Required template fields neither mapped, defaulted nor already named so in ``headers``."""
        have = set(self.fields) | set(self.defaults) | {normalize_header(h) for h in headers if normalize_header(h) in FIELDS}
        contract_side = bool(have & {"start_date", "status", "budget", "end_date", "client", "title"})
        milestone_side = bool(have & {"seq", "amount"})
        needed = ["contract_id"]
        if contract_side or not milestone_side:
            needed += ["start_date", "status"]
        if milestone_side:
            needed += ["seq", "amount"]
        return [f for f in needed if f not in have]


@dataclass
class ColumnPreview:
    """One column of a file as the Data page shows it: header, sample values and what they look like."""

    name: str
    samples: list[str]
    looks_like: str  # 'date', 'amount', 'integer', 'text' or 'empty'


@dataclass
class FileInspection:
    """What a file is before importing it: layout, columns with samples, known format, suggested mapping."""

    file: str
    encoding: str
    delimiter: str
    rows: int
    columns: list[ColumnPreview]
    detected_format: str | None  # a known format (canonical, upwork, …): no mapping needed
    needs_mapping: bool
    suggestion: ColumnMapping


def _looks_like(samples: Sequence[str]) -> str:
    values = [s for s in samples if s.strip()]
    if not values:
        return "empty"
    for kind, pattern in (("integer", _INT_RE), ("date", _DATE_RE), ("amount", _AMOUNT_RE)):
        if all(pattern.search(v) for v in values):
            return kind
    return "text"


def inspect_file(path: str | Path, display: str | None = None, options: ParseOptions | None = None,
                 sample_size: int = 5) -> FileInspection:
    """Read ``path`` (any encoding and delimiter) and describe it for the mapping step."""
    from analysis.importing import detect_format

    path = Path(path)
    con = duckdb.connect()
    try:
        staged = stage_csv(con, path, "inspect", display or path.name, options)
        headers = [staged.columns[k] for k in staged.columns]
        columns = []
        for header in headers:
            samples = [str(r[header]).strip() for r in staged.sample_rows if r.get(header) not in (None, "")][:sample_size]
            columns.append(ColumnPreview(header, samples, _looks_like(samples)))
        detected = detect_format(staged)
    finally:
        con.close()
    return FileInspection(
        file=display or path.name, encoding=staged.encoding, delimiter=staged.delimiter, rows=staged.rows,
        columns=columns, detected_format=detected, needs_mapping=detected is None,
        suggestion=suggest_mapping(columns),
    )


def _score(target: str, header: str, looks_like: str) -> float:
    key = normalize_header(header)
    if key == target:
        score = 100.0
    elif key in SYNONYMS.get(target, ()) or canonical.ALIASES.get(key) == target:
        score = 80.0
    else:
        tokens = set(key.split("_"))
        wanted = set(target.split("_")) | {t for s in SYNONYMS.get(target, ()) for t in s.split("_") if len(t) > 2}
        overlap = len(tokens & wanted)
        score = 30.0 * overlap / max(len(tokens), 1) if overlap else 0.0
    if score == 0:
        return 0.0
    expected = "date" if target in DATE_FIELDS else "amount" if target in AMOUNT_FIELDS else "integer" if target in INTEGER_FIELDS else None
    if expected and looks_like not in ("empty", expected) and not (expected == "amount" and looks_like == "integer"):
        return 0.0  # a "Start" column full of names is not a start date
    if expected and looks_like != "empty":
        score += 15  # the values fit the field
    return score


def suggest_mapping(columns: Sequence[ColumnPreview] | Sequence[str], name: str = "") -> ColumnMapping:
    """Propose a field for each column from its header and its sample values (one column per field)."""
    previews = [c if isinstance(c, ColumnPreview) else ColumnPreview(str(c), [], "empty") for c in columns]
    candidates = sorted(
        ((_score(f, p.name, p.looks_like), FIELDS.index(f), f, p.name) for f in FIELDS for p in previews),
        key=lambda t: (-t[0], t[1]),
    )
    fields: dict[str, str] = {}
    used: set[str] = set()
    for score, _, target, header in candidates:
        if score < 20 or target in fields or header in used:
            continue
        fields[target] = header
        used.add(header)
    ordered = {f: fields[f] for f in FIELDS if f in fields}
    return ColumnMapping(name=name, fields=ordered)


# --- saving and loading -----------------------------------------------------------------

def default_mapping_dir() -> Path:
    """Where named mappings live: ``$MILESTONE_LENS_MAPPINGS`` or ``data/mappings``."""
    env = os.environ.get(MAPPINGS_ENV_VAR)
    return Path(env) if env else store.DATA_DIR / "mappings"


def _slug(name: str) -> str:
    """The file name a mapping is saved under; names never become paths outside the directory."""
    clean = name.strip()
    if not _NAME_RE.match(clean) or clean in (".", ".."):
        raise UserError(f"'{name}' cannot name a mapping: use letters, digits, spaces and . , ( ) + & - _ (at most 80)")
    return re.sub(r"[^\w.-]+", "_", clean).strip("._") or "mapping"


def save_mapping(mapping: ColumnMapping, directory: str | Path | None = None, *, replace: bool = False) -> Path:
    """Store ``mapping`` as ``<directory>/<name>.json``. A mapping saved under the same name is
    replaced only with ``replace``; one of another name whose file name is the same ("Agency
    tracker" and "Agency_tracker") never is: saving silently overwrote either."""
    problems = mapping.problems()
    if problems:
        raise UserError(f"mapping '{mapping.name}': {problems[0]}")
    folder = Path(directory) if directory is not None else default_mapping_dir()
    folder.mkdir(parents=True, exist_ok=True)
    saved = _saved_mappings(folder)
    target = saved.get(mapping.name) or folder / f"{_slug(mapping.name)}.json"
    if target.exists():
        other = next((name for name, path in saved.items() if path == target), None)
        if other is not None and other != mapping.name:
            raise UserError(f"the saved mapping '{other}' is stored in the same file ({target.name}): "
                            f"choose a name further from it than '{mapping.name}'")
        if not replace:
            raise UserError(f"a mapping named '{mapping.name}' is saved already: replace it, or choose another name")
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(mapping.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(target)
    return target


def _saved_mappings(folder: Path) -> dict[str, Path]:
    """Each saved mapping's name (the ``name`` in its file, else the file's stem) -> its file.

    ``save_mapping`` names the file after the mapping, but a file written by hand or renamed
    is found by the name inside it, the one ``list_mappings`` shows.
    """
    found: dict[str, Path] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            name = json.loads(path.read_text(encoding="utf-8-sig")).get("name") or path.stem
        except (OSError, ValueError, AttributeError):
            continue
        found.setdefault(str(name), path)
    return found


def _saved_mapping_path(name: str, folder: Path) -> Path | None:
    """The file of the mapping saved as ``name``: by the name inside it, else by the file name."""
    slugged = folder / f"{_slug(name)}.json"
    return _saved_mappings(folder).get(name) or (slugged if slugged.is_file() else None)


def list_mappings(directory: str | Path | None = None) -> list[str]:
    """Names of the saved mappings, sorted."""
    folder = Path(directory) if directory is not None else default_mapping_dir()
    return sorted(_saved_mappings(folder), key=str.lower)


def delete_mapping(name: str, directory: str | Path | None = None) -> None:
    folder = Path(directory) if directory is not None else default_mapping_dir()
    path = _saved_mapping_path(name, folder)
    if path is not None:
        path.unlink(missing_ok=True)


def load_mapping(ref: str | Path | Mapping | ColumnMapping, directory: str | Path | None = None) -> ColumnMapping:
    """A mapping from a JSON file path, a saved name, a parsed JSON object or a ColumnMapping."""
    if isinstance(ref, ColumnMapping):
        return ref
    if isinstance(ref, Mapping):
        return ColumnMapping.from_json(ref)
    path = Path(ref)
    if not path.is_file():
        if path.suffix.lower() == ".json" or len(path.parts) > 1:
            raise UserError(f"{path.name}: mapping file not found")
        folder = Path(directory) if directory is not None else default_mapping_dir()
        found = _saved_mapping_path(str(ref), folder)
        if found is None:
            known = list_mappings(folder)
            raise UserError(f"no saved mapping named '{ref}' in {folder}" + (f" (saved: {', '.join(known)})" if known else
                            "; give a mapping JSON file's path, or save one from the dashboard's Data page"))
        path = found
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeError, ValueError) as exc:
        raise UserError(f"{path.name}: not a JSON column mapping ({str(exc).splitlines()[0]})") from None
    return ColumnMapping.from_json(document, path.name)


# --- applying ---------------------------------------------------------------------------

def apply_mapping(con: duckdb.DuckDBPyConnection, staged: StagedFile, mapping: ColumnMapping) -> list[str]:
    """Rename ``staged``'s columns to template fields, add defaults and translate words, in place.

    Columns neither mapped nor named like a template field are kept aside (unused) and
    returned as a warning. Headers reach SQL only through ``quote_ident``, values only as
    parameters.
    """
    staged.file_header = list(staged.columns.values())
    by_key = {normalize_header(real): real for real in staged.columns.values()}
    missing = [(t, h) for t, h in mapping.fields.items() if normalize_header(h) not in by_key]
    if missing:
        target, header = missing[0]
        raise single_problem(staged.display, 1, None,
                             f"the mapping{' ' + repr(mapping.name) if mapping.name else ''} expects a column '{header}' "
                             f"for {target}, which this file lacks (the header has: {', '.join(staged.columns.values())})")
    columns: dict[str, str] = {target: by_key[normalize_header(header)] for target, header in mapping.fields.items()}
    used = set(columns.values())
    extra: list[str] = []
    for key, real in staged.columns.items():
        if real in used:
            continue
        if key in FIELDS and key not in columns:
            columns[key] = real  # already named like the template
            used.add(real)
        else:
            extra.append(real)
    for target in set(mapping.defaults) | set(mapping.values):
        new = f"__mapped_{target}"
        source = columns.get(target)
        con.execute(f"ALTER TABLE {staged.table} ADD COLUMN {quote_ident(new)} VARCHAR")
        expr = f"nullif(trim({quote_ident(source)}), '')" if source else "CAST(NULL AS VARCHAR)"
        params: list[str] = []
        words = mapping.values.get(target, {})
        if words:  # every cell translated once, from the file's word: "Closed" -> cancelled never goes on to "Cancelled"'s meaning
            cases = " ".join("WHEN lower(trim(?)) THEN ?" for _ in words)
            expr = f"coalesce(CASE lower({expr}) {cases} END, {expr})"
            params += [x for word, meaning in words.items() for x in (word, meaning.strip().lower())]
        if target in mapping.defaults:
            expr = f"coalesce({expr}, ?)"
            params.append(mapping.defaults[target].strip())
        con.execute(f"UPDATE {staged.table} SET {quote_ident(new)} = {expr}", params)
        columns[target] = new
        staged.labels[new] = source if source else f"{target} (the mapping's default)"
    if "milestone_status" in columns and "status" not in columns and "start_date" not in columns:
        columns["status"] = columns.pop("milestone_status")  # a milestones file: its status is the milestone's
    staged.columns = columns
    staged.extra_columns = extra
    staged.mapping = mapping.name or ""
    if extra:
        return [f"{plural(len(extra), 'column')} not mapped ({listed([repr(e) for e in extra], 5)}): kept aside, not imported"]
    return []


def mapped_options(mapping: ColumnMapping, options: ParseOptions) -> ParseOptions:
    """The command's choices win; the mapping's saved choices fill what the command left open."""
    from dataclasses import replace

    return replace(
        options,
        day_first=options.day_first if options.day_first is not None else mapping.day_first,
        decimal_comma=options.decimal_comma if options.decimal_comma is not None else mapping.decimal_comma,
    )
