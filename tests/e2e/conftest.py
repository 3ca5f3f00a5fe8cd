"""Browser tests: a real ``streamlit run`` server (started as the launcher starts it) on a free
port, driven by Playwright in chromium. Screenshots of every page go to ``test-artifacts/``."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.launcher import streamlit_command
from tests.conftest import ARTIFACTS, free_port, running_server
from tests.dashboard_support import build_workspace

SCREENSHOTS = ARTIFACTS / "dashboard"


@contextlib.contextmanager
def dashboard_server(db: Path, name: str, private_dir: Path | None = None,
                     options: dict[str, object] | None = None) -> Iterator[str]:
    """Serve the dashboard on ``db`` (or with private workspaces in ``private_dir``); yields its base
    URL. ``options`` are extra ``streamlit run`` settings. The server log goes to test-artifacts."""
    port = free_port()
    cmd, env = streamlit_command(db, port, private_dir=private_dir)
    cmd += [f"--{key}={value}" for key, value in (options or {}).items()]
    with running_server(cmd, port, env, ARTIFACTS / f"e2e_{name}.log"):
        yield f"http://localhost:{port}"


@pytest.fixture(scope="module")
def sample_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A server on the bundled sample, and a copy of its workspace for checking figures with SQL
    (the server's process holds the workspace file itself)."""
    folder = tmp_path_factory.mktemp("e2e")
    db = build_workspace(folder / "sample.duckdb", sample=True)
    reference = folder / "reference.duckdb"
    shutil.copyfile(db, reference)
    with dashboard_server(db, "sample") as url:
        yield url, reference


@pytest.fixture
def fresh_sample_server(tmp_path) -> Iterator[str]:
    """A server of its own on a fresh copy of the sample, for tests that write."""
    db = build_workspace(tmp_path / "sample.duckdb", sample=True)
    with dashboard_server(db, "upload") as url:
        yield url


@pytest.fixture
def page(browser):
    # Tall enough that every element of a page renders (Streamlit scrolls inside its main block).
    context = browser.new_context(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="session", autouse=True)
def _screenshot_folder():
    # Created, never emptied: test runs in parallel would delete each other's screenshots.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
