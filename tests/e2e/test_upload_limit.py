"""The upload limit of ``streamlit_config.toml`` (``server.maxUploadSize``) is applied, stated on
the Data page, and a larger file is refused with a clear message and nothing imported."""

from __future__ import annotations

import re

import pytest

from tests.dashboard_support import build_workspace, query_one
from tests.e2e.conftest import SCREENSHOTS, dashboard_server
from tests.e2e.test_dashboard_browser import open_page, wait_idle

pytestmark = pytest.mark.browser


def test_a_file_over_the_limit_is_refused_with_a_message(page, tmp_path):
    db = build_workspace(tmp_path / "w.duckdb", sample=True)
    big = tmp_path / "big_contracts.csv"
    row = "C{},Acme,Logo,150,USD,2025-01-10,2025-01-20,completed\n"
    with big.open("w") as out:
        out.write("contract_id,client,title,budget,currency,start_date,end_date,status\n")
        for i in range(40_000):  # about 2 MB
            out.write(row.format(i))
    assert big.stat().st_size > 1_500_000
    with dashboard_server(db, "upload_limit", options={"server.maxUploadSize": 1}) as base:
        open_page(page, base, "data")
        # The page states the limit the server really applies.
        page.get_by_text("Up to 1 MB per file").wait_for(timeout=30_000)
        with page.expect_file_chooser() as chooser:
            page.get_by_test_id("stFileUploaderDropzone").click()
        chooser.value.set_files([str(big)])
        # Streamlit refuses it in the browser (the file is marked, its error says the limit) ...
        page.get_by_text(re.compile(r"must be 1(\.0)?\s*MB or smaller", re.I)).first.wait_for(state="attached", timeout=30_000)
        wait_idle(page)
        # ... so nothing reaches the page: no preview, no Import button.
        assert page.get_by_text("Ready: the files can be imported").count() == 0
        assert page.get_by_role("button", name="Import", exact=True).count() == 0
        page.screenshot(path=str(SCREENSHOTS / "data_upload_too_large.png"), full_page=True)
    (contracts,) = query_one(db, "SELECT count(*) FROM contracts")
    assert contracts == 2000
