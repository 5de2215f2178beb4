"""The model dashboard's filter on ``metric_points``: the selected model and versions
(Grafana variables ``$model`` and ``$version``)."""

from __future__ import annotations

SCOPE = "model = '$model' AND version IN ($version)"
DATASET = f"{SCOPE} AND feature = ''"
"""Dataset-level points (stored with an empty ``feature``)."""
