"""Crashes and concurrency: a killed import, two sessions importing at once, the command line
beside a running dashboard. Nothing a user imported is lost, nobody sees half an import, and
whoever must wait is told so in one line instead of a raw lock error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from analysis import store
from analysis.errors import WorkspaceBusyError
from analysis.importing import import_files
from dashboard.launcher import streamlit_command
from tests.conftest import ARTIFACTS, CANONICAL, ROOT, free_port, running_server
from tests.workspace_snapshot import snapshot, snapshot_file

CLI = [str(Path(sys.executable).parent / "milestone-lens")]


def _cli(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def _counts(db: Path) -> dict[str, int]:
    con = store.connect(db)
    try:
        return {k: v for k, v in store.counts(con).items() if k != "imports"}
    finally:
        con.close()


def _contracts_csv(path: Path, prefix: str, n: int) -> Path:
    rows = [f"{prefix}{i},Client {prefix}{i % 7},{100 + i}.00,USD,2025-01-{1 + i % 28:02d},,active" for i in range(n)]
    path.write_text("contract_id,client,budget,currency,start_date,end_date,status\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def big_history(tmp_path_factory) -> Path:
    """A 100,000-contract synthetic history (canonical CSVs): an import of it takes seconds."""
    folder = tmp_path_factory.mktemp("big")
    result = _cli("sample", "--contracts", "100000", "--seed", "11", "--out", folder)
    assert result.returncode == 0, result.stderr
    return folder


def test_killing_an_import_leaves_the_workspace_as_it_was(big_history, db_path, tmp_path):
    files = [big_history / "contracts.csv", big_history / "milestones.csv"]
    # How long the whole import takes here (into a scratch workspace), so the kills land inside it.
    began = time.monotonic()
    scratch = _cli("import", *files, "--db", tmp_path / "scratch.duckdb")
    assert scratch.returncode == 0, scratch.stderr
    whole = time.monotonic() - began

    seeded = _cli("import", CANONICAL / "contracts.csv", CANONICAL / "milestones.csv", "--db", db_path)
    assert seeded.returncode == 0, seeded.stderr
    before = snapshot_file(db_path)
    killed_before_commit = 0
    for share in (0.3, 0.55, 0.8):
        proc = subprocess.Popen([*CLI, "import", *map(str, files), "--db", str(db_path)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(share * whole)
        assert proc.poll() is None, f"the import finished within {share:.0%} of its usual {whole:.1f} s"
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        # It opens cleanly afterwards (for writing, as the next import would), and holds either every
        # row exactly as before the killed import, or (killed after its commit, while it was
        # printing and closing) the whole import.
        store.connect(db_path).close()
        after = snapshot_file(db_path)
        if after == before:
            killed_before_commit += 1
            continue
        assert _counts(db_path)["contracts"] == len(before["table contracts"][1]) + 100_000
        con = store.connect(db_path)
        assert store.data_version(con) == int(dict(before["table meta"][1])["data_version"]) + 1
        con.close()
        break
    else:
        # Never committed: the same import, left to finish, brings in the whole history.
        done = _cli("import", *files, "--db", db_path)
        assert done.returncode == 0, done.stderr
        assert _counts(db_path)["contracts"] == len(before["table contracts"][1]) + 100_000
    assert killed_before_commit >= 1


def test_two_sessions_importing_at_once_both_succeed_and_nobody_sees_half(tmp_path, db_path):
    """Two dashboard sessions are two cursors of the server's one connection, on two threads."""
    a = _contracts_csv(tmp_path / "a.csv", "A", 30_000)
    b = _contracts_csv(tmp_path / "b.csv", "B", 20_000)
    shared = store.connect(db_path)
    seen: set[int] = set()
    stop = threading.Event()
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def importer(path: Path, source: str) -> None:
        cursor = shared.cursor()
        try:
            start.wait()
            import_files(cursor, [path], source=source)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            cursor.close()

    def reader() -> None:
        cursor = shared.cursor()
        try:
            start.wait()
            while not stop.is_set():
                seen.add(cursor.execute("SELECT count(*) FROM contracts").fetchone()[0])
        finally:
            cursor.close()

    threads = [threading.Thread(target=importer, args=(a, "a")), threading.Thread(target=importer, args=(b, "b"))]
    watcher = threading.Thread(target=reader)
    for t in (*threads, watcher):
        t.start()
    for t in threads:
        t.join(timeout=300)
    stop.set()
    watcher.join(timeout=60)
    try:
        assert errors == []
        assert store.counts(shared)["contracts"] == 50_000
        assert store.counts(shared)["imports"] == 2
        # Every count a reader saw is a whole state: before, one import done, or both.
        assert seen <= {0, 30_000, 20_000, 50_000}, sorted(seen)
        assert store.data_version(shared) == 2
    finally:
        shared.close()


def test_a_writer_that_waits_too_long_is_told_to_retry(db_path, tmp_path):
    shared = store.connect(db_path)
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store.writing(shared.cursor()):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        before = snapshot(shared)
        with pytest.raises(WorkspaceBusyError, match="try again in a moment"):
            with store.writing(shared.cursor(), wait_seconds=0.2):
                pass  # pragma: no cover - never reached
        assert snapshot(shared) == before
    finally:
        release.set()
        holder.join()
    # Once the first writer is done, the next one goes through.
    import_files(shared.cursor(), [_contracts_csv(tmp_path / "c.csv", "C", 3)])
    assert store.counts(shared)["contracts"] == 3
    shared.close()


def test_the_command_line_beside_a_running_dashboard_gets_a_clear_message(db_path, tmp_path, browser):
    seeded = _cli("import", CANONICAL / "contracts.csv", CANONICAL / "milestones.csv", "--db", db_path)
    assert seeded.returncode == 0, seeded.stderr
    before = snapshot_file(db_path)
    extra = _contracts_csv(tmp_path / "extra.csv", "X", 5)
    port = free_port()
    cmd, env = streamlit_command(db_path, port)
    with running_server(cmd, port, env, ARTIFACTS / "concurrency_dashboard.log"):
        # The server opens the workspace on its first page view, in a real browser.
        page = browser.new_page()
        page.goto(f"http://localhost:{port}/")
        page.get_by_test_id("stMetric").first.wait_for(timeout=60_000)
        page.close()
        with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=5) as response:
            assert response.status == 200
        for args in (("import", extra), ("report", "--json")):
            result = _cli(*args, "--db", db_path)
            assert result.returncode == 2, result
            assert result.stdout == ""
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
            assert "in use by another process" in lines[0] and "try again" in lines[0]
            assert "Conflicting lock" not in lines[0]
    # The dashboard stopped: the workspace is exactly as before, and the import now goes through.
    assert snapshot_file(db_path) == before
    again = _cli("import", extra, "--db", db_path)
    assert again.returncode == 0, again.stderr
    assert _counts(db_path)["contracts"] == len(before["table contracts"][1]) + 5
