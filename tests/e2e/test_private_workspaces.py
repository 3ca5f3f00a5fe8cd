"""A shared deployment (``milestone-lens dashboard --private-workspaces``): two real browser
contexts on one server, each in its own workspace. What one uploads, the other never sees."""

from __future__ import annotations

import time

import duckdb
import pytest

from tests.dashboard_support import DASHBOARD_FIXTURES
from tests.e2e.conftest import SCREENSHOTS, dashboard_server
from tests.e2e.test_dashboard_browser import metric, open_page, wait_idle

pytestmark = pytest.mark.browser


def _upload(page, *names: str) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("stFileUploaderDropzone").click()
    chooser.value.set_files([str(DASHBOARD_FIXTURES / n) for n in names])


def _go(page, title: str) -> None:
    """Navigate inside the app (a page load would start a new session, with a new workspace)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name="Milestone Lens" if title == "Overview" else title).first.wait_for(timeout=60_000)
    wait_idle(page)
    for chart in page.get_by_test_id("stPlotlyChart").filter(visible=True).all():
        chart.locator(".main-svg").first.wait_for(timeout=30_000)


def _workspace_files(folder):
    return sorted(p for p in folder.glob("session-*.duckdb"))


def test_two_sessions_never_see_each_others_uploads(browser, tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    shared_db = tmp_path / "not-used.duckdb"
    with dashboard_server(shared_db, "private", private_dir=private) as base:
        alice_context = browser.new_context(viewport={"width": 1400, "height": 2400})
        bob_context = browser.new_context(viewport={"width": 1400, "height": 2400})
        alice, bob = alice_context.new_page(), bob_context.new_page()
        try:
            # Both start in an empty workspace of their own.
            open_page(alice, base, "overview")
            open_page(bob, base, "overview")
            for tab in (alice, bob):
                tab.get_by_text("The workspace is empty").first.wait_for(timeout=30_000)
                assert tab.get_by_text("Private workspace").count() == 1

            # Alice uploads and imports three contracts through the file chooser.
            _go(alice, "Data")
            _upload(alice, "upload_contracts.csv", "upload_milestones.csv")
            alice.get_by_text("They would add 3 contracts, 6 milestones, 4 payments").wait_for(timeout=60_000)
            wait_idle(alice)
            alice.get_by_role("button", name="Import", exact=True).click()
            alice.get_by_text("Imported 3 contracts, 6 milestones, 4 payments").wait_for(timeout=60_000)
            _go(alice, "Overview")
            assert metric(alice, "Contracts") == "3"
            alice.screenshot(path=str(SCREENSHOTS / "private_alice.png"), full_page=True)

            # Bob, on the same server, still has an empty workspace: on a fresh run of every page
            # that reads it, and in the sidebar's filter choices (Alice's clients never appear).
            _go(bob, "Cancellation risk")
            _go(bob, "Overview")
            bob.get_by_text("The workspace is empty").first.wait_for(timeout=30_000)
            assert bob.get_by_test_id("stMetric").count() == 0
            _go(bob, "Data")
            bob.get_by_text("The workspace is empty.").first.wait_for(timeout=30_000)
            bob.get_by_test_id("stSidebar").get_by_text("Client").first.click()
            assert bob.get_by_text("Zeta Press").count() == 0
            bob.screenshot(path=str(SCREENSHOTS / "private_bob.png"), full_page=True)

            # On disk: one file per session, named by a random token; only Alice's holds contracts.
            files = _workspace_files(private)
            assert len(files) == 2
            assert not (tmp_path / "not-used.duckdb").exists()
        finally:
            bob_context.close()
        # Bob's session ends: his workspace is deleted, Alice's stays while her tab is open.
        deadline = time.monotonic() + 60
        while len(_workspace_files(private)) > 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        remaining = _workspace_files(private)
        assert len(remaining) == 1
        _go(alice, "Earnings")
        _go(alice, "Overview")
        assert metric(alice, "Contracts") == "3"
        # A new page load is a new session: a new, empty workspace (Alice's stays her tab's alone).
        fresh = alice_context.new_page()
        open_page(fresh, base, "overview")
        fresh.get_by_text("The workspace is empty").first.wait_for(timeout=30_000)
        alice_context.close()
    # With the server stopped, the remaining file can be opened: it holds exactly Alice's import.
    for path in _workspace_files(private):
        con = duckdb.connect(str(path), read_only=True)
        try:
            assert con.execute("SELECT count(*) FROM contracts").fetchone()[0] == 3
        finally:
            con.close()
