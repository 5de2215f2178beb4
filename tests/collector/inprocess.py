"""Run a worker in a thread of the test process (faster than a subprocess when no SIGKILL
is involved)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from infersight.collector.worker.loop import Worker


@dataclass
class RunningWorker:
    worker: Worker
    thread: threading.Thread
    stop_event: threading.Event
    error: list[BaseException]

    def stop(self, timeout: float = 15.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "worker thread did not stop"
        if self.error:
            raise self.error[0]


def start(worker: Worker) -> RunningWorker:
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            worker.run(stop)
        except BaseException as exc:  # reported by stop()
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return RunningWorker(worker, thread, stop, errors)
