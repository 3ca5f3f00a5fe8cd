"""Start ``streamlit run`` with every setting of ``streamlit_config.toml`` applied.

Streamlit has no ``--config`` flag, so each value in the file is passed on as the
equivalent ``--section.option=value`` command-line option.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from analysis import store
from analysis.errors import UserError

#: Names the folder of private workspaces for ``dashboard.state`` (which reads it in the server).
PRIVATE_DIR_ENV_VAR = "MILESTONE_LENS_PRIVATE_DIR"

CONFIG_FILE = store.PROJECT_ROOT / "streamlit_config.toml"
APP_FILE = Path(__file__).resolve().parent / "app.py"


def config_options(config_file: Path = CONFIG_FILE) -> dict[str, object]:
    """``[server] port = 8501`` → ``{"server.port": 8501}``, for every option in the file."""
    with config_file.open("rb") as handle:
        config = tomllib.load(handle)
    return {f"{section}.{key}": value for section, options in config.items() for key, value in options.items()}


def config_flags(config_file: Path = CONFIG_FILE, overrides: dict[str, object] | None = None) -> list[str]:
    """``[server] port = 8501`` → ``--server.port=8501``, for every option in the file."""
    flat = {**config_options(config_file), **(overrides or {})}
    flags = []
    for key, value in flat.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        flags.append(f"--{key}={text}")
    return flags


def load_sample_if_empty(db: Path | None) -> bool:
    """Fill an empty workspace with the bundled sample history; True when it did."""
    from analysis.importing import import_files

    con = store.connect(db)
    try:
        if not store.is_empty(con):
            return False
        import_files(con, [store.SAMPLE_DIR / "contracts.csv", store.SAMPLE_DIR / "milestones.csv"],
                     fmt="canonical", source="sample")
        return True
    finally:
        con.close()


def streamlit_command(db: Path | None = None, port: int | None = None,
                      private_dir: Path | None = None) -> tuple[list[str], dict[str, str]]:
    """The ``streamlit run`` command line and environment; ``private_dir`` turns on private workspaces."""
    overrides: dict[str, object] = {}
    if port is not None:
        overrides["server.port"] = port
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP_FILE), *config_flags(overrides=overrides)]
    env = dict(os.environ)
    env[store.DB_ENV_VAR] = str(Path(db).resolve() if db else store.default_db_path())
    env.pop(PRIVATE_DIR_ENV_VAR, None)
    if private_dir is not None:
        env[PRIVATE_DIR_ENV_VAR] = str(Path(private_dir).resolve())
    return cmd, env


#: Signals a service manager or ``kill`` stops the dashboard with, passed on to the server
#: (Ctrl-C reaches both already: they share the terminal's process group).
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def run_server(cmd: list[str], env: dict[str, str]) -> int:
    """Run the Streamlit server until it exits; its exit status (128 + N when signal N ended it).

    Stopping this process stops the server too, so no server is left holding the port.
    """
    server = subprocess.Popen(cmd, env=env, cwd=str(store.PROJECT_ROOT))

    def forward(signum: int, _frame) -> None:
        server.send_signal(signum)

    # A signal this process was started ignoring (SIGHUP under ``nohup``) stays ignored, as the
    # user asked; the server inherited the same, so forwarding it would stop nothing anyway.
    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS
                if signal.getsignal(signum) is not signal.SIG_IGN}
    try:
        while True:
            try:
                code = server.wait()
                break
            except KeyboardInterrupt:  # the server got the Ctrl-C too, and is stopping
                continue
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code


def check_port_free(port: int | None) -> None:
    """Refuse, in one line, a port the server could not listen on (out of range, or in use),
    instead of a traceback or Streamlit's exit status 1 after it has started."""
    options = config_options()
    port = int(options.get("server.port", 8501)) if port is None else port
    if not 1 <= port <= 65535:
        raise UserError(f"--port: {port} is not a port (1–65535)")
    address = str(options.get("server.address", "localhost"))
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a closed port's TIME_WAIT is no obstacle
        try:
            probe.bind((socket.gethostbyname(address), port))
        except OSError:
            raise UserError(f"port {port} is in use (another dashboard?): stop it or choose another with --port") from None


def launch(db: Path | None = None, port: int | None = None, sample_if_empty: bool = False,
           private_workspaces: bool = False) -> int:
    check_port_free(port)
    if private_workspaces:
        # A folder only this user can read; each session's workspace file in it is deleted when the
        # session ends, and the folder (with anything left over) when the server stops.
        folder = Path(tempfile.mkdtemp(prefix="milestone-lens-private-"))
        print("Private workspaces: every browser session gets its own, empty workspace.", flush=True)
        try:
            cmd, env = streamlit_command(db, port, private_dir=folder)
            return run_server(cmd, env)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    store.check_workspace_path(Path(db) if db else store.default_db_path())
    if sample_if_empty and load_sample_if_empty(db):
        print("Loaded the bundled sample history into the empty workspace.", flush=True)
    cmd, env = streamlit_command(db, port)
    return run_server(cmd, env)
