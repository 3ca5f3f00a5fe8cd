"""Tables and text from imported files, shown safely: every table downloadable as CSV.

Imported text (client names, titles, descriptions, file names) may contain anything. In the
app it is shown as text — in dataframes, or escaped before it reaches ``st.markdown`` — never
as HTML. In downloaded CSV files, a cell beginning with ``=``, ``+``, ``-`` or ``@`` (or a tab
or carriage return) is prefixed with ``'`` so that a spreadsheet shows it instead of running it
as a formula.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: What a table shows in a cell with no value (Streamlit's default is the word "None").
MISSING = "—"
#: How counts are written: thousands separated ("15,821"), as the Data page's import counts already were.
COUNT_FORMAT = "localized"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


def neutralise_cell(value: Any) -> Any:
    """``'=1+2'`` → ``"'=1+2"``; anything that is not text starting like a formula is returned unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as spreadsheet formulas (numbers stay numbers)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
            out[column] = series.map(neutralise_cell, na_action="ignore")
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The CSV file a download button hands out: UTF-8, header row, no index, formulas neutralised."""
    return neutralise_formulas(frame).to_csv(index=False).encode("utf-8")


def escape_markdown(text: object) -> str:
    """``text`` as literal characters inside ``st.markdown`` (no emphasis, links, HTML, LaTeX or icons)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def safe_file_name(name: str) -> str:
    """A download file name made of letters, digits, ``-`` and ``_`` only."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    return cleaned or "table"


def download_csv(frame: pd.DataFrame, name: str, *, key: str, label: str = "Download CSV") -> None:
    """A download button for ``frame`` as ``name.csv``; the CSV is made only when it is clicked."""
    st.download_button(
        label, data=lambda: csv_bytes(frame), file_name=f"{safe_file_name(name)}.csv", mime="text/csv",
        key=key, icon=":material/download:", on_click="ignore",
    )


def count_column(label: str | None = None, **kwargs: Any) -> dict:
    """A column of counts with thousands separators ("130,720", not 130720 beside amounts that have them)."""
    return st.column_config.NumberColumn(label, format=COUNT_FORMAT, **kwargs)


def show_table(
    frame: pd.DataFrame,
    name: str,
    *,
    key: str,
    column_config: Mapping[str, Any] | None = None,
    caption: str | None = None,
    height: int | str = "auto",
    empty_message: str = "Nothing to show.",
    download: pd.DataFrame | None = None,
) -> None:
    """``frame`` as an interactive table (text shown as text) with a CSV download button below it.

    ``download``: the frame the CSV hands out, when the one shown writes some figures as text
    (default: ``frame`` itself)."""
    if caption:
        st.caption(caption)
    if frame.empty:
        st.info(empty_message)
        return
    # Headers in words ("budget unknown", not budget_unknown) unless the page names the column itself;
    # the CSV keeps the names, for spreadsheets and scripts.
    config = {str(c): str(c).replace("_", " ") for c in frame.columns if "_" in str(c)}
    config.update(column_config or {})
    # Whole-number columns are counts (contracts, payments, n): thousands separated like the amounts beside
    # them, unless the page configures the column itself (or hides it with None).
    for column in frame.columns:
        header = str(column)
        setting = config.get(header, header)
        if pd.api.types.is_integer_dtype(frame[column]) and isinstance(setting, str):
            config[header] = count_column(setting)
    st.dataframe(frame, hide_index=True, column_config=config, key=f"{key}_table", height=height, placeholder=MISSING)
    download_csv(frame if download is None else download, name, key=f"{key}_csv")


def changed_rows(original: pd.DataFrame, edited: pd.DataFrame, columns: list[str]) -> list[tuple[int, dict[str, Any]]]:
    """Rows of an ``st.data_editor`` table whose ``columns`` were edited: (position, {column: new value}).

    Empty cells compare equal whatever their kind (None, NaN, NA); a cell the user cleared
    comes back as None.
    """
    changes = []
    for position in range(len(original)):
        row = {}
        for column in columns:
            before, after = original[column].iloc[position], edited[column].iloc[position]
            empty_before, empty_after = pd.isna(before), pd.isna(after)
            if empty_before and empty_after:
                continue
            if empty_before != empty_after or before != after:
                row[column] = None if empty_after else (after.item() if hasattr(after, "item") else after)
        if row:
            changes.append((position, row))
    return changes
