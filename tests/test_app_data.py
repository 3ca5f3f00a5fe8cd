"""The Data page and what it stands on: uploads checked before anything is written, then imported;
the template; the sample; the import history and removing an import; completions; exports."""

from __future__ import annotations

import csv
import json
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from analysis import store, workspace_admin
from analysis.errors import UserError
from analysis.filters import Filters
from analysis.importing import import_files
from dashboard.tables import csv_bytes
from dashboard.uploads import check_upload, display_name, run_import, write_uploads
from tests.conftest import FIXTURES
from tests.dashboard_support import (
    DASHBOARD_FIXTURES, build_workspace, empty_db, metrics, open_app, query_one, sample_db, sample_template,
    texts,
)

__all__ = ["empty_db", "sample_db", "sample_template"]
UPLOAD = [DASHBOARD_FIXTURES / "upload_contracts.csv", DASHBOARD_FIXTURES / "upload_milestones.csv"]


def as_upload(*paths: Path) -> list[tuple[str, bytes, str]]:
    return [(p.name, p.read_bytes(), "text/csv") for p in paths]


def table_counts(db: Path) -> tuple[int, int, int, int]:
    return query_one(db, "SELECT (SELECT count(*) FROM contracts), (SELECT count(*) FROM milestones), "
                         "(SELECT count(*) FROM payments), (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'data_version')")


# --- the page under AppTest -------------------------------------------------------------------

def test_upload_is_previewed_and_checked_before_the_import_button_writes_it(empty_db, monkeypatch):
    at = open_app(empty_db, monkeypatch, "data")
    before = table_counts(empty_db)
    at.file_uploader[0].set_value(as_upload(*UPLOAD)).run()
    assert not at.exception
    # Checked, previewed, counted — and nothing written yet.
    assert table_counts(empty_db) == before == (0, 0, 0, 0)
    assert "Format: canonical · 3 rows" in texts(at) and "Format: canonical · 6 rows" in texts(at)
    assert any("They would add 3 contracts, 6 milestones, 4 payments from 2 files" in s.value for s in at.success)
    preview = at.dataframe[0].value
    assert list(preview["contract_id"]) == ["U1", "U2", "U3"]
    assert at.dataframe[0].proto.HasField("placeholder") and at.dataframe[0].proto.placeholder == ""  # empty stays empty
    at.button(key="import_now").click().run()
    # U1: 2 paid milestones, U2: 1 of 3 paid, U3: 1 paid -> 4 payments.
    assert table_counts(empty_db) == (3, 6, 4, 1)
    assert "Imported 3 contracts, 6 milestones, 4 payments from 2 files" in texts(at)
    assert not at.file_uploader[0].value  # a fresh uploader for the next files
    (names,) = query_one(empty_db, "SELECT list(file_name ORDER BY import_id) FROM imports")
    assert names == ["upload_contracts.csv", "upload_milestones.csv"]
    at.switch_page("views/overview.py").run()
    assert metrics(at)["Contracts"] == "3"


def test_the_same_file_uploaded_under_two_names_is_imported_once(empty_db, monkeypatch):
    """Uploaded twice (good.csv and good_copy.csv), it said "from 2 files" and logged the copy as an import."""
    at = open_app(empty_db, monkeypatch, "data")
    data = UPLOAD[0].read_bytes()
    at.file_uploader[0].set_value([("good.csv", data, "text/csv"), ("good_copy.csv", data, "text/csv")]).run()
    assert any(w.value == r"good\_copy\.csv\: the same content as good\.csv\: imported once" for w in at.warning)
    at.button(key="import_now").click().run()
    assert query_one(empty_db, "SELECT list(file_name ORDER BY import_id) FROM imports") == (["good.csv"],)


def test_uploading_into_the_sample_changes_the_overview(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch)
    assert metrics(at)["Contracts"] == "1,770"  # the sample's USD contracts: the Overview's figures are in USD
    at.switch_page("views/data.py").run()
    at.file_uploader[0].set_value(as_upload(*UPLOAD)).run()
    at.button(key="import_now").click().run()
    at.switch_page("views/overview.py").run()
    assert metrics(at)["Contracts"] == "1,773"  # three more USD contracts
    # The new client is offered by the sidebar right away.
    assert "Zeta Press" in at.sidebar.multiselect(key="client").options


def test_a_completions_upload_is_previewed_with_what_it_would_complete(empty_db, monkeypatch, tmp_path):
    """It adds no rows: the check said "They would add 0 contracts" and nothing of the two it completes."""
    build_workspace(empty_db, [DASHBOARD_FIXTURES / "upwork_legacy.csv"])
    done = tmp_path / "done.csv"
    done.write_text("contract_id,status,budget\nHarbor Apps / Mobile onboarding flow,completed,900\n"
                    "Quill Media / Blog series,cancelled,1800\n")
    at = open_app(empty_db, monkeypatch, "data")
    at.file_uploader[0].set_value(as_upload(done)).run()
    assert not at.exception
    shown = [s.value.replace("\\", "") for s in at.success]  # markdown escapes off
    assert any(s.endswith("They would add 0 contracts, 0 milestones, 0 payments from 1 file. Would complete 2 contracts.")
               for s in shown)
    # Imported, the same file again completes nothing new, and says so in those words (not "all 0 rows").
    at.button(key="import_now").click().run()
    at.file_uploader[0].set_value(as_upload(done)).run()
    assert ("Nothing new: the 2 contract completions are already as given, so there is nothing to import."
            in texts(at).replace("\\", ""))
    assert not [b for b in at.button if b.key == "import_now"]

def test_an_imports_warnings_are_shown_one_by_one_after_its_counts(empty_db, monkeypatch, tmp_path):
    """Two warnings (a column the template lacks; a paid_date under another status) each get a box
    of their own under the success message, which holds the counts only."""
    contracts = tmp_path / "contracts.csv"
    contracts.write_text("contract_id,budget,start_date,status,Notes\nB1,200,2025-01-01,completed,ok\n")
    milestones = tmp_path / "milestones.csv"
    milestones.write_text("contract_id,seq,amount,paid_date,status\nB1,1,100,2025-01-05,submitted\nB1,2,100,2025-01-06,\n")
    at = open_app(empty_db, monkeypatch, "data")
    at.file_uploader[0].set_value(as_upload(contracts, milestones)).run()
    at.button(key="import_now").click().run()
    assert not at.exception
    shown = lambda elements: [re.sub(r"\\(.)", r"\1", e.value) for e in elements]  # noqa: E731  (markdown escapes off)
    assert [t for t in shown(at.success) if t.startswith("Imported")] == [
        "Imported 1 contract, 2 milestones, 1 payment from 2 files. Updated 0 contracts, 0 milestones, 0 payments; "
        "0 were already in the workspace unchanged (contracts, milestones and payments together)."]
    warnings = shown(at.warning)
    assert len(warnings) == 2
    assert warnings[0] == "contracts.csv: 1 column not in the template ('Notes'): kept aside, not imported"
    assert warnings[1].startswith("milestones.csv: 1 milestone with a paid_date but a status other than paid")


def test_a_bad_file_lists_every_problem_and_writes_nothing(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "data")
    before = table_counts(sample_db)
    at.file_uploader[0].set_value(as_upload(DASHBOARD_FIXTURES / "bad_contracts.csv")).run()
    assert any("Not ready to import: 2 problems" in e.value for e in at.error)
    problems = next(df.value for df in at.dataframe if "message" in df.value.columns)
    # The first one in full above the table, whose cells cut long messages short.
    first = problems.iloc[0]
    assert any(e.value.replace("\\", "").endswith(f"The first: bad_contracts.csv, row 3, column status: {first['message']}")
               for e in at.error), [e.value for e in at.error]  # markdown escapes off
    assert problems[["file", "row", "column"]].values.tolist() == [
        ["bad_contracts.csv", 3, "status"], ["bad_contracts.csv", 4, "start_date"]]
    assert "finished" in problems.at[0, "message"] and "not a date" in problems.at[1, "message"]
    assert not [b for b in at.button if b.key == "import_now"]
    assert table_counts(sample_db) == before


def test_ambiguous_dates_ask_for_a_choice_then_import(empty_db, monkeypatch):
    at = open_app(empty_db, monkeypatch, "data")
    at.file_uploader[0].set_value(as_upload(DASHBOARD_FIXTURES / "ambiguous_dates.csv")).run()
    assert any("Choose how numeric dates are written" in w.value for w in at.warning)
    # The choices the message points at are open (they were drawn closed before the check).
    choices = next(e for e in at.expander if e.label == "How to read the files")
    assert choices.proto.expanded and at.session_state["import_read_choices"] is True
    problems = next(df.value for df in at.dataframe if "message" in df.value.columns)
    # The dashboard says where to choose, not the command line's flags.
    assert problems["message"].tolist() == [
        "dates like '05/11/2026' could be day/month or month/day; say which under “How to read the files”"]
    assert not [b for b in at.button if b.key == "import_now"]
    at.radio(key="import_dates").set_value("Day first (25/11/2026)").run()
    at.button(key="import_now").click().run()
    assert query_one(empty_db, "SELECT start_date, end_date FROM contracts WHERE contract_id = 'D2'") == (
        pd.Timestamp("2026-11-07").date(), pd.Timestamp("2026-12-08").date())


def test_load_the_sample_into_an_empty_workspace(empty_db, monkeypatch):
    at = open_app(empty_db, monkeypatch, "data")
    # Nothing to complete in an empty workspace: it says so, rather than "every contract has a status".
    assert "The workspace holds no contracts yet: import some on the first tab." in texts(at)
    assert "Every contract has a status" not in texts(at)
    at.button(key="load_sample").click().run()
    assert table_counts(empty_db)[0] == 2000
    assert "Loaded the sample history" in texts(at)
    assert not [b for b in at.button if b.key == "load_sample"]


def test_remove_an_import_from_the_history(sample_db, monkeypatch):
    sample_only = table_counts(sample_db)[:3]
    build_workspace(sample_db, UPLOAD)  # import 2, on top of the sample (import 1)
    at = open_app(sample_db, monkeypatch, "data")
    history = next(df.value for df in at.dataframe if "file_name" in df.value.columns)
    assert history["import"].tolist() == [2, 2, 1, 1]
    assert "file_id" not in history.columns  # in the CSV only: checks use ids up, so on screen they had gaps
    assert at.button(key="remove_now").disabled  # not before confirming
    at.selectbox(key="remove_batch").set_value(2)
    at.checkbox(key="remove_confirm").check().run()
    at.button(key="remove_now").click().run()
    assert table_counts(sample_db)[:3] == sample_only == (2000, 5050, 4406)
    assert ("Removed import 2 (upload_contracts.csv, upload_milestones.csv): 3 contracts, 6 milestones, "
            "4 payments." in texts(at))
    (batches,) = query_one(sample_db, "SELECT list(DISTINCT batch_id) FROM imports")
    assert batches == [1]
    # After another import the newest is offered again, not the sample the removal left selected.
    assert at.selectbox(key="remove_batch").value == 1
    build_workspace(sample_db, UPLOAD)
    at.run()
    assert at.selectbox(key="remove_batch").value == 2 and not at.checkbox(key="remove_confirm").value


def test_contracts_an_export_cannot_describe_are_listed_for_completion(empty_db, monkeypatch):
    build_workspace(empty_db, [DASHBOARD_FIXTURES / "upwork_legacy.csv"])
    at = open_app(empty_db, monkeypatch, "data")
    table = next(df.value for df in at.dataframe if "planned_milestones" in df.value.columns)
    (expected,) = query_one(empty_db, "SELECT list(contract_id ORDER BY contract_id) FROM contracts WHERE status IS NULL")
    assert sorted(table["contract_id"]) == expected and len(expected) == 3
    assert "3 contracts without a status or a budget" in texts(at)


def test_the_data_page_offers_template_and_filtered_exports(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "data", query={"platform": "upwork"})
    labels = [b.label for b in at.get("download_button")]
    for name in ("contracts.csv template", "milestones.csv template", "contracts.csv", "milestones.csv", "payments.csv",
                 "report.html"):
        assert name in labels
    assert "platform upwork" in texts(at)


# --- upload helpers -----------------------------------------------------------------------------

@dataclass
class FakeUpload:
    """Stands in for Streamlit's UploadedFile (a third-party object): a name and bytes."""

    name: str
    data: bytes

    def getvalue(self) -> bytes:
        return self.data


def test_uploaded_names_never_become_paths(tmp_path):
    uploads = [FakeUpload("../../etc/passwd", b"a,b\n1,2\n"), FakeUpload("C:\\Users\\x\\contracts.csv", b"x\n")]
    paths, names = write_uploads(uploads, tmp_path)
    assert [p.name for p in paths] == ["upload-1.csv", "upload-2.csv"]
    assert all(p.parent == tmp_path for p in paths)
    assert names == ["passwd", "contracts.csv"]
    assert display_name("bad\x00name\n.csv") == "badname.csv"
    assert display_name("") == "upload.csv"


def test_check_upload_is_a_dry_run(con):
    uploads = [FakeUpload(p.name, p.read_bytes()) for p in UPLOAD]
    check = check_upload(con, uploads)
    assert [f.format for f in check.files] == ["canonical", "canonical"]
    assert check.summary.imported == {"contracts": 3, "milestones": 6, "payments": 4}
    assert store.counts(con)["contracts"] == 0 and store.data_version(con) == 0
    done = run_import(con, uploads)
    assert done.imported == check.summary.imported
    assert store.counts(con)["contracts"] == 3


def test_check_upload_reports_an_unreadable_file(con):
    check = check_upload(con, [FakeUpload("empty.csv", b"")])
    assert check.files[0].problem == "empty.csv: the file is empty"
    assert check.problems["message"].tolist() == ["the file is empty"]


def test_check_upload_lists_the_problems_of_every_file(con):
    """Two files that cannot be read: the import stops at the first, and the table of problems (and its
    count, "Not ready to import: N problems") had only that one; the second's came from its preview alone."""
    check = check_upload(con, [FakeUpload("empty.csv", b""), FakeUpload("header_only.csv", b"contract_id,start_date,status\n")])
    assert check.problems[["file", "message"]].values.tolist() == [
        ["empty.csv", "the file is empty"], ["header_only.csv", "no rows below the header: nothing to import"]]
    assert store.counts(con)["contracts"] == 0


def test_check_upload_counts_every_problem_not_only_those_listed(con):
    """25 unreadable budgets: the table lists a check's first 20 rows, the count ("Not ready to import:
    N problems") says 25, as the command line does."""
    body = "contract_id,budget,start_date,status\n" + "".join(f"A{i},x{i},2026-01-05,active\n" for i in range(25))
    check = check_upload(con, [FakeUpload("bad.csv", body.encode())])
    assert len(check.problems) == 20 and check.problem_count == 25
    assert store.counts(con)["contracts"] == 0


# --- workspace administration ---------------------------------------------------------------------

def test_template_files_import_cleanly(con):
    summary = import_files(con, [store.DATA_DIR / "template" / "contracts.csv", store.DATA_DIR / "template" / "milestones.csv"])
    # A-001 five paid milestones, A-002 one unpaid, A-003 two paid hourly invoices.
    assert summary.imported == {"contracts": 3, "milestones": 8, "payments": 7}
    assert con.execute("SELECT list(structure ORDER BY contract_id) FROM contract_view").fetchone()[0] == [
        "milestones", "single", "hourly"]


def test_remove_import_takes_later_milestones_of_its_contracts_along(con):
    import_files(con, [UPLOAD[0]])  # import 1: contracts only
    import_files(con, [UPLOAD[1]])  # import 2: their milestones
    assert workspace_admin.import_history(con)["still_here"].tolist() == [6 + 4, 3]  # newest first
    version = store.data_version(con)
    removal = workspace_admin.remove_import(con, 1)
    assert (removal.contracts, removal.milestones, removal.payments, removal.kept_updated) == (3, 6, 4, 0)
    assert store.counts(con) == {"contracts": 0, "milestones": 0, "payments": 0, "imports": 1}
    assert store.data_version(con) == version + 1
    # The log still says import 2 brought 6 milestones and 4 payments: none of them is here any more.
    history = workspace_admin.import_history(con)
    assert history[["milestones_new", "payments_new", "still_here"]].values.tolist() == [[6, 4, 0]]


def test_remove_import_keeps_rows_it_only_updated(con, tmp_path):
    import_files(con, UPLOAD)
    changed = tmp_path / "upload_contracts.csv"
    changed.write_text(UPLOAD[0].read_text().replace("900.00", "950.00"))
    import_files(con, [changed])  # import batch 2 updates U1's budget
    removal = workspace_admin.remove_import(con, 2)
    assert (removal.contracts, removal.kept_updated) == (0, 1)
    assert removal.describe() == ("Removed import 2 (upload_contracts.csv): 0 contracts, 0 milestones, 0 payments. "
                                  "1 row it had updated was already in the workspace before it and keeps its updated values.")
    assert con.execute("SELECT budget FROM contracts WHERE contract_id = 'U1'").fetchone()[0] == 950
    assert store.counts(con)["contracts"] == 3


def test_removing_the_import_that_retired_a_paid_total_brings_it_back(con, tmp_path):
    """K1's paid_total (1,000) stood for its payments until import 2 brought paid milestones; with
    those gone again the contract is paid by its paid_total, the same row the first import made."""
    import_files(con, [FIXTURES / "canonical" / "contract_level.csv"])  # batch 1
    payments = "SELECT * FROM payments ORDER BY payment_key"
    before = con.execute(payments).fetchall()
    assert [r[1] for r in before] == ["K1#total", "K3#total"]
    paid = tmp_path / "paid.csv"
    paid.write_text("contract_id,seq,amount,paid_date\nK1,1,600,2025-01-20\nK1,2,400,2025-02-01\n")
    import_files(con, [paid])  # batch 2 retires K1#total
    assert [r[1] for r in con.execute(payments).fetchall()] == ["K1#1", "K1#2", "K3#total"]
    removal = workspace_admin.remove_import(con, 2)
    assert (removal.milestones, removal.payments, removal.restored_totals) == (2, 2, 1)
    assert "1 contract whose milestone payments it brought is paid by its paid_total again" in removal.describe()
    assert con.execute(payments).fetchall() == before
    # Removing an import that retired nothing restores nothing: K3 keeps its one stand-in.
    plan = tmp_path / "plan.csv"
    plan.write_text("contract_id,seq,amount,paid_date\nK3,1,200,\n")
    import_files(con, [plan])  # an unpaid milestone: the stand-in stays
    latest = con.execute("SELECT max(batch_id) FROM imports").fetchone()[0]
    assert workspace_admin.remove_import(con, latest).restored_totals == 0
    assert con.execute(payments).fetchall() == before


def test_removing_an_import_names_the_completions_of_its_contracts_that_stay(con):
    """U1 completed on the Data page, then its import removed: the completion stays for a re-import
    (as the page says) and the message now says so instead of leaving it unseen."""
    from analysis.completions import complete_contract

    import_files(con, UPLOAD)
    complete_contract(con, "canonical", "U1", status="cancelled")
    removal = workspace_admin.remove_import(con, 1)
    assert (removal.contracts, removal.completions, removal.kept_completions) == (3, 0, 1)
    assert removal.describe().endswith(" 1 completion of its contracts (status, budget, planned milestones) stays, "
                                       "to complete it again if it is imported again.")
    assert con.execute("SELECT contract_id, status FROM contract_completions").fetchall() == [("U1", "cancelled")]


def test_remove_an_unknown_import_changes_nothing(con):
    import_files(con, UPLOAD)
    version = store.data_version(con)
    with pytest.raises(UserError, match="import 9: there is no such import"):
        workspace_admin.remove_import(con, 9)
    assert store.counts(con)["contracts"] == 3 and store.data_version(con) == version


def test_load_sample_only_into_an_empty_workspace(con):
    import_files(con, UPLOAD)
    with pytest.raises(UserError, match="only loaded into an empty workspace"):
        workspace_admin.load_sample(con)


def test_export_follows_the_filters_and_neutralises_formulas(con):
    import_files(con, UPLOAD)
    con.execute("""INSERT INTO payments VALUES ('upwork', 'W1', NULL, NULL, 'account_cost', DATE '2026-01-31',
                   -2.00, 0, 'USD', false, 'Withdrawal fee', 1, 1)""")
    zeta = Filters(client="zeta press")
    assert workspace_admin.export_table(con, "contracts", zeta)["contract_id"].tolist() == ["U1", "U2"]
    assert len(workspace_admin.export_table(con, "milestones", zeta)) == 5
    assert workspace_admin.export_table(con, "payments", zeta)["payment_key"].tolist() == ["U1#1", "U1#2", "U2#1"]
    # Account costs belong to no contract: only in the unfiltered export.
    assert "W1" in workspace_admin.export_table(con, "payments", Filters())["payment_key"].tolist()
    everything = pd.read_csv(io.BytesIO(csv_bytes(workspace_admin.export_table(con, "contracts", Filters()))))
    u3 = everything.set_index("contract_id").loc["U3"]
    assert u3["client"] == "'=HYPERLINK(\"http://x\")" and u3["title"] == "'@risky title"
    with pytest.raises(UserError):
        workspace_admin.export_table(con, "imports; DROP TABLE contracts", Filters())


def test_filter_choices_are_distinct_and_sorted(con):
    import_files(con, UPLOAD)
    choices = workspace_admin.filter_choices(con)
    assert choices.client == ('=HYPERLINK("http://x")', "Zeta Press")
    assert choices.platform == ("direct",) and choices.currency == ("USD",)
    assert (str(choices.first_start), str(choices.last_start)) == ("2026-01-05", "2026-03-02")


def test_completing_contracts_in_the_editable_table(empty_db, monkeypatch):
    build_workspace(empty_db, [DASHBOARD_FIXTURES / "upwork_legacy.csv"])
    at = open_app(empty_db, monkeypatch, "data")
    table = at.data_editor[0].value
    assert len(table) == 3
    # What is edited follows the contract's name, on screen without scrolling.
    assert list(at.data_editor[0].proto.column_order)[:4] == ["contract_id", "status", "budget", "planned_milestones"]
    harbor = table.index[table["contract_id"] == "Harbor Apps / Mobile onboarding flow"][0]
    quill = table.index[table["contract_id"] == "Quill Media / Blog series"][0]
    (version,) = query_one(empty_db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'data_version'")
    # What the browser's grid sends after two edits (AppTest cannot type into the grid).
    at.session_state[f"completions_{version}_True"] = {
        "edited_rows": {int(harbor): {"status": "completed", "budget": 900.0, "planned_milestones": 3},
                        int(quill): {"status": "cancelled"}},
        "added_rows": [], "deleted_rows": []}
    at.run()
    assert at.button(key="save_completions").label == "Save 2 completions"
    at.session_state["data_tab"] = "Complete contracts"  # the user is on that tab when saving
    at.button(key="save_completions").click().run()
    assert "Saved 2 completions." in texts(at)
    assert at.session_state["data_tab"] == "Complete contracts"  # the save's rerun keeps the tab open
    # Both rows in one change: the data version (and the kept analysis tables) moved once.
    assert query_one(empty_db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'data_version'") == (version + 1,)
    assert query_one(empty_db, """SELECT status, budget, planned_milestones FROM contract_completions
                                  WHERE contract_id = 'Harbor Apps / Mobile onboarding flow'""") == ("completed", 900, 3)
    assert query_one(empty_db, """SELECT status, budget FROM contract_view
                                  WHERE contract_id = 'Quill Media / Blog series'""") == ("cancelled", None)
    # Quill still lacks a budget; Harbor is complete; the hourly contract still lacks a status.
    assert sorted(at.data_editor[0].value["contract_id"]) == ["Pine Data / hourly", "Quill Media / Blog series"]
    # A budget below what was already paid is saved, and said (paid toward it: milestone payments, not the bonus).
    (paid,) = query_one(empty_db, "SELECT sum(gross) FROM payments WHERE contract_id = 'Quill Media / Blog series' "
                                  "AND kind = 'milestone' AND NOT pending")
    table = at.data_editor[0].value
    quill = table.index[table["contract_id"] == "Quill Media / Blog series"][0]
    at.session_state[f"completions_{version + 1}_True"] = {
        "edited_rows": {int(quill): {"budget": 10.0}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="save_completions").click().run()
    assert (f"1 contract given a budget below what was already paid toward it: Quill Media / Blog series (budget 10.00, "
            f"paid {paid:,.2f}); check the budget.") in texts(at)
    assert query_one(empty_db, "SELECT budget FROM contract_view WHERE contract_id = 'Quill Media / Blog series'") == (10,)



def test_with_two_sources_the_completions_table_shows_the_source_beside_the_contract(empty_db, monkeypatch):
    """The same export under two sources: two "Pine Data / hourly" rows, told apart by the column beside them."""
    build_workspace(empty_db, [DASHBOARD_FIXTURES / "upwork_legacy.csv"])
    con = store.connect(empty_db)
    import_files(con, [DASHBOARD_FIXTURES / "upwork_legacy.csv"], source="upwork2")
    con.close()
    at = open_app(empty_db, monkeypatch, "data")
    assert list(at.data_editor[0].proto.column_order)[:3] == ["contract_id", "source", "status"]

def test_contracts_without_a_client_show_a_blank_client_in_the_completions_table(empty_db, monkeypatch):
    """A weekly summary names no client: the cell is empty, not the word "None" (nor are the fields to fill in)."""
    from tests.conftest import FIXTURES

    build_workspace(empty_db, [FIXTURES / "exports" / "upwork_weekly_summary.csv"])
    (nameless,) = query_one(empty_db, "SELECT count(*) FROM contracts WHERE client IS NULL")
    assert nameless > 0
    at = open_app(empty_db, monkeypatch, "data")
    at.toggle(key="complete_only").set_value(False).run()
    editor = at.data_editor[0]
    assert editor.value["client"].isna().sum() == nameless  # kept as missing, not turned into text
    assert editor.value["status"].isna().all()  # a transaction history's contracts have no status yet
    assert editor.proto.HasField("placeholder") and editor.proto.placeholder == ""  # drawn as an empty cell
    # Its ids are bare numbers, so the title comes right beside them (it was off screen to the right).
    assert list(editor.proto.column_order)[:3] == ["contract_id", "title", "status"]

# --- the column mapping step ---------------------------------------------------------------------

def editor_with(at, column: str):
    return next(e for e in at.data_editor if column in e.value.columns)


def test_a_file_no_reader_knows_is_mapped_translated_saved_and_imported(empty_db, monkeypatch, tmp_path):
    monkeypatch.setenv("MILESTONE_LENS_MAPPINGS", str(tmp_path / "mappings"))
    at = open_app(empty_db, monkeypatch, "data")
    at.file_uploader[0].set_value(as_upload(DASHBOARD_FIXTURES / "agency_sheet.csv")).run()
    assert "Format: not recognised — needs a column mapping · 3 rows" in texts(at)
    table = editor_with(at, "field")
    assert dict(zip(table.value["column"], table.value["field"])) == {
        "Job ID": "contract_id", "Customer": "client", "Project": "title", "Price": "budget",
        "Started": "start_date", "Closed": "end_date", "State": "status"}
    words = editor_with(at, "in your file")
    assert words.value["in your file"].tolist() == ["Done", "Ended early", "Running"]
    # Untranslated words are asked for first: the check would only refuse each of their rows, in red,
    # before the user had a chance to fill in the table ("Nothing was imported: 3 problems").
    assert any(w.value == "Still to say what these words mean: “Done” (status), “Ended early” (status), "
               "“Running” (status)." for w in at.warning)
    assert not at.error and not [df for df in at.dataframe if "message" in df.value.columns]
    at.session_state[words.key] = {"edited_rows": {0: {"means": "completed"}, 1: {"means": "cancelled"}},
                                   "added_rows": [], "deleted_rows": []}
    at.run()
    assert any(w.value == "Still to say what this word means: “Running” (status)." for w in at.warning)
    at.session_state[words.key] = {"edited_rows": {0: {"means": "completed"}, 1: {"means": "cancelled"},
                                                   2: {"means": "active"}}, "added_rows": [], "deleted_rows": []}
    at.text_input(key="mapping_currency").set_value("EUR")
    at.text_input(key="mapping_name").set_value("Agency sheet").run()
    assert "They would add 3 contracts" in texts(at)
    at.button(key="mapping_save").click().run()
    saved = tmp_path / "mappings" / "Agency_sheet.json"
    assert saved.exists()
    # Saved once, it is offered to replace, and saving again without ticking keeps it.
    first = saved.read_bytes()
    at.session_state[words.key] = {"edited_rows": {0: {"means": "completed"}, 1: {"means": "completed"},
                                                   2: {"means": "active"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="mapping_save").click().run()
    assert "A mapping named 'Agency sheet' is saved already: replace it, or choose another name." in texts(at)
    assert saved.read_bytes() == first
    at.checkbox(key="mapping_replace").check().run()
    at.button(key="mapping_save").click().run()
    assert json.loads(saved.read_text())["values"]["status"]["Ended early"] == "completed"
    at.session_state[words.key] = {"edited_rows": {0: {"means": "completed"}, 1: {"means": "cancelled"},
                                                   2: {"means": "active"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="import_now").click().run()
    assert query_one(empty_db, "SELECT list(status ORDER BY contract_id), list(DISTINCT currency), list(DISTINCT source) "
                               "FROM contracts") == (["completed", "cancelled", "active"], ["EUR"], ["Agency sheet"])


def test_a_saved_mapping_is_offered_for_the_next_file(empty_db, monkeypatch, tmp_path):
    from analysis.mapping import ColumnMapping, save_mapping

    monkeypatch.setenv("MILESTONE_LENS_MAPPINGS", str(tmp_path / "mappings"))
    save_mapping(ColumnMapping(
        name="Agency sheet",
        fields={"contract_id": "Job ID", "client": "Customer", "budget": "Price", "start_date": "Started",
                "end_date": "Closed", "status": "State"},
        values={"status": {"Done": "completed", "Ended early": "cancelled", "Running": "active"}}))
    at = open_app(empty_db, monkeypatch, "data")
    at.file_uploader[0].set_value(as_upload(DASHBOARD_FIXTURES / "agency_sheet.csv")).run()
    at.selectbox(key="mapping_choice").set_value("Agency sheet").run()
    # What it does is shown before it is used: picked, a saved mapping showed only "Ready".
    assert ("What it does: Job ID → contract_id, Customer → client, Price → budget, Started → start_date, Closed → "
            "end_date, State → status; status: Done → completed, Ended early → cancelled, Running → active.") in texts(at)
    assert "They would add 3 contracts" in texts(at)
    at.button(key="import_now").click().run()
    assert query_one(empty_db, "SELECT count(*), count(title) FROM contracts") == (3, 0)  # Project not mapped


def test_known_and_unknown_files_are_not_mixed_in_one_import(empty_db, monkeypatch):
    at = open_app(empty_db, monkeypatch, "data")
    at.file_uploader[0].set_value(as_upload(DASHBOARD_FIXTURES / "agency_sheet.csv", UPLOAD[0])).run()
    assert any("upload the files that need one on their own" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "import_now"]


def test_mapping_table_refuses_a_field_chosen_twice():
    from dashboard.uploads import NOT_IMPORTED, mapping_from_frame

    frame = pd.DataFrame({"column": ["A", "B", "C"], "field": ["contract_id", "contract_id", NOT_IMPORTED]})
    with pytest.raises(UserError, match="'contract_id' is chosen for two columns"):
        mapping_from_frame(frame)
    frame.loc[1, "field"] = "status"
    mapping = mapping_from_frame(frame, " Mine ", defaults={"currency": "EUR", "platform": " "},
                                 values={"status": {"Done": "completed", "Open": None}})
    assert (mapping.name, mapping.fields, mapping.defaults, mapping.values) == (
        "Mine", {"contract_id": "A", "status": "B"}, {"currency": "EUR"}, {"status": {"Done": "completed"}})


def test_the_complete_contracts_tab_says_a_transaction_history_misses_contracts_never_paid(empty_db, monkeypatch):
    from analysis.marketplace import NOT_IN_TRANSACTION_HISTORY
    from analysis.wording import sentence

    build_workspace(empty_db, [FIXTURES / "exports" / "upwork_2025_twelve_contracts.csv"])
    at = open_app(empty_db, monkeypatch, "data")
    assert [i.value for i in at.info].count(sentence(NOT_IN_TRANSACTION_HISTORY)) == 1


def test_the_complete_contracts_tab_names_completions_the_imports_contradict_on_every_visit(empty_db, monkeypatch):
    """A budget below what was paid was named once, when saved or imported; an export imported again
    brings the payments back without a word, and the tab never said it again."""
    from analysis.completions import complete_contract
    from analysis.store import connect

    build_workspace(empty_db, [FIXTURES / "exports" / "upwork_2025_twelve_contracts.csv"])
    con = connect(empty_db)
    (paid,) = con.execute("SELECT sum(gross) FROM payments WHERE contract_id = 'Acme / Landing page' "
                          "AND kind = 'milestone'").fetchone()
    complete_contract(con, "upwork", "Acme / Landing page", status="completed", budget=500, planned_milestones=None)
    con.close()
    at = open_app(empty_db, monkeypatch, "data")
    assert (f"1 contract given a budget below what was already paid toward it: Acme / Landing page (budget 500.00, "
            f"paid {paid:,.2f}); check the budget.") in [w.value for w in at.warning]


def test_the_complete_contracts_tab_says_nothing_of_it_for_template_contracts(sample_db, monkeypatch):
    from analysis.marketplace import NOT_IN_TRANSACTION_HISTORY
    from analysis.wording import sentence

    at = open_app(sample_db, monkeypatch, "data")
    assert sentence(NOT_IN_TRANSACTION_HISTORY) not in [i.value for i in at.info]


def test_files_already_in_the_workspace_offer_nothing_to_import(empty_db, monkeypatch, tmp_path):
    """Uploading the same files again offered Import, which logged them once more and emptied the
    cache; a file that updates rows says removing it later will not undo the updates."""
    at = open_app(empty_db, monkeypatch, "data")
    at.file_uploader[0].set_value(as_upload(*UPLOAD)).run()
    at.button(key="import_now").click().run()
    before = table_counts(empty_db)
    at.file_uploader[0].set_value(as_upload(*UPLOAD)).run()
    # By hand: 3 contracts + 6 milestones + 4 payments, every one unchanged.
    assert ("Nothing new: all 13 contracts, milestones and payments of these files are already in the workspace "
            "unchanged, so there is nothing to import.") in texts(at)
    assert not [b for b in at.button if b.key == "import_now"]
    assert table_counts(empty_db) == before
    changed = tmp_path / "upload_contracts.csv"
    lines = UPLOAD[0].read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("budget")] = "9999"
    changed.write_text("\n".join([lines[0], ",".join(cells)]) + "\n")
    at.file_uploader[0].set_value(as_upload(changed)).run()
    assert ("1 row already in the workspace would be updated in place. Removing this import later (Import history) "
            "takes away what it adds, not these updates: the rows would keep the new values.") in texts(at)
    assert [b for b in at.button if b.key == "import_now"]


def test_removing_a_completions_import_takes_the_completions_it_set(con):
    """Removing the completions file's import deleted nothing ("0 contracts, 0 milestones, 0 payments")
    and its completions stayed, with no history entry left to undo them. A completion edited on the
    Data page since is the user's own and stays; one the file changed (Landing page, completed on the
    Data page before with a budget of 700) stays as the file set it, like an updated row: deleting it
    took the user's own entry too."""
    from analysis.completions import complete_contract

    exports = FIXTURES / "exports"
    import_files(con, [exports / "upwork_2025_twelve_contracts.csv"])
    complete_contract(con, "upwork", "Acme / Landing page", status="cancelled", budget=700, planned_milestones=None)
    import_files(con, [exports / "upwork_2025_twelve_completions.csv"])
    rows = list(csv.DictReader((exports / "upwork_2025_twelve_completions.csv").open()))
    filled = [r for r in rows if r["status"] or r["budget"]]
    assert con.execute("SELECT count(*) FROM contract_completions").fetchone()[0] == len(filled)
    complete_contract(con, "upwork", "Acme / Website redesign", status="completed", budget=1600, planned_milestones=3)
    batch = con.execute("SELECT max(batch_id) FROM imports").fetchone()[0]
    removal = workspace_admin.remove_import(con, batch)
    # Every completion the file made goes but the one edited since (Website redesign); the one it changed stays.
    assert removal.completions == len(filled) - 2 and removal.kept_updated == 1
    assert f"{len(filled) - 2} contract completions it had made (status, budget, planned milestones)" in removal.describe()
    assert con.execute("SELECT contract_id, status, budget FROM contract_completions ORDER BY 1").fetchall() == [
        ("Acme / Landing page", "completed", Decimal("600.00")), ("Acme / Website redesign", "completed", Decimal("1600.00"))]
