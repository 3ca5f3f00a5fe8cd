"""Load benchmark (issue 7): N concurrent dashboard sessions click through every page.

A real ``streamlit run`` server (started as the launcher starts it) serves a workspace of
``--contracts`` synthetic contracts; one headless chromium opens ``--sessions`` browser
contexts at once, and each one visits every page in turn through the sidebar (as a person
would: one session, no reloads), ``--rounds`` times, then changes a filter. A visit is timed
from the click until the page's script run has finished and its charts are drawn; a visit
that shows a Streamlit exception, an error box of ours, or does not finish within
``--timeout`` seconds counts as an error. Results go to ``bench/LOAD.md`` (and ``LOAD.json``).

    .venv/bin/python bench/load.py                        # 20 sessions, 100,000 contracts
    .venv/bin/python bench/load.py --sessions 2 --contracts 2000 --out /tmp/load.md   # a smoke run

The request loop is bounded (sessions × pages × rounds visits) and talks to localhost only.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analysis import sample, store  # noqa: E402
from analysis.importing import import_files  # noqa: E402
from dashboard.launcher import streamlit_command  # noqa: E402
from tests.conftest import CHROMIUM_ARGS, chromium_path, free_port, running_server  # noqa: E402

#: Sidebar link title -> the heading the page shows when it has rendered.
PAGES = {
    "Overview": "Milestone Lens",
    "Cancellation risk": "Cancellation risk",
    "Payment timing": "Payment timing",
    "Earnings": "Earnings",
    "Portfolio risk": "Portfolio risk",
    "Milestone splitter": "Milestone splitter",
    "Data": "Data",
}
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def build_workspace(contracts: int, work: Path) -> Path:
    """A workspace of ``contracts`` synthetic contracts (built once per size, reused after)."""
    db = work / f"load_{contracts}.duckdb"
    if db.exists():
        return db
    work.mkdir(parents=True, exist_ok=True)
    csv_dir = work / f"load_{contracts}_csv"
    paths = sample.write_csvs(csv_dir, contracts, 7)
    con = store.connect(db)
    try:
        import_files(con, list(paths), fmt="canonical", source="sample")
    finally:
        con.close()
    return db


async def _visit(page, title: str, heading: str, timeout_ms: int) -> tuple[float, str | None]:
    """Click a sidebar link; seconds until the page is drawn, and an error (or None)."""
    began = time.perf_counter()
    try:
        await page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click(timeout=timeout_ms)
        await page.get_by_role("heading", name=heading, exact=True).first.wait_for(timeout=timeout_ms)
        await page.wait_for_timeout(100)
        await page.wait_for_selector(IDLE, timeout=timeout_ms)
        for chart in await page.get_by_test_id("stPlotlyChart").filter(visible=True).all():
            await chart.locator(".main-svg").first.wait_for(timeout=timeout_ms)
    except Exception as exc:  # noqa: BLE001 - a timeout or a closed page is an error of this visit
        return time.perf_counter() - began, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    seconds = time.perf_counter() - began
    if await page.get_by_test_id("stException").count():
        return seconds, "Streamlit exception shown"
    return seconds, None


async def _session(browser, base: str, index: int, rounds: int, timeout_ms: int, platform: str, log: list[dict]) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1800})
    page = await context.new_page()
    try:
        began = time.perf_counter()
        await page.goto(base, timeout=timeout_ms)
        await page.get_by_role("heading", name="Milestone Lens").first.wait_for(timeout=timeout_ms)
        await page.wait_for_selector(IDLE, timeout=timeout_ms)
        log.append({"session": index, "page": "first load", "seconds": time.perf_counter() - began, "error": None})
        order = list(PAGES)
        for r in range(rounds):
            # Sessions start on different pages, so every page is under load at once.
            for k in range(len(order)):
                title = order[(index + k) % len(order)]
                seconds, error = await _visit(page, title, PAGES[title], timeout_ms)
                log.append({"session": index, "round": r, "page": title, "seconds": seconds, "error": error})
        # A filter change on the Overview (the most common platform), the other common action.
        await _visit(page, "Overview", "Milestone Lens", timeout_ms)
        began = time.perf_counter()
        error = None
        try:
            box = page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").filter(has_text="Platform")
            await box.click(timeout=timeout_ms)
            await page.get_by_role("option", name=platform, exact=True).click(timeout=timeout_ms)
            await page.keyboard.press("Escape")
            await page.wait_for_url(f"**platform={platform}**", timeout=timeout_ms)
            await page.wait_for_timeout(100)
            await page.wait_for_selector(IDLE, timeout=timeout_ms)
        except Exception as exc:  # noqa: BLE001
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        log.append({"session": index, "page": "filter change (Overview)", "seconds": time.perf_counter() - began,
                    "error": error})
    except Exception as exc:  # noqa: BLE001 - the session could not even start
        log.append({"session": index, "page": "first load", "seconds": None,
                    "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"})
    finally:
        await context.close()


async def _drive(base: str, sessions: int, rounds: int, timeout_s: float, platform: str) -> tuple[list[dict], float]:
    from playwright.async_api import async_playwright

    log: list[dict] = []
    async with async_playwright() as p:
        launch = {"headless": True, "args": CHROMIUM_ARGS}
        if chromium_path():
            launch["executable_path"] = chromium_path()
        browser = await p.chromium.launch(**launch)
        began = time.perf_counter()
        await asyncio.gather(*(_session(browser, base, i, rounds, int(timeout_s * 1000), platform, log) for i in range(sessions)))
        wall = time.perf_counter() - began
        await browser.close()
    return log, wall


def _in_own_thread(coroutine):
    """``asyncio.run`` on a thread of its own: the caller may already run an event loop (Playwright's
    sync API in the test process does), and one thread can run only one."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="load-benchmark")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def summarise(log: list[dict]) -> list[dict]:
    """Per page: visits, errors, median / 95th percentile / slowest seconds."""
    out = []
    for name in ["first load", *PAGES, "filter change (Overview)"]:
        rows = [r for r in log if r["page"] == name]
        times = sorted(r["seconds"] for r in rows if r["seconds"] is not None and not r["error"])
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))] if times else None
        out.append({"page": name, "visits": len(rows), "errors": sum(1 for r in rows if r["error"]),
                    "median_s": statistics.median(times) if times else None, "p95_s": p95,
                    "max_s": times[-1] if times else None})
    return out


def write_markdown(result: dict, out: Path) -> None:
    def s(v):
        return "—" if v is None else f"{v:.2f}"

    lines = [
        "# Load benchmark: concurrent dashboard sessions",
        "",
        f"Generated by `python bench/load.py {' '.join(result['argv'])}` on {result['when']}. Do not edit by hand.",
        "",
        f"**Machine**: {result['machine']}. **Workspace**: {result['contracts']:,} contracts. "
        f"**Sessions**: {result['sessions']} browser contexts at once in one headless chromium on the same machine "
        f"(the browser's rendering competes with the server for the 2 cores), each visiting every page "
        f"{result['rounds']} time(s) through the sidebar, then changing a filter.",
        "",
        f"**Errors: {result['errors']}** of {result['visits']} visits. Wall time of the whole run: {result['wall_s']:.1f} s.",
        "",
        "A visit is timed from the click on the sidebar link until the page's script run has finished and its "
        "charts are drawn in the browser, so it includes queueing behind the other sessions' runs.",
        "",
        "| page | visits | errors | median s | 95th percentile s | slowest s |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["pages"]:
        lines.append(f"| {row['page']} | {row['visits']} | {row['errors']} | {s(row['median_s'])} | "
                     f"{s(row['p95_s'])} | {s(row['max_s'])} |")
    errors = [r for r in result["log"] if r["error"]]
    if errors:
        lines += ["", "Errors:", ""] + [f"- session {r['session']}, {r['page']}: {r['error']}" for r in errors[:30]]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a visit may take before it is an error")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "LOAD.md")
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= 50 or not 1 <= args.rounds <= 10:
        parser.error("--sessions must be 1 to 50 and --rounds 1 to 10 (a bounded load on localhost)")

    db = build_workspace(args.contracts, args.work)
    con = store.connect(db, read_only=True)
    try:
        (busiest_platform,) = con.execute("SELECT platform FROM contracts WHERE platform IS NOT NULL "
                                  "GROUP BY platform ORDER BY count(*) DESC, platform LIMIT 1").fetchone()
    finally:
        con.close()
    port = free_port()
    cmd, env = streamlit_command(db, port)
    with running_server(cmd, port, env, args.work / "load_server.log"):
        log, wall = _in_own_thread(_drive(f"http://localhost:{port}", args.sessions, args.rounds, args.timeout,
                                          busiest_platform))
    pages = summarise(log)
    result = {
        "argv": argv if argv is not None else sys.argv[1:], "when": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GB, "
                   f"Python {platform.python_version()}",
        "contracts": args.contracts, "sessions": args.sessions, "rounds": args.rounds, "wall_s": wall,
        "visits": len(log), "errors": sum(1 for r in log if r["error"]), "pages": pages, "log": log,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_markdown(result, args.out)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"{result['errors']} errors in {result['visits']} visits; wrote {args.out}")
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
