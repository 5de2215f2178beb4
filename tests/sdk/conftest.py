"""Fixtures of the SDK tests: a clean SDK state around every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from infersight.sdk import MemoryTransport

import infersight


@pytest.fixture(autouse=True)
def _sdk_shut_down_after_test() -> Iterator[None]:
    yield
    infersight.shutdown(timeout=2)


@pytest.fixture
def memory() -> MemoryTransport:
    """The SDK initialised with an in-memory transport (short flush interval)."""
    transport = MemoryTransport()
    infersight.init(transport=transport, flush_interval=0.05)
    return transport
