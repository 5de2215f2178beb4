"""Drift decision rules: the default table, per-model overrides and per-feature overrides.

A :class:`DriftConfig` is plain data (JSON-safe via :meth:`DriftConfig.to_dict` /
:meth:`DriftConfig.from_dict`), stored per model. The default table (see docs/statistics.md):

==============  =======================  =======================================
feature         n ≤ ``large_sample``     n > ``large_sample``
==============  =======================  =======================================
numeric         KS p-value < 0.05 (BH)   wasserstein_normed > 0.1 or PSI > 0.2
categorical     χ² p-value < 0.05 (BH)   js_distance > 0.1 or PSI > 0.2
==============  =======================  =======================================

``n`` is the window's number of non-missing values of the feature.

Examples
--------
>>> config = DriftConfig.from_dict({"features": {"age": {"test": "psi", "threshold": 0.25}}})
>>> config.rules_for("age", "numeric", 50)
(Rule(test='psi', threshold=0.25),)
>>> [r.test for r in config.rules_for("income", "numeric", 50_000)]
['wasserstein_normed', 'psi']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from .stattests import TESTS, TestName


class Rule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One test and its threshold (a p-value level for ``ks``/``chi2``, else a distance)."""

    test: TestName
    threshold: float

    def __post_init__(self) -> None:
        if not (self.threshold == self.threshold) or self.threshold < 0:
            raise ValueError(f"threshold of {self.test!r} must be a non-negative number")
        if TESTS[self.test].kind == "pvalue" and not 0 < self.threshold < 1:
            raise ValueError(f"threshold of {self.test!r} is a p-value level: it must be in (0, 1)")


Rules = tuple[Rule, ...]


class DriftConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which tests decide drift, by feature type and sample size, with per-feature overrides.

    A feature drifts when any of its rules fires. An empty rule list for a feature turns its
    drift decision off (it is then left out of ``drift_share``).
    """

    large_sample: int = 1000
    numeric_small: Rules = (Rule("ks", 0.05),)
    numeric_large: Rules = (Rule("wasserstein_normed", 0.1), Rule("psi", 0.2))
    categorical_small: Rules = (Rule("chi2", 0.05),)
    categorical_large: Rules = (Rule("js_distance", 0.1), Rule("psi", 0.2))
    features: dict[str, Rules] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.large_sample < 1:
            raise ValueError("large_sample must be a positive number of values")
        for kind in ("numeric", "categorical"):
            for size in ("small", "large"):
                for rule in getattr(self, f"{kind}_{size}"):
                    if kind not in TESTS[rule.test].feature_kinds:
                        raise ValueError(f"{kind}_{size}: test {rule.test!r} does not apply "
                                         f"to {kind} features")

    def rules_for(self, feature: str, kind: str, n: int) -> Rules:
        """Rules deciding drift for ``feature`` of ``kind`` with ``n`` values in the window."""
        if feature in self.features:
            rules = self.features[feature]
            for rule in rules:
                if kind not in TESTS[rule.test].feature_kinds:
                    raise ValueError(f"feature {feature!r}: test {rule.test!r} does not apply "
                                     f"to {kind} features")
            return rules
        size = "small" if n <= self.large_sample else "large"
        rules_by_kind: Rules = getattr(self, f"{kind}_{size}")
        return rules_by_kind

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (as stored per model)."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftConfig:
        """Build from a dict; a single rule may stand for a one-rule list. Bad input → ValueError.

        Examples
        --------
        >>> DriftConfig.from_dict({"numeric_large": [{"test": "ks", "threshold": 2}]})
        Traceback (most recent call last):
        ...
        ValueError: invalid drift config: threshold of 'ks' is a p-value level: it must be in (0, 1) - at `$.numeric_large[0]`
        """
        if not isinstance(data, Mapping):
            raise ValueError("drift config must be a mapping")
        normalised = dict(data)
        for key in ("numeric_small", "numeric_large", "categorical_small", "categorical_large"):
            if isinstance(normalised.get(key), Mapping):
                normalised[key] = [normalised[key]]
        feats = normalised.get("features")
        if isinstance(feats, Mapping):
            normalised["features"] = {name: [r] if isinstance(r, Mapping) else r
                                      for name, r in feats.items()}
        try:
            return msgspec.convert(normalised, cls)
        except msgspec.ValidationError as exc:
            raise ValueError(f"invalid drift config: {exc}") from exc
