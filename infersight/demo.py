"""``infersight demo`` wired from the settings: its own SQLite file, the embedded stack on a
1-minute window, then the simulated model's story (:mod:`infersight.collector.demo.run`).

Unless ``INFERSIGHT_DATABASE_URL`` is set, the demo keeps its own SQLite file
(``demo.db`` in the data directory) and starts it afresh each run, so a second run shows
the same story and never mixes with what ``infersight up`` stores.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

from infersight.collector.demo.run import DEMO_WINDOW_S, DemoOptions, DemoStack, introduce
from infersight.embedded import StartupError, embedded_settings, start_embedded
from infersight.settings import Settings, default_data_dir


def demo_database_url(settings: Settings) -> str:
    """The settings' database, or a fresh ``demo.db`` in the data directory (removed first)."""
    if settings.database_url:
        return settings.database_url
    path = default_data_dir() / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def run_demo(options: DemoOptions, settings: Settings, echo: Callable[[str], None],
             stop: threading.Event | None = None) -> int:
    """Run the demo; returns 0 when the retraining recommendation fired, else 1."""
    from infersight.collector.demo.run import run_story
    from infersight.storage.db import session_factory

    stop = stop or threading.Event()
    check_port(options.host, options.port)  # before touching the files of a running demo
    settings = embedded_settings(
        settings, database_url=demo_database_url(settings), window=DEMO_WINDOW_S,
        eval_interval=min(settings.eval_interval, 2.0),
        api_url=f"http://127.0.0.1:{options.port}",
    )
    introduce(options, echo)
    echo(f"database {settings.resolved_database_url()}")
    echo("WARNING: authentication is off (INFERSIGHT_AUTH=off): anyone who can reach "
         f"{options.host}:{options.port} can read and write")
    embedded = start_embedded(settings, options.host, options.port)
    try:
        stack = DemoStack(
            url=embedded.url, sessions=session_factory(embedded.engine),
            write_sessions=session_factory(embedded.write_engine),
            lateness_s=settings.worker_lateness * DEMO_WINDOW_S,
        )
        return run_story(stack, options, echo, stop)
    finally:
        embedded.stop()
        echo("stopped")


def check_port(host: str, port: int) -> None:
    """:class:`StartupError` when ``host:port`` cannot be listened on."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StartupError(f"cannot listen on {host}:{port} ({exc.strerror}); "
                               "choose another port with --port") from None
