"""The README's run command really serves the dashboard, with streamlit_config.toml applied."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dashboard.launcher import config_flags
from tests.conftest import ARTIFACTS, ROOT, free_port, running_server, wait_for_health


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


def _serving(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_stopping_the_dashboard_command_stops_its_server(tmp_path, signum):
    """A service manager stops ``milestone-lens dashboard`` by its pid: the server must go with it."""
    port = free_port()
    env = dict(os.environ, MILESTONE_LENS_DB=str(tmp_path / "ws.duckdb"))
    exe = str(Path(sys.executable).parent / "milestone-lens")
    with (tmp_path / "dashboard.log").open("w") as log:
        proc = subprocess.Popen([exe, "dashboard", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=ROOT, start_new_session=True)
        try:
            wait_for_health(port, proc)
            proc.send_signal(signum)  # to the launcher alone, not its process group
            assert proc.wait(timeout=30) in (0, 128 + signum)  # Streamlit stops cleanly on SIGTERM
            deadline = time.monotonic() + 15
            while _serving(port) and time.monotonic() < deadline:
                time.sleep(0.3)
            assert not _serving(port)
        finally:  # whatever happened, nothing of this test keeps running
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            subprocess.run(["pkill", "-f", "--", f"--server.port={port}"], check=False)
