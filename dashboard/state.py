"""The workspace connection, created once per server process and shared safely.

DuckDB connections must not be used from two threads at once; each Streamlit run gets its
own cursor (a thread-safe child connection to the same database) from the one shared
connection.
"""

from __future__ import annotations

import duckdb
import streamlit as st

from analysis import store


@st.cache_resource(show_spinner=False)
def _shared_connection(db_path: str) -> duckdb.DuckDBPyConnection:
    return store.connect(db_path)


def db_path() -> str:
    return str(store.default_db_path())


def workspace() -> duckdb.DuckDBPyConnection:
    """A cursor on the workspace for this script run."""
    return _shared_connection(db_path()).cursor()
