"""infersight: production ML observability.

The client SDK's functions live at the top level::

    import infersight
    infersight.init(transport="kafka://localhost:9092")

    @infersight.monitor(model="fraud", version="3")
    def predict(features): ...

>>> import infersight
>>> sorted(name for name in infersight.__all__ if name.startswith("log_"))
['log_label', 'log_prediction']
"""

from infersight.sdk import (
    flush,
    init,
    last_prediction_id,
    log_label,
    log_prediction,
    monitor,
    shutdown,
    stats,
    upload_reference,
    upload_skew_rows,
)

__all__ = [
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
