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
        # The empty workspace was filled with the bundled sample: 2,000 contracts, 1,770 of them in USD, the
        # currency the Overview shows; the page names the other 230.
        metric = page.get_by_test_id("stMetric").filter(has_text="Contracts").first
        metric.wait_for(timeout=30_000)
        assert "1,770" in metric.inner_text()
        assert "(161 in EUR, 69 in GBP)" in page.get_by_test_id("stMain").inner_text()
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
        # As a service manager starts it: every signal at its default (pytest may run under nohup).
        proc = subprocess.Popen([exe, "dashboard", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=ROOT, start_new_session=True, preexec_fn=lambda: signal.signal(signum, signal.SIG_DFL))
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


def test_a_dashboard_started_under_nohup_keeps_serving_after_a_hangup(tmp_path):
    """``nohup milestone-lens dashboard &`` asks for SIGHUP to be ignored: the dashboard keeps serving
    after one (the launcher leaves an ignored signal alone, and the server inherits it); SIGTERM
    still stops both."""
    port = free_port()
    env = dict(os.environ, MILESTONE_LENS_DB=str(tmp_path / "ws.duckdb"))
    exe = str(Path(sys.executable).parent / "milestone-lens")
    with (tmp_path / "dashboard.log").open("w") as log:
        proc = subprocess.Popen([exe, "dashboard", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=ROOT, start_new_session=True,
                                preexec_fn=lambda: (signal.signal(signal.SIGHUP, signal.SIG_IGN),
                                                    signal.signal(signal.SIGTERM, signal.SIG_DFL)))
        try:
            wait_for_health(port, proc)
            proc.send_signal(signal.SIGHUP)
            time.sleep(3)
            assert proc.poll() is None and _serving(port)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) in (0, 128 + signal.SIGTERM)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            subprocess.run(["pkill", "-f", "--", f"--server.port={port}"], check=False)


def test_a_port_the_server_cannot_use_or_a_db_that_is_not_a_workspace_is_one_line(cli, tmp_path):
    """Refused before the server starts: exit status 2 and one line, not a traceback (port 99999)
    or Streamlit's exit 1 after it started (a port in use), nor a server over a CSV as --db."""
    import socket

    out_of_range = cli("dashboard", "--port", "99999")
    assert (out_of_range.code, out_of_range.err) == (2, "milestone-lens: error: --port: 99999 is not a port (1–65535)\n")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("dashboard", "--port", str(port))
    assert result.code == 2
    assert result.err == f"milestone-lens: error: port {port} is in use (another dashboard?): stop it or choose another with --port\n"
    data = tmp_path / "contracts.csv"
    data.write_text("contract_id,budget\nA1,100\n")
    result = cli("dashboard", "--port", str(free_port()), db=data)
    assert result.code == 2 and "exists but is not a workspace" in result.err
    assert data.read_text() == "contract_id,budget\nA1,100\n"
