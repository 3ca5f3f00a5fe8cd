"""The analysis pages and the splitter in a real browser: each opens on the sample with its figures,
the splitter's schedule follows its inputs, and a page's table downloads as the CSV it shows.
Whole-page screenshots of every page go to ``test-artifacts/analysis_pages/`` (a folder of their
own: the frame's browser tests empty ``test-artifacts/dashboard`` when they start)."""

from __future__ import annotations

import csv

import pytest
from playwright.sync_api import expect

from tests.conftest import ARTIFACTS
from tests.dashboard_support import DASHBOARD_FIXTURES, build_workspace, query_one
from tests.e2e.conftest import dashboard_server
from tests.e2e.test_dashboard_browser import metric, open_page, read_csv, wait_idle

pytestmark = pytest.mark.browser

ANALYSIS_PAGES = ("cancellation", "timing", "earnings", "portfolio", "splitter")
SCREENSHOTS = ARTIFACTS / "analysis_pages"

# Structure by SPEC's rule, straight from the tables.
STRUCTURE_SQL = """
    WITH m AS (SELECT source, contract_id, count(*) AS n FROM milestones WHERE kind = 'milestone' GROUP BY ALL)
    SELECT c.*, CASE WHEN c.contract_type = 'hourly' THEN 'hourly'
                     WHEN greatest(coalesce(m.n, 0), coalesce(c.milestone_count, 0)) >= 2 THEN 'milestones'
                     ELSE 'single' END AS s
    FROM contracts c LEFT JOIN m USING (source, contract_id)"""


def download_table(page, key: str) -> list[dict[str, str]]:
    """Click the CSV button of the table shown with ``show_table(..., key=key)`` and read the file."""
    with page.expect_download() as info:
        page.locator(f".st-key-{key}_csv").get_by_role("button").click()
    return read_csv(info.value)


def whole_page_screenshot(page, name: str) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside its main block, so the viewport is
    made as tall as that block's content for the picture, then put back."""
    size = page.viewport_size
    height = page.evaluate(
        "Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stAppViewContainer]')]"
        ".map(e => e.scrollHeight), document.body.scrollHeight)")
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 16_000)})
    page.wait_for_timeout(800)
    for chart in page.get_by_test_id("stPlotlyChart").all():
        chart.locator(".main-svg").first.wait_for(timeout=30_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)


def set_number(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def test_every_analysis_page_shows_its_figures(sample_server, page):
    base, db = sample_server
    (m_cancelled, m_finished) = query_one(db, f"""
        SELECT count(*) FILTER (WHERE status IN ('cancelled', 'disputed')), count(*) FILTER (WHERE status <> 'active')
        FROM ({STRUCTURE_SQL}) WHERE s = 'milestones' AND currency = 'USD'""")  # the report currency, as the reports
    (gross,) = query_one(db, "SELECT sum(gross) FROM payments WHERE contract_id IS NOT NULL AND NOT pending AND currency = 'USD'")
    (active_usd,) = query_one(db, "SELECT count(*) FROM contracts WHERE status = 'active' AND currency = 'USD'")
    expected = {
        "cancellation": ("Cancelled: milestones", f"{m_cancelled / m_finished * 100:.0f} %"),
        "earnings": ("Gross (USD)", f"{float(gross):,.0f}"),
        "portfolio": ("Active contracts", f"{active_usd:,}"),
        "splitter": ("Most at stake", "30.00"),
    }
    for name in ANALYSIS_PAGES:
        open_page(page, base, name)
        assert page.get_by_test_id("stException").count() == 0, name
        page.get_by_test_id("stPlotlyChart").first.wait_for(state="attached", timeout=60_000)
        assert page.get_by_test_id("stPlotlyChart").count() >= 1, name
        if name in expected:
            label, value = expected[name]
            assert metric(page, label) == value, name
        whole_page_screenshot(page, name)


def test_the_splitter_schedule_follows_its_inputs(sample_server, page):
    base, _ = sample_server
    open_page(page, base, "splitter")
    # SPEC's worked example is the starting point: 150 over 5 days in 5 milestones of 30.
    rows = download_table(page, "split_schedule")
    assert [(r["seq"], float(r["amount"]), float(r["due_day"])) for r in rows] == [
        (str(i), 30.0, float(i)) for i in range(1, 6)]
    assert "keep 60.00 of the 150.00" in page.get_by_test_id("stMain").inner_text()
    assert metric(page, "Most at stake") == "30.00"
    assert page.get_by_test_id("stMetric").filter(has_text="Most at stake").nth(1).get_by_test_id(
        "stMetricValue").inner_text().strip() == "150.00"

    set_number(page, "Milestones", "3")
    set_number(page, "Budget", "300")
    page.get_by_text("With 3 milestones you keep").wait_for(timeout=30_000)
    rows = download_table(page, "split_schedule")
    assert [float(r["amount"]) for r in rows] == [100.0, 100.0, 100.0]
    assert [float(r["due_day"]) for r in rows] == [1.67, 3.33, 5.0]  # 5/3 and 10/3 days, to a hundredth as shown
    assert metric(page, "Most at stake") == "100.00"
    whole_page_screenshot(page, "splitter_changed")

    # The inputs are in the link: opened afresh (a new session), it shows the same plan.
    link = page.url
    assert "split_budget=300" in link and "split_milestones=3" in link, link
    open_page(page, base, "splitter", link[link.index("?"):])
    # (Streamlit's number box can show its own minimum for a moment before the link's value arrives.)
    expect(page.get_by_label("Budget", exact=True)).to_have_value("300.00", timeout=30_000)
    assert [float(r["amount"]) for r in download_table(page, "split_schedule")] == [100.0, 100.0, 100.0]

    # Explicit amounts that do not add up are refused in words, not with a traceback.
    page.get_by_text("into amounts I choose").click()
    wait_idle(page)
    box = page.locator(".st-key-split_amounts input")
    box.fill("100, 100")
    box.press("Enter")
    wait_idle(page)
    page.get_by_text("the amounts add up to 200.00, not the budget 300.00").wait_for(timeout=30_000)
    assert page.get_by_test_id("stException").count() == 0


def test_a_cancellation_table_downloads_with_the_counts_it_shows(sample_server, page):
    base, db = sample_server
    open_page(page, base, "cancellation")
    rows = {r["structure"]: r for r in download_table(page, "cancel_rates")}
    assert set(rows) == {"Milestones", "Single payment", "Hourly"}
    for label, structure in (("Milestones", "milestones"), ("Single payment", "single"), ("Hourly", "hourly")):
        contracts, finished, disputed = query_one(db, f"""
            SELECT count(*), count(*) FILTER (WHERE status <> 'active'), count(*) FILTER (WHERE status = 'disputed')
            FROM ({STRUCTURE_SQL}) WHERE s = ? AND currency = 'USD'""", [structure])
        row = rows[label]
        assert (int(row["contracts"]), int(row["finished"]), int(row["disputed"])) == (contracts, finished, disputed)
        cancelled = int(row["cancelled"])  # the disputed among them, as the reports count
        assert row["cancellation_rate"].startswith(f"{cancelled / finished * 100:.1f} % (")


def test_the_html_report_downloads_for_the_current_filters(sample_server, page):
    base, db = sample_server
    open_page(page, base, "cancellation", "?platform=freelancer")
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name="Download the HTML report").click()
    download = info.value
    assert download.suggested_filename == "milestone-lens-report.html"
    with open(download.path(), encoding="utf-8") as handle:
        html = handle.read()
    assert html.startswith("<!DOCTYPE html>") and "<h1>Milestone Lens report</h1>" in html
    assert "platform freelancer" in html  # the sidebar's filters, applied
    (contracts,) = query_one(db, f"SELECT count(*) FROM ({STRUCTURE_SQL}) WHERE platform = 'freelancer' "
                                 "AND currency = 'USD' AND s = 'milestones'")
    assert f'<tr><td>milestones</td><td class="n">{contracts:,}</td>' in html


def test_portfolio_drill_down_lists_the_contracts_of_one_freelancer(sample_server, page):
    base, db = sample_server
    open_page(page, base, "portfolio")
    (freelancer, n) = query_one(db, """
        SELECT freelancer, count(*) FROM contracts WHERE status = 'active' AND currency = 'USD'
        GROUP BY freelancer ORDER BY count(*) DESC, freelancer LIMIT 1""")
    picker = page.locator(".st-key-portfolio_drill_freelancer input")
    picker.click()
    picker.fill(freelancer)  # the selectbox filters its options as you type
    page.get_by_role("option", name=freelancer, exact=True).click()
    wait_idle(page)
    page.get_by_text(f"{n} active contract{'' if n == 1 else 's'}, largest expected loss first").wait_for(timeout=30_000)
    rows = download_table(page, "portfolio_drill")
    assert {r["freelancer"] for r in rows} == {freelancer}
    assert len(rows) == n
    whole_page_screenshot(page, "portfolio_drill_down")


def test_the_splitter_is_readable_in_a_narrow_window(sample_server, browser):
    """800 pixels wide with the sidebar open: the metric cards showed "2,4…" and "750…", the platform box
    "Upwork (flat 1(" and the recommendation table scrolled sideways. Nothing is cut off or scrolls now; and a
    link's lowest value (one milestone) stays in the address bar."""
    base, _ = sample_server
    context = browser.new_context(viewport={"width": 800, "height": 2400}, accept_downloads=True)
    page = context.new_page()
    try:
        open_page(page, base, "splitter", "?split_budget=3000&split_days=30&split_milestones=4")
        assert page.get_by_test_id("stSidebar").is_visible()
        cut = """sel => [...document.querySelectorAll(sel)].filter(e => e.offsetParent !== null)
                   .flatMap(e => [e, ...e.querySelectorAll('*')])
                   .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible')
                   .map(e => e.innerText.slice(0, 40))"""
        expect(page.get_by_test_id("stMetricValue")).to_have_count(8, timeout=30_000)
        assert page.evaluate(cut, "[data-testid=stMetric]") == []
        assert page.evaluate(cut, ".st-key-split_platform") == []
        platform = page.locator(".st-key-split_platform input")
        assert platform.input_value() == "Upwork (flat 10 %, since May 2023)"
        assert platform.evaluate("e => e.scrollWidth <= e.clientWidth"), "the platform's label is cut off"
        page.wait_for_function("document.querySelectorAll('[data-testid=stDataFrame] .dvn-scroller').length >= 3")
        scrolls = page.evaluate("""() => [...document.querySelectorAll('[data-testid=stDataFrame] .dvn-scroller')]
            .filter(s => s.offsetParent !== null).map(s => s.scrollWidth - s.clientWidth)""")
        assert len(scrolls) == 3 and max(scrolls) <= 1, scrolls  # the schedule and the two plan tables
        whole_page_screenshot(page, "splitter_800px")
        open_page(page, base, "splitter", "?split_budget=3000&split_days=30&split_milestones=1")
        assert [float(r["amount"]) for r in download_table(page, "split_schedule")] == [3000.0]
        assert "split_milestones=1" in page.url, page.url
    finally:
        context.close()


# What a metric card or anything in it cuts off (an ellipsis: wider content than box, overflow not visible).
CUT_OFF = """() => [...document.querySelectorAll('[data-testid=stMetric], [data-testid^=stPageLink]')]
    .filter(e => e.offsetParent !== null)
    .flatMap(e => [e, ...e.querySelectorAll('*')])
    .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible')
    .map(e => e.innerText.slice(0, 40))"""


def scaled_portfolio(folder, factor: int) -> list:
    """The portfolio fixture with every amount multiplied by ``factor``: an agency's 8-digit totals."""
    files = []
    for name, columns in (("portfolio_contracts.csv", ("budget",)), ("portfolio_milestones.csv", ("amount",))):
        with open(DASHBOARD_FIXTURES / name, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            for column in columns:
                if row[column]:
                    row[column] = str(int(row[column]) * factor)
        files.append(folder / name)
        with open(files[-1], "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return files


def test_eight_digit_figures_are_readable_on_a_laptop(tmp_path, browser):
    """At 1280 pixels with the sidebar open, five metric cards a row cut an agency's totals to "62,12…" (Earnings)
    and "1,075…" or "Not funded (U…" (Portfolio risk), and the Overview's two columns of page links cut their labels.
    The cards wrap onto a second line now, the links take a line each: every figure and
    label is whole, at 1280 and 1400 pixels, on every page with money figures."""
    db = build_workspace(tmp_path / "agency.duckdb", scaled_portfolio(tmp_path, 10_000))
    # By hand from the fixture (see tests/test_app_portfolio.py), times 10,000: paid 250 + 120 + 200 + 500 + 100
    # (direct clients, no fee); still to be paid 750 + 400 + 600, of it 500 + 400 in escrow and 250 + 600 not;
    # a quarter of it expected lost (one of four finished contracts cancelled).
    expected = {
        "earnings": {"Gross (USD)": "11,700,000", "Net (USD)": "11,700,000"},
        "portfolio": {"Still to be paid (USD)": "17,500,000", "In escrow (USD)": "9,000,000",
                      "Not funded (USD)": "8,500,000", "Expected loss (USD)": "4,375,000"},
        "overview": {"Gross (USD)": "11,700,000", "Net (USD)": "11,700,000"},
        "timing": {"Cleared for withdrawal (USD)": "11,700,000"},
    }
    with dashboard_server(db, "agency") as base:
        for width in (1280, 1400):
            context = browser.new_context(viewport={"width": width, "height": 1600})
            page = context.new_page()
            try:
                for name, figures in expected.items():
                    open_page(page, base, name)
                    assert page.get_by_test_id("stSidebar").is_visible()
                    expect(page.get_by_test_id("stMetricValue").first).to_be_visible(timeout=30_000)
                    for label, value in figures.items():
                        assert metric(page, label) == value, (width, name, label)
                    assert page.evaluate(CUT_OFF) == [], (width, name)
                    if width == 1280:
                        whole_page_screenshot(page, f"{name}_agency_1280px")
            finally:
                context.close()
