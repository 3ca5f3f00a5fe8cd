"""The load benchmark (bench/load.py) runs end to end at a tiny size: real server, real chromium
sessions, every page visited, results written (no timing assertions)."""

from __future__ import annotations

import json

import pytest

from bench import load

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_two_sessions_visit_every_page_without_errors(tmp_path):
    out = tmp_path / "LOAD.md"
    code = load.main(["--sessions", "2", "--contracts", "1500", "--work", str(tmp_path / "work"), "--out", str(out)])
    result = json.loads(out.with_suffix(".json").read_text())
    assert [r for r in result["log"] if r["error"]] == []
    assert code == 0
    # Each session: the first load, every page once, and a filter change.
    assert result["visits"] == 2 * (1 + len(load.PAGES) + 1)
    visited = {(r["session"], r["page"]) for r in result["log"]}
    assert {(s, p) for s in (0, 1) for p in load.PAGES} <= visited
    text = out.read_text()
    assert "**Errors: 0** of 18 visits" in text
    for page in load.PAGES:
        assert f"| {page} | 2 | 0 |" in text
    # The workspace it served holds the generated contracts.
    from analysis import store

    con = store.connect(tmp_path / "work" / "load_1500.duckdb", read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM contracts").fetchone()[0] == 1500
    finally:
        con.close()
