"""Property-based fuzzing (hypothesis) of every importer and of the splitter's inputs.

The property is the same everywhere: whatever the bytes or numbers, the program either does
its job or refuses with a ``UserError`` (one line on the command line, exit 2) — never an
unhandled exception, a warning on stderr, or a workspace changed by a refused import.
Files are built from the real layouts (template, Upwork, Freelancer.com, completions, a
column mapping) with hostile cells, broken quoting, other encodings and delimiters mixed in,
so that the readers get past the header test and meet the bad values.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from analysis import store
from analysis.cli import main as cli_main
from analysis.errors import UserError
from analysis.importing import import_files
from analysis.mapping import ColumnMapping
from analysis.parsing import ParseOptions
from tests.workspace_snapshot import snapshot

#: Examples per property; ``MILESTONE_LENS_FUZZ_EXAMPLES=5000`` for a long soak run.
EXAMPLES = int(os.environ.get("MILESTONE_LENS_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Cells that have broken importers somewhere, plus arbitrary text.
HOSTILE_CELLS = [
    "", " ", '"', '""', "'", ",", ";", "\t", "|", "\n", "\r\n", "\r", "=1+1", "+SUM(A1)", "@cmd", "-0",
    "1e300", "-1e300", "NaN", "inf", "-inf", "99999999999999999999", "9999999999999999.99", "-9999999999999999.99",
    "0", "-1", "0.001", "12.345", "(12.00)", "$1,234.50", "1.234,50", "1 234,50", "€1.200,00", "+250.00", "١٢٣",
    "9999-12-31", "0001-01-01", "1969-12-31", "2100-01-01", "2024-02-30", "2024-13-01", "12/13/2024", "13/12/2024",
    "05/11/2024", "Nov 25, 2026", "25 Nov 2026", "06 Jan 2026 23:52", "2026-11-25T10:00:00Z", "20261125",
    "completed", "cancelled", "disputed", "active", "COMPLETED", "paid", "fixed", "hourly", "USD", "EUR", "usd", "US$",
    "Robert'); DROP TABLE contracts;--", "' OR '1'='1", "<script>alert(1)</script>", "**bold** [x](javascript:x)",
    "\u00a0", "\ufeff", "😀", "Ñandú", "\u202e", "x" * 300,
    "Invoice for Site: Milestone 1 - Design", "Invoice for Site: Milestone 99999999999 - x",
    "Invoice for 08/12/2019-08/18/2019 - 9:10 hrs @ $30.00/hr", "Invoice for Sep 1-Sep 7, 2025",
    "Service Fee - Fixed Price - Ref ID 1", "Ref ID 411000079", "Landing page (41200871)", "x (y) (z)",
    "Done milestone payment from A for project B (note) (USD)", "Project fee taken (B) (USD)",
]
cells = st.one_of(st.sampled_from(HOSTILE_CELLS), st.text(max_size=12),
                  st.integers(min_value=-10**20, max_value=10**20).map(str),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr),
                  st.dates().map(str))

LAYOUTS = {
    "contracts": ["contract_id", "client", "freelancer", "title", "category", "platform", "contract_type", "budget",
                  "currency", "start_date", "planned_end_date", "end_date", "status", "milestone_count", "paid_total"],
    "milestones": ["contract_id", "seq", "description", "amount", "due_date", "funded_date", "submitted_date",
                   "paid_date", "paid_amount", "fee", "status"],
    "flat": ["contract_id", "start_date", "status", "budget", "contract_type", "platform", "seq", "amount",
             "paid_date", "milestone_status", "fee"],
    "upwork": ["Date", "Ref ID", "Type", "Description", "Agency", "Freelancer", "Team", "Account Name", "PO", "Amount",
               "Amount in local currency", "Currency", "Balance"],
    "upwork-2025": ["Date", "Transaction ID", "Transaction Type", "Transaction Summary", "Transaction Summary Details",
                    "Description 1", "Agency", "Freelancer", "Team", "Account Name", "Ref ID", "Amount $", "Currency",
                    "Current Balance $"],
    "upwork-weekly": ["Date", "Contract", "Hours", "Amount", "Payment type"],
    "freelancer": ["Date", "Description", "Currency", "Amount", "Tax"],
    "completions": ["contract_id", "status", "budget", "planned_milestones"],
}
# Plausible values per column, so that some rows get past the first checks.
GOOD = {
    "contract_id": ["C1", "C2", "C3"], "seq": ["1", "2", "3"], "start_date": ["2025-01-10", "Nov 25, 2025"],
    "status": ["completed", "cancelled", "active", "disputed"], "budget": ["150", "1,000.50", "$20"],
    "amount": ["30", "50.5"], "contract_type": ["fixed", "hourly"], "platform": ["upwork", "freelancer", "direct"],
    "paid_date": ["2025-02-01", ""], "Date": ["Sep 4, 2019", "2025-03-04", "06 Jan 2026 23:52"],
    "Ref ID": ["411000079", "1"], "Transaction ID": ["812000040", "2"],
    "Type": ["Fixed Price", "Hourly", "Service Fee", "Bonus", "Refund", "Withdrawal", "Connects", "VAT", "Mystery"],
    "Transaction Type": ["Fixed-price", "Service Fee", "Hourly"], "Amount": ["300.00", "-60.00", "+250.00"],
    "Amount $": ["450.00", "-45.00"], "Balance": ["1087.00", ""], "Current Balance $": ["761.00", ""],
    "Description": ["Invoice for Site: Milestone 1 - Design", "Done milestone payment from A for project B (USD)",
                    "Project fee taken (B) (USD)", "Service Fee - Fixed Price - Ref ID 411000079"],
    "Contract": ["Landing page copy (41200871)", "Logo (1)"], "Payment type": ["", "Fixed Price Payment", "Bonus"],
    "Team": ["Harbor Apps", "Ember Foods"], "Currency": ["USD", "EUR", ""], "Tax": ["0.00", "1.50"],
    "planned_milestones": ["2", "", "0"],
}


@st.composite
def csv_files(draw, layout: str) -> bytes:
    """A file of ``layout``'s header (sometimes with a column dropped, renamed or added) and hostile rows."""
    header = list(LAYOUTS[layout])
    if draw(st.integers(0, 5)) == 0 and len(header) > 2:
        header.pop(draw(st.integers(0, len(header) - 1)))
    if draw(st.integers(0, 5)) == 0:
        header.append(draw(st.sampled_from(["notes", "Robert'); DROP TABLE contracts;--", "<b>x</b>", "\"q\"", "",
                                            "x" * 70, "status"])))
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        row = []
        for name in header:
            good = GOOD.get(name)
            row.append(draw(st.sampled_from(good)) if good and draw(st.booleans()) else draw(cells))
        if draw(st.integers(0, 9)) == 0:  # ragged
            row = row[:-1] if draw(st.booleans()) else row + [draw(cells)]
        rows.append(row)
    delimiter = draw(st.sampled_from([",", ",", ",", ";", "\t", "|"]))
    out = io.StringIO()
    if draw(st.integers(0, 7)) == 0:  # no quoting at all: delimiters and quotes in cells break the structure
        for row in [header, *rows]:
            out.write(delimiter.join(row) + draw(st.sampled_from(["\n", "\r\n", "\r"])))
    else:
        writer = csv.writer(out, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
        writer.writerows([header, *rows])
    text = out.getvalue()
    if draw(st.integers(0, 9)) == 0:  # cut short anywhere
        text = text[: draw(st.integers(0, len(text)))]
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 19)) == 0:  # a few random bytes somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    return data


_WORKSPACES: dict[str, object] = {}


def _workspace(name: str):
    """One in-memory workspace per test (holding the sample's first contracts), reused across examples."""
    if name not in _WORKSPACES:
        con = store.connect(":memory:")
        fixtures = Path(__file__).resolve().parent / "fixtures" / "canonical"
        import_files(con, [fixtures / "contracts.csv", fixtures / "milestones.csv"], fmt="canonical")
        _WORKSPACES[name] = con
    return _WORKSPACES[name]


def _import_or_refuse(con, data: bytes, name: str, **kwargs) -> None:
    """The property: a clean import, or a UserError whose message is one line and names the file, with nothing written."""
    before = snapshot(con)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("error")
        path = Path(tmp) / "upload-1.csv"
        path.write_bytes(data)
        try:
            import_files(con, [path], display_names=[name], **kwargs)
        except UserError as exc:
            message = str(exc)
            assert message and "\n" not in message, message
            assert name in message or "mapping" in message, message
            assert snapshot(con) == before, "a refused import changed the workspace"
            assert not con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name LIKE 'in_%'").fetchone()[0]


@pytest.mark.parametrize("layout, fmt", [
    ("contracts", "auto"), ("milestones", "canonical"), ("flat", "auto"), ("upwork", "auto"), ("upwork-2025", "upwork"),
    ("upwork-weekly", "auto"), ("freelancer", "freelancer"), ("completions", "completions"),
])
def test_every_importer_imports_or_refuses_cleanly(layout, fmt):
    @FUZZ
    @given(data=csv_files(layout), day_first=st.sampled_from([None, True, False]),
           decimal_comma=st.sampled_from([None, None, True]))
    def run(data, day_first, decimal_comma):
        _import_or_refuse(_workspace(layout), data, f"{layout}.csv", fmt=fmt, source=None,
                          options=ParseOptions(day_first=day_first, decimal_comma=decimal_comma))

    run()


@st.composite
def mappings(draw):
    headers = draw(st.lists(st.sampled_from(["Job ID", "Customer", "Price", "Started", "State", "Closed on", "Notes",
                                             "Robert'); DROP TABLE x;--", "a\"b", "Ñ"]), min_size=1, max_size=6, unique=True))
    fields = {}
    for target in ("contract_id", "start_date", "status", "budget", "client", "end_date"):
        if draw(st.booleans()):
            fields[target] = draw(st.sampled_from(headers + ["Missing column"]))
    return headers, ColumnMapping(
        name=draw(st.sampled_from(["", "Agency", "x'); DROP TABLE contracts;--"])), fields=fields,
        defaults=draw(st.dictionaries(st.sampled_from(["platform", "currency", "status", "contract_type"]), cells, max_size=2)),
        values={"status": draw(st.dictionaries(cells, st.sampled_from(["completed", "cancelled", "active", "nonsense"]),
                                               max_size=3))},
    )


@FUZZ
@given(mapping=mappings(), rows=st.lists(st.lists(cells, min_size=6, max_size=6), max_size=5))
def test_mapped_import_imports_or_refuses_cleanly(mapping, rows):
    headers, column_mapping = mapping
    out = io.StringIO()
    csv.writer(out).writerows([headers, *[r[: len(headers)] for r in rows]])
    _import_or_refuse(_workspace("mapping"), out.getvalue().encode(), "sheet.csv", mapping=column_mapping)


@FUZZ
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_are_refused_or_imported_cleanly(data):
    _import_or_refuse(_workspace("bytes"), data, "bytes.csv")


# --- the splitter's inputs ------------------------------------------------------------------

extremes = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 5e-324, 1e300, 1e16, 9.2e16, 1e12, 1e-9, 0.005, 0.01, 36500.0, 0.999999]),
    st.integers(min_value=-10**6, max_value=10**6).map(float),
)
plausible = st.one_of(st.floats(min_value=0.01, max_value=5000).map(lambda v: round(v, 2)), st.sampled_from([150.0, 5.0, 30.0]))
# Mostly plausible values, so that most examples get past the first check and meet the next one.
numbers = st.one_of(plausible, plausible, extremes)
number_text = st.one_of(numbers.map(repr), numbers.map(repr),
                        st.sampled_from(["", "abc", "1e999", "-", "1,2", "10%", "nan", "0x10", " 5 "]))


@st.composite
def split_arguments(draw) -> list[str]:
    args = ["split", "--budget", draw(number_text), "--days", draw(number_text)]
    if draw(st.booleans()):
        args += ["--milestones", str(draw(st.one_of(st.integers(1, 12), st.integers(-5, 5000), st.sampled_from([10**9, 2**63]))))]
    else:
        args += ["--amounts", ",".join(draw(st.lists(number_text, min_size=1, max_size=5)))]
    for option, values in (("--due-days", st.lists(number_text, min_size=1, max_size=5).map(",".join)),
                           ("--wait-days", number_text), ("--fee", st.one_of(number_text, number_text.map(lambda v: v + "%"))),
                           ("--review-days", number_text), ("--hold-days", number_text), ("--min-milestone", number_text),
                           ("--billed-before", number_text), ("--cancel-prob", number_text),
                           ("--max-loss-share", number_text),
                           ("--shape", st.sampled_from(["equal", "front-loaded", "back-loaded"])),
                           ("--hazard", st.sampled_from(["constant", "front-heavy", "back-heavy"])),
                           ("--platform", st.sampled_from(["upwork", "upwork-2016", "freelancer", "fiverr", "direct"]))):
        if draw(st.integers(0, 3)) == 0:
            args.append(f"{option}={draw(values)}")  # "=": a value like -1e+16 is not taken for an option
    if draw(st.booleans()):
        args.append("--json")
    return args


@settings(max_examples=EXAMPLES * 6, deadline=None)
@given(args=split_arguments())
def test_split_command_answers_or_refuses_in_one_line(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning would reach the user's terminal
        code = cli_main(args + ["--db", "/nonexistent/never-created.duckdb"])
    if code == 0:
        assert err.getvalue() == ""
        if "--json" in args:
            document = json.loads(out.getvalue())
            for side in ("plan", "single_payment"):
                for key, value in document[side].items():
                    assert value is None or not isinstance(value, float) or math.isfinite(value), (side, key, value)
    else:
        assert code == 2, (code, err.getvalue())
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("milestone-lens: error:"), err.getvalue()
        assert out.getvalue() == ""


@settings(max_examples=EXAMPLES * 5, deadline=None)
@given(budget=numbers, days=numbers, n=st.one_of(st.integers(1, 12), st.integers(-3, 3000)),
       probability=st.one_of(st.floats(0, 1), numbers), share=st.one_of(st.floats(0.01, 1), numbers),
       shape=st.sampled_from(["equal", "front-loaded", "back-loaded"]), hazard=st.one_of(numbers, st.sampled_from(["constant", "front-heavy"])))
# Always tried: certain cancellation (nothing is ever paid, so no days to cash: NaN in the table, null in JSON).
@example(budget=150.0, days=5.0, n=5, probability=1.0, share=0.25, shape="equal", hazard="constant")
def test_splitter_functions_answer_or_refuse(budget, days, n, probability, share, shape, hazard):
    """What the dashboard's splitter page calls: make_plan, compare, recommend with any numbers."""
    from analysis import splitter

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            terms = splitter.platform_terms("upwork")
            risk = splitter.make_risk(probability, hazard)
            plan = splitter.make_plan(budget, days, milestones=n, shape=shape, terms=terms)
            comparison = splitter.compare(plan, terms, risk)
            recommendation = splitter.recommend(budget, days, terms, risk, max_loss_share=share, shape=shape)
        except UserError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
    assert math.isfinite(comparison.plan_outcome.expected_net)
    assert 0 <= comparison.plan_outcome.prob_paid_nothing <= 1
    # Valid JSON with finite numbers only (json.dumps raises on NaN or infinity with allow_nan=False).
    doc = json.loads(json.dumps(recommendation.to_json(), allow_nan=False))
    assert doc["max_loss_share"] == share and 0 < share <= 1
    assert 1 <= doc["max_allowed"] <= splitter.MAX_RECOMMENDED_MILESTONES
    assert doc["max_allowed"] * terms.min_milestone <= plan.budget + 1e-9  # every milestone meets the minimum
    assert (doc["review_days_per_milestone"], doc["wait_days_per_milestone"]) == (terms.review_days, 0.0)
    chosen = doc["milestones"]
    assert chosen is None or 1 <= chosen <= doc["max_allowed"]
    # A certain cancellation pays nothing under any plan: no count is recommended, whatever is at stake.
    certain = splitter.certain_cancellation(risk) is not None
    assert not certain or chosen is None
    table = recommendation.table
    counts = table["milestones"].tolist()
    assert len(doc["table"]) == len(counts) and [r["milestones"] for r in doc["table"]] == counts
    assert counts == sorted(set(counts)) and counts[0] == 1 and counts[-1] <= doc["max_allowed"]
    assert chosen is None or chosen in counts
    limit_cents = share * plan.budget_cents + 1e-6
    hold = terms.review_days + terms.hold_days  # money is released this long after a milestone's due day
    for row in table.itertuples():
        assert 0 <= row.prob_paid_nothing <= 1
        assert row.smallest_amount >= terms.min_milestone
        assert row.fees_if_complete >= 0
        assert 0 <= row.expected_net <= plan.budget * (1 + 1e-12)
        assert row.max_loss_share == pytest.approx(row.max_loss / plan.budget) and 0 < row.max_loss_share <= 1
        assert row.finish_day == days
        days_to_cash = row.expected_days_to_cash
        assert math.isnan(days_to_cash) or hold <= days_to_cash <= (days + hold) * (1 + 1e-12)
        # the recommendation is the smallest count within the share: fewer milestones leave more at stake
        within = round(row.max_loss * 100) <= limit_cents
        if certain:
            continue
        if chosen is None or row.milestones < chosen:
            assert not within, (row.milestones, row.max_loss, share)
        elif row.milestones == chosen:
            assert within, (row.milestones, row.max_loss, share)
