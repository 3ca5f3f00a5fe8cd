"""What the dashboard tests share: workspaces on disk, the app under AppTest, reading what it shows.

The app finds its workspace through ``MILESTONE_LENS_DB``, exactly as the launcher tells a real
server. Expected numbers in the tests come from plain SQL on the tables (a second method), not
from the functions the pages call.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analysis import store
from analysis.importing import import_files
from tests.conftest import FIXTURES, ROOT

APP = ROOT / "dashboard" / "app.py"
DASHBOARD_FIXTURES = FIXTURES / "dashboard"
PAGES = ("overview", "cancellation", "timing", "earnings", "portfolio", "splitter", "data")
PAGE_TITLES = {
    "overview": "Milestone Lens", "cancellation": "Cancellation risk", "timing": "Payment timing",
    "earnings": "Earnings", "portfolio": "Portfolio risk", "splitter": "Milestone splitter", "data": "Data",
}


def build_workspace(path: Path, files: list[Path] | None = None, *, sample: bool = False) -> Path:
    """A workspace file holding the sample and/or ``files``, closed (so it can be copied)."""
    con = store.connect(path)
    try:
        if sample:
            import_files(con, [store.SAMPLE_DIR / "contracts.csv", store.SAMPLE_DIR / "milestones.csv"],
                         fmt="canonical", source="sample")
        if files:
            import_files(con, files)
    finally:
        con.close()
    return path


@pytest.fixture(scope="session")
def sample_template(tmp_path_factory) -> Path:
    """The bundled sample imported once per test session; tests work on copies."""
    return build_workspace(tmp_path_factory.mktemp("sample") / "sample.duckdb", sample=True)


@pytest.fixture
def sample_db(sample_template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "workspace.duckdb"
    shutil.copyfile(sample_template, copy)
    return copy


@pytest.fixture
def empty_db(tmp_path: Path) -> Path:
    return tmp_path / "empty.duckdb"


def open_app(db: Path, monkeypatch, page: str = "overview", query: dict | None = None) -> AppTest:
    """Run the app on workspace ``db`` and show ``page`` (with URL query parameters ``query``)."""
    monkeypatch.setenv(store.DB_ENV_VAR, str(db))
    at = AppTest.from_file(str(APP), default_timeout=120)
    if query:
        for key, value in query.items():
            at.query_params[key] = value
    at.run()
    if page != "overview":
        at.switch_page(f"views/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    """Metric label -> the value shown."""
    return {m.label: m.value for m in at.metric}


def texts(at: AppTest) -> str:
    """Everything the page says in titles, headers, markdown, captions and alerts, as one string,
    as a reader sees it (markdown escapes removed)."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return re.sub(r"\\(.)", r"\1", "\n".join(parts))


def query_one(db: Path, sql: str, params: list | None = None) -> tuple:
    """One row of plain SQL on the workspace (shares the app's database instance in this process)."""
    con = store.connect(db)
    try:
        return con.execute(sql, params or []).fetchone()
    finally:
        con.close()


def in_main_currency(where: str = "TRUE", table: str = "contracts") -> str:
    """``where`` narrowed to the report currency under it — the most fixed-price contracts, then the most
    contracts, then by name: the analysis pages' figures rest on that currency alone, as the reports'
    do (``report_basis``)."""
    return (f"({where}) AND currency = (SELECT currency FROM {table} WHERE {where} GROUP BY currency "
            "ORDER BY count(*) FILTER (WHERE contract_type = 'fixed') DESC, count(*) DESC, currency LIMIT 1)")
