"""``milestone-lens report``: SPEC's JSON keys and values, currencies, HTML, terminal text, errors.

Figures come from the hand-checked fixture (tests/fixtures/analysis/README.md), as of
2026-03-31: USD milestones 2 of 3 finished cancelled, gross 400, fees 30, unpaid 150, first
payment median 4 days, payment lag median 1 day; single 2 of 4, gross 360, unpaid 200;
EUR E1 (1000 paid) and E2 (cancelled) reported separately.
"""

from __future__ import annotations

import json
import math
import re

import pytest
from scipy import stats

from analysis import store
from tests.fixtures.analysis.helpers import import_fixture, import_rows

TODAY = ["--today", "2026-03-31"]
SPEC_STRUCTURE_KEYS = {
    "structure", "contracts", "finished", "cancelled", "cancellation_rate", "cancellation_ci", "gross", "fees",
    "net", "median_days_to_first_payment", "median_payment_lag_days", "unpaid_on_cancellation",
}


@pytest.fixture
def workspace(db_path):
    con = store.connect(db_path)
    import_fixture(con)
    con.close()
    return db_path


def rows(doc: dict) -> dict[str, dict]:
    return {r["structure"]: r for r in doc["by_structure"]}


def test_json_has_spec_keys_and_hand_checked_values(cli, workspace):
    result = cli("report", "--json", *TODAY)
    assert result.code == 0, result.err
    doc = result.json()
    assert {"filters", "by_structure", "comparison", "currency"} <= set(doc)
    assert doc["currency"] == "USD" and doc["filters"] == {}
    assert [r["structure"] for r in doc["by_structure"]] == ["milestones", "single", "hourly"]
    for r in doc["by_structure"]:
        assert SPEC_STRUCTURE_KEYS <= set(r)
    m, s, h = rows(doc)["milestones"], rows(doc)["single"], rows(doc)["hourly"]
    assert (m["contracts"], m["finished"], m["cancelled"], m["disputed"]) == (4, 3, 2, 1)
    assert m["cancellation_rate"] == pytest.approx(2 / 3)
    low, high = m["cancellation_ci"]
    assert low < 2 / 3 < high
    assert (m["gross"], m["fees"], m["net"], m["unpaid_on_cancellation"]) == (400, 30, 370, 150)
    assert (m["median_days_to_first_payment"], m["median_payment_lag_days"]) == (4, 1)
    assert (s["gross"], s["unpaid_on_cancellation"], s["median_days_to_first_payment"]) == (360, 200, 7)
    assert s["median_payment_lag_days"] == 1.5
    assert (h["unpaid_on_cancellation"], h["median_payment_lag_days"]) == (0, 6)
    cmp = doc["comparison"]
    assert {"rate_difference", "difference_ci", "p_value"} <= set(cmp)
    assert cmp["rate_difference"] == pytest.approx(2 / 3 - 1 / 2)
    # every expected count is below 5: Fisher's exact test (p = 1 for this table)
    assert cmp["p_value"] == pytest.approx(stats.fisher_exact([[2, 1], [2, 2]]).pvalue) == pytest.approx(1.0)
    assert doc["small_sample_threshold"] == 30 and m["small_sample"]
    assert doc["exposure_total"]["remaining"] == 800 and doc["exposure_total"]["expected_loss"] == 400
    assert doc["adjusted"]["ok"] is False
    assert any("too few" in n for n in doc["notes"])


def test_currencies_are_reported_separately_never_added(cli, workspace):
    doc = cli("report", "--json", *TODAY).json()
    assert [c["currency"] for c in doc["currencies"]] == ["USD", "EUR"]
    assert sum(r["gross"] for r in doc["by_structure"]) == 1060  # USD only
    (eur,) = doc["other_currencies"]
    assert eur["currency"] == "EUR"
    assert rows(eur)["milestones"]["gross"] == 1000 and rows(eur)["single"]["unpaid_on_cancellation"] == 400
    assert doc["all_currencies"]["by_structure"][1]["finished"] == 5  # S1, S2, S3, S5 + E2
    only_eur = cli("report", "--json", "--currency", "eur", *TODAY).json()
    assert only_eur["currency"] == "EUR" and only_eur["other_currencies"] == []
    assert only_eur["filters"] == {"currency": "EUR"}
    assert rows(only_eur)["milestones"]["gross"] == 1000


def test_filters_apply_and_are_echoed(cli, workspace):
    doc = cli("report", "--json", "--client", "acme", "--from", "2026-01-05", *TODAY).json()
    assert doc["filters"] == {"date_from": "2026-01-05", "client": "acme"}
    # Acme from 01-05: M2 (cancelled), S1 (completed) in USD; E1 in EUR starts 01-02
    assert (rows(doc)["milestones"]["finished"], rows(doc)["milestones"]["cancelled"]) == (1, 1)
    assert rows(doc)["single"]["gross"] == 300
    assert doc["other_currencies"] == []


def test_a_repeated_filter_takes_any_of_its_values(cli, workspace):
    """As the dashboard's links do (?client=Acme&client=Beta); the last value alone was used before."""
    con = store.connect(workspace, read_only=True)
    clients = [c for (c,) in con.execute("SELECT DISTINCT client FROM contracts WHERE client IS NOT NULL "
                                         "ORDER BY client LIMIT 2").fetchall()]
    (both,) = con.execute("SELECT count(*) FROM contracts WHERE client IN (?, ?)", clients).fetchone()
    con.close()
    doc = cli("report", "--json", "--client", clients[0], "--client", clients[1], *TODAY).json()
    assert doc["filters"]["client"] == clients
    counted = sum(r["contracts"] for r in doc["by_structure"]) + sum(
        s["contracts"] for s in doc["other_currencies"])
    assert counted == both
    assert sum(r["contracts"] for r in cli("report", "--json", "--client", clients[1], *TODAY).json()["by_structure"]) < both


def test_unknown_status_is_visible(cli, workspace):
    con = store.connect(workspace)
    con.execute("UPDATE contracts SET status = NULL WHERE contract_id IN ('S4', 'S5')")
    con.close()
    doc = cli("report", "--json", *TODAY).json()
    assert doc["status_unknown"] == 2 and rows(doc)["single"]["finished"] == 3
    assert any("no known status" in n for n in doc["notes"])


def test_report_changes_nothing_in_the_workspace(cli, workspace):
    con = store.connect(workspace)
    before = (store.counts(con), store.data_version(con), con.execute("SELECT count(*) FROM duckdb_tables()").fetchone())
    con.close()
    assert cli("report", "--json", *TODAY).code == 0
    con = store.connect(workspace)
    after = (store.counts(con), store.data_version(con), con.execute("SELECT count(*) FROM duckdb_tables()").fetchone())
    con.close()
    assert before == after


def test_terminal_summary(cli, workspace):
    result = cli("report", *TODAY)
    assert result.code == 0
    out = result.out
    assert "Report currency: USD (10 contracts); reported separately: EUR (2)" in out
    assert "2 of 3 (small sample)" in out  # counts, not a fragile percentage
    # "cancelled" includes the disputed (M3): the next column says how many of them were disputed.
    assert re.search(r"structure\s+contracts\s+finished\s+cancelled\s+of them disputed\s+active", out)
    assert re.search(r"milestones\s+4\s+3\s+2\s+1\s+1\s", out)
    assert "Too few finished contracts to conclude anything" in out
    assert "Milestones − single" not in out  # too few: no difference, interval or p-value to lean on
    assert re.search(r"milestones\s+400\.00\s+30\.00\s+370\.00", out)
    assert "expected loss 400.00" in out
    # 800 still to be paid x 5 of the 10 finished contracts cancelled: said to be a rough guide.
    assert ("The expected loss rests on only 10 finished contracts of every kind, not on similar ones (no group of "
            "similar contracts has 30 finished): a rough guide") in out


def test_html_is_one_offline_file_with_inlined_plotly(cli, workspace, tmp_path):
    out = tmp_path / "report.html"
    result = cli("report", "--html", out, *TODAY)
    assert result.code == 0 and out.exists()
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "Plotly.newPlot" in text and "plotly.js v" in text  # the library itself is inside
    assert not re.search(r"<script[^>]*\bsrc\s*=", text, re.I)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']https?:", text, re.I)
    assert "Cancellation risk" in text and "Exposure of active contracts" in text
    assert ("The expected loss rests on only 10 finished contracts of every kind, not on similar ones (no group of "
            "similar contracts has 30 finished): a rough guide") in text
    assert "Milestones − single" not in text
    assert f"Wrote the HTML report to {out}" in result.out


def test_html_gets_the_permissions_of_any_new_file(cli, workspace, tmp_path):
    import os
    import stat

    out = tmp_path / "shared.html"
    old = os.umask(0o022)
    try:
        assert cli("report", "--html", out, *TODAY).code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # readable by whoever it is shared with
    assert not list(tmp_path.glob(".report-*"))  # no temporary file left beside it


def test_html_escapes_imported_text(cli, db_path, tmp_path):
    hostile = '<script>alert("x")</script>'
    con = store.connect(db_path)
    import_rows(con, tmp_path, [
        {"contract_id": "A", "client": hostile, "freelancer": "<b>Bo</b>", "category": "<i>cat</i>", "budget": "100",
         "start_date": "2026-01-01", "status": "active"},
        {"contract_id": "B", "client": hostile, "budget": "100", "start_date": "2026-01-01", "end_date": "2026-01-03",
         "status": "completed"},
    ], [{"contract_id": "A", "seq": "1", "amount": "100", "funded_date": "2026-01-01"},
        {"contract_id": "B", "seq": "1", "amount": "100", "paid_date": "2026-01-03"}])
    con.close()
    out = tmp_path / "r.html"
    assert cli("report", "--html", out, *TODAY).code == 0
    text = out.read_text(encoding="utf-8")
    assert hostile not in text and "<b>Bo</b>" not in text and "<i>cat</i>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text


def test_json_of_a_small_segment_whose_log_rank_p_is_small(cli, db_path, tmp_path):
    """10 milestone contracts completed on day 30, 10 single-payment ones cancelled on days 4-13:
    the log-rank p is far below 0.05 but 10 finished per group is too few to conclude, and the
    JSON says so (it once died on numpy's bool there, exit 1 and nothing on stdout)."""
    from tests.fixtures.analysis.helpers import contract, import_contracts

    specs = [contract(f"M{i}", "completed", "milestones", end_date="2026-01-31", planned_end_date="2026-01-31")
             for i in range(10)]
    specs += [contract(f"S{i}", "cancelled", end_date=f"2026-01-{5 + i:02d}", planned_end_date="2026-01-31")
              for i in range(10)]
    con = store.connect(db_path)
    import_contracts(con, tmp_path, specs)
    con.close()
    result = cli("report", "--json", *TODAY)
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert {k: (r["finished"], r["cancelled"]) for k, r in rows(doc).items()} == {
        "milestones": (10, 0), "single": (10, 10), "hourly": (0, 0)}
    logrank = doc["time_to_cancellation"]["logrank"]
    assert logrank["p_value"] < 0.001 and logrank["differs"] is False
    assert logrank["message"].startswith("too few finished contracts to conclude anything")
    # The HTML report writes the same p-value escaped.
    out = tmp_path / "r.html"
    assert cli("report", "--html", out, *TODAY).code == 0
    text = out.read_text(encoding="utf-8")
    assert "(log-rank χ² = " in text and "p &lt; 0.001" in text and "p < 0.001" not in text


def test_json_with_html_prints_only_the_document(cli, workspace, tmp_path):
    out = tmp_path / "r.html"
    result = cli("report", "--json", "--html", out, *TODAY)
    doc = json.loads(result.out)  # one document, nothing else on stdout
    assert doc["html"] == str(out) and out.exists()


def test_empty_workspace_reports_nothing_plainly(cli, db_path):
    store.connect(db_path).close()
    result = cli("report", "--json", *TODAY)
    assert result.code == 0
    doc = result.json()
    # SPEC's "currency" is a code: an empty report is in the template's default one
    assert doc["currency"] == "USD" and doc["contracts"] == 0
    assert [r["contracts"] for r in doc["by_structure"]] == [0, 0, 0]
    assert all(r["cancellation_rate"] is None for r in doc["by_structure"])
    assert doc["comparison"]["rate_difference"] is None


def test_an_empty_workspace_says_it_has_no_contracts_yet_and_how_to_import(cli, db_path):
    """With no filters, nothing matching means nothing imported: "No contracts match these filters" blamed filters
    nobody gave. With a filter the old sentence stays. Exit status 0 either way, as before."""
    store.connect(db_path).close()
    result = cli("report", *TODAY)
    assert result.code == 0
    assert result.out.splitlines()[1:] == [
        "The workspace has no contracts yet: import a history first (milestone-lens import FILE..., or "
        "milestone-lens sample for a synthetic one)."]
    assert cli("report", "--json", *TODAY).json()["notes"] == [
        "the workspace has no contracts yet: import a history first (milestone-lens import FILE..., or "
        "milestone-lens sample for a synthetic one)"]
    filtered = cli("report", "--client", "Acme", *TODAY)
    assert filtered.code == 0
    assert filtered.out.splitlines()[1:] == ["No contracts match these filters: nothing to report."]


def test_json_numbers_are_finite(cli, workspace):
    def walk(value):
        if isinstance(value, float):
            assert math.isfinite(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(cli("report", "--json", *TODAY).json())


@pytest.mark.parametrize("args, fragment", [
    (["--from", "31/02/2026"], "--from: cannot read '31/02/2026' as a date"),
    (["--to", "soon"], "--to"),
    (["--currency", "euro"], "three-letter"),
    (["--from", "2026-05-01", "--to", "2026-01-01"], "after"),
    (["--today", "tomorrow"], "--today"),
])
def test_bad_filter_values_exit_2_with_one_line(cli, workspace, args, fragment):
    result = cli("report", "--json", *args)
    assert result.code == 2 and result.out == ""
    assert fragment in result.err and len(result.err.strip().splitlines()) == 1


def test_missing_workspace_exits_2_and_creates_nothing(cli, tmp_path):
    missing = tmp_path / "none.duckdb"
    result = cli("report", db=missing)
    assert result.code == 2 and "no workspace" in result.err
    assert not missing.exists()


def test_html_into_a_missing_folder_exits_2(cli, workspace, tmp_path):
    result = cli("report", "--html", tmp_path / "nope" / "r.html", *TODAY)
    assert result.code == 2 and "does not exist" in result.err


def test_enough_contracts_get_the_difference_with_its_interval(cli, db_path):
    """The 300-contract sample (seed 3) has 30+ finished contracts of both kinds: the text report
    prints the difference, its Newcombe interval and the p-value that JSON gives (in points)."""
    assert cli("sample", "--contracts", "300", "--seed", "3").code == 0
    doc = cli("report", "--json", *TODAY).json()
    cmp = doc["comparison"]
    assert not any(s["finished"] < 30 for s in doc["by_structure"] if s["structure"] != "hourly"), doc["by_structure"]
    out = cli("report", *TODAY).out
    low, high = cmp["difference_ci"]
    assert (f"Milestones − single: {cmp['rate_difference'] * 100:+.1f} points "
            f"(95 % CI {low * 100:+.1f} to {high * 100:+.1f})") in out


def test_the_largest_clients_share_says_what_unnamed_clients_it_leaves_out(cli, db_path):
    """A weekly summary names no client: its money is not anybody's share, and the text says how much."""
    from tests.conftest import FIXTURES

    exports = FIXTURES / "exports"
    assert cli("import", exports / "upwork_transactions_2025.csv", exports / "upwork_weekly_summary.csv").code == 0
    con = store.connect(db_path)
    (unnamed,) = con.execute("SELECT sum(p.gross) FROM payments p JOIN contracts c USING (source, contract_id) "
                             "WHERE c.client IS NULL AND NOT p.pending AND p.gross > 0").fetchone()
    con.close()
    assert unnamed > 0
    out = cli("report", *TODAY).out
    assert f"({unnamed:,.2f} paid by contracts without a client name is left out)" in out


def test_terminal_summary_shows_pending_payments_account_costs_and_unknown_statuses(cli, db_path, tmp_path):
    """The 2025 Upwork fixture by hand: milestone 2 (450.00, no balance yet) is pending; Connects cost 6.00;
    net 405 + 774 + 288 = 1,467.00, so 1,461.00 after costs; no contract has a status yet."""
    from tests.conftest import FIXTURES

    assert cli("import", FIXTURES / "exports" / "upwork_transactions_2025.csv").code == 0
    out = cli("report", *TODAY).out
    assert "  Pending, not yet earned (not in the table): 450.00 in 1 payment\n" in out
    assert ("  Account costs (withdrawal fees, connects, memberships, service fees whose payment no import has "
            "brought yet; not contract fees): 6.00 in 1 item, 2025-10-01 to 2025-10-01; net after them 1,461.00\n") in out
    assert "No active contracts." not in out
    assert "No contract is known to be active, but 3 contracts have no status yet" in out
    # Narrowed to one client, the account's costs are named but not taken off that client's net.
    out = cli("report", "--client", "Lumen Labs", *TODAY).out
    assert ("6.00 in 1 item, 2025-10-01 to 2025-10-01; the whole account's, so not taken off a net narrowed by "
            "client\n") in out
    # The JSON and the HTML report give the same figure, and the same refusal under a client.
    assert cli("report", "--json", *TODAY).json()["earnings"]["net_after_account_costs"] == 1461.0
    assert cli("report", "--json", "--client", "Lumen Labs", *TODAY).json()["earnings"]["net_after_account_costs"] is None
    html = tmp_path / "r.html"
    assert cli("report", "--html", html, *TODAY).code == 0
    assert "<p>Net earnings after these account costs: 1,461.00 USD.</p>" in html.read_text(encoding="utf-8")


def test_html_gives_counts_not_a_comparison_of_what_few_cancellations_paid(cli, workspace, tmp_path):
    """As on the Earnings page: two cancelled or disputed contracts a side (M2, M3: 150 of 300 paid; S2, S3: 0 of
    200) are too few to compare, so the report gives the counts and amounts."""
    out = tmp_path / "r.html"
    assert cli("report", "--html", out, *TODAY).code == 0
    text = out.read_text(encoding="utf-8")
    realised = text[text.index("<h3>Realised vs agreed"):text.index("<h3>Top clients")]
    assert ("<p>The 2 cancelled or disputed milestone contracts: USD 150 of 300 paid; the 2 cancelled or disputed "
            "single-payment contracts: USD 0 of 200 paid. Too few to compare what milestone and single-payment "
            "contracts still paid when cancelled: that needs at least 30 cancelled or disputed contracts of each kind "
            "with a known budget.</p>") in realised
    assert "had still paid" not in text


def test_html_tables_show_a_dash_for_what_is_missing(cli, db_path, tmp_path):
    """Nothing of the 2025 Upwork fixture is on hold by 2026-03-31: no next release, shown "—", never NaT."""
    from tests.conftest import FIXTURES

    assert cli("import", FIXTURES / "exports" / "upwork_transactions_2025.csv").code == 0
    out = tmp_path / "report.html"
    assert cli("report", "--html", out, *TODAY).code == 0
    text = out.read_text(encoding="utf-8")
    withdrawable = text[text.index("<h3>Withdrawable money"):text.index("<h3>Submitted, not yet paid")]
    assert "<td>USD</td>" in withdrawable and '<td class="n">—</td></tr>' in withdrawable
    assert not re.search(r">(NaT|None|nan)<", text)


def test_a_history_whose_only_active_contract_is_hourly_reports(cli, db_path, tmp_path):
    """Nothing active can be valued (hourly work has no agreed total): the report said so in JSON but the text
    report, the HTML report and the Portfolio page stopped with "boolean value of NA is ambiguous"."""
    from tests.conftest import FIXTURES

    assert cli("import", FIXTURES / "exports" / "upwork_transactions_2025.csv").code == 0
    done = tmp_path / "done.csv"
    done.write_text("contract_id,status,budget\nLumen Labs / hourly,active,\n"
                    "Ember Foods / Packaging refresh,completed,860\nEmber Foods / Brand guidelines,completed,900\n")
    assert cli("import", done).code == 0
    result = cli("report", "--html", tmp_path / "r.html", *TODAY)
    assert result.code == 0, result.err
    assert "  1 active (1 hourly, not valued): remaining 0.00" in result.out
    assert "rests on only" not in result.out
    assert cli("report", "--json", *TODAY).json()["exposure_total"]["fewest_finished"] is None
    one = cli("report", "--client", "Lumen Labs", *TODAY).out
    assert "has 100.0 % of earnings; HHI 1.000 over 1 client\n" in one  # one client, in the singular


def test_the_report_currency_is_the_one_with_most_fixed_price_contracts(cli, tmp_path):
    """3 fixed-price USD contracts against 1 fixed-price and 5 hourly EUR ones: EUR has more contracts,
    but every comparison is between fixed-price structures, so the report (and the splitter's
    calibration) rests on USD."""
    sheet = tmp_path / "mixed.csv"
    lines = ["contract_id,contract_type,start_date,end_date,status,budget,currency"]
    lines += [f"U{i},fixed,2025-01-0{i + 1},2025-01-2{i},completed,100,USD" for i in range(3)]
    lines += ["E0,fixed,2025-02-01,2025-02-20,completed,100,EUR"]
    lines += [f"H{i},hourly,2025-03-0{i + 1},2025-03-2{i},completed,,EUR" for i in range(4)] + ["H4,hourly,2025-03-05,,active,,EUR"]
    sheet.write_text("\n".join(lines) + "\n")
    assert cli("import", sheet).code == 0
    doc = cli("report", "--json", *TODAY).json()
    assert doc["currency"] == "USD"
    assert [(c["currency"], c["contracts"]) for c in doc["currencies"]] == [("USD", 3), ("EUR", 6)]
    assert [s["currency"] for s in doc["other_currencies"]] == ["EUR"]
    # No USD contract is active: the exposure has the keys it has when some are, with nothing at stake.
    assert doc["exposure_total"] == {
        "currency": "USD", "active": 0, "hourly_active": 0, "budget_unknown": 0, "valued": 0, "remaining": 0,
        "funded": 0, "unfunded": 0, "submitted": 0, "expected_loss": 0, "no_history": 0, "fewest_finished": None,
        "funding_unknown": 0, "funding_unknown_remaining": 0}
    eur = doc["other_currencies"][0]["exposure_total"]
    assert (eur["active"], eur["hourly_active"]) == (1, 1) and set(eur) == set(doc["exposure_total"])
    split = cli("split", "--budget", "100", "--days", "20", "--milestones", "2", "--calibrate", "--json").json()
    assert split["calibration"]["plan"]["currency"] == "USD"


# --- what a transaction history cannot know ---------------------------------------------------
# tests/fixtures/exports/upwork_2025_twelve_contracts.csv: an Upwork 2025 transaction history of a
# 12-contract freelancer. Only the 11 contracts with a payment are in it (2 with milestone numbers
# above 1: Acme / Website redesign, Borealis / API integration; 9 with one milestone); the twelfth,
# Hotel / E-commerce setup (budget 900, cancelled before any payment), is not.

def _exports():
    from tests.conftest import FIXTURES

    return FIXTURES / "exports"


def test_a_transaction_history_report_says_unpaid_on_cancellation_is_unknown_until_statuses_are_known(cli, tmp_path):
    assert cli("import", _exports() / "upwork_2025_twelve_contracts.csv").code == 0
    text = cli("report", *TODAY).out
    earnings = text[text.index("Earnings (USD)"):text.index("Exposure")]
    # every status unknown: not "0.00", which says nothing was lost
    assert re.search(r"milestones .* unknown \(no status yet\)", earnings)
    assert re.search(r"single .* unknown \(no status yet\)", earnings)
    by = rows(cli("report", "--json", *TODAY).json())
    assert (by["milestones"]["unpaid_on_cancellation"], by["single"]["unpaid_on_cancellation"]) == (None, None)
    assert by["hourly"]["unpaid_on_cancellation"] == 0  # hourly work has no budget to leave unpaid
    # one single-payment contract completed as cancelled (budget 1,000, 600 paid): 400 unpaid; 8 of 9 left out
    done = tmp_path / "done.csv"
    done.write_text("contract_id,status,budget\nAcme / Landing page,cancelled,1000\n")
    assert cli("import", done).code == 0
    text = cli("report", *TODAY).out
    earnings = text[text.index("Earnings (USD)"):text.index("Exposure")]
    assert re.search(r"single .* 400\.00 \(8 of 9 without status left out\)", earnings)
    assert re.search(r"milestones .* unknown \(no status yet\)", earnings)
    by = rows(cli("report", "--json", *TODAY).json())
    assert (by["milestones"]["unpaid_on_cancellation"], by["single"]["unpaid_on_cancellation"]) == (None, 400)


def test_a_transaction_history_report_says_contracts_never_paid_are_missing_and_funding_unknown(cli, tmp_path):
    from analysis.marketplace import NOT_IN_TRANSACTION_HISTORY

    result = cli("import", _exports() / "upwork_2025_twelve_contracts.csv",
                 _exports() / "upwork_2025_twelve_completions.csv", "--json")
    warnings = result.json()["warnings"]
    assert sum(NOT_IN_TRANSACTION_HISTORY in w for w in warnings) == 1
    doc = cli("report", "--json", *TODAY).json()
    assert doc["notes"].count(NOT_IN_TRANSACTION_HISTORY) == 1 and doc["from_transaction_history"] == 11
    single = rows(doc)["single"]
    assert (single["cancelled"], single["finished"]) == (0, 7)  # the cancelled one is missing
    # Delta / Dashboard build: active, budget 2,400, 800 paid; nothing records escrow
    ex = doc["exposure_total"]
    assert (ex["remaining"], ex["funded"], ex["unfunded"], ex["funding_unknown"]) == (1600, None, None, 1)
    text = cli("report", *TODAY).out
    assert "funded in escrow unknown, unfunded unknown" in text
    assert "Escrow funding is unknown for 1 active contract (1,600.00 of the remaining)" in text
    html = tmp_path / "r.html"
    assert cli("report", "--html", html, *TODAY).code == 0
    page = html.read_text()
    assert "Escrow funding is unknown for 1 active contract" in page and "unknown (no status yet)" not in page
    # The remedy the note gives: the missing contract from a template contracts CSV under the export's source.
    missing = tmp_path / "missing.csv"
    missing.write_text("contract_id,client,title,platform,budget,currency,start_date,end_date,status\n"
                       "Hotel / E-commerce setup,Hotel,E-commerce setup,upwork,900,USD,2026-07-01,2026-07-10,cancelled\n")
    assert cli("import", missing, "--source", "upwork").code == 0
    single = rows(cli("report", "--json", *TODAY).json())["single"]
    assert (single["cancelled"], single["finished"], single["unpaid_on_cancellation"]) == (1, 8, 900)


def test_a_template_report_has_no_transaction_history_note(cli, workspace):
    from analysis.marketplace import NOT_IN_TRANSACTION_HISTORY

    doc = cli("report", "--json", *TODAY).json()
    assert NOT_IN_TRANSACTION_HISTORY not in doc["notes"] and doc["from_transaction_history"] == 0
    assert doc["exposure_total"]["funding_unknown"] == 0


def test_the_report_hedges_a_log_rank_p_the_rates_comparison_leaves_unproven(cli):
    """2 of 30 against 9 of 36, all ending on day 20: the log-rank test is the table's Mantel–Haenszel
    test (chi-square (2 - 5)² / 2.3077 = 3.90, p = 0.048), the rates' interval reaches 0."""
    from tests.conftest import FIXTURES

    assert cli("import", FIXTURES / "dashboard" / "edge_of_significance.csv").code == 0
    doc = cli("report", "--json", "--today", "2026-12-01").json()
    expected = (2 - 30 * 11 / 66) ** 2 / (30 * 36 * 11 * 55 / (66 ** 2 * 65))
    assert doc["comparison"]["clear_difference"] is False
    lr = doc["time_to_cancellation"]["logrank"]
    assert lr["chi2"] == pytest.approx(expected) and lr["p_value"] == pytest.approx(stats.chi2.sf(expected, 1))
    assert lr["message"] == ("the risk of cancellation over time may differ, but the comparison of the cancellation "
                             "rates finds no firm difference: treat it as unproven")
    text = cli("report", "--today", "2026-12-01").out
    assert "Time to cancellation: log-rank p = 0.048; the risk of cancellation over time may differ" in text


def test_a_filter_value_no_contract_has_is_named(cli):
    """The README's `report --client "Acme"` on the sample found nothing and said only "No contracts
    match"; the dashboard names such values. Compared ignoring case, as the filters compare."""
    from tests.conftest import CANONICAL

    assert cli("import", CANONICAL / "contracts.csv", CANONICAL / "milestones.csv").code == 0
    result = cli("report", "--client", "Nobody Ltd", "--client", "acme", "--json")
    assert result.code == 0
    assert result.err.strip() == "note: not in the workspace: client 'Nobody Ltd' (no contract has it)"
    assert result.json()["contracts"] == 2  # Acme's C1 and C2 (the canonical fixture, by hand)
    result = cli("report", "--platform", "fiverr", "--category", "Writing", "--category", "poetry")
    assert result.err.strip() == "note: not in the workspace: category 'poetry', platform 'fiverr' (no contract has it)"
    assert "No contracts match these filters" in result.out
    quiet = cli("report", "--client", "ACME", "--currency", "usd")
    assert quiet.code == 0 and quiet.err == ""


def test_html_breakdown_rows_with_one_side_empty_say_nothing_to_compare(cli, workspace, tmp_path):
    """As the Cancellation page says: budget under 100 holds single-payment contracts only (S-rows: 1 of 2
    cancelled) and "unknown" only the hourly ones: no "small sample" for a comparison that cannot be made."""
    out = tmp_path / "r.html"
    assert cli("report", "--html", out, *TODAY).code == 0
    text = out.read_text(encoding="utf-8")
    budget = [re.sub(r"<[^>]+>", "|", r) for r in re.findall(
        r"<tr>(.*?)</tr>", text[text.index("<h4>Budget"):text.index("<h4>", text.index("<h4>Budget") + 1)])]
    assert [r.split("|")[1] + " " + r.split("|")[-2] for r in budget[1:]] == [
        "under 100 nothing to compare", "100–499 small sample", "unknown nothing to compare"]


UNKNOWN_TYPES = (
    'Date,"Ref ID",Type,Description,Agency,Freelancer,Team,"Account Name",PO,Amount,"Amount in local currency",Currency,Balance\n'
    '"Dec 20, 2022",511000099,"Mystery Type","Something new",,,,"Sam T.",,10.00,,,465.00\n'
    '"Dec 15, 2022",511000098,Miscellaneous,"Misc adjustment",,,,"Sam T.",,5.00,,,455.00\n'
    '"Dec 1, 2022",511000090,"Fixed Price","Invoice for Site audit: Milestone 1 - Plan",,"Sam T.",Acme,"Sam T.",,450.00,,,450.00\n'
)


def test_money_of_unknown_types_is_reported_apart(cli, tmp_path):
    """SPEC: unknown types are kept and reported. The import named them, then no report did: 15.00
    (10.00 'Mystery Type' + 5.00 'Miscellaneous') was in no section, and the net said nothing of it.
    By hand: net 450 (a history's fee rows are the record, and it has none); the 15.00 stays out of it."""
    path = tmp_path / "legacy.csv"
    path.write_text(UNKNOWN_TYPES)
    assert cli("import", path).code == 0
    doc = cli("report", "--json", *TODAY).json()
    assert doc["earnings"]["unclassified"] == [{
        "currency": "USD", "items": 2, "amount": 15.0, "fees": 0.0, "first_date": "2022-12-15",
        "last_date": "2022-12-20", "descriptions": "Misc adjustment; Something new"}]
    assert doc["earnings"]["net_after_account_costs"] == 450.0
    out = cli("report", *TODAY).out
    assert ("  Unclassified (transaction types the import did not know, kept as imported; in no contract and not in "
            "the net): 15.00 in 2 items (Misc adjustment; Something new)\n") in out
    html = tmp_path / "r.html"
    assert cli("report", "--html", html, *TODAY).code == 0
    assert "<h3>Unclassified (types the import did not know; in no contract, not in the net)</h3>" in html.read_text(encoding="utf-8")
    # Outside the date range, nothing to say.
    assert cli("report", "--json", "--from", "2023-01-01", *TODAY).json()["earnings"]["unclassified"] == []


def test_an_all_hourly_workspace_is_not_called_too_few(cli, tmp_path):
    """With no milestone or single-payment contract the note said "fewer than 30 finished contracts for
    milestones and single: too few to conclude anything; counts are shown instead of rates" (of 0)."""
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,contract_type,start_date,status,currency\nH1,hourly,2026-01-05,completed,USD\n"
                         "H2,hourly,2026-01-05,active,USD\nH3,hourly,2026-01-05,completed,EUR\n")
    invoices = tmp_path / "invoices.csv"
    invoices.write_text("contract_id,seq,amount,paid_date\nH1,1,300,2026-01-20\nH3,1,200,2026-01-20\n")
    assert cli("import", contracts, invoices).code == 0
    out = cli("report", *TODAY).out
    assert "no milestone or single-payment contracts: cancellation is compared between those two only" in out
    assert "too few to conclude" not in out


def test_exposure_by_client_and_freelancer_say_how_many_groups_the_cut_lists_leave_out(cli, db_path, tmp_path):
    """52 active contracts, each with its own client and freelancer: by_client keeps 20 of the 52 clients and
    by_freelancer 50 of the 52 freelancers; the totals say so. Contract i has budget 10 × i, nothing paid and no
    finished history, so they rank by what is still to be paid: the first client is Client 52 (520)."""
    con = store.connect(db_path)
    import_rows(con, tmp_path, [{"contract_id": f"A{i}", "client": f"Client {i:02d}", "freelancer": f"Free {i:02d}",
                                 "budget": str(10 * i), "status": "active", "start_date": "2026-01-05"}
                                for i in range(1, 53)])
    con.close()
    exposure = cli("report", "--json", *TODAY).json()["exposure"]
    assert (len(exposure["by_client"]), exposure["by_client_total"]) == (20, 52)
    assert (len(exposure["by_freelancer"]), exposure["by_freelancer_total"]) == (50, 52)
    assert [r["client"] for r in exposure["by_client"][:2]] == ["Client 52", "Client 51"]


def test_exposure_totals_of_lists_that_are_not_cut_are_their_lengths(cli, workspace):
    """The fixture's active USD contracts: M4 (client Gamma) and S4 (Beta), both by freelancer Ann."""
    exposure = cli("report", "--json", *TODAY).json()["exposure"]
    assert (len(exposure["by_client"]), exposure["by_client_total"]) == (2, 2)
    assert (len(exposure["by_freelancer"]), exposure["by_freelancer_total"]) == (1, 1)


def test_a_past_today_gives_withdrawable_money_and_ageing_as_they_stood_that_day(cli, db_path, tmp_path):
    """tests/test_timing.py's as-of history (AS_OF_CONTRACTS) reported as of 2026-03-10: paid by then net
    100 + 90 = 190, of it 90 (B's first milestone) on hold until 03-13; waiting for payment that day B's
    milestone 2 (200, 1 day), D's milestone 2 (60, 37 days) and D's milestone 1 (40, 68 days). Text, JSON
    and HTML all name that date."""
    from tests.test_timing import AS_OF_CONTRACTS, AS_OF_MILESTONES

    con = store.connect(db_path)
    import_rows(con, tmp_path, AS_OF_CONTRACTS, AS_OF_MILESTONES)
    con.close()
    doc = cli("report", "--json", "--today", "2026-03-10").json()
    assert doc["today"] == "2026-03-10"
    assert doc["withdrawable"] == [{"currency": "USD", "paid": 190.0, "withdrawable": 100.0, "on_hold": 90.0,
                                    "next_release": "2026-03-13"}]
    assert [(a["bucket"], a["items"], a["amount"]) for a in doc["ageing"]] == [
        ("0–30 days", 1, 200.0), ("31–60 days", 1, 60.0), ("61–90 days", 1, 40.0), ("over 90 days", 0, 0.0)]
    assert "(as of 2026-03-10)" in cli("report", "--today", "2026-03-10").out.splitlines()[0]
    out = tmp_path / "report.html"
    assert cli("report", "--html", out, "--today", "2026-03-10").code == 0
    text = out.read_text(encoding="utf-8")
    assert "· as of 2026-03-10" in text
    assert "<h3>Withdrawable money as of 2026-03-10 (after platform holds)</h3>" in text
    assert "<h3>Submitted, not yet paid as of 2026-03-10</h3>" in text


def test_terminal_timing_table_gives_each_median_its_n_and_says_when_few_cases_carry_it(cli, db_path, tmp_path):
    """Two direct contracts started 01-01: M paid 01-05 (submitted 01-03) and 01-09 (submitted 01-08), S paid
    01-06 on its hand-in day. First payment M 4 days (1 contract), S 5 (1); submitted→paid M 2 and 1 -> 1.5
    (2 payments), S 0 (1); no funded dates; gap M 4 (1); direct money is withdrawable at once, so first
    withdrawable = first payment. Seven medians, each on 1 or 2 cases: fewer than 30."""
    con = store.connect(db_path)
    import_rows(con, tmp_path, [
        {"contract_id": "M", "budget": "100", "start_date": "2026-01-01", "end_date": "2026-01-10", "status": "completed"},
        {"contract_id": "S", "budget": "100", "start_date": "2026-01-01", "end_date": "2026-01-06", "status": "completed"},
    ], [
        {"contract_id": "M", "seq": "1", "amount": "50", "submitted_date": "2026-01-03", "paid_date": "2026-01-05"},
        {"contract_id": "M", "seq": "2", "amount": "50", "submitted_date": "2026-01-08", "paid_date": "2026-01-09"},
        {"contract_id": "S", "seq": "1", "amount": "100", "submitted_date": "2026-01-06", "paid_date": "2026-01-06"},
    ])
    con.close()
    out = cli("report", "--today", "2026-03-31").out
    expected = "\n".join([
        "Payment timing (median days, n = contracts or payments measured; first payment: over the contracts that have one)",
        "  structure   first payment  submitted→paid  funded→paid      gap  first withdrawable",
        "  milestones        4 (n=1)       1.5 (n=2)            —  4 (n=1)             4 (n=1)",
        "  single            5 (n=1)         0 (n=1)            —        —             5 (n=1)",
        "  hourly                  —               —            —        —                   —",
        "  7 of these medians rest on fewer than 30 contracts or payments (see n): read them as examples, not as a "
        "pattern.",
        "",
    ])
    assert expected in out


def test_the_text_report_tests_whether_milestones_bring_first_money_sooner(cli, db_path):
    """The same sentence as the Timing page, over the report currency's contracts; checked with scipy's
    Brunner–Munzel test and numpy's count of pairs on days worked out in SQL of our own."""
    import duckdb
    import numpy as np
    from scipy.stats import brunnermunzel

    assert cli("sample", "--contracts", "600", "--seed", "4").code == 0
    doc = cli("report", "--json", *TODAY).json()
    with duckdb.connect(str(db_path), read_only=True) as con:
        days = con.execute(
            """WITH s AS (SELECT c.contract_id, CASE WHEN c.contract_type = 'hourly' THEN 'hourly'
                                 WHEN count(m.seq) >= 2 THEN 'milestones' ELSE 'single' END AS s, any_value(c.start_date) AS start
                          FROM contracts c LEFT JOIN milestones m USING (source, contract_id)
                          WHERE c.currency = ? GROUP BY c.contract_id, c.contract_type)
               SELECT s.s, min(p.paid_date) - any_value(s.start) FROM payments p JOIN s USING (contract_id)
               WHERE p.gross > 0 AND p.paid_date IS NOT NULL AND NOT p.pending GROUP BY s.contract_id, s.s""",
            [doc["currency"]]).fetchall()
    x = np.array([d for s, d in days if s == "milestones"], float)
    y = np.array([d for s, d in days if s == "single"], float)
    sooner = (x[:, None] < y).mean() + 0.5 * (x[:, None] == y).mean()
    found = doc["first_payment_comparison"]
    assert found["n"] == {"milestones": len(x), "single": len(y)}
    assert found["prob_milestones_sooner"] == pytest.approx(sooner)
    assert found["p_value"] == pytest.approx(brunnermunzel(x, y).pvalue, rel=1e-6)
    out = cli("report", *TODAY).out
    assert f"the milestone contract's first money came first in {sooner * 100:.0f} % of pairs" in out


def test_single_payment_contracts_without_milestone_ones_are_not_called_none(cli, tmp_path):
    """With 35 finished single-payment contracts and no milestone one, the note said "no milestone or
    single-payment contracts". The empty milestone group is no group to be too few of, either."""
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,start_date,status,budget\n" + "".join(
        f"S{i},2026-01-05,{'cancelled' if i < 5 else 'completed'},100\n" for i in range(35)))
    assert cli("import", contracts).code == 0
    out = cli("report", *TODAY).out
    assert "no milestone or single-payment contracts:" not in out  # the note; the time-to-cancellation line
    assert "fewer than 30 finished contracts for milestones" not in out  # rightly says none has an end date


def test_cut_lists_say_how_many_there_are(cli, db_path, tmp_path):
    """17 paid clients (each its own freelancer) and 22 active contracts of 22 other clients: the HTML
    shows 15 clients, 20 active contracts and 15 clients in the exposure chart, and says of how many;
    the JSON keeps all 17 (fewer than 50) and says 17."""
    paid = [{"contract_id": f"P{i:02d}", "client": f"Paid {i:02d}", "freelancer": f"F{i:02d}", "budget": str(100 * i),
             "start_date": "2026-01-01", "end_date": "2026-01-10", "status": "completed"} for i in range(1, 18)]
    active = [{"contract_id": f"A{i:02d}", "client": f"Open {i:02d}", "freelancer": "Solo", "budget": str(50 * i),
               "start_date": "2026-02-01", "status": "active"} for i in range(1, 23)]
    milestones = ([{"contract_id": f"P{i:02d}", "seq": "1", "amount": str(100 * i), "paid_date": "2026-01-10"}
                   for i in range(1, 18)]
                  + [{"contract_id": f"A{i:02d}", "seq": "1", "amount": str(50 * i)} for i in range(1, 23)])
    con = store.connect(db_path)
    import_rows(con, tmp_path, paid + active, milestones)
    con.close()
    doc = cli("report", "--json", *TODAY).json()
    assert doc["earnings"]["top_clients_total"] == 17 and len(doc["earnings"]["top_clients"]) == 17
    assert doc["earnings"]["by_freelancer_total"] == 17
    assert "groups" not in doc["earnings"]["top_clients"][0]
    out = tmp_path / "r.html"
    assert cli("report", "--html", out, *TODAY).code == 0
    text = out.read_text(encoding="utf-8")
    assert "The 15 with the largest gross of 17 clients." in text
    assert "of 17 freelancers" not in text  # 30 are shown: none left out
    assert "The 20 with the largest expected loss of 22 active contracts." in text
    assert ("The 15 with the largest expected loss (then the most still to be paid) of 22 clients with money "
            "still to be paid.") in text
    assert "freelancer with money still to be paid" not in text  # one freelancer: the chart shows it


def test_earnings_totals_count_the_groups_before_the_limit(tmp_path):
    from analysis import earnings
    from analysis.filters import Filters

    con = store.connect(tmp_path / "w.duckdb")
    import_rows(con, tmp_path, [
        {"contract_id": f"C{i}", "client": f"K{i % 4}", "budget": "10", "start_date": "2026-01-01",
         "end_date": "2026-01-02", "status": "completed"} for i in range(10)],
        [{"contract_id": f"C{i}", "seq": "1", "amount": "10", "paid_date": "2026-01-02"} for i in range(10)])
    top = earnings.totals(con, Filters(), by="client", limit=2)
    assert list(top["client"]) == ["K0", "K1"]  # K0, K1: 3 contracts (30 gross) each; K2, K3: 2 each
    assert list(top["groups"]) == [4, 4]
    assert "groups" not in earnings.totals(con, Filters(), by="client").columns
    con.close()


def test_html_over_a_private_file_keeps_it_private(cli, workspace, tmp_path):
    import os
    import stat

    out = tmp_path / "private.html"
    out.write_text("old", encoding="utf-8")
    os.chmod(out, 0o600)
    assert cli("report", "--html", out, *TODAY).code == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize("target, message", [
    ("adir", "adir: is a folder; give a file path such as {tmp}/adir/report.html"),
    ("afile/x.html", "afile/x.html: {tmp}/afile is a file, not a folder"),
])
def test_html_to_a_folder_or_under_a_file_names_the_path_given(cli, workspace, tmp_path, target, message):
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    result = cli("report", "--html", tmp_path / target, *TODAY)
    assert result.code == 2 and result.out == ""
    assert result.err.strip() == f"milestone-lens: error: {tmp_path}/{message.format(tmp=tmp_path)}"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".report-")) == []
