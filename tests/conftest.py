"""Shared fixtures: workspaces on disk, the CLI in-process, a real Streamlit server, chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from analysis import store
from analysis.cli import main as cli_main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CANONICAL = FIXTURES / "canonical"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "workspace.duckdb"


@pytest.fixture
def con(db_path: Path):
    connection = store.connect(db_path)
    yield connection
    connection.close()


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def json(self):
        import json

        return json.loads(self.out)


@pytest.fixture
def cli(capsys, db_path: Path):
    """Run ``milestone-lens`` in-process against the test workspace (``--db`` added)."""

    def run(*args: str | Path, db: Path | None = db_path) -> CliResult:
        argv = [str(a) for a in args]
        if db is not None:
            argv += ["--db", str(db)]
        capsys.readouterr()
        code = cli_main(argv)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(port: int, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://localhost:{port}/_stcore/health"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"no health answer on {url} within {timeout}s")


@contextlib.contextmanager
def running_server(cmd: list[str], port: int, env: dict[str, str], log: Path):
    """Start ``cmd`` (a streamlit server on ``port``), wait for health, stop it afterwards."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        try:
            try:
                wait_for_health(port, proc)
            except Exception:
                out.flush()
                raise RuntimeError(f"server did not start; log:\n{log.read_text()[-3000:]}") from None
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser():
    """A real headless chromium (Debian's, or Playwright's own where there is no apt-get)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    if executable is None and os.environ.get("CI"):
        pytest.fail("chromium is not installed; the test command installs it (scripts/setup.sh dev)")
    with sync_api.sync_playwright() as p:
        launch_args = {"headless": True, "args": CHROMIUM_ARGS}
        if executable:
            launch_args["executable_path"] = executable
        b = p.chromium.launch(**launch_args)
        yield b
        b.close()
