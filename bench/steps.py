"""One benchmark step per process: ``python -m bench.steps STEP '{"json": "arguments"}'``.

Each step runs in its own process so that its peak memory (``ru_maxrss``) is its own. The
last line of stdout is ``BENCH-RESULT {json}``: wall and CPU seconds of every timed part
(the fastest of ``repeat`` runs, with all runs listed), the process's resident memory after
imports and at its peak, and whatever the step reports (figures, counts, errors).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULT_PREFIX = "BENCH-RESULT "
#: "Today" of every report in the benchmark, so figures do not change with the calendar.
TODAY = dt.date(2026, 11, 25)
SEED = 7


def rss_mb() -> float:
    """Current resident memory of this process in MB (from /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return 0.0


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def timed(fn: Callable[[], object], repeat: int = 1, before: Callable[[], None] | None = None) -> tuple[dict, object]:
    """Run ``fn`` ``repeat`` times (``before`` untimed ahead of each); the fastest run counts."""
    runs = []
    result = None
    for _ in range(max(1, repeat)):
        if before is not None:
            before()
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    best = min(runs)
    return {"wall": best[0], "cpu": best[1], "walls": [r[0] for r in runs], "load": os.getloadavg()[0]}, result


def _quiet(fn: Callable[[], int]) -> Callable[[], str]:
    """A CLI call with its stdout captured (the benchmark prints only its result line)."""

    def run() -> str:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = fn()
        if code != 0:
            raise RuntimeError(f"command exited {code}")
        return buffer.getvalue()

    return run


# --- steps -------------------------------------------------------------------------------

def step_generate(args: dict) -> dict:
    """Write the sample history's CSVs (reused when the same size and seed are already there)."""
    from analysis import sample

    out = Path(args["csv_dir"])
    stamp = out / "generated.json"
    wanted = {"contracts": args["contracts"], "seed": args.get("seed", SEED)}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return {"reused": True, "bytes": sum(p.stat().st_size for p in out.glob("*.csv"))}
    timing, _ = timed(lambda: sample.write_csvs(out, args["contracts"], wanted["seed"]))
    stamp.write_text(json.dumps(wanted))
    return {"generate": timing, "bytes": sum(p.stat().st_size for p in out.glob("*.csv"))}


def step_import(args: dict) -> dict:
    """``milestone-lens import`` of both CSVs into a new workspace (the last run's file is kept)."""
    from analysis.cli import main

    db = Path(args["db"])
    csv = Path(args["csv_dir"])

    def fresh() -> None:
        for p in (db, db.with_name(db.name + ".wal")):
            p.unlink(missing_ok=True)

    from analysis.cli import build_parser

    build_parser()  # loads every command module: interpreter start-up is not the import's cost
    run = _quiet(lambda: main(["import", str(csv / "contracts.csv"), str(csv / "milestones.csv"),
                               "--format", "canonical", "--source", "sample", "--json", "--db", str(db)]))
    timing, out = timed(run, args.get("repeat", 1), before=fresh)
    return {"import": timing, "summary": json.loads(out)}


def ours_spec_figures(con, filters) -> dict[str, dict]:
    """SPEC.md's ``report --json`` figures per currency, from the analysis functions the report uses."""
    from analysis import cancellation, earnings, timing
    from analysis.filters import currency_counts, prepared

    out: dict[str, dict] = {}
    with prepared(con):
        for currency in currency_counts(con, filters)["currency"]:
            f = filters.with_currency(currency)
            rates = cancellation.rates_by_structure(con, f)
            cmp = cancellation.compare_structures(rates)
            money = earnings.totals(con, f, by="structure").set_index("structure")
            unpaid = earnings.unpaid_on_cancellation(con, f).set_index("structure")
            # The two SPEC medians only (the pandas twin computes these two; the report's other measures are not SPEC's).
            medians = timing.timing_summary(con, f, ("start_to_first_payment", "submission_to_payment")).pivot(
                index="structure", columns="measure", values="median")
            rows = []
            for r in rates.to_dict(orient="records"):
                s = r["structure"]
                rows.append({
                    "structure": s, "contracts": int(r["contracts"]), "finished": int(r["finished"]),
                    "cancelled": int(r["cancelled"]),
                    "cancellation_rate": None if r["finished"] == 0 else float(r["cancellation_rate"]),
                    "cancellation_ci": None if r["finished"] == 0 else [float(r["ci_low"]), float(r["ci_high"])],
                    "gross": float(money["gross"].get(s, 0.0)), "fees": float(money["fees"].get(s, 0.0)),
                    "net": float(money["net"].get(s, 0.0)),
                    "median_days_to_first_payment": _num(medians["start_to_first_payment"].get(s)),
                    "median_payment_lag_days": _num(medians["submission_to_payment"].get(s)),
                    "unpaid_on_cancellation": float(unpaid["unpaid_on_cancellation"].get(s, 0.0)),
                })
            out[str(currency)] = {"by_structure": rows, "comparison": {
                "rate_difference": cmp.rate_difference,
                "difference_ci": list(cmp.difference_ci) if cmp.difference_ci else None, "p_value": cmp.p_value}}
    return out


def _num(value) -> float | None:
    import math

    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


#: A filter that selects nothing: one untimed call with it loads the libraries the analyses
#: import lazily (statsmodels, ...), so first-call start-up is not counted as query time.
WARM_UP = {"client": "(no such client)"}


def _warm_up(con) -> None:
    from analysis.filters import Filters

    ours_spec_figures(con, Filters(**WARM_UP))


def _open(args: dict):
    from analysis import parquet_store, store

    if args.get("parquet"):
        return parquet_store.open_parquet_workspace(args["parquet"], memory_limit=args.get("memory_limit", "1GB"))
    return store.connect(args["db"], read_only=True)


def step_report(args: dict) -> dict:
    """The full report (``milestone-lens report --json``'s work) and the SPEC figures alone."""
    from analysis.filters import Filters
    from analysis.report import build_report, report_json

    con = _open(args)
    _warm_up(con)
    base = rss_mb()
    repeat = args.get("repeat", 1)
    spec_timing, figures = timed(lambda: ours_spec_figures(con, Filters()), repeat)
    full_timing, doc = timed(lambda: json.dumps(report_json(build_report(con, Filters(), TODAY)), default=str), repeat)
    return {"report_spec": spec_timing, "report_full": full_timing, "figures": figures,
            "report_bytes": len(doc), "rss_after_open_mb": base}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_timing(argv: list[str], repeat: int, env: dict, before: Callable[[], None] | None = None) -> dict:
    """``argv`` as a new process, ``repeat`` times: the fastest wall time, with its CPU seconds."""
    runs = []
    for _ in range(max(1, repeat)):
        if before is not None:
            before()
        wall, cpu = time.perf_counter(), _children_cpu()
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
        runs.append((time.perf_counter() - wall, _children_cpu() - cpu))
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[1:3])} exited {proc.returncode}: {proc.stderr.strip()[-200:]}")
    best = min(runs)
    return {"wall": best[0], "cpu": best[1], "walls": [r[0] for r in runs], "load": os.getloadavg()[0]}


#: What a freelancer runs on their own history, each command a new process (``step_cli``).
CLI_COMMANDS = ("--help", "import", "report --json", "split --calibrate")


def step_cli(args: dict) -> dict:
    """The command line as a user runs it on a small history: every command a new process.

    Most freelancers have hundreds of contracts: what they wait for is mostly Python and the
    libraries starting. The pandas twin of ``report --json`` is a script in a new process that
    reads the CSVs and computes the SPEC figures (``python -m bench.pandas_way``).
    """
    from analysis import sample

    work, repeat = Path(args["work"]), args.get("repeat", 1)
    csv, db = work / "csv", work / "workspace.duckdb"
    files = [str(p) for p in sample.write_csvs(csv, args["contracts"], SEED)]
    exe = Path(sys.executable).parent / "milestone-lens"
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "analysis.cli"]
    env = dict(os.environ, MILESTONE_LENS_DB=str(db))

    def fresh() -> None:
        for p in (db, db.with_name(db.name + ".wal")):
            p.unlink(missing_ok=True)

    argv = {
        "--help": [*cli, "--help"],
        "import": [*cli, "import", *files, "--format", "canonical", "--source", "sample", "--json"],
        "report --json": [*cli, "report", "--json"],
        "split --calibrate": [*cli, "split", "--budget", "2000", "--days", "30", "--milestones", "4", "--calibrate", "--json"],
    }
    timings = {"import": _process_timing(argv["import"], repeat, env, before=fresh)}
    for name in CLI_COMMANDS:
        if name != "import":
            timings[name] = _process_timing(argv[name], repeat, env)
    pandas_script = _process_timing([sys.executable, "-m", "bench.pandas_way", str(csv)], repeat, env)
    return {"contracts": args["contracts"], "commands": timings, "pandas_script": pandas_script}


def step_splitter(args: dict) -> dict:
    """``milestone-lens split --calibrate``: risk estimated from the workspace's history."""
    from analysis.cli import main

    argv = ["split", "--budget", "2000", "--days", "30", "--milestones", "4", "--calibrate", "--json", "--db", str(args["db"])]
    timing, out = timed(_quiet(lambda: main(argv)), args.get("repeat", 1))
    doc = json.loads(out)
    return {"splitter": timing, "plan": doc.get("plan"), "single_payment": doc.get("single_payment")}


PAGES = ("overview", "cancellation", "timing", "earnings", "portfolio", "splitter", "data")
#: The filter changes a user makes: a platform (about 60 % of the sample), then another.
FILTER_STEPS = (("platform", ["upwork"]), ("platform", ["freelancer"]))


def step_pages(args: dict) -> dict:
    """Each dashboard page under Streamlit's AppTest: the rerun after a filter change, cold and cached.

    Per page: caches cleared, the page shown unfiltered; then the platform filter set (cold:
    nothing for that filter is cached), set to another platform (cold again), and back to
    the first (cached: the page's queries come from ``st.cache_data``). A rerun is the whole
    page script: queries, tables and Plotly figures, without the browser's drawing.
    """
    from analysis import store

    os.environ[store.DB_ENV_VAR] = str(args["db"])
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    app = str(ROOT / "dashboard" / "app.py")
    pages = args.get("pages") or PAGES
    out: dict = {}
    for page in pages:
        result: dict = {}
        try:
            st.cache_data.clear()
            at = AppTest.from_file(app, default_timeout=900)
            first, _ = timed(lambda: at.run())
            if page != "overview":
                first, _ = timed(lambda: at.switch_page(f"views/{page}.py").run())
            result["first_load"] = first
            (key, value), (_, other) = FILTER_STEPS
            cold, _ = timed(lambda: at.sidebar.multiselect(key=key).set_value(value).run())
            cold2, _ = timed(lambda: at.sidebar.multiselect(key=key).set_value(other).run())
            cached, _ = timed(lambda: at.sidebar.multiselect(key=key).set_value(value).run())
            result.update({"cold": cold, "cold_other": cold2, "cached": cached})
            if at.exception:
                result["error"] = "; ".join(str(e.value).splitlines()[0] for e in at.exception)[:300]
        except Exception as exc:  # a page that cannot run is reported, not fatal
            result["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        out[page] = result
    return {"pages": out}


def step_pandas(args: dict) -> dict:
    """The analyst's way: pandas reads the CSVs, then computes the SPEC figures; then a filter change."""
    from bench import pandas_way

    csv = Path(args["csv_dir"])
    repeat = args.get("repeat", 1)
    load_timing, frames = timed(lambda: pandas_way.load(csv), repeat)
    after_load = rss_mb()
    pandas_way.spec_figures(pandas_way.apply_filters(frames, platform="(none)"))  # warm-up, as ours
    report_timing, figures = timed(lambda: pandas_way.spec_figures(frames), repeat)
    refresh_timing, _ = timed(lambda: pandas_way.spec_figures(pandas_way.apply_filters(frames, platform="upwork")), repeat)
    return {"pandas_import": load_timing, "pandas_report": report_timing, "pandas_refresh": refresh_timing,
            "figures": figures, "rss_after_load_mb": after_load}


def step_refresh_functions(args: dict) -> dict:
    """Our SPEC figures after a filter change, called directly (no Streamlit): the pandas refresh's twin."""
    from analysis.filters import Filters

    con = _open(args)
    _warm_up(con)
    timing, _ = timed(lambda: ours_spec_figures(con, Filters(platform="upwork")), args.get("repeat", 1))
    return {"refresh_functions": timing}


def step_export_parquet(args: dict) -> dict:
    """``milestone-lens export-parquet`` of the workspace."""
    from analysis import parquet_store, store

    out = Path(args["out"])
    con = store.connect(args["db"], read_only=True)

    def clear() -> None:
        shutil.rmtree(out, ignore_errors=True)

    timing, summary = timed(lambda: parquet_store.export_parquet(con, out), args.get("repeat", 1), before=clear)
    return {"export_parquet": timing, "bytes": summary.bytes, "files": summary.files, "rows": summary.rows}


def step_big_build(args: dict) -> dict:
    """A Parquet dataset of ``contracts`` contracts, built in chunks so no step holds them all.

    Each chunk is a sample of ``chunk`` contracts with its own seed and contract-id prefix,
    written as CSVs, imported into a workspace of its own (``milestone-lens import``'s code)
    and exported with ``export_parquet``; the chunks' files are then gathered under one
    dataset (the files of one start year side by side in its partition folder), which is
    exactly what DuckDB reads as one hive-partitioned table.
    """
    import pyarrow.csv as pacsv

    from analysis import parquet_store, sample, store
    from analysis.importing import import_files

    total, chunk = int(args["contracts"]), int(args.get("chunk", 1_000_000))
    chunks = -(-total // chunk)
    # 0 (the default): every chunk generated; fewer copy the first ones under new ids (``_copy_chunk``).
    distinct = min(chunks, int(args.get("distinct_chunks") or 0) or chunks)
    out, tmp = Path(args["out"]), Path(args["tmp"])
    stamp = out / "built.json"
    wanted = {"contracts": total, "chunk": chunk, "seed": SEED, "distinct_chunks": distinct}
    if stamp.exists() and json.loads(stamp.read_text()).get("wanted") == wanted:
        return {**json.loads(stamp.read_text())["result"], "reused": True}
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    import_seconds, export_seconds, db_bytes = [], [], 0
    per_chunk_rows: list[dict[str, int]] = []
    rows = {"contracts": 0, "milestones": 0, "payments": 0}
    started = time.perf_counter()
    for index, first in enumerate(range(0, total, chunk)):
        n = min(chunk, total - first)
        if index >= distinct and n == chunk:
            t = time.perf_counter()
            _copy_chunk(out, index % distinct, index)
            export_seconds.append(time.perf_counter() - t)
            for table in rows:
                rows[table] += per_chunk_rows[index % distinct][table]
            continue
        c_df, m_df = sample.generate(n, SEED + index)
        prefix = f"K{index:02d}-"
        c_df["contract_id"] = prefix + c_df["contract_id"]
        m_df["contract_id"] = prefix + m_df["contract_id"]
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        paths = (tmp / "contracts.csv", tmp / "milestones.csv")
        for df, path in zip((c_df, m_df), paths):
            pacsv.write_csv(sample._to_arrow(df), path, pacsv.WriteOptions(quoting_style="needed"))
        del c_df, m_df
        con = store.connect(tmp / "chunk.duckdb")
        t = time.perf_counter()
        import_files(con, paths, fmt="canonical", source="sample")
        import_seconds.append(time.perf_counter() - t)
        t = time.perf_counter()
        part = parquet_store.export_parquet(con, tmp / "dataset")
        export_seconds.append(time.perf_counter() - t)
        con.close()
        db_bytes += (tmp / "chunk.duckdb").stat().st_size
        per_chunk_rows.append({t: part.rows[t] for t in rows})
        for table in ("contracts", "milestones", "payments"):
            rows[table] += part.rows[table]
            for f in (tmp / "dataset" / table).rglob("*.parquet"):
                target = out / table / f.parent.name / f"chunk_{index:02d}.parquet"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(f), target)
        if index == 0:  # one copy of the small tables (meta, schema_version, the import log)
            for folder in (tmp / "dataset").iterdir():
                if folder.is_dir() and folder.name not in ("contracts", "milestones", "payments"):
                    shutil.move(str(folder), out / folder.name)
            manifest = json.loads((tmp / "dataset" / parquet_store.MARKER).read_text())
    manifest["rows"].update(rows)
    (out / parquet_store.MARKER).write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)
    files = list(out.rglob("*.parquet"))
    result = {"build_seconds": time.perf_counter() - started, "distinct_chunks": distinct, "chunk_import_seconds": import_seconds,
              "chunk_export_seconds": export_seconds, "parquet_bytes": sum(f.stat().st_size for f in files),
              "parquet_files": len(files), "counts": rows, "duckdb_bytes": db_bytes}
    stamp.write_text(json.dumps({"wanted": wanted, "result": result}))
    return result


def _copy_chunk(out: Path, source: int, index: int) -> None:
    """Chunk ``index`` as a copy of chunk ``source`` under its own prefix (contract ids, payment
    keys, clients and freelancers), written by DuckDB from the source chunk's Parquet files."""
    import duckdb

    from analysis.parquet_store import sql_string

    old, new = f"K{source:02d}", f"K{index:02d}"
    swap = lambda col: f"CASE WHEN {col} IS NULL THEN NULL ELSE '{new}' || substr({col}, 4) END AS {col}"  # noqa: E731
    prefix = lambda col: f"'{new} ' || {col} AS {col}"  # noqa: E731
    replace = {
        "contracts": [swap("contract_id"), prefix("client"), prefix("freelancer")],
        "milestones": [swap("contract_id")],
        "payments": [swap("contract_id"), swap("payment_key")],
    }
    con = duckdb.connect()
    con.execute("SET memory_limit = '1GB'")
    for table, exprs in replace.items():
        for f in (out / table).rglob(f"chunk_{source:02d}.parquet"):
            target = f.with_name(f"chunk_{index:02d}.parquet")
            con.execute(f"COPY (SELECT * REPLACE ({', '.join(exprs)}) FROM read_parquet({sql_string(f)})) "
                        f"TO {sql_string(target)} (FORMAT parquet, COMPRESSION zstd)")
    con.close()
    del old


def step_big_report(args: dict) -> dict:
    """The full report and the SPEC figures over the Parquet dataset, with DuckDB's memory capped."""
    from analysis import parquet_store
    from analysis.filters import Filters
    from analysis.report import build_report, report_json

    limit = args.get("memory_limit", "1GB")
    con = parquet_store.open_parquet_workspace(args["parquet"], memory_limit=limit,
                                               temp_directory=args.get("spill"))
    rows = con.execute("SELECT (SELECT count(*) FROM contracts), (SELECT count(*) FROM milestones), "
                       "(SELECT count(*) FROM payments)").fetchone()
    _warm_up(con)
    spec_timing, figures = timed(lambda: ours_spec_figures(con, Filters()))
    full_timing, doc = timed(lambda: json.dumps(report_json(build_report(con, Filters(), TODAY)), default=str))
    filtered_timing, _ = timed(lambda: ours_spec_figures(con, Filters(platform="upwork", date_from="2025-01-01")))
    return {"report_spec": spec_timing, "report_full": full_timing, "refresh_functions": filtered_timing,
            "memory_limit": limit, "rows": {"contracts": rows[0], "milestones": rows[1], "payments": rows[2]},
            "figures": figures, "report_bytes": len(doc)}


STEPS: dict[str, Callable[[dict], dict]] = {
    "generate": step_generate, "import": step_import, "report": step_report, "cli": step_cli,
    "splitter": step_splitter, "pages": step_pages, "pandas": step_pandas, "refresh_functions": step_refresh_functions,
    "export_parquet": step_export_parquet, "big_build": step_big_build, "big_report": step_big_report,
}


def main(argv: list[str]) -> int:
    name, args = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    if args.get("address_space_gb"):
        limit = int(float(args["address_space_gb"]) * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    base = rss_mb()
    result = STEPS[name](args)
    result.update({"step": name, "rss_base_mb": base, "rss_peak_mb": peak_rss_mb()})
    sys.stdout.write(RESULT_PREFIX + json.dumps(result, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
