"""The price of model calls: per million tokens, per request and per second of latency.

A call's cost is linear in what it reports::

    (input - cached) · input + cached · cached_input + output · output      (per million tokens)
    + per_request + latency_s · per_second

``input_tokens`` counts every input token, the cached ones included (``cached_input_tokens``
is the part of them served from a cache). With a ``cached_input_per_million`` price the
cached tokens are charged at it and only the rest at the input price; without one every
input token is charged at the input price. Reasoning tokens are part of the output tokens
and are not charged again. A missing price counts as zero. Being linear, the cost of a set
of calls at one price follows from their sums (:meth:`Price.cost_of_sums`).

Examples
--------
>>> price = Price(input_per_million=2.5, output_per_million=10.0, cached_input_per_million=1.25)
>>> price.call_cost({"input_tokens": 1000, "cached_input_tokens": 400, "output_tokens": 200}, 800.0)
0.004
>>> history = PriceHistory([(0.0, Price(per_request=0.01)), (100.0, Price(per_request=0.02))])
>>> history.at(50.0).per_request, history.at(150.0).per_request, history.at(-1.0)
(0.01, 0.02, None)
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PRICE_FIELDS = ("input_per_million", "output_per_million", "cached_input_per_million",
                "per_request", "per_second")
"""The prices a model's pricing may set (each ≥ 0)."""


@dataclass(frozen=True, slots=True)
class Price:
    """One price revision (absent prices are None and count as zero)."""

    currency: str = "USD"
    input_per_million: float | None = None
    output_per_million: float | None = None
    cached_input_per_million: float | None = None
    per_request: float | None = None
    per_second: float | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Price:
        """From the stored pricing (``currency`` and the :data:`PRICE_FIELDS` given)."""
        return cls(str(d.get("currency", "USD")),
                   *(None if d.get(f) is None else float(d[f]) for f in PRICE_FIELDS))

    def cost_of_sums(self, calls: int, input_tokens: int, cached_input_tokens: int,
                     output_tokens: int, latency_s: float) -> float:
        """The cost of ``calls`` calls with these token and latency sums.

        Examples
        --------
        >>> Price(per_request=0.5, per_second=0.1).cost_of_sums(4, 0, 0, 0, 10.0)
        3.0
        """
        def p(value: float | None) -> float:
            return 0.0 if value is None else value

        if self.cached_input_per_million is None:
            token_cost = input_tokens * p(self.input_per_million)
        else:
            token_cost = ((input_tokens - cached_input_tokens) * p(self.input_per_million)
                          + cached_input_tokens * self.cached_input_per_million)
        token_cost += output_tokens * p(self.output_per_million)
        return token_cost / 1e6 + calls * p(self.per_request) + latency_s * p(self.per_second)

    def call_cost(self, usage: Mapping[str, int] | None, latency_ms: float | None) -> float:
        """The cost of one call (``usage`` token counts, ``latency_ms`` None = no latency)."""
        usage = usage or {}
        return self.cost_of_sums(1, usage.get("input_tokens", 0),
                                 usage.get("cached_input_tokens", 0),
                                 usage.get("output_tokens", 0),
                                 0.0 if latency_ms is None else latency_ms / 1000.0)


class PriceHistory:
    """Price revisions by the time (epoch seconds) they come into force."""

    def __init__(self, revisions: Sequence[tuple[float, Price]] = ()) -> None:
        ordered = sorted(revisions, key=lambda r: r[0])
        self._starts = [start for start, _price in ordered]
        self._prices = [price for _start, price in ordered]

    def __bool__(self) -> bool:
        return bool(self._prices)

    def at(self, ts: float) -> Price | None:
        """The price in force at ``ts`` (the latest revision at or before it), or None."""
        index = bisect.bisect_right(self._starts, ts) - 1
        return self._prices[index] if index >= 0 else None
