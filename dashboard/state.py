"""The workspace connection, created once per server process and shared safely, and cached queries.

DuckDB connections must not be used from two threads at once; each Streamlit run gets its
own cursor (a thread-safe child connection to the same database) from the one shared
connection.

Page reruns reuse query results: ``query(func, filters, ...)`` caches what an analysis
function returns, keyed on the workspace file, its ``data_version`` (bumped by every import,
completion and removal) and the arguments, so a filter change only recomputes what changed
and new data is never hidden behind a stale cache.

What the cache misses runs on one analysis thread per data version, inside one
``analysis.filters.prepared`` block: it reads the analysis tables every import keeps in the
workspace (``analysis.analysis_tables``), or makes temporary ones once when the workspace has
none, and keeps them while it serves every query: a filter change then costs the filtered
aggregates only, not a pass over every milestone of the workspace.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import streamlit as st

from analysis import store
from analysis.filters import Filters
# Set (by ``milestone-lens dashboard --private-workspaces``) to a folder: every browser session then
# works in a workspace file of its own there, which no other session can reach.
from dashboard.launcher import PRIVATE_DIR_ENV_VAR

try:  # the shared preparation of the analyses (issue 3); without it each analysis prepares its own
    from analysis.filters import prepared as _prepared
except ImportError:  # pragma: no cover - older analysis package
    _prepared = None

T = TypeVar("T")

# name -> function, for the one cached runner below (st.cache_data keys on its arguments).
_QUERIES: dict[str, Callable[..., Any]] = {}


@st.cache_resource(show_spinner=False)
def _shared_connection(db_path: str) -> duckdb.DuckDBPyConnection:
    return store.connect(db_path)


def private_dir() -> Path | None:
    """The folder of private workspaces, when the server runs in private mode."""
    folder = os.environ.get(PRIVATE_DIR_ENV_VAR, "").strip()
    return Path(folder).resolve() if folder else None


@dataclass
class PrivateWorkspace:
    """One browser session's own workspace: a file named by a random token (never by anything the
    user typed), its connection, and nothing shared with other sessions."""

    path: Path
    con: duckdb.DuckDBPyConnection


def _release_private(workspace: PrivateWorkspace) -> None:
    """When the session disconnects: stop its analysis thread, close it, delete the file."""
    with _THREADS_LOCK:
        entry = _THREADS.pop(str(workspace.path), None)
    if entry is not None:
        entry[1].stop()
        entry[1].join(timeout=30)
    with contextlib.suppress(duckdb.Error):
        workspace.con.close()
    for leftover in (workspace.path, workspace.path.with_name(workspace.path.name + ".wal")):
        with contextlib.suppress(OSError):
            leftover.unlink()


@st.cache_resource(show_spinner=False, scope="session", on_release=_release_private)
def _private_workspace(folder: str) -> PrivateWorkspace:
    path = Path(folder) / f"session-{secrets.token_hex(16)}.duckdb"
    return PrivateWorkspace(path, store.connect(path))


def is_private() -> bool:
    return private_dir() is not None


def db_path() -> str:
    """The workspace file this session shows: its private one in private mode, else the server's
    (``$MILESTONE_LENS_DB`` or ``data/workspace.duckdb``)."""
    folder = private_dir()
    if folder is not None:
        return str(_private_workspace(str(folder)).path)
    return str(store.default_db_path().resolve())


def connection() -> duckdb.DuckDBPyConnection:
    """The workspace's one connection; never query it directly: take a ``.cursor()`` per thread.

    Download callbacks run on another thread, outside the script run: they capture this
    object during the run and open their own cursor when they are called.
    """
    folder = private_dir()
    if folder is not None:
        return _private_workspace(str(folder)).con
    return _shared_connection(db_path())


def workspace() -> duckdb.DuckDBPyConnection:
    """A cursor on the workspace for this script run."""
    return connection().cursor()


def data_version() -> int:
    """The workspace's data version: changes whenever its data changes."""
    return store.data_version(workspace())


class AnalysisThread:
    """One thread with its own cursor that runs queries one at a time inside ``prepared``.

    The prepared tables are a snapshot of the data version the thread was started for; a new
    version gets a new thread and the old one is stopped (its tables dropped).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="milestone-lens-analyses", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        cursor = self._con.cursor()
        try:
            with _prepared(cursor) if _prepared else contextlib.nullcontext():
                while self._work(cursor):
                    pass
        except BaseException as exc:  # preparing failed: every waiting and later job gets the error
            while True:
                job = self._jobs.get()
                if job is None:
                    break
                job[3].set_exception(exc)
        finally:
            cursor.close()

    def _work(self, cursor: duckdb.DuckDBPyConnection) -> bool:
        job = self._jobs.get()
        if job is None:
            return False
        func, args, kwargs, future = job
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(func(cursor, *args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)
        return True

    def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``func(cursor, *args, **kwargs)`` on this thread; waits for and returns its result."""
        future: Future = Future()
        self._jobs.put((func, args, kwargs, future))
        return future.result()

    def stop(self) -> None:
        """Finish the queued jobs, then drop the prepared tables and close the cursor."""
        self._jobs.put(None)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


# workspace file -> (data version, its analysis thread); at most a few workspaces at once.
_THREADS: dict[str, tuple[int, AnalysisThread]] = {}
_THREADS_LOCK = threading.Lock()
_MAX_WORKSPACES = 4


def _analysis_thread(db: str, version: int, con: duckdb.DuckDBPyConnection) -> AnalysisThread:
    """The analysis thread of ``db`` at ``version`` or later; an older one is stopped, so only one
    copy of the prepared tables is kept per workspace."""
    stale: list[AnalysisThread] = []
    with _THREADS_LOCK:
        current = _THREADS.pop(db, None)
        if current is not None and current[0] >= version:
            _THREADS[db] = current  # versions only grow: a run that read an older one gets the newer data
            return current[1]
        if current is not None:
            stale.append(current[1])
        thread = AnalysisThread(con)
        _THREADS[db] = (version, thread)
        while len(_THREADS) > _MAX_WORKSPACES:
            stale.append(_THREADS.pop(next(iter(_THREADS)))[1])
    for old in stale:
        old.stop()
    return thread


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
def _cached_query(name: str, db: str, version: int, key: tuple, _con: duckdb.DuckDBPyConnection,
                  _args: tuple, _kwargs: dict) -> Any:
    return _analysis_thread(db, version, _con).run(_QUERIES[name], *_args, **_kwargs)


# name -> function, for the cached runner of pure computations (no workspace) below.
_COMPUTATIONS: dict[str, Callable[..., Any]] = {}


@st.cache_data(show_spinner=False, max_entries=200)
def _cached_computation(name: str, key: tuple, _args: tuple, _kwargs: dict) -> Any:
    return _COMPUTATIONS[name](*_args, **_kwargs)


def computed(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` for a module-level function that reads no workspace, cached on its arguments:
    a page reruns top to bottom on every widget change, and some computations (the splitter's recommendation
    without escrow searches up to 1,000 plans) need not run again for a slider that does not feed them."""
    name = f"{func.__module__}.{func.__qualname__}"
    if "<lambda>" in name or "<locals>" in name:
        raise ValueError(f"computed() needs a module-level function, not {name}")
    _COMPUTATIONS[name] = func
    return _cached_computation(name, (_freeze(args), _freeze(kwargs)), args, kwargs)


def query(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(cursor, *args, **kwargs)``, cached per (workspace file, data version, arguments).

    ``func`` must be a module-level function (its qualified name identifies it) whose result
    depends only on the workspace and its arguments, and that only reads. The result is a
    copy: changing it does not change the cache.
    """
    name = f"{func.__module__}.{func.__qualname__}"
    if "<lambda>" in name or "<locals>" in name:
        raise ValueError(f"query() needs a module-level function, not {name}")
    _QUERIES[name] = func
    key = (_freeze(args), _freeze(kwargs))
    return _cached_query(name, db_path(), data_version(), key, connection(), args, kwargs)
