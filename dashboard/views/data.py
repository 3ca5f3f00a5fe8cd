"""Data: bring contract histories in (checked before anything is written), complete what an export
cannot know, look back at and undo imports, and take the filtered data out as CSV."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from analysis import completions, importing, store, workspace_admin
from analysis import mapping as column_mapping
from analysis.canonical import CONTRACT_STATUSES
from analysis.errors import Problem, UserError
from analysis.filters import Filters
from analysis.mapping import ColumnMapping
from analysis.marketplace import NOT_IN_TRANSACTION_HISTORY
from analysis.parsing import ParseOptions
from analysis.report import build_report
from analysis.wording import plural, sentence
from dashboard import state
from dashboard.html_report import render_html
from dashboard.sidebar import current_filters
from dashboard.tables import MISSING, changed_rows, csv_bytes, escape_markdown, show_table
from dashboard.uploads import (
    NOT_IMPORTED, PREVIEW_ROWS, FilePreview, UploadCheck, check_upload, mapping_frame, mapping_from_frame,
    run_import, summary_frame, words_to_translate,
)

TEMPLATE_DIR = store.DATA_DIR / "template"
COMPLETION_FIELDS = completions.FIELDS
EDITOR_ROWS = 2000
_FLASH = "data_flash"
#: The upload's choices of date order and decimal mark; the problems the data cannot decide point here.
READ_CHOICES = "How to read the files"
#: That expander's open state (its key), and the check it was last opened for: a check the data
#: cannot decide opens it once, on a rerun (its state can only be set before it is drawn).
_READ_CHOICES_OPEN = "import_read_choices"
_OPENED_FOR = "import_read_choices_opened_for"
_ROUND = "data_upload_round"
_CHECK = "data_check"
_CHECK_CACHE = "data_checks"
NEW_MAPPING = "A new mapping (below)"

DATE_ORDERS = {"Decide from the data": None, "Day first (25/11/2026)": True, "Month first (11/25/2026)": False}
DECIMALS = {"Decide from the data": None, "Decimal point (1,234.50)": False, "Decimal comma (1.234,50)": True}


def flash(kind: str, text: str) -> None:
    """A message to show at the top of the next run (after ``st.rerun``)."""
    st.session_state.setdefault(_FLASH, []).append((kind, text))


def flash_import(summary, prefix: str = "") -> None:
    """An import's counts as one success message and each of its warnings as a message of its own
    (run together in one box, eight warnings were a wall of text)."""
    flash("success", prefix + " ".join(summary.counts()))
    for warning in summary.warnings:
        flash("warning", warning)


def show_flashes() -> None:
    for kind, text in st.session_state.pop(_FLASH, []):
        getattr(st, kind)(escape_markdown(text))


def checked(files, fmt: str, source: str | None, options: ParseOptions, mapping: ColumnMapping | None) -> UploadCheck:
    """``check_upload``, remembered for this session until the files, choices or data change."""
    key = (tuple(f.file_id for f in files), fmt, source, options, state.data_version(),
           json.dumps(mapping.to_json(), sort_keys=True) if mapping else None)
    remembered = st.session_state.setdefault(_CHECK_CACHE, {})
    if key not in remembered:
        with st.spinner("Checking the files…"):
            remembered[key] = check_upload(state.workspace(), files, fmt, source, options, mapping)
        while len(remembered) > 4:
            remembered.pop(next(iter(remembered)))
    check = remembered[key]
    st.session_state[_CHECK] = (key, check)
    return check


def show_previews(check: UploadCheck) -> None:
    for preview in check.files:
        with st.container(border=True):
            st.markdown(f"**{escape_markdown(preview.name)}**")
            if preview.problem:
                st.error(escape_markdown(preview.problem))
                continue
            kind = preview.format or "not recognised — needs a column mapping"
            st.caption(f"Format: {escape_markdown(kind)} · {preview.rows:,} rows. "
                       f"First {min(PREVIEW_ROWS, preview.rows)} rows as read:")
            st.dataframe(preview.head, hide_index=True, placeholder="")  # an empty cell of the file stays empty


def mapping_step(preview: FilePreview, upload_key: str, options: ParseOptions) -> ColumnMapping | None:
    """Let the user say which column holds which field (or pick a saved mapping); None until usable."""
    with st.container(border=True):
        st.markdown("**Column mapping**")
        st.caption(f"The header of {escape_markdown(preview.name)} is not one Milestone Lens knows. Say which column "
                   "holds which field of the template; the suggestion comes from the headers and the values.")
        saved = column_mapping.list_mappings()
        choice = st.selectbox("Mapping", [NEW_MAPPING, *saved], key="mapping_choice")
        headers = [c.name for c in preview.columns or []]
        if choice != NEW_MAPPING:
            try:
                chosen = column_mapping.load_mapping(choice)
            except UserError as exc:
                st.error(escape_markdown(exc))
                return None
            problems = chosen.problems(headers) + [f"'{f}' is not mapped" for f in chosen.missing_required(headers)]
            st.caption(f"What it does: {escape_markdown(chosen.describe())}.")
            if problems:
                st.error(f"The saved mapping does not fit this file: {escape_markdown(problems[0])}")
                return None
            return chosen
        edited = st.data_editor(
            mapping_frame(preview), hide_index=True, key=f"mapping_{upload_key}", placeholder="",
            disabled=["column", "looks like", "samples"],
            column_config={"field": st.column_config.SelectboxColumn(
                "field", options=[NOT_IMPORTED, *column_mapping.FIELDS], required=True)},
        )
        left, right = st.columns(2)
        defaults = {
            "platform": left.text_input("Platform of every row (optional)", key="mapping_platform",
                                        placeholder="direct, upwork, …"),
            "currency": right.text_input("Currency of every row (optional)", key="mapping_currency",
                                         placeholder="USD", max_chars=3),
        }
        name = st.text_input("Mapping name (optional; also the source of these contracts)", key="mapping_name",
                             max_chars=80)
        try:
            mapping = mapping_from_frame(edited, name, defaults, None, options.day_first, options.decimal_comma)
        except UserError as exc:
            st.error(escape_markdown(exc))
            return None
        values = {}
        untranslated = []
        for target, words in words_to_translate(preview, mapping).items():
            st.caption(f"What the words of the column mapped to {target} mean:")
            table = st.data_editor(
                pd.DataFrame({"in your file": words, "means": [None] * len(words)}), hide_index=True,
                key=f"words_{target}_{upload_key}", disabled=["in your file"], placeholder="",
                column_config={"means": st.column_config.SelectboxColumn(
                    "means", options=list(column_mapping.VALUE_FIELDS[target]))},
            )
            values[target] = {w: m for w, m in zip(table["in your file"], table["means"]) if isinstance(m, str) and m}
            untranslated += [f"“{escape_markdown(w)}” ({target})" for w in words if w not in values[target]]
        mapping = mapping_from_frame(edited, name, defaults, values, options.day_first, options.decimal_comma)
        missing = mapping.missing_required(headers)
        if missing:
            st.warning(f"Still to map: {', '.join(missing)}.", icon=":material/rule:")
            return None
        if untranslated:  # the check would only refuse each row of them as an unknown word
            st.warning(f"Still to say what {'this word means' if len(untranslated) == 1 else 'these words mean'}: "
                       f"{', '.join(untranslated)}.", icon=":material/rule:")
            return None
        problems = mapping.problems(headers)
        if problems:
            st.error(escape_markdown(problems[0]))
            return None
        replace = False
        if mapping.name and mapping.name in column_mapping.list_mappings():
            replace = st.checkbox(f"Replace the saved mapping “{escape_markdown(mapping.name)}”", key="mapping_replace",
                                  help="A mapping of this name is saved already; saving keeps it unless you tick this.")
        if mapping.name and st.button("Save this mapping for next time", key="mapping_save", icon=":material/save:"):
            try:
                column_mapping.save_mapping(mapping, replace=replace)
            except UserError as exc:
                st.error(escape_markdown(sentence(str(exc))))
            else:
                st.success(f"Saved the mapping “{escape_markdown(mapping.name)}”; pick it from the list next time, "
                           "or use it on the command line with --mapping.")
        return mapping


def show_result(check: UploadCheck, files, fmt: str, source: str | None, options: ParseOptions,
                mapping: ColumnMapping | None) -> None:
    """The dry run's verdict: every problem row by row, or what would be imported and the Import button."""
    if check.problems is not None:
        count = max(check.problem_count, len(check.problems))
        problems = check.problems
        if check.ambiguous_option is not None:  # the message ends "say which": here, with a choice above
            problems = problems.assign(message=problems["message"] + f" under “{READ_CHOICES}”")
        # The first problem in full: a table cell cuts a long message ("the header has: contract_id, ...") short.
        first = Problem(**{k: (None if pd.isna(v) else v) for k, v in problems.iloc[0].items()})
        listed = "" if count == len(problems) else f" (the table lists the first {len(problems):,})"
        st.error(f"Not ready to import: {count:,} problem{'s' if count != 1 else ''} to fix first{listed}. "
                 "Change the choices above (the check runs again at once), or correct the file and upload it again.\n\n"
                 f"{'The first: ' if count > 1 else ''}{escape_markdown(str(first))}",
                 icon=":material/error:")
        if check.ambiguous_option == "day_first":
            st.warning(f"Choose how numeric dates are written under “{READ_CHOICES}”.")
        elif check.ambiguous_option == "decimal_comma":
            st.warning(f"Choose how amounts are written under “{READ_CHOICES}”.")
        show_table(problems, "import-problems", key="import_problems",
                   column_config={"message": st.column_config.TextColumn("message", width="large")})
    elif check.error:
        st.error(f"Not ready to import: {escape_markdown(check.error)}", icon=":material/error:")
    elif check.summary is not None:
        summary = check.summary
        if not (any(summary.imported.values()) or any(summary.updated.values()) or summary.completed):
            # Importing would only log the files again (and empty every page's cache): nothing to offer.
            already = []
            if summary.duplicates_skipped:
                already.append(f"all {summary.duplicates_skipped:,} contracts, milestones and payments of "
                               f"{'this file' if len(summary.files) == 1 else 'these files'} are already in the "
                               "workspace unchanged")
            if summary.completed_already:
                already.append(f"the {summary.completed_already:,} contract completion"
                               f"{'' if summary.completed_already == 1 else 's'} {'is' if summary.completed_already == 1 else 'are'} "
                               "already as given")
            st.info(f"Nothing new: {' and '.join(already) or 'the files hold no rows to import'}, so there is nothing "
                    "to import.", icon=":material/check_circle:")
            for warning in summary.warnings:
                st.warning(escape_markdown(warning))
            return
        lines = summary.counts()
        # What would be added, and what completions files would complete (the updates are in the table below).
        shown = " ".join([lines[0].replace("Would import", "They would add")] + lines[2:])
        st.success(f"Ready: the files can be imported. {escape_markdown(shown)}", icon=":material/check_circle:")
        st.dataframe(summary_frame(summary), hide_index=True, placeholder=MISSING)
        if summary.duplicates_skipped:
            st.caption(f"{summary.duplicates_skipped:,} contracts, milestones and payments are already in the workspace "
                       "unchanged and would be skipped.")
        updated = sum(summary.updated.values())
        if updated:
            st.caption(f":material/history: {updated:,} row{'s' if updated != 1 else ''} already in the workspace would "
                       "be updated in place. Removing this import later (Import history) takes away what it adds, "
                       "not these updates: the rows would keep the new values.")
        for warning in summary.warnings:
            st.warning(escape_markdown(warning))
        if st.button("Import", type="primary", icon=":material/upload:", key="import_now"):
            try:
                done = run_import(state.workspace(), files, fmt, source, options, mapping)
            except UserError as exc:
                st.error(f"Nothing was imported: {escape_markdown(exc)}")
            else:
                flash_import(done)
                st.session_state[_ROUND] = st.session_state.get(_ROUND, 0) + 1
                st.session_state.pop(_CHECK, None)
                st.session_state.pop(_CHECK_CACHE, None)
                st.rerun()


def export_csv(shared, table: str, filters) -> bytes:
    """One exported table as CSV, made when its button is clicked (on the download's own thread and cursor)."""
    cursor = shared.cursor()
    try:
        return csv_bytes(workspace_admin.export_table(cursor, table, filters))
    finally:
        cursor.close()


def report_html(shared, filters) -> bytes:
    """The ``report --html`` document for the current filters, made when its button is clicked."""
    cursor = shared.cursor()
    try:
        return render_html(build_report(cursor, filters)).encode("utf-8")
    finally:
        cursor.close()


# --- page ---------------------------------------------------------------------------------

st.title("Data")
show_flashes()
con = state.workspace()
# Keyed and tracked, so the tab stays open when saving a completion or removing an import reruns the page.
tab_import, tab_complete, tab_history, tab_export = st.tabs(
    ["Import", "Complete contracts", "Import history", "Export"], key="data_tab", on_change="rerun")

with tab_import:
    if store.is_empty(con):
        with st.container(border=True):
            st.markdown("**The workspace is empty.** Upload your own history below, or look around with the "
                        "bundled sample: 2,000 synthetic contracts (its cancellation behaviour is an assumption, "
                        "not data).")
            if st.button("Load the sample history", type="primary", icon=":material/science:", key="load_sample"):
                try:
                    summary = workspace_admin.load_sample(state.workspace())
                except UserError as exc:
                    st.error(f"The sample was not loaded: {escape_markdown(exc)}", icon=":material/error:")
                else:
                    flash_import(summary, "Loaded the sample history. ")
                    st.rerun()

    st.subheader("Upload CSV exports")
    max_mb = st.get_option("server.maxUploadSize")
    files = st.file_uploader(
        "CSV files: the template (contracts.csv and milestones.csv, or one flat file), Upwork transaction "
        "history or weekly summary, Freelancer.com transactions",
        type=["csv", "txt"], accept_multiple_files=True, key=f"upload_{st.session_state.get(_ROUND, 0)}",
        help=f"Several files are checked and imported together, all or nothing. Up to {max_mb} MB per file.",
    )
    st.caption(f":material/info: Up to **{max_mb} MB per file** (`server.maxUploadSize` in streamlit_config.toml). "
               "A larger file is marked in red and not uploaded: import it with `milestone-lens import` instead.")
    importing._register_builtin_readers()
    formats = ["auto", *sorted(importing.READERS)]
    if files:
        previous = st.session_state.get(_CHECK)
        if previous and previous[1].ambiguous_option and st.session_state.get(_OPENED_FOR) != previous[0]:
            st.session_state[_OPENED_FOR] = previous[0]
            st.session_state[_READ_CHOICES_OPEN] = True
        with st.expander(READ_CHOICES, key=_READ_CHOICES_OPEN, on_change="rerun", icon=":material/tune:"):
            fmt = st.selectbox("Format", formats, key="import_format",
                               format_func=lambda f: "Detect from the header" if f == "auto" else f)
            source = st.text_input(
                "Source name (optional)", key="import_source", max_chars=60,
                help="Contract ids are unique within a source. Empty: the format's name (canonical, upwork, …), or "
                     "the mapping's name. Import newer exports of the same account under the same source so changed "
                     "contracts are updated.",
            ).strip() or None
            left, right = st.columns(2)
            day_first = DATE_ORDERS[left.radio("Numeric dates such as 05/11/2026", list(DATE_ORDERS), key="import_dates")]
            decimal_comma = DECIMALS[right.radio("Amounts", list(DECIMALS), key="import_decimals")]
        options = ParseOptions(day_first=day_first, decimal_comma=decimal_comma)
        upload_key = "_".join(f.file_id for f in files)

        first = checked(files, fmt, source, options, None)
        show_previews(first)
        needing = [f for f in first.files if f.needs_mapping]
        result: UploadCheck | None = first
        mapping: ColumnMapping | None = None
        if needing and fmt == "auto":
            readable = [f for f in first.files if not f.problem]
            if len(needing) < len(readable):
                st.error("Some of these files need a column mapping and some do not: a mapping applies to every "
                         "file of an import, so upload the files that need one on their own.", icon=":material/error:")
                result = None
            else:
                mapping = mapping_step(needing[0], upload_key, options)
                result = checked(files, fmt, source, options, mapping) if mapping else None
        if result is not None:
            show_result(result, files, fmt, source, options, mapping)
            if result.ambiguous_option and st.session_state.get(_OPENED_FOR) != st.session_state[_CHECK][0]:
                st.rerun()  # to open "How to read the files" above, where the choice is

    st.subheader("The CSV template")
    st.caption("Required: contract_id, start_date, status (completed, cancelled, disputed, active) and, for "
               "fixed-price contracts, budget; milestones need contract_id, seq and amount. Each file has a few "
               "example rows — replace them with your contracts.")
    left, right = st.columns(2)
    left.download_button("contracts.csv template", (TEMPLATE_DIR / "contracts.csv").read_bytes(),
                         file_name="contracts.csv", mime="text/csv", icon=":material/download:",
                         key="template_contracts", on_click="ignore")
    right.download_button("milestones.csv template", (TEMPLATE_DIR / "milestones.csv").read_bytes(),
                          file_name="milestones.csv", mime="text/csv", icon=":material/download:",
                          key="template_milestones", on_click="ignore")

with tab_complete:
    st.subheader("Complete what an export cannot know")
    st.caption("A transaction history says what was paid, not whether a contract was completed or cancelled, "
               "its agreed budget, or how many milestones were planned. Fill them in here; they are kept apart "
               "from the imported rows, so they survive later imports of newer exports.")
    if state.query(completions.from_transaction_history, Filters()):
        st.info(sentence(NOT_IN_TRANSACTION_HISTORY), icon=":material/playlist_add:")
    for warning in state.query(completions.standing_contradictions):  # said on every visit, not only once
        st.warning(sentence(warning), icon=":material/rule:")
    only_incomplete = st.toggle("Only contracts that still need something", value=True, key="complete_only")
    table = state.query(completions.completion_table, only_incomplete=only_incomplete)
    if store.is_empty(state.workspace()):
        st.info("The workspace holds no contracts yet: import some on the first tab.", icon=":material/inbox:")
    elif table.empty:
        st.success("Every contract has a status, and every fixed-price contract a budget.", icon=":material/check_circle:")
    else:
        if only_incomplete:
            st.caption(f"{len(table):,} contract{'s' if len(table) != 1 else ''} without a status or a budget: "
                       "left out of cancellation figures until completed.")
        shown = table.head(EDITOR_ROWS)  # only the completion fields are edited
        if len(table) > EDITOR_ROWS:
            st.caption(f"Showing the first {EDITOR_ROWS:,} of {len(table):,}; narrow the list with the toggle above.")
        several_sources = shown["source"].nunique() > 1
        # A weekly summary's ids are bare numbers ("41200871"): then the title comes beside them too.
        title_beside = bool(shown["contract_id"].astype(str).str.fullmatch(r"\d+").any())
        edited = st.data_editor(
            shown, hide_index=True, key=f"completions_{state.data_version()}_{only_incomplete}",
            placeholder="",  # a field still to fill in is an empty cell, not the word "None"
            disabled=[c for c in shown.columns if c not in COMPLETION_FIELDS],
            # What is edited comes right after the contract's name (and its source, when there are several:
            # the same id can stand in two), so it is on screen without scrolling.
            column_order=(["contract_id"] + (["title"] if title_beside else []) + (["source"] if several_sources else [])
                          + ["status", "budget", "planned_milestones", "paid_gross", "structure", "imported_status",
                             "start_date", "client"] + ([] if title_beside else ["title"]) + ["contract_type"]
                          + ([] if several_sources else ["source"])),
            column_config={
                "status": st.column_config.SelectboxColumn("status", options=list(CONTRACT_STATUSES)),
                "budget": st.column_config.NumberColumn("budget", min_value=0, step=0.01, format="accounting"),
                "planned_milestones": st.column_config.NumberColumn("planned milestones", min_value=1, step=1, format="%d"),
                "paid_gross": st.column_config.NumberColumn("paid so far", format="accounting"),
                "imported_status": "imported status", "contract_id": "contract",
                "title": st.column_config.TextColumn("title", width="medium"),
                "start_date": st.column_config.DateColumn("start"),
            },
        )
        changes = changed_rows(shown, edited, list(COMPLETION_FIELDS))
        if st.button(f"Save {len(changes)} completion{'s' if len(changes) != 1 else ''}", type="primary",
                     disabled=not changes, icon=":material/save:", key="save_completions"):
            rows = [shown.iloc[position] for position, _ in changes]
            try:
                refused = completions.complete_contracts(
                    state.workspace(), [(row["source"], row["contract_id"], values) for row, (_, values) in zip(rows, changes)])
                failed = [f"{rows[i]['contract_id']}: {exc}" for i, exc in refused]
                saved = len(changes) - len(failed)
            except UserError as exc:  # the workspace was busy: nothing was saved
                failed, saved = [str(exc)], 0
            if saved:
                # What the saved completions contradict is said in this tab after the rerun (standing_contradictions).
                flash("success", f"Saved {saved} completion{'s' if saved != 1 else ''}.")
            for message in failed:
                flash("error", f"Not saved — {message}")
            st.rerun()

with tab_history:
    st.subheader("Import history")
    history = state.query(workspace_admin.import_history)
    if history.empty:
        st.info("Nothing has been imported yet.")
    else:
        counts = ("contracts_new", "contracts_updated", "milestones_new", "milestones_updated", "payments_new",
                  "payments_updated", "duplicates_skipped")
        # file_id stays in the CSV only: checks before an import use ids up too, so on screen they had gaps.
        show_table(history.drop(columns="file_id"), "import-history", key="history", download=history, column_config={
            "import": st.column_config.NumberColumn("import", format="%d"),
            "imported_at": st.column_config.DatetimeColumn("imported at", format="YYYY-MM-DD HH:mm"),
            **{c: st.column_config.NumberColumn(c.replace("_", " "), format="localized") for c in counts},
            "still_here": st.column_config.NumberColumn(
                "still here", format="localized",
                help="How many of the contracts, milestones and payments this file brought are in the workspace now "
                     "(removing an earlier import also takes the rows later files brought to its contracts)"),
        })
        batches = history.groupby("import", sort=False).agg(
            files=("file_name", lambda names: ", ".join(names)), at=("imported_at", "first"),
            contracts=("contracts_new", "sum"))
        if st.session_state.get("remove_batches_seen") != list(batches.index):
            # Another import came in or one went: offer the newest again, not what was picked in the old list.
            st.session_state["remove_batches_seen"] = list(batches.index)
            st.session_state.pop("remove_batch", None)
            st.session_state.pop("remove_confirm", None)
        with st.container(border=True):
            st.markdown("**Remove one import**")
            chosen = st.selectbox(
                "Import", list(batches.index), key="remove_batch",
                format_func=lambda b: f"Import {b} · {batches.at[b, 'at']:%Y-%m-%d %H:%M} · {batches.at[b, 'files']} "
                                      f"· {plural(int(batches.at[b, 'contracts']), 'new contract')}",
            )
            st.caption("Deletes the contracts, milestones and payments this import brought in (and what later "
                       "imports added to those contracts). Rows it only updated keep their updated values. "
                       "Completions you entered are kept for a re-import.")
            sure = st.checkbox("Yes, delete what this import brought in", key="remove_confirm")
            if st.button("Remove import", icon=":material/delete:", disabled=not sure, key="remove_now"):
                try:
                    removal = workspace_admin.remove_import(state.workspace(), int(chosen))
                except UserError as exc:
                    st.error(f"Nothing was removed: {escape_markdown(exc)}", icon=":material/error:")
                else:
                    flash("success", removal.describe())
                    st.session_state.pop("remove_confirm", None)
                    st.rerun()

with tab_export:
    st.subheader("Export the filtered data")
    filters = current_filters()
    st.caption(f"CSV files of {escape_markdown(filters.describe())} (the sidebar filters). Contracts carry their "
               "derived payment structure and your completions; cells that a spreadsheet would run as a formula "
               "are prefixed with an apostrophe.")
    shared = state.connection()
    columns = st.columns(len(workspace_admin.EXPORT_TABLES) + 1)
    for column, table in zip(columns, workspace_admin.EXPORT_TABLES):
        column.download_button(
            f"{table}.csv", data=lambda table=table: export_csv(shared, table, filters),
            file_name=f"{table}.csv", mime="text/csv", icon=":material/download:", key=f"export_{table}",
            on_click="ignore",
        )
    columns[-1].download_button(
        "report.html", data=lambda: report_html(shared, filters), file_name="milestone-lens-report.html",
        mime="text/html", icon=":material/description:", key="export_report", on_click="ignore",
        help="The full comparison as one self-contained HTML file (opens offline, can be emailed).",
    )
