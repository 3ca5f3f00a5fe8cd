"""The benchmark runs end to end at a tiny size and writes its results (no timing assertions)."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET

import pytest

from analysis import sample
from bench import run as bench_run

pytestmark = pytest.mark.slow

SIZE = 2000


COMMITTED = [bench_run.BENCH_DIR / name for name in ("RESULTS.md", "RESULTS.json", "chart.svg", "chart.png")]


@pytest.fixture(scope="module")
def bench_output(tmp_path_factory):
    """No --out: a run at other than the default sizes writes into its --work folder."""
    folder = tmp_path_factory.mktemp("bench") / "work"
    committed = {path: path.read_bytes() for path in COMMITTED}
    code = bench_run.main(["--sizes", str(SIZE), "--repeat", "1", "--work", str(folder),
                           "--big", "3000", "--big-chunk", "1500"])
    assert code == 0
    assert {path: path.read_bytes() for path in COMMITTED} == committed  # the committed results untouched
    assert (folder / "chart.svg").exists() and (folder / "chart.png").exists()
    return folder, folder / "RESULTS.md", json.loads((folder / "RESULTS.json").read_text())


def test_every_step_ran_without_error(bench_output):
    _, _, results = bench_output
    (size,) = results["sizes"]
    steps = [k for k, v in size.items() if isinstance(v, dict)]
    assert {"generate", "import", "report", "refresh_functions", "pages", "splitter", "pandas",
            "export_parquet", "report_parquet"} <= set(steps)
    for name in steps:
        assert "error" not in size[name], (name, size[name].get("error"))
        assert size[name]["rss_peak_mb"] > 0
    for page, result in size["pages"]["pages"].items():
        assert "error" not in result, (page, result["error"])
        assert {"cold", "cached"} <= set(result)
    assert "error" not in results["big"]["build"] and "error" not in results["big"]["report"]


def test_import_counts_match_the_generated_sample(bench_output):
    _, _, results = bench_output
    contracts, milestones = sample.generate(SIZE, 7)
    imported = results["sizes"][0]["import"]["summary"]["imported"]
    assert imported["contracts"] == len(contracts) == SIZE
    assert imported["milestones"] == len(milestones)
    # A payment per paid milestone or invoice.
    assert imported["payments"] == int(milestones["paid_date"].notna().sum())
    big = results["big"]["report"]["rows"]
    assert big["contracts"] == 3000  # two chunks of 1,500 under distinct id prefixes


def test_pandas_and_our_figures_agree(bench_output):
    _, _, results = bench_output
    size = results["sizes"][0]
    assert size["figures_agree"] == []
    ours = size["report"]["figures"]
    assert set(ours) == {"USD", "EUR", "GBP"}  # the sample's currencies, each on its own
    assert sum(r["contracts"] for c in ours.values() for r in c["by_structure"]) == SIZE


def test_compare_figures_reports_a_difference(bench_output):
    _, _, results = bench_output
    ours = results["sizes"][0]["report"]["figures"]
    changed = copy.deepcopy(ours)
    changed["USD"]["by_structure"][0]["gross"] += 0.5
    changed["USD"]["comparison"]["p_value"] = 0.5
    diffs = bench_run.compare_figures(ours, changed)
    assert len(diffs) == 2 and "gross" in diffs[0] and "p_value" in diffs[1]


def test_results_file_and_chart(bench_output):
    folder, out, _ = bench_output
    text = out.read_text()
    for heading in ("# Benchmark results", "## Targets (issue 8)", f"## {SIZE:,} contracts", "3,000 contracts, out of core"):
        assert heading in text
    assert "**Machine**: " in text and "duckdb " in text and "GB memory" in text
    assert "page overview: filter change, cold" in text and "agree" in text
    assert "wall-clock times are from a single run" in text and "fastest of 1 runs" not in text  # --repeat 1
    svg = ET.parse(folder / "chart.svg").getroot()
    paths = svg.findall("{http://www.w3.org/2000/svg}circle")
    assert paths, "the chart has data points"


@pytest.mark.parametrize(("low", "high", "said"), [(0.81, 0.84, "0.8"), (0.8, 1.26, "0.8–1.3")])
def test_load_average_is_one_figure_when_it_did_not_move(low, high, said):
    assert bench_run._load_range({"load_min": low, "load_max": high}) == said


def test_merge_runs_keeps_each_timings_fastest_run_and_the_highest_peak():
    def timing(wall, cpu, load):
        return {"wall": wall, "cpu": cpu, "walls": [wall], "load": load}

    first = {"import": timing(2.0, 2.5, 1.0), "summary": {"n": 1}, "rss_peak_mb": 300.0, "step": "import"}
    second = {"import": timing(1.5, 2.9, 0.2), "summary": {"n": 2}, "rss_peak_mb": 280.0, "step": "import"}
    merged = bench_run.merge_runs([first, second])
    assert merged["import"] == {"wall": 1.5, "cpu": 2.9, "walls": [2.0, 1.5], "load": 0.2}
    assert merged["rss_peak_mb"] == 300.0 and merged["summary"] == {"n": 2}
    failed = {"error": "boom", "step": "import"}
    assert bench_run.merge_runs([first, failed]) is failed


@pytest.mark.parametrize("distinct", [0, 1])
def test_big_build_generates_every_chunk_by_default_and_copies_only_when_asked(tmp_path, distinct):
    from analysis import parquet_store
    from bench import steps

    result = steps.step_big_build({"contracts": 1500, "chunk": 500, "distinct_chunks": distinct,
                                   "out": str(tmp_path / "parquet"), "tmp": str(tmp_path / "chunk")})
    assert result["distinct_chunks"] == (3 if distinct == 0 else 1)
    assert len(result["chunk_import_seconds"]) == result["distinct_chunks"]
    con = parquet_store.open_parquet_workspace(tmp_path / "parquet")
    per_chunk = con.execute(
        "SELECT left(contract_id, 3) AS chunk, count(*), count(DISTINCT contract_id), count(DISTINCT client) "
        "FROM contracts GROUP BY ALL ORDER BY chunk").fetchall()
    assert [row[:3] for row in per_chunk] == [("K00", 500, 500), ("K01", 500, 500), ("K02", 500, 500)]
    # Generated chunks have seeds of their own (so different budgets); copies repeat chunk 0's.
    budgets = con.execute("SELECT left(contract_id, 3), sum(budget) FROM contracts GROUP BY ALL ORDER BY 1").fetchall()
    if distinct == 0:
        assert len({b for _, b in budgets}) == 3
    else:
        assert budgets[0][1] == budgets[1][1] == budgets[2][1]
    assert result["counts"]["contracts"] == 1500


def test_big_section_says_how_the_chunks_were_made():
    build = {"distinct_chunks": 10, "build_seconds": 1.0}
    report = {"rows": {}, "memory_limit": "1GB"}
    text = bench_run.big_section({"contracts": 10_000_000, "chunk": 1_000_000, "build": build, "report": report})
    assert "each of the 10 chunks was generated with its own seed" in text and "copies" not in text
    text = bench_run.big_section({"contracts": 10_000_000, "chunk": 1_000_000, "report": report,
                                  "build": {**build, "distinct_chunks": 2}})
    assert "2 of the 10 chunks were each generated" in text and "The other 8 are copies" in text
    assert "reused" not in text
    build_seconds = {**build, "chunk_import_seconds": [10.6, 11.3], "chunk_export_seconds": [2.6, 2.8]}
    text = bench_run.big_section({"contracts": 10_000_000, "chunk": 1_000_000, "report": report,
                                  "build": {**build_seconds, "reused": True}})
    assert ("| building it (generate, import, export per chunk) | 1.00 s; per chunk import 10.6–11.3 s, export-parquet "
            "2.6–2.8 s (built by an earlier run with the same size, chunks and seed; this run reused it) |") in text


def test_command_line_processes_on_a_small_history(bench_output):
    folder, out, results = bench_output
    cli = results["cli"]
    assert "error" not in cli, cli.get("error")
    assert cli["contracts"] == bench_run.CLI_CONTRACTS
    assert set(cli["commands"]) == {"--help", "import", "report --json", "split --calibrate"}
    for name, timing in cli["commands"].items():
        assert timing["wall"] > 0 and len(timing["walls"]) == 3, name
    text = out.read_text()
    assert f"## The command line on a small history ({bench_run.CLI_CONTRACTS:,} contracts)" in text
    assert "| `milestone-lens report --json` |" in text


def test_the_pandas_script_prints_the_figures_pandas_computes(bench_output):
    """The process the small-history table times computes the SPEC figures, not just starts."""
    import subprocess
    import sys

    from bench import pandas_way
    from bench.run import ROOT

    folder, _, _ = bench_output
    csv = folder / "cli" / "csv"
    proc = subprocess.run([sys.executable, "-m", "bench.pandas_way", str(csv)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert printed == json.loads(json.dumps(pandas_way.spec_figures(pandas_way.load(csv))))
    assert sum(r["contracts"] for c in printed.values() for r in c["by_structure"]) == bench_run.CLI_CONTRACTS
