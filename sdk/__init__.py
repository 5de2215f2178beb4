"""infersight's client SDK: monitor model calls and log predictions and labels.

The public functions are re-exported by ``infersight`` itself::

    import infersight
    infersight.init(transport="kafka://localhost:9092")

    @infersight.monitor(model="fraud", version="3")
    def predict(features): ...

Importing the SDK imports nothing heavy and starts no thread; the background worker
starts with the first event. See ``docs/sdk.md``.

>>> import infersight, infersight.sdk
>>> infersight.init(transport="memory")
>>> @infersight.monitor(model="fraud", version="3", prediction=lambda out: out["score"])
... def predict(request):
...     return {"score": 0.93}
>>> predict({"amount": 12.5, "country": "FR"})
{'score': 0.93}
>>> infersight.flush()
True
>>> infersight.sdk.active_transport().events[0]["prediction"]
0.93
>>> infersight.shutdown()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api import (
    active_transport,
    flush,
    init,
    log_label,
    log_prediction,
    shutdown,
    stats,
)
from .ids import last_prediction_id
from .monitor import MonitoredCall, monitor
from .reference import ReferenceUploadError, upload_reference
from .skew import upload_skew_rows
from .transport import Delivery, PermanentSendError, Transport

if TYPE_CHECKING:
    from .transport_memory import MemoryTransport

__all__ = [
    "Delivery",
    "MemoryTransport",
    "MonitoredCall",
    "PermanentSendError",
    "ReferenceUploadError",
    "Transport",
    "active_transport",
    "flush",
    "init",
    "last_prediction_id",
    "log_label",
    "log_prediction",
    "monitor",
    "shutdown",
    "stats",
    "upload_reference",
    "upload_skew_rows",
]


def __getattr__(name: str) -> Any:
    # Imported on first use: keeps `import infersight` from importing json.
    if name == "MemoryTransport":
        from .transport_memory import MemoryTransport

        return MemoryTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
