"""The benchmark: ``.venv/bin/python bench/run.py`` (see ``--help``); writes ``bench/RESULTS.md``.

For each size (default 10,000, 100,000 and 1,000,000 contracts) it generates the sample
history, then measures, each step in its own process (so peak memory is the step's own):
import, the report (SPEC figures alone, and the full report), our figures after a filter
change, every dashboard page's rerun after a filter change (cold and cached), the splitter
with calibration, export to Parquet and the report over the Parquet dataset — and the same
import, report and filter change done with pandas, so every figure has a ratio (the import,
report, filter change and their pandas twin run in turns, ``--repeat`` rounds). Then every
command once more as a new process on a small history (``--cli-contracts``), start-up included. With
``--big N`` it also builds an N-contract workspace in chunks, exports it to Parquet and runs
the report over the dataset with DuckDB's memory capped (``--big-memory-limit``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.chart import png_from_svg, svg_chart  # noqa: E402
from bench.steps import CLI_COMMANDS, PAGES, RESULT_PREFIX  # noqa: E402

BENCH_DIR = ROOT / "bench"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
#: A freelancer's own history: the size of the command-line-as-processes step (``steps.step_cli``).
CLI_CONTRACTS = 300
TARGETS = {"import_1m_s": 20.0, "report_1m_s": 5.0, "page_refresh_100k_s": 1.0, "peak_memory_mb": 2000.0}
PACKAGES = ("duckdb", "pandas", "numpy", "pyarrow", "statsmodels", "scipy", "streamlit", "plotly")


def run_step(name: str, args: dict, log) -> dict:
    """Run one step in a fresh process; its result, or ``{"error": ...}`` when it failed."""
    cmd = [sys.executable, "-m", "bench.steps", name, json.dumps(args)]
    log(f"  {name} ...")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        log(f"  {name} FAILED: {tail}")
        return {"error": tail[:300], "step": name}
    result = json.loads(lines[-1][len(RESULT_PREFIX):])
    log(f"  {name}: peak {result.get('rss_peak_mb', 0):.0f} MB")
    return result


def run_alternating(steps: list[tuple[str, dict]], repeat: int, log) -> list[dict]:
    """Run ``steps`` (name, args) once each per round, ``repeat`` rounds (A B A B ...); per step,
    its runs merged by ``merge_runs``."""
    rounds = [[run_step(name, {**args, "repeat": 1}, log) for name, args in steps] for _ in range(max(1, repeat))]
    return [merge_runs([r[i] for r in rounds]) for i in range(len(steps))]


def merge_runs(runs: list[dict]) -> dict:
    """One step's results from several processes as one: per timing the fastest run (its CPU
    seconds and load beside it, every run's wall time in ``walls``), the highest peak memory,
    everything else from the last run. A failed run makes the whole step failed."""
    failed = next((r for r in runs if "error" in r), None)
    if failed is not None:
        return failed
    merged = dict(runs[-1])
    for key, value in runs[-1].items():
        if isinstance(value, dict) and "wall" in value and "walls" in value:
            timings = [r[key] for r in runs]
            merged[key] = {**min(timings, key=lambda t: t["wall"]), "walls": [w for t in timings for w in t["walls"]]}
    if "rss_peak_mb" in merged:
        merged["rss_peak_mb"] = max(r["rss_peak_mb"] for r in runs)
    return merged


def machine() -> dict:
    """Cores, memory, CPU model, OS, Python and package versions."""
    info = {"cores": os.cpu_count(), "python": platform.python_version(), "os": platform.platform()}
    try:
        meminfo = Path("/proc/meminfo").read_text()
        info["memory_gb"] = round(int(meminfo.split("MemTotal:")[1].split()[0]) / 1024**2, 1)
    except (OSError, IndexError, ValueError):
        info["memory_gb"] = None
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                           if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or "unknown"
    info["packages"] = {}
    for name in PACKAGES:
        try:
            info["packages"][name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info["packages"][name] = "not installed"
    return info


def run_size(n: int, work: Path, repeat: int, log, pages: bool = True) -> dict:
    """Every step at ``n`` contracts."""
    base = work / f"size_{n}"
    csv, db, parquet = base / "csv", base / "workspace.duckdb", base / "parquet"
    base.mkdir(parents=True, exist_ok=True)
    log(f"{n:,} contracts")
    out = {"contracts": n}
    out["generate"] = run_step("generate", {"csv_dir": str(csv), "contracts": n}, log)
    # Ours and the pandas twin take turns, round after round, so both sides of each ratio meet
    # the same moments of a shared machine (its speed swung by a quarter within minutes).
    paired = run_alternating([("import", {"csv_dir": str(csv), "db": str(db)}), ("report", {"db": str(db)}),
                              ("refresh_functions", {"db": str(db)}), ("pandas", {"csv_dir": str(csv)})], repeat, log)
    out["import"], out["report"], out["refresh_functions"], out["pandas"] = paired
    if pages:
        out["pages"] = run_step("pages", {"db": str(db)}, log)
    out["splitter"] = run_step("splitter", {"db": str(db), "repeat": repeat}, log)
    out["export_parquet"] = run_step("export_parquet", {"db": str(db), "out": str(parquet)}, log)
    out["report_parquet"] = run_step("report", {"parquet": str(parquet), "repeat": repeat}, log)
    out["figures_agree"] = compare_figures(out["report"].get("figures"), out["pandas"].get("figures"))
    return out


def compare_figures(ours: dict | None, theirs: dict | None) -> list[str]:
    """Differences between our SPEC figures and the pandas ones (empty: they agree)."""
    if not ours or not theirs:
        return ["figures missing (a step failed)"]
    diffs: list[str] = []

    def same(a, b) -> bool:
        if a is None or b is None:
            return a is None and b is None
        if isinstance(a, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-6)

    for currency in sorted(set(ours) | set(theirs)):
        a, b = ours.get(currency), theirs.get(currency)
        if a is None or b is None:
            diffs.append(f"{currency}: only in {'pandas' if a is None else 'ours'}")
            continue
        for ra, rb in zip(a["by_structure"], b["by_structure"]):
            for key in ra:
                if key != "structure" and not same(ra[key], rb.get(key)):
                    diffs.append(f"{currency} {ra['structure']} {key}: ours {ra[key]} vs pandas {rb.get(key)}")
        for key, value in a["comparison"].items():
            if not same(value, b["comparison"].get(key)):
                diffs.append(f"{currency} comparison {key}: ours {value} vs pandas {b['comparison'].get(key)}")
    return diffs


# --- results ---------------------------------------------------------------------------

def _t(result: dict | None, key: str) -> float | None:
    if not result or key not in result or not isinstance(result[key], dict):
        return None
    return result[key].get("wall")


def _cpu(result: dict | None, key: str) -> float | None:
    if not result or key not in result or not isinstance(result[key], dict):
        return None
    return result[key].get("cpu")


def _s(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _mb(result: dict | None) -> str:
    return f"{result['rss_peak_mb']:,.0f}" if result and result.get("rss_peak_mb") else "—"


def _ratio(theirs: float | None, ours: float | None) -> str:
    if not theirs or not ours:
        return "—"
    return f"{theirs / ours:.1f}×"


def size_rows(r: dict) -> list[list[str]]:
    """Table rows for one size: step, ours (wall, CPU, peak MB), the pandas twin (wall, CPU, peak MB), ratios."""
    pd_ = r.get("pandas", {})
    rows = []

    def row(label: str, wall: float | None, cpu: float | None, mb: str, twin: str | None, twin_label: str) -> list[str]:
        t_wall, t_cpu = (_t(pd_, twin), _cpu(pd_, twin)) if twin else (None, None)
        return [label, _s(wall), _s(cpu), mb, twin_label, _s(t_wall), _s(t_cpu), _mb(pd_) if twin else "—",
                _ratio(t_wall, wall), _ratio(t_cpu, cpu)]

    def add(label: str, result: dict | None, key: str, twin: str | None, twin_label: str) -> None:
        line = row(label, _t(result, key), _cpu(result, key), _mb(result), twin, twin_label)
        if _t(result, key) is None:
            line[1] = f"failed: {result.get('error', '')[:80]}" if result and result.get("error") else "—"
        rows.append(line)

    add("import (CSV → workspace)", r.get("import"), "import", "pandas_import", "read + check CSVs")
    add("report: SPEC figures", r.get("report"), "report_spec", "pandas_report", "same figures")
    add("report: full (all analyses, JSON)", r.get("report"), "report_full", "pandas_report", "SPEC figures only")
    # The analyst re-running a notebook reads the CSVs again; we read the workspace file.
    wall, cpu = _from_files(pd_)
    ours = r.get("report")
    rows.append(["report from files on disk: SPEC figures", _s(_t(ours, "report_spec")), _s(_cpu(ours, "report_spec")), _mb(ours),
                 "read CSVs + same figures", _s(wall), _s(cpu), _mb(pd_), _ratio(wall, _t(ours, "report_spec")),
                 _ratio(cpu, _cpu(ours, "report_spec"))])
    add("filter change: SPEC figures", r.get("refresh_functions"), "refresh_functions", "pandas_refresh", "filter + figures")
    pages = (r.get("pages") or {}).get("pages") or {}
    for page in PAGES:
        res = pages.get(page)
        if res is None:
            continue
        for mode in ("cold", "cached"):
            got = res.get(mode) if isinstance(res.get(mode), dict) else {}
            line = row(f"page {page}: filter change, {mode}", got.get("wall"), got.get("cpu"), _mb(r.get("pages")),
                       "pandas_refresh", "filter + figures")
            if res.get("error"):
                line[1] += f" ⚠ {res['error'][:60]}"
            rows.append(line)
    add("splitter --calibrate", r.get("splitter"), "splitter", None, "(no pandas twin)")
    add("export-parquet", r.get("export_parquet"), "export_parquet", None, "(no pandas twin)")
    add("report over Parquet: SPEC figures", r.get("report_parquet"), "report_spec", "pandas_report", "same figures")
    add("report over Parquet: full", r.get("report_parquet"), "report_full", "pandas_report", "SPEC figures only")
    return rows


def _from_files(pandas_result: dict | None) -> tuple[float | None, float | None]:
    """The pandas way from files on disk: reading the CSVs plus computing the figures."""
    if not _t(pandas_result, "pandas_import") or not _t(pandas_result, "pandas_report"):
        return None, None
    return (_t(pandas_result, "pandas_import") + _t(pandas_result, "pandas_report"),
            _cpu(pandas_result, "pandas_import") + _cpu(pandas_result, "pandas_report"))


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def targets(results: dict) -> list[list[str]]:
    """The issue's targets against what was measured."""
    by_size = {r["contracts"]: r for r in results["sizes"]}
    out = []
    million = by_size.get(1_000_000)
    if million:
        imp = _t(million.get("import"), "import")
        rep = _t(million.get("report"), "report_full")
        out.append(["1M contracts: import", f"< {TARGETS['import_1m_s']:.0f} s", _s(imp),
                    "yes" if imp is not None and imp < TARGETS["import_1m_s"] else "no"])
        out.append(["1M contracts: full report", f"< {TARGETS['report_1m_s']:.0f} s", _s(rep),
                    "yes" if rep is not None and rep < TARGETS["report_1m_s"] else "no"])
    hundred = by_size.get(100_000)
    if hundred:
        pages = (hundred.get("pages") or {}).get("pages") or {}
        colds = {p: v["cold"]["wall"] for p, v in pages.items() if isinstance(v.get("cold"), dict)}
        worst = max(colds.items(), key=lambda kv: kv[1]) if colds else None
        out.append(["100k contracts: slowest page refresh after a filter change", f"< {TARGETS['page_refresh_100k_s']:.0f} s",
                    f"{_s(worst[1])} ({worst[0]})" if worst else "—",
                    "yes" if worst and worst[1] < TARGETS["page_refresh_100k_s"] else "no"])
    peaks = [(r["contracts"], name, res.get("rss_peak_mb", 0)) for r in results["sizes"]
             for name, res in r.items() if isinstance(res, dict) and name not in ("pandas", "generate") and res.get("rss_peak_mb")]
    if peaks:
        n, name, worst_mb = max(peaks, key=lambda p: p[2])
        out.append(["peak memory of any of our steps", f"< {TARGETS['peak_memory_mb']:,.0f} MB",
                    f"{worst_mb:,.0f} MB ({name}, {n:,})", "yes" if worst_mb < TARGETS["peak_memory_mb"] else "no"])
    for r in results["sizes"]:
        if r["contracts"] < 100_000:
            continue
        pd_ = r.get("pandas", {})
        pairs = [("import", _t(r.get("import"), "import"), _t(pd_, "pandas_import")),
                 ("SPEC figures (pandas' frames already in memory)", _t(r.get("report"), "report_spec"), _t(pd_, "pandas_report")),
                 ("SPEC figures from files on disk (pandas reads the CSVs again)", _t(r.get("report"), "report_spec"), _from_files(pd_)[0]),
                 ("filter change", _t(r.get("refresh_functions"), "refresh_functions"), _t(pd_, "pandas_refresh"))]
        for label, ours, theirs in pairs:
            out.append([f"{r['contracts']:,} contracts, faster than pandas: {label}", "ratio > 1", _ratio(theirs, ours),
                        "yes" if ours and theirs and theirs > ours else "no"])
    return out


def chart_series(results: dict) -> list[dict]:
    sizes = results["sizes"]

    def pts(fn) -> list[tuple[int, float]]:
        return [(r["contracts"], fn(r)) for r in sizes if fn(r)]

    def worst_page(r: dict, mode: str) -> float | None:
        pages = (r.get("pages") or {}).get("pages") or {}
        walls = [v[mode]["wall"] for v in pages.values() if isinstance(v.get(mode), dict)]
        return max(walls) if walls else None

    return [
        {"name": "import", "points": pts(lambda r: _t(r.get("import"), "import")), "colour": 0},
        {"name": "import, pandas", "points": pts(lambda r: _t(r.get("pandas"), "pandas_import")), "colour": 0, "dashed": True},
        {"name": "SPEC figures", "points": pts(lambda r: _t(r.get("report"), "report_spec")), "colour": 1},
        {"name": "SPEC figures, pandas", "points": pts(lambda r: _t(r.get("pandas"), "pandas_report")), "colour": 1, "dashed": True},
        {"name": "full report", "points": pts(lambda r: _t(r.get("report"), "report_full")), "colour": 2},
        {"name": "filter change", "points": pts(lambda r: _t(r.get("refresh_functions"), "refresh_functions")), "colour": 3},
        {"name": "filter change, pandas", "points": pts(lambda r: _t(r.get("pandas"), "pandas_refresh")), "colour": 3, "dashed": True},
        {"name": "slowest page, cold", "points": pts(lambda r: worst_page(r, "cold")), "colour": 4},
        {"name": "slowest page, cached", "points": pts(lambda r: worst_page(r, "cached")), "colour": 5},
        {"name": "splitter --calibrate", "points": pts(lambda r: _t(r.get("splitter"), "splitter")), "colour": 6},
        {"name": "full report over Parquet", "points": pts(lambda r: _t(r.get("report_parquet"), "report_full")), "colour": 7},
    ]


def _chunks_sentence(big: dict, build: dict) -> str:
    """How the big dataset's chunks were made: all generated, or some copied (``--big-distinct``)."""
    chunks = math.ceil(big["contracts"] / max(1, big.get("chunk") or 1))
    distinct = build.get("distinct_chunks", chunks)
    made = ("generated with its own seed and contract-id prefix, written as CSV, imported into a workspace of "
            "its own and exported with `export-parquet`.")
    if distinct >= chunks:
        return f"each of the {chunks} chunks was {made}"
    return (f"{distinct} of the {chunks} chunks were each {made} The other {chunks - distinct} are copies of those "
            "(`--big-distinct`), written by DuckDB from their Parquet files under new contract ids, payment keys, "
            "clients and freelancers.")


def big_section(big: dict | None, pandas_1m_mb: float | None = None) -> str:
    if not big:
        return ""
    build, rep = big.get("build", {}), big.get("report", {})
    if build.get("error") or rep.get("error"):
        return f"## {big['contracts']:,} contracts over Parquet\n\nFailed: {build.get('error') or rep.get('error')}\n"
    rows = rep.get("rows", {})
    lines = [
        f"## {big['contracts']:,} contracts, out of core over Parquet",
        "",
        f"Built in chunks of {big.get('chunk', 0):,} contracts, so no step ever held more than one chunk: "
        + _chunks_sentence(big, build) +
        " All files sit in one hive-partitioned dataset. The report then ran over the whole dataset through "
        f"`open_parquet_workspace` with DuckDB's `memory_limit` at **{rep.get('memory_limit')}**"
        + (f" and the process's address space capped at {big['address_space_gb']} GB (`RLIMIT_AS`)" if big.get("address_space_gb") else "")
        + ".",
        "",
        _table(["what", "value"], [
            ["contracts / milestones / payments", f"{rows.get('contracts', 0):,} / {rows.get('milestones', 0):,} / {rows.get('payments', 0):,}"],
            [f"DuckDB workspace file of one generated chunk ({big.get('chunk', 0):,} contracts)",
             f"{build.get('duckdb_bytes', 0) / max(1, build.get('distinct_chunks', 1)) / 1e9:.2f} GB"],
            ["Parquet dataset", f"{build.get('parquet_bytes', 0) / 1e9:.2f} GB in {build.get('parquet_files', 0)} files"],
            ["building it (generate, import, export per chunk)", f"{_s(build.get('build_seconds'))} s"
             + (f"; per chunk import {min(build['chunk_import_seconds']):.1f}–{max(build['chunk_import_seconds']):.1f} s, "
                f"export-parquet{' or copy' if build.get('distinct_chunks', 0) < len(build['chunk_export_seconds']) else ''} {min(build['chunk_export_seconds']):.1f}–{max(build['chunk_export_seconds']):.1f} s"
                if build.get("chunk_import_seconds") else "")
             + (" (built by an earlier run with the same size, chunks and seed; this run reused it)"
                if build.get("reused") else "")],
            ["SPEC figures over Parquet", _s(_t(rep, "report_spec")) + " s"],
            ["full report over Parquet", _s(_t(rep, "report_full")) + " s"],
            ["figures after a filter change (upwork, from 2025)", _s(_t(rep, "refresh_functions")) + " s"],
            ["peak resident memory of the report process", f"{rep.get('rss_peak_mb', 0):,.0f} MB"],
        ]),
        "",
    ]
    if pandas_1m_mb:
        lines += [f"For scale: the pandas way held {pandas_1m_mb:,.0f} MB at its peak for 1,000,000 contracts; "
                  f"{big['contracts'] // 1_000_000} times the data in pandas' frames would need about "
                  f"{pandas_1m_mb * big['contracts'] / 1_000_000 / 1000:,.0f} GB, more than this machine's memory.", ""]
    return "\n".join(lines)


def cli_section(cli: dict | None) -> str:
    """The command line as processes on a small history: what a freelancer waits for."""
    if not cli:
        return ""
    if cli.get("error"):
        return f"## The command line on a small history\n\nFailed: {cli['error']}\n"
    commands, twin = cli.get("commands", {}), cli.get("pandas_script")
    rows = []
    for name in CLI_COMMANDS:
        got = commands.get(name) or {}
        is_report = name == "report --json"
        rows.append([f"`milestone-lens {name}`", _s(got.get("wall")), _s(got.get("cpu")),
                     "script: read the CSVs, SPEC figures only" if is_report else "—",
                     _s(_t(cli, "pandas_script")) if is_report else "—",
                     _ratio(_t(cli, "pandas_script"), got.get("wall")) if is_report and twin else "—"])
    return "\n".join([
        f"## The command line on a small history ({cli.get('contracts', 0):,} contracts)",
        "",
        "Most freelancers have hundreds of contracts, not millions. Here every command is a new process, as "
        "a user runs it, so Python and the libraries starting are counted (the tables above time the work in a "
        "process already started). `import` loads neither statsmodels nor SciPy; `report` and `split --calibrate` "
        "need both. The pandas twin is the analyst's script as a new process (`python -m bench.pandas_way`), "
        "which computes the SPEC figures only, where our report computes every analysis.",
        "",
        _table(["command", "s", "CPU s", "pandas twin", "pandas s", "ratio"], rows),
        "",
    ])


def _load_range(results: dict) -> str:
    """The load average while the run went, as one figure when it did not move."""
    low, high = f"{results['load_min']:.1f}", f"{results['load_max']:.1f}"
    return low if low == high else f"{low}–{high}"


def _runs_counted(repeat: int) -> str:
    return "from a single run" if repeat == 1 else f"the fastest of {repeat} runs"


def write_results(results: dict, out: Path, chart_svg: Path | None) -> None:
    m = results["machine"]
    parts = [
        "# Benchmark results",
        "",
        f"Generated by `{results['command']}` on {results['finished'][:16].replace('T', ' ')} UTC. "
        "Do not edit by hand: rerun the command (see the README). "
        "Hand-written notes on what was profiled and fixed are in [optimisations.md](optimisations.md).",
        "",
        f"**Machine**: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB memory, {m['os']}, Python {m['python']}. "
        "**Packages**: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + ".",
        "",
        f"The machine was shared with other work while this ran (load average {_load_range(results)} "
        f"on {m['cores']} cores): wall-clock times are {_runs_counted(results['repeat'])} and CPU seconds are shown "
        "beside them (CPU time counts both cores, so it can exceed wall time). The import, the report, the filter change "
        "and the pandas twin of all three take turns, one process each per round, so both sides of a ratio meet the same "
        "moments of the machine. Between days the speed of this shared virtual machine changes by more than the load "
        "average shows (see optimisations.md): to compare absolute seconds across two runs, compare pandas' seconds first "
        "— the same code on the same files in every run.",
        "",
        "Each step runs in its own process; *peak MB* is that process's peak resident memory "
        "(`ru_maxrss`), interpreter and libraries included. The *ratio* is pandas wall time / our wall time "
        "(above 1×: we are faster); the *CPU ratio* the same for CPU seconds, which a loaded machine disturbs "
        "less (pandas computes on one core, DuckDB on both, so it favours pandas). Page rows time a whole page rerun under Streamlit's AppTest "
        "(queries, tables, Plotly figures; no browser drawing): *cold* after switching the platform "
        "filter to a value never shown before, *cached* after switching back; their pandas twin is "
        "the analyst's filter change (filter the in-memory frames, recompute the SPEC figures).",
        "",
        "## Targets (issue 8)",
        "",
        _table(["target", "goal", "measured", "met"], targets(results)),
        "",
    ]
    if chart_svg is not None:
        png = chart_svg.with_suffix(".png")
        image = png if png.exists() else chart_svg
        parts += [f"![time against size per step]({image.name})", ""]
    header = ["step", "ours s", "ours CPU s", "ours peak MB", "pandas step", "pandas s", "pandas CPU s", "pandas peak MB",
              "ratio", "CPU ratio"]
    for r in results["sizes"]:
        parts += [f"## {r['contracts']:,} contracts", ""]
        imp = (r.get("import") or {}).get("summary", {}).get("imported", {})
        if imp:
            parts += [f"{imp.get('contracts', 0):,} contracts, {imp.get('milestones', 0):,} milestones and invoices, "
                      f"{imp.get('payments', 0):,} payments; CSVs {((r.get('generate') or {}).get('bytes') or 0) / 1e6:.0f} MB.", ""]
        parts += [_table(header, size_rows(r)), ""]
        diffs = r.get("figures_agree") or []
        parts += ["Cross-check: our SPEC figures and the pandas ones "
                  + ("**agree** (counts exactly; rates, intervals, p-values, money and medians to 1e-6)." if not diffs
                     else "**differ**: " + "; ".join(diffs[:8])), ""]
    parts.append(cli_section(results.get("cli")))
    million = next((r for r in results["sizes"] if r["contracts"] == 1_000_000), None)
    parts.append(big_section(results.get("big"), (million or {}).get("pandas", {}).get("rss_peak_mb")))
    out.write_text("\n".join(parts).rstrip() + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES), help="comma-separated contract counts")
    p.add_argument("--repeat", type=int, default=2, help="runs per timed step; the fastest counts (default 2)")
    p.add_argument("--work", type=Path, default=BENCH_DIR / "work", help="where workspaces and CSVs go (not committed)")
    p.add_argument("--out", type=Path, default=None,
                   help="the results file to write; its .json and chart.svg/.png go beside it (default "
                        "bench/RESULTS.md for the full default sizes, else RESULTS.md in --work, so a "
                        "quick run never overwrites the committed results)")
    p.add_argument("--no-pages", action="store_true", help="skip the dashboard page reruns")
    p.add_argument("--cli-contracts", type=int, default=CLI_CONTRACTS,
                   help=f"the small history every command runs on as a new process (default {CLI_CONTRACTS}; 0 skips it)")
    p.add_argument("--big", type=int, default=0, help="also the out-of-core run at this many contracts (e.g. 10000000)")
    p.add_argument("--big-chunk", type=int, default=1_000_000, help="contracts per generated chunk for --big")
    p.add_argument("--big-distinct", type=int, default=0,
                   help="chunks generated and imported for --big, the others copying them under new ids "
                        "(default 0: every chunk generated)")
    p.add_argument("--big-memory-limit", default="1GB", help="DuckDB memory_limit for the --big report")
    p.add_argument("--big-address-space-gb", type=float, default=0, help="hard cap (RLIMIT_AS) for the --big report process")
    args = p.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    out = (args.out or (BENCH_DIR / "RESULTS.md" if tuple(sizes) == DEFAULT_SIZES else work / "RESULTS.md")).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    loads = [os.getloadavg()[0]]
    results: dict = {"machine": machine(), "repeat": args.repeat, "sizes": [],
                     "command": "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    for n in sizes:
        results["sizes"].append(run_size(n, work, args.repeat, log, pages=not args.no_pages))
        loads.append(os.getloadavg()[0])
    if args.cli_contracts:
        log(f"the command line as processes, {args.cli_contracts:,} contracts")
        results["cli"] = run_step("cli", {"work": str(work / "cli"), "contracts": args.cli_contracts, "repeat": max(3, args.repeat)}, log)
    if args.big:
        big_dir = work / f"big_{args.big}"
        big = {"contracts": args.big, "chunk": args.big_chunk, "address_space_gb": args.big_address_space_gb or None}
        log(f"{args.big:,} contracts over Parquet")
        big["build"] = run_step("big_build", {"contracts": args.big, "chunk": args.big_chunk, "distinct_chunks": args.big_distinct,
                                              "out": str(big_dir / "parquet"), "tmp": str(big_dir / "chunk")}, log)
        big["report"] = run_step("big_report", {"parquet": str(big_dir / "parquet"), "memory_limit": args.big_memory_limit,
                                                "spill": str(big_dir / "spill"),
                                                "address_space_gb": args.big_address_space_gb or None}, log)
        results["big"] = big
        loads.append(os.getloadavg()[0])
    results["load_min"], results["load_max"] = min(loads), max(loads)
    results["finished"] = dt.datetime.now(dt.timezone.utc).isoformat()
    raw = out.with_name(out.stem + ".json")
    raw.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    chart = out.with_name("chart.svg")
    chart.write_text(svg_chart(chart_series(results), "Milestone Lens: time against size (solid: ours, dashed: pandas)"))
    png_from_svg(str(chart), str(chart.with_suffix(".png")))
    write_results(results, out, chart)
    log(f"wrote {out}, and beside it {raw.name}, {chart.name} and {chart.with_suffix('.png').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
