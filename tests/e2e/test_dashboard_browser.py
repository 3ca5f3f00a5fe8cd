"""The dashboard in a real browser: every page opens, filters live in the URL, a CSV uploaded
through the file chooser changes the Overview, downloads carry the right (and safe) content."""

from __future__ import annotations

import csv
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from analysis import store
from tests.dashboard_support import DASHBOARD_FIXTURES, PAGE_TITLES, PAGES, in_main_currency, query_one
from tests.e2e.conftest import SCREENSHOTS

pytestmark = pytest.mark.browser

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
URL_PATHS = {page: ("" if page == "overview" else page) for page in PAGES}


def wait_idle(page) -> None:
    """Until the script run that the last action started has finished, and no other started
    right after it (a first visit can rerun at once: between the two runs the app is briefly
    idle with only the top of the page drawn)."""
    page.wait_for_timeout(300)
    for _ in range(20):
        page.wait_for_selector(IDLE, timeout=60_000)
        page.wait_for_timeout(400)
        if page.locator(IDLE).count():
            return
    raise AssertionError("the app never stayed idle")


def open_page(page, base: str, name: str, query: str = "") -> None:
    page.goto(f"{base}/{URL_PATHS[name]}{query}")
    page.get_by_role("heading", name=PAGE_TITLES[name], exact=True).first.wait_for(timeout=60_000)
    wait_idle(page)
    for chart in page.get_by_test_id("stPlotlyChart").filter(visible=True).all():
        chart.locator(".main-svg").first.wait_for(timeout=30_000)
    page.evaluate("document.fonts.ready.then(() => true)")  # icons and text settled for screenshots
    page.wait_for_timeout(500)


def open_tab(page, name: str) -> None:
    """Click one of the Data page's tabs and wait for the rerun it starts (the selected tab is kept
    across reruns, so choosing one reruns the page: a click landing in that rerun starts nothing)."""
    page.get_by_role("tab", name=name).click()
    wait_idle(page)


def download_by_clicking(page, button, attempts: int = 2):
    """Click a download button once the app is idle and return the download. A first visit can
    rerun on its own (``wait_idle``); a click that lands in that rerun starts nothing (seen in two
    CI runs of 2026-12-06), so one more click is allowed; a button that never downloads still fails."""
    for attempt in range(attempts):
        wait_idle(page)
        try:
            with page.expect_download(timeout=30_000) as info:
                button.click()
            return info.value
        except PlaywrightTimeoutError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def metric(page, label: str) -> str:
    box = page.get_by_test_id("stMetric").filter(has_text=label).first
    return box.get_by_test_id("stMetricValue").inner_text().strip()


def read_csv(download) -> list[dict[str, str]]:
    with open(download.path(), newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_page_opens_and_is_screenshotted(sample_server, page):
    base, _ = sample_server
    for name in PAGES:
        open_page(page, base, name)
        assert page.get_by_test_id("stException").count() == 0, name
        # The same filters on every page.
        assert page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").count() == 5
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    # The Overview's headline and chart are really drawn.
    open_page(page, base, "overview")
    assert "as often as" in page.get_by_test_id("stMain").get_by_role("heading", level=3).first.inner_text()
    assert page.get_by_test_id("stPlotlyChart").count() == 1
    assert metric(page, "Contracts") == "1,770"  # the sample's USD contracts, the currency of most (as the reports)


def test_filters_live_in_the_url_and_follow_the_navigation(sample_server, page):
    base, db = sample_server
    open_page(page, base, "overview", "?platform=upwork")
    (upwork,) = query_one(db, f"""SELECT count(*) FROM contracts WHERE {in_main_currency("platform = 'upwork'")}""")
    assert metric(page, "Contracts") == f"{upwork:,}"
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Data").click()
    page.get_by_role("heading", name="Data", exact=True).wait_for()
    wait_idle(page)
    assert page.url.endswith("/data?platform=upwork")
    # Choosing a value in the sidebar writes it to the URL, and back on the Overview it still applies.
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Overview").click()
    page.get_by_role("heading", name="Milestone Lens").wait_for()
    wait_idle(page)
    category = page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").filter(has_text="Category")
    category.click()
    page.get_by_role("option", name="writing", exact=True).click()
    page.keyboard.press("Escape")
    wait_idle(page)
    page.wait_for_url(re.compile(r"category=writing"))
    assert "platform=upwork" in page.url
    (both,) = query_one(db, f"""SELECT count(*) FROM contracts
                                WHERE {in_main_currency("platform = 'upwork' AND category = 'writing'")}""")
    page.wait_for_function(
        "n => [...document.querySelectorAll('[data-testid=stMetricValue]')].some(e => e.innerText.trim() === n)",
        arg=f"{both:,}", timeout=30_000)
    assert metric(page, "Contracts") == f"{both:,}"
    # The link reproduces the view in a new tab.
    other = page.context.new_page()
    other.goto(page.url)
    other.get_by_test_id("stMetric").first.wait_for(timeout=60_000)
    wait_idle(other)
    assert metric(other, "Contracts") == f"{both:,}"
    other.screenshot(path=str(SCREENSHOTS / "overview_filtered.png"), full_page=True)
    # "What to look at next" links keep the filters too.
    other.get_by_test_id("stPageLink").filter(has_text="Payment timing").click()
    other.get_by_role("heading", name="Payment timing").wait_for()
    assert "category=writing" in other.url and "platform=upwork" in other.url


def test_template_and_report_downloads(sample_server, page):
    base, _ = sample_server
    open_page(page, base, "data", "?currency=EUR")
    with page.expect_download() as info:
        page.get_by_test_id("stDownloadButton").filter(has_text="contracts.csv template").click()
    download = info.value
    assert download.suggested_filename == "contracts.csv"
    with open(download.path(), "rb") as handle:
        assert handle.read() == (store.DATA_DIR / "template" / "contracts.csv").read_bytes()
    open_tab(page, "Export")
    with page.expect_download(timeout=120_000) as info:
        page.get_by_test_id("stDownloadButton").filter(has_text="report.html").click()
    with open(info.value.path(), encoding="utf-8") as handle:
        report = handle.read()
    assert report.startswith("<!DOCTYPE html>") and "currency EUR" in report and "amounts in EUR" in report


def test_upload_through_the_file_chooser_changes_the_overview_and_exports(fresh_sample_server, page):
    base = fresh_sample_server
    open_page(page, base, "overview")
    assert metric(page, "Contracts") == "1,770"
    open_page(page, base, "data")
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("stFileUploaderDropzone").click()
    chooser.value.set_files([str(DASHBOARD_FIXTURES / "upload_contracts.csv"),
                             str(DASHBOARD_FIXTURES / "upload_milestones.csv")])
    page.get_by_text("They would add 3 contracts, 6 milestones, 4 payments").wait_for(timeout=60_000)
    wait_idle(page)
    page.screenshot(path=str(SCREENSHOTS / "data_upload_checked.png"), full_page=True)
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Imported 3 contracts, 6 milestones, 4 payments").wait_for(timeout=60_000)
    wait_idle(page)

    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Overview").click()
    page.get_by_role("heading", name="Milestone Lens").wait_for()
    wait_idle(page)
    assert metric(page, "Contracts") == "1,773"  # three more USD contracts

    # Export the filtered contracts: the uploaded client's rows, formulas neutralised.
    open_page(page, base, "data", "?client=%3DHYPERLINK(%22http%3A%2F%2Fx%22)&client=Zeta%20Press")
    open_tab(page, "Export")
    with page.expect_download() as info:
        page.get_by_test_id("stDownloadButton").filter(has_text="contracts.csv", visible=True).click()
    rows = read_csv(info.value)
    assert sorted(r["contract_id"] for r in rows) == ["U1", "U2", "U3"]
    u3 = next(r for r in rows if r["contract_id"] == "U3")
    assert u3["client"] == "'=HYPERLINK(\"http://x\")" and u3["title"] == "'@risky title"
    assert {r["structure"] for r in rows} == {"milestones", "single"}


def test_dates_the_data_cannot_decide_open_the_choice_and_import_as_chosen(fresh_sample_server, page):
    base = fresh_sample_server
    open_page(page, base, "data")
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("stFileUploaderDropzone").click()
    chooser.value.set_files([str(DASHBOARD_FIXTURES / "ambiguous_dates.csv")])
    page.get_by_text("Not ready to import: 1 problem").wait_for(timeout=60_000)
    wait_idle(page)
    # The problem says where to choose, and that choice, drawn closed before the check, is open.
    problem = page.get_by_test_id("stDataFrame").filter(has_text="end_date").first
    assert problem.is_visible()
    choices = page.get_by_test_id("stExpander").filter(has_text="How to read the files")
    assert choices.locator("details").first.get_attribute("open") is not None
    page.screenshot(path=str(SCREENSHOTS / "data_upload_ambiguous_dates.png"), full_page=True)
    choices.get_by_text("Day first (25/11/2026)").click()
    page.get_by_text("They would add 2 contracts").wait_for(timeout=60_000)
    wait_idle(page)
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Imported 2 contracts").wait_for(timeout=60_000)
    wait_idle(page)

    # Through the data: 07/11/2026 was read as the 7th of November.
    open_page(page, base, "data", "?client=Lambda")
    open_tab(page, "Export")
    with page.expect_download() as info:
        page.get_by_test_id("stDownloadButton").filter(has_text="contracts.csv", visible=True).click()
    rows = {r["contract_id"]: r for r in read_csv(info.value)}
    assert sorted(rows) == ["D1", "D2"]
    assert (rows["D2"]["start_date"], rows["D2"]["end_date"]) == ("2026-11-07", "2026-12-08")


def test_a_table_downloads_as_the_csv_it_shows(sample_server, page):
    base, db = sample_server
    open_page(page, base, "overview")
    page.get_by_text("The figures by payment structure").click()
    button = page.locator(".st-key-overview_by_structure_csv").get_by_role("button")  # that table's own button
    button.wait_for(state="visible", timeout=30_000)
    download = download_by_clicking(page, button)
    assert download.suggested_filename == "overview-by-structure.csv"  # the table's name, not a column's
    rows = {r["structure"]: r for r in read_csv(download)}
    assert set(rows) == {"Milestones", "Single payment", "Hourly"}
    (hourly,) = query_one(db, "SELECT count(*) FROM contracts WHERE contract_type = 'hourly' AND currency = 'USD'")
    assert int(rows["Hourly"]["contracts"]) == hourly
    assert sum(int(r["contracts"]) for r in rows.values()) == 1770


def test_the_overview_by_its_name_opens_it_with_the_links_filters(sample_server, page):
    """``/overview?platform=upwork`` was Streamlit's "Page not found" (the Overview lives at the root)."""
    base, db = sample_server
    page.goto(f"{base}/overview?platform=upwork")
    page.get_by_role("heading", name=PAGE_TITLES["overview"], exact=True).first.wait_for(timeout=60_000)
    wait_idle(page)
    assert not page.get_by_text("Page not found").count()
    (upwork,) = query_one(db, f"""SELECT count(*) FROM contracts WHERE {in_main_currency("platform = 'upwork'")}""")
    page.wait_for_function(
        "n => [...document.querySelectorAll('[data-testid=stMetricValue]')].some(e => e.innerText.trim() === n)",
        arg=f"{upwork:,}", timeout=30_000)
    assert metric(page, "Contracts") == f"{upwork:,}"


def test_a_typed_link_in_lower_case_is_read_and_written_back_as_the_workspace_spells_it(sample_server, page):
    base, db = sample_server
    page.goto(f"{base}/earnings?currency=eur&platform=Upwork")
    page.get_by_role("heading", name=PAGE_TITLES["earnings"], exact=True).first.wait_for(timeout=60_000)
    wait_idle(page)
    page.wait_for_url(re.compile(r"currency=EUR"), timeout=30_000)
    assert "platform=upwork" in page.url
    assert page.get_by_text("This link asks for what the filters cannot show").count() == 0
    assert "Showing platform upwork, currency EUR." in page.get_by_test_id("stMain").inner_text()
