"""Property-based tests from the OpenAPI schema (schemathesis): no 5xx, no schema violation,
for valid (positive) and invalid (negative) requests.

A live API on a seeded database of each backend (Postgres refuses inputs SQLite stores, such
as NUL characters), called over loopback with an admin key. Every operation gets a few
positive and a few negative examples, without shrinking (a failure is reported as found), so
the run stays short.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from infersight.drift import Reference
from infersight.storage.metrics import MetricPointRecord, upsert_metric_points
from infersight.storage.registry import set_reference
from infersight.storage.windows import WindowStateRecord, upsert_window_states
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api.conftest import BACKENDS, Api, _postgres_copy, serve

EXAMPLES_PER_OPERATION = 8
"""Per operation and generation mode (positive, negative), on each backend."""


def _seed(api: Api) -> None:
    rng = np.random.default_rng(0)
    ref = Reference.from_data({"x": rng.normal(0, 1, 500), "c": rng.choice(["a", "b"], 500)},
                              predictions=rng.random(500), labels=rng.integers(0, 2, 500))
    t0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    records, points = [], []
    for m in range(90):
        start = t0 + timedelta(minutes=m)
        window = ref.new_window()
        window.update({"x": rng.normal(0.5, 1, 10), "c": rng.choice(["a", "b"], 10)},
                      predictions=rng.random(10))
        records.append(WindowStateRecord("fraud", "1", start, start + timedelta(minutes=1),
                                         "infersight.events/0", window.to_bytes(), 10))
        points.append(MetricPointRecord("fraud", "1", start, start + timedelta(minutes=1), "x",
                                        "psi", 0.1, 10))
    with api.sessions.begin() as session:
        set_reference(session, "fraud", "1", ref.to_bytes())
        upsert_window_states(session, records)
        upsert_metric_points(session, points)


# Both backends: Postgres refuses NUL characters that SQLite stores, which found real 500s.
@pytest.fixture(scope="module", params=BACKENDS)
def live_api(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    import shutil

    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("schemathesis") / "api.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        with serve(f"sqlite:///{path}") as api:
            _seed(api)
            yield api
    else:
        with _postgres_copy(request.getfixturevalue("postgres_template")) as url, \
                serve(url) as api:
            _seed(api)
            yield api


def _operations(api: Api) -> list[Any]:
    document = httpx.get(f"{api.url}/openapi.json", timeout=30).json()
    loaded = schemathesis.openapi.from_dict(document)
    return [result.ok() for result in loaded.get_all_operations()]


def _send(client: httpx.Client, kwargs: dict[str, Any]) -> httpx.Response:
    """Send schemathesis' requests-style call with httpx (no ``requests`` here: the
    ``urllib3-future`` that ``grafana-client`` pulls in replaces urllib3 under it)."""
    data = kwargs.pop("data", None)
    if data is not None and not isinstance(data, bytes | str):
        kwargs["data"] = data
    elif data is not None:
        kwargs["content"] = data
    kwargs.pop("cookies", None)
    return client.request(**kwargs)


def test_no_server_error_and_responses_match_the_schema(live_api: Api) -> None:
    operations = _operations(live_api)
    assert len(operations) >= 15
    auth = live_api.headers("admin")
    failures: dict[str, str] = {}
    calls = 0
    with httpx.Client(timeout=30) as client:
        for operation, mode in itertools.product(operations, list(GenerationMode)):

            @given(case=operation.as_strategy(mode))
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            def check(case: Any) -> None:
                nonlocal calls
                kwargs = case.as_transport_kwargs(base_url=live_api.url)
                kwargs["headers"] = {**kwargs.get("headers", {}), **auth}
                response = _send(client, kwargs)
                calls += 1
                case.validate_response(response,
                                       checks=[not_a_server_error, response_schema_conformance])

            try:
                check()
            except Unsatisfiable:
                continue  # nothing to make invalid (an operation without parameters)
            except Exception as exc:  # collect every operation's failure, then report them all
                failures[f"{operation.method.upper()} {operation.path} ({mode.value})"] = str(exc)[:3000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    assert calls >= len(operations) * 4
