"""The workspace connection, created once per server process and shared safely, and cached queries.

DuckDB connections must not be used from two threads at once; each Streamlit run gets its
own cursor (a thread-safe child connection to the same database) from the one shared
connection.

Page reruns reuse query results: ``query(func, filters, ...)`` caches what an analysis
function returns, keyed on the workspace file, its ``data_version`` (bumped by every import,
completion and removal) and the arguments, so a filter change only recomputes what changed
and new data is never hidden behind a stale cache.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb
import streamlit as st

from analysis import store
from analysis.filters import Filters

T = TypeVar("T")

# name -> function, for the one cached runner below (st.cache_data keys on its arguments).
_QUERIES: dict[str, Callable[..., Any]] = {}


@st.cache_resource(show_spinner=False)
def _shared_connection(db_path: str) -> duckdb.DuckDBPyConnection:
    return store.connect(db_path)


def db_path() -> str:
    """The workspace file this server shows (``$MILESTONE_LENS_DB`` or ``data/workspace.duckdb``)."""
    return str(store.default_db_path().resolve())


def connection() -> duckdb.DuckDBPyConnection:
    """The one shared connection; never query it directly: take a ``.cursor()`` per thread.

    Download callbacks run on another thread, outside the script run: they capture this
    object during the run and open their own cursor when they are called.
    """
    return _shared_connection(db_path())


def workspace() -> duckdb.DuckDBPyConnection:
    """A cursor on the workspace for this script run."""
    return connection().cursor()


def data_version() -> int:
    """The workspace's data version: changes whenever its data changes."""
    return store.data_version(workspace())


def _freeze(value: Any) -> Any:
    """A hashable, order-independent stand-in for one argument (what the cache keys on)."""
    if isinstance(value, Filters):
        return ("Filters", json.dumps(value.to_dict(), sort_keys=True))
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


@st.cache_data(show_spinner=False, max_entries=1000)
def _cached_query(name: str, db: str, version: int, key: tuple, _args: tuple, _kwargs: dict) -> Any:
    return _QUERIES[name](workspace(), *_args, **_kwargs)


def query(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(cursor, *args, **kwargs)``, cached per (workspace file, data version, arguments).

    ``func`` must be a module-level function (its qualified name identifies it) whose result
    depends only on the workspace and its arguments. The result is a copy: changing it does
    not change the cache.
    """
    name = f"{func.__module__}.{func.__qualname__}"
    if "<lambda>" in name or "<locals>" in name:
        raise ValueError(f"query() needs a module-level function, not {name}")
    _QUERIES[name] = func
    key = (_freeze(args), _freeze(kwargs))
    return _cached_query(name, db_path(), data_version(), key, args, kwargs)
