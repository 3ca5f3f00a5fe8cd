"""The README's run command really serves the dashboard, with streamlit_config.toml applied."""

from __future__ import annotations

import os
import re

import pytest

from dashboard.launcher import config_flags
from tests.conftest import ARTIFACTS, ROOT, free_port, running_server


def test_config_flags_carry_every_setting():
    flags = config_flags()
    assert "--server.headless=true" in flags
    assert "--theme.textColor=#1b2631" in flags
    assert "--server.maxUploadSize=200" in flags
    assert "--server.port=9999" in config_flags(overrides={"server.port": 9999})


@pytest.mark.browser
def test_run_command_serves_the_overview_on_the_sample(tmp_path, browser):
    port = free_port()
    db = tmp_path / "workspace.duckdb"
    env = dict(os.environ, MILESTONE_LENS_DB=str(db))
    cmd = ["bash", str(ROOT / "scripts" / "run.sh"), "--port", str(port)]
    with running_server(cmd, port, env, ARTIFACTS / "run_command.log"):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://localhost:{port}/")
        heading = page.get_by_role("heading", name="Milestone Lens").first
        heading.wait_for(timeout=60_000)
        # The empty workspace was filled with the bundled sample: 2,000 contracts.
        metric = page.get_by_test_id("stMetric").filter(has_text="Contracts").first
        metric.wait_for(timeout=30_000)
        assert "2,000" in metric.inner_text()
        # streamlit_config.toml's theme is applied: textColor #1b2631 = rgb(27, 38, 49).
        color = heading.evaluate("e => getComputedStyle(e).color")
        assert re.sub(r"\s", "", color) == "rgb(27,38,49)"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "run_command_overview.png"), full_page=True)
        page.close()
    assert db.exists()
