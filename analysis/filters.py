"""The filters every analysis takes (SPEC.md: dates, client, freelancer, category, platform, currency).

One ``Filters`` value describes which contracts an analysis looks at; ``where()`` turns it
into a SQL condition over ``contract_view`` with ``?`` parameters, so user text never
reaches SQL as code. The dashboard keeps it in the URL through ``to_dict()``/``from_dict()``.

``contracts_sql()`` is the filtered contract set with the derived columns the analyses share
(planned duration, budget and duration bands, the client's earlier contracts), so every
module bands and counts contracts the same way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TypeVar
from dataclasses import dataclass, field, fields, replace

from analysis.errors import UserError

#: A group with fewer finished contracts than this is flagged ``small_sample``: its rate is
#: shown as counts ("3 of 12"), not as a percentage, and no conclusion is drawn from it.
SMALL_SAMPLE_FINISHED = 30

#: Budget bands (upper bounds, exclusive) in the contract's own currency.
BUDGET_BANDS: tuple[tuple[float, str], ...] = (
    (100.0, "under 100"), (500.0, "100–499"), (1000.0, "500–999"), (5000.0, "1,000–4,999"),
    (float("inf"), "5,000 and more"),
)
#: Planned duration bands (upper bounds in days, inclusive).
DURATION_BANDS: tuple[tuple[float, str], ...] = (
    (7, "up to 7 days"), (30, "8–30 days"), (90, "31–90 days"), (float("inf"), "over 90 days"),
)

_TEXT_FIELDS = ("client", "freelancer", "category", "platform", "currency")
_DATE_FORMATS = ("%Y-%m-%d", "%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%Y/%m/%d")

TextFilter = str | tuple[str, ...] | None
T = TypeVar("T")


def parse_date(text: str | dt.date | None, what: str = "date") -> dt.date | None:
    """A filter date from ISO text (or ``Nov 25, 2026``); ``UserError`` naming ``what`` otherwise."""
    if text is None or isinstance(text, dt.date):
        return text
    cleaned = str(text).strip()
    if not cleaned:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    raise UserError(f"{what}: cannot read '{cleaned}' as a date (use YYYY-MM-DD, e.g. 2026-11-25)")


def _text_values(value: TextFilter | Sequence[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = (value,)
    return tuple(v.strip() for v in value if v is not None and str(v).strip())


@dataclass(frozen=True)
class Filters:
    """Which contracts to analyse. Empty fields do not filter; text fields take one value or several.

    ``date_from``/``date_to`` bound the contract start date (both inclusive). Client,
    freelancer and category match case-insensitively; platform and currency as imported
    (lower-case platform, ISO currency code).
    """

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    client: TextFilter = None
    freelancer: TextFilter = None
    category: TextFilter = None
    platform: TextFilter = None
    currency: TextFilter = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "date_from", parse_date(self.date_from, "date_from"))
        object.__setattr__(self, "date_to", parse_date(self.date_to, "date_to"))
        for name in _TEXT_FIELDS:
            values = _text_values(getattr(self, name))
            if name == "currency":
                values = tuple(v.upper() for v in values)
                bad = [v for v in values if not re.fullmatch(r"[A-Z]{3}", v)]
                if bad:
                    raise UserError(f"currency: '{bad[0]}' is not a three-letter ISO code (e.g. USD)")
            elif name == "platform":
                values = tuple(v.lower() for v in values)
            object.__setattr__(self, name, None if not values else values[0] if len(values) == 1 else values)
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise UserError(f"the start-date range is reversed: --from (date_from) {self.date_from} "
                            f"is after --to (date_to) {self.date_to}")

    def values(self, name: str) -> tuple[str, ...]:
        """The values of text filter ``name`` as a tuple (empty when it does not filter)."""
        return _text_values(getattr(self, name))

    @property
    def single_currency(self) -> str | None:
        """The currency when exactly one is selected, else None."""
        chosen = self.values("currency")
        return chosen[0] if len(chosen) == 1 else None

    def with_currency(self, currency: str | None) -> Filters:
        return replace(self, currency=currency)

    def where(self, alias: str = "") -> tuple[str, list]:
        """A SQL condition over ``contract_view`` (columns prefixed with ``alias.``) and its parameters."""
        p = f"{alias}." if alias else ""
        clauses: list[str] = []
        params: list = []
        if self.date_from is not None:
            clauses.append(f"{p}start_date >= ?")
            params.append(self.date_from)
        if self.date_to is not None:
            clauses.append(f"{p}start_date <= ?")
            params.append(self.date_to)
        for name in _TEXT_FIELDS:
            values = self.values(name)
            if not values:
                continue
            marks = ", ".join("?" for _ in values)
            if name in ("client", "freelancer", "category"):
                clauses.append(f"lower({p}{name}) IN ({marks})")
                params += [v.lower() for v in values]
            else:
                clauses.append(f"{p}{name} IN ({marks})")
                params += list(values)
        return (" AND ".join(clauses) if clauses else "TRUE"), params

    def is_empty(self) -> bool:
        return not self.to_dict()

    def to_dict(self) -> dict[str, str | list[str]]:
        """The set filters as plain JSON values (ISO dates; several values as a list)."""
        out: dict[str, str | list[str]] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, dt.date):
                out[f.name] = value.isoformat()
            elif isinstance(value, tuple):
                out[f.name] = list(value)
            else:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object] | None) -> Filters:
        """The inverse of ``to_dict``; unknown keys are ignored, bad values raise ``UserError``."""
        data = data or {}
        known = {f.name for f in fields(cls)}
        kwargs: dict = {}
        for key, value in data.items():
            if key not in known or value is None or value == "" or value == []:
                continue
            if isinstance(value, list):
                value = tuple(str(v) for v in value)
            kwargs[key] = value
        return cls(**kwargs)

    def describe(self) -> str:
        """``client Acme, started 2025-01-01 to 2025-12-31`` — or ``all contracts``."""
        parts = []
        if self.date_from or self.date_to:
            parts.append(f"started {self.date_from or '…'} to {self.date_to or '…'}")
        for name in _TEXT_FIELDS:
            values = self.values(name)
            if values:
                parts.append(f"{name} {' or '.join(values)}")
        return ", ".join(parts) if parts else "all contracts"


def _band_order_sql(expr: str, bands: tuple[tuple[float, str], ...], inclusive: bool) -> str:
    """SQL for the index of ``expr``'s band in ``bands`` (``len(bands)`` when unknown)."""
    op = "<=" if inclusive else "<"
    whens = " ".join(
        f"WHEN {expr} IS NOT NULL THEN {i}" if upper == float("inf") else f"WHEN {expr} {op} {upper!r} THEN {i}"
        for i, (upper, _) in enumerate(bands)
    )
    return f"CASE {whens} ELSE {len(bands)} END"


#: Columns of ``contract_view`` kept in the prepared contracts table (no titles: analyses never read them).
_CONTRACT_VIEW_COLUMNS = (
    "source", "contract_id", "client", "freelancer", "category", "platform", "contract_type", "currency",
    "start_date", "start_estimated", "planned_end_date", "end_date", "status", "budget", "planned_milestones",
    "milestone_rows", "structure",
)
#: Contract columns ``payments_sql`` and ``milestones_sql`` put next to each row.
_CONTRACT_COLUMNS_ON_ROWS = (
    "cid", "source", "contract_id", "structure", "client", "freelancer", "category", "platform", "start_date",
    "start_estimated", "end_date", "contract_type", "budget", "planned_days", "budget_band_order",
)


def _enriched_contracts_sql(key: str = "hash(source, contract_id)") -> str:
    """Every contract of ``contract_view`` with an integer key ``cid`` (``key``) and the shared derived columns."""
    return f"""
        SELECT *, ({_band_order_sql("budget", BUDGET_BANDS, inclusive=False)})::TINYINT AS budget_band_order,
               ({_band_order_sql("planned_days", DURATION_BANDS, inclusive=True)})::TINYINT AS duration_band_order
        FROM (
            SELECT {key} AS cid, {', '.join(_CONTRACT_VIEW_COLUMNS)},
                   CASE WHEN planned_end_date > start_date
                        THEN datediff('day', start_date, planned_end_date)::INTEGER END AS planned_days,
                   status IN ('completed', 'cancelled', 'disputed') AS finished,
                   status IN ('cancelled', 'disputed') AS cancelled,
                   year(start_date)::INTEGER AS start_year
            FROM contract_view)"""


def _band_label_sql(order_column: str, bands: tuple[tuple[float, str], ...]) -> str:
    labels = " ".join(f"WHEN {i} THEN '{name}'" for i, (_, name) in enumerate(bands))
    return f"CASE {order_column} {labels} ELSE 'unknown' END"


@dataclass(frozen=True)
class _Prepared:
    con: object
    contracts: str
    payments: str
    milestones: str
    suffix: str = ""
    #: Tables derived from the three above on first use (``derived_table``): name -> table.
    derived: dict = field(default_factory=dict, compare=False)
    #: Where ``derived_table`` makes what it has not got: ``temp`` (dropped with the block) or
    #: ``ANALYSIS_SCHEMA`` (kept in the workspace: ``store_analysis_tables``).
    schema: str = "temp"


# The temporary tables ``prepared`` made in this thread/context, if any.
_PREPARED: ContextVar[_Prepared | None] = ContextVar("milestone_lens_prepared", default=None)

#: The workspace's schema for the analysis tables ``store_analysis_tables`` keeps (not user data:
#: everything in it is derived from the main tables and remade whenever they change).
ANALYSIS_SCHEMA = "ml_analysis"
#: Bumped whenever the SQL of a kept table changes, so a workspace written by another version
#: of Milestone Lens is not read through tables of the wrong shape (it falls back to temporary ones).
ANALYSIS_TABLES_FORMAT = 6


def _make_prepared_tables(con, names: _Prepared, *, row_number_keys: bool = False) -> bool:
    """Create the three prepared tables ``names`` on ``con``; True when ``cid`` is the hashed key.

    The key is a hash of (source, contract_id), so milestones and payments get theirs without a
    join on the text keys. If two contracts ever hash alike, the contracts are made again with a
    row number as the key and the others joined on the text keys (False). ``row_number_keys``
    takes that path whatever the hashes (for tests: a collision of 64-bit hashes cannot be made).
    """
    create = "CREATE TEMP TABLE" if names.schema == "temp" else "CREATE TABLE"
    key = "hash(source, contract_id)"
    con.execute(f"{create} {names.contracts} AS {_enriched_contracts_sql(key)}")
    hashed = not row_number_keys and _hashed_keys_unique(con, names.contracts)
    milestone_columns = "seq, kind, amount, due_date, funded_date, submitted_date, paid_date, paid_amount, status"
    if hashed and names.schema != "temp":
        # Kept in the workspace: a view, since the milestones are a copy with one column more (a
        # milestone's contract is always in the workspace: every import checks it).
        con.execute(f"CREATE VIEW {names.milestones} AS SELECT {key} AS cid, {milestone_columns} FROM main.milestones")
        keyed_payments = f"SELECT {key} AS cid, * FROM main.payments WHERE contract_id IS NOT NULL"
    elif hashed:
        con.execute(
            f"""{create} {names.milestones} AS SELECT {key} AS cid, {milestone_columns}
                FROM milestones WHERE {key} IN (SELECT cid FROM {names.contracts})""")
        keyed_payments = (f"SELECT {key} AS cid, * FROM payments "
                          f"WHERE contract_id IS NOT NULL AND {key} IN (SELECT cid FROM {names.contracts})")
    else:
        con.execute(f"DROP TABLE {names.contracts}")
        con.execute(f"{create} {names.contracts} AS {_enriched_contracts_sql('row_number() OVER ()')}")
        con.execute(
            f"""{create} {names.milestones} AS
                SELECT c.cid, m.seq, m.kind, m.amount, m.due_date, m.funded_date, m.submitted_date, m.paid_date,
                       m.paid_amount, m.status
                FROM milestones m JOIN {names.contracts} c ON c.source = m.source AND c.contract_id = m.contract_id""")
        keyed_payments = (f"SELECT c.cid, p.* FROM payments p "
                          f"JOIN {names.contracts} c ON c.source = p.source AND c.contract_id = p.contract_id")
    # submitted_date comes along for the platforms' holds (Upwork hourly money waits for the week's end).
    con.execute(
        f"""{create} {names.payments} AS
            SELECT p.cid, p.seq, p.kind, p.paid_date, p.gross, p.fee, p.currency, p.pending, m.submitted_date
            FROM ({keyed_payments}) p
            LEFT JOIN {names.milestones} m ON m.cid = p.cid AND m.seq = p.seq""")
    return hashed


def _hashed_keys_unique(con, contracts_table: str) -> bool:
    return con.execute(f"SELECT count(*) = count(DISTINCT cid) FROM {contracts_table}").fetchone()[0]


#: What the kept tables were made from: every row of the tables they derive from, hashed. A
#: change that did not go through Milestone Lens (SQL run on the file by hand) changes it too,
#: so such a workspace is analysed from its rows, never through tables made before the change.
_SOURCE_FINGERPRINT_SQL = " || '/' || ".join(
    f"(SELECT count(*) || ':' || coalesce(sum(hash(t)), 0) FROM main.{table} t)"
    for table in ("contracts", "milestones", "payments", "contract_completions"))


def _stored_tables(con) -> _Prepared | None:
    """The analysis tables kept in the workspace, when they were made from its current rows."""
    kept = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? AND database_name = current_database()",
        [ANALYSIS_SCHEMA]).fetchall()]
    if "built" not in kept:  # an older workspace, a Parquet dataset: prepare per block
        return None
    row = con.execute(
        f"SELECT b.format = {ANALYSIS_TABLES_FORMAT} AND b.source_fingerprint = {_SOURCE_FINGERPRINT_SQL} "
        f"FROM {ANALYSIS_SCHEMA}.built b").fetchone()
    if not row or not row[0]:
        return None
    q = f"{ANALYSIS_SCHEMA}."
    derived = {name[len("d_"):]: q + name for name in kept if name.startswith("d_")}
    return _Prepared(con, q + "contracts", q + "payments", q + "milestones", uuid.uuid4().hex[:12], derived)


def store_analysis_tables(con, build_derived: Callable[[], None], *, row_number_keys: bool = False) -> bool:
    """Make the prepared tables, and the derived ones ``build_derived()`` asks for, in the workspace.

    For a writer, inside the transaction that changed the data (``store.bump_data_version``):
    afterwards every ``prepared`` block on the workspace reads these instead of making its own,
    so a report or a cold dashboard page pays for the filtered aggregates only. Returns False
    (and keeps nothing) when two contracts' keys hash alike; blocks then prepare as before.
    ``row_number_keys``: as if they did (for tests, see ``_make_prepared_tables``).
    """
    con.execute(f"DROP SCHEMA IF EXISTS {ANALYSIS_SCHEMA} CASCADE")
    con.execute(f"CREATE SCHEMA {ANALYSIS_SCHEMA}")
    q = f"{ANALYSIS_SCHEMA}."
    names = _Prepared(con, q + "contracts", q + "payments", q + "milestones", "", schema=ANALYSIS_SCHEMA)
    if not _make_prepared_tables(con, names, row_number_keys=row_number_keys):  # row-number keys are only valid for one block
        con.execute(f"DROP SCHEMA {ANALYSIS_SCHEMA} CASCADE")
        return False
    token = _PREPARED.set(names)
    try:
        build_derived()
    finally:
        _PREPARED.reset(token)
    con.execute(
        f"CREATE TABLE {q}built AS SELECT {ANALYSIS_TABLES_FORMAT} AS format, {_SOURCE_FINGERPRINT_SQL} AS source_fingerprint, "
        "(SELECT CAST(value AS BIGINT) FROM meta WHERE key = 'data_version') AS data_version")
    return True


@contextlib.contextmanager
def prepared(con, *, row_number_keys: bool = False) -> Iterator[None]:
    """Compute the enriched contracts (and key the payments and milestones) once for a batch of analyses.

    ``contract_view`` aggregates every milestone, client history needs a window over every
    contract, and joins on (source, contract_id) text keys are slow: on a large workspace
    that costs more than the analyses themselves. So every import keeps these tables in the
    workspace (``store_analysis_tables``) and a block reads those. Where they are missing or
    older than the data (a workspace written by an older version, a Parquet dataset), the block
    makes three temporary tables on ``con`` — contracts with an integer key ``cid`` and the
    derived columns, and narrow copies of payments and milestones keyed by ``cid`` — and drops
    them on exit. Tables ``derived_table`` makes in a block are temporary too. Every public
    analysis runs inside it (see ``uses_prepared``); wrap a batch of calls on one connection
    to share the tables. Nested blocks on the same connection reuse the outer tables.
    ``row_number_keys`` makes the temporary tables with row-number keys, as when two contracts'
    keys hash alike (for tests, see ``_make_prepared_tables``).
    """
    made = _PREPARED.get()
    if made is not None and made.con is con:
        yield
        return
    names = _stored_tables(con)
    temporary: list[str] = []
    if names is None:
        suffix = uuid.uuid4().hex[:12]
        names = _Prepared(con, f"_ml_contracts_{suffix}", f"_ml_payments_{suffix}", f"_ml_milestones_{suffix}", suffix)
        temporary = [names.payments, names.milestones, names.contracts]
    kept = set(names.derived.values())
    try:
        if temporary:
            _make_prepared_tables(con, names, row_number_keys=row_number_keys)
        token = _PREPARED.set(names)
        try:
            yield
        finally:
            _PREPARED.reset(token)
    finally:
        for table in (*[t for t in names.derived.values() if t not in kept], *temporary):
            with contextlib.suppress(Exception):
                con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def uses_prepared(function: Callable[..., T]) -> Callable[..., T]:
    """Decorator for analyses ``f(con, ...)``: run inside ``prepared(con)``."""

    @functools.wraps(function)
    def run(con, *args, **kwargs):
        with prepared(con):
            return function(con, *args, **kwargs)

    return run


def _tables() -> _Prepared:
    made = _PREPARED.get()
    if made is None:
        raise RuntimeError("analysis SQL needs the prepared tables: call it inside analysis.filters.prepared(con)")
    return made


def derived_table(name: str, select_sql: Callable[[], str]) -> str:
    """A temporary table made once per ``prepared`` block from ``select_sql()`` (no parameters), on first use.

    For per-contract figures that do not depend on the filters (what was paid toward each
    contract, its first payment, the value still open on an active contract): every analysis
    of the block (and every filter change in the dashboard) then joins the filtered contracts
    with a table computed once, instead of aggregating every payment again. ``name`` must say
    everything the SQL depends on. Dropped with the block's other tables.
    """
    made = _tables()
    table = made.derived.get(name)
    if table is None:
        safe = re.sub(r'[^a-z0-9_]', '_', name.lower())
        if made.schema == "temp":
            table = f"_ml_{safe}_{made.suffix}"
            made.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {select_sql()}")
        else:  # kept in the workspace (``store_analysis_tables``): the prefix tells them from the prepared three
            table = f"{made.schema}.d_{safe}"
            made.con.execute(f"CREATE TABLE {table} AS {select_sql()}")
        made.derived[name] = table
    return table


def client_history_table() -> str:
    """(cid, prior_client_contracts) for every contract with a client (inside ``prepared``)."""
    contracts = _tables().contracts
    return derived_table("client_history", lambda: f"""
        SELECT cid, (row_number() OVER (PARTITION BY client ORDER BY start_date NULLS LAST, source, contract_id) - 1)
                   AS prior_client_contracts
        FROM {contracts} WHERE client IS NOT NULL""")


def contracts_sql(filters: Filters, *, client_history: bool = False) -> tuple[str, list]:
    """The filtered contracts with the derived columns every analysis shares, and parameters.

    Columns: ``cid`` (an integer key, valid inside one ``prepared`` block), everything in
    ``contract_view``, ``planned_days`` (planned end − start, NULL when unknown or not after
    the start), ``finished`` (completed, cancelled or disputed), ``cancelled`` (cancelled or
    disputed; NULL when the status is unknown), ``budget_band``, ``duration_band`` (and
    ``*_order`` for sorting), ``start_year``, and with ``client_history`` also
    ``prior_client_contracts``: the client's contracts that started earlier anywhere in the
    workspace (the filters do not hide history), NULL for contracts without a client. That
    needs a window over every contract, made on the first call that asks for it in a
    ``prepared`` block.
    """
    where, params = filters.where("v")
    budget = f"CASE WHEN v.budget IS NULL THEN 'unknown' ELSE {_band_label_sql('v.budget_band_order', BUDGET_BANDS)} END"
    duration = _band_label_sql("v.duration_band_order", DURATION_BANDS)
    if client_history:
        history, join = ", h.prior_client_contracts", f" LEFT JOIN {client_history_table()} h ON h.cid = v.cid"
    else:
        history, join = "", ""
    sql = (f"SELECT v.*{history}, {budget} AS budget_band, {duration} AS duration_band "
           f"FROM {_tables().contracts} v{join} WHERE {where}")
    return sql, params


#: Payment kinds that count toward a fixed-price contract's agreed budget (bonuses do not).
TOWARD_BUDGET_KINDS = ("milestone", "contract_total", "refund", "other")
#: Payment kinds that are money received from a client for the work (first payment, gaps).
INCOME_KINDS = ("milestone", "hourly", "contract_total", "bonus")


def _rows_sql(table: str, filters: Filters, extra_where: str = "", extra_columns: str = "") -> tuple[str, list]:
    where, params = filters.where("c")
    carried = ", ".join(f"c.{col}" for col in _CONTRACT_COLUMNS_ON_ROWS)
    sql = f"""SELECT {carried}, c.status AS contract_status, c.currency AS contract_currency{extra_columns}, r.* EXCLUDE (cid)
              FROM {table} r JOIN {_tables().contracts} c ON c.cid = r.cid
              WHERE {where} {extra_where}"""
    return sql, params


def payments_sql(filters: Filters, *, include_pending: bool = False) -> tuple[str, list]:
    """Payments of the filtered contracts, each with its contract's columns, and parameters.

    Account costs (no contract) are not here: they belong to no contract, so contract
    filters cannot apply to them (see ``earnings.account_costs``). Columns: cid, source,
    contract_id, structure, client, freelancer, category, platform, start_date, end_date,
    contract_type, budget, planned_days, budget_band_order, contract_status,
    contract_currency, seq, kind, paid_date, gross, fee, currency (the
    payment's), pending, submitted_date (of the milestone or invoice paid, if any).
    """
    return _rows_sql(_tables().payments, filters, "" if include_pending else "AND NOT r.pending")


def milestones_sql(filters: Filters) -> tuple[str, list]:
    """Milestones and hourly invoices of the filtered contracts, with their contract's columns.

    Columns: those of ``payments_sql`` up to contract_currency, currency (the contract's),
    then seq, kind ('milestone' or 'invoice'), amount, due_date, funded_date,
    submitted_date, paid_date, paid_amount, status (the milestone's).
    """
    return _rows_sql(_tables().milestones, filters, extra_columns=", c.currency")


@uses_prepared
def currency_counts(con, filters: Filters):
    """Contracts per currency under the filters (a DataFrame: currency, contracts, fixed_price), the
    report currency first: the most fixed-price (milestone or single-payment) contracts — what every
    comparison rests on, so a pile of hourly work in another currency does not choose it — then the
    most contracts, then by name."""
    base, params = contracts_sql(filters)
    return con.execute(f"""SELECT currency, count(*) AS contracts,
                                  count(*) FILTER (WHERE structure IN ('milestones', 'single')) AS fixed_price
                           FROM ({base}) GROUP BY currency
                           ORDER BY fixed_price DESC, contracts DESC, currency""", params).df()
