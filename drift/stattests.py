"""Two-sample tests on binned data: Kolmogorov-Smirnov, χ² contingency, Benjamini-Hochberg.

Each test is a small pure function; :data:`TESTS` describes every test and distance a drift rule
may name (kind, what a drift looks like, default threshold).

Examples
--------
>>> ks_pvalue(0.05, 1000, 1000) < 0.2
True
>>> TESTS["psi"].drifted(0.3, 0.2)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special, stats

TestName = Literal["ks", "chi2", "psi", "js_distance", "hellinger", "kl_divergence",
                   "wasserstein_normed"]


@dataclass(frozen=True)
class StatTest:
    """What a drift rule may name: the metric it reads and how a threshold applies.

    ``kind == "pvalue"``: drift when the (Benjamini-Hochberg adjusted) p-value is below the
    threshold; ``kind == "distance"``: drift when the value is above the threshold.
    """

    name: str
    metric: str
    kind: Literal["pvalue", "distance"]
    feature_kinds: tuple[str, ...]
    default_threshold: float

    def drifted(self, value: float, threshold: float) -> bool:
        """Apply the threshold to a metric value (NaN never drifts)."""
        if np.isnan(value):
            return False
        return value < threshold if self.kind == "pvalue" else value > threshold


TESTS: dict[str, StatTest] = {
    "ks": StatTest("ks", "ks_pvalue", "pvalue", ("numeric",), 0.05),
    "chi2": StatTest("chi2", "chi2_pvalue", "pvalue", ("categorical",), 0.05),
    "psi": StatTest("psi", "psi", "distance", ("numeric", "categorical"), 0.2),
    "js_distance": StatTest("js_distance", "js_distance", "distance",
                            ("numeric", "categorical"), 0.1),
    "hellinger": StatTest("hellinger", "hellinger", "distance", ("numeric", "categorical"), 0.1),
    "kl_divergence": StatTest("kl_divergence", "kl_divergence", "distance",
                              ("numeric", "categorical"), 0.1),
    "wasserstein_normed": StatTest("wasserstein_normed", "wasserstein_normed", "distance",
                                   ("numeric",), 0.1),
}


def ks_statistic_binned(current_counts: npt.ArrayLike, reference_counts: npt.ArrayLike) -> float:
    """KS statistic ``max |F_cur - F_ref|`` evaluated at the bin boundaries.

    With exact counts per bin this is a lower bound of the statistic on the raw data, short of it
    by at most the largest reference proportion in one bin.

    Examples
    --------
    >>> ks_statistic_binned([0, 10], [10, 0])
    1.0
    """
    ref = np.asarray(reference_counts, dtype=np.float64)
    if ref.sum() <= 0:
        raise ValueError("need two non-empty count vectors over the same bins")
    return ks_statistic_cdf(current_counts, np.cumsum(ref) / ref.sum())


def ks_statistic_cdf(current_counts: npt.ArrayLike, reference_cdf: npt.NDArray[np.float64]
                     ) -> float:
    """:func:`ks_statistic_binned` against the reference's CDF at the bin boundaries,
    ``cumsum(reference_counts) / sum`` (derived once per reference; the same floats).

    Examples
    --------
    >>> ks_statistic_cdf([0, 10], np.array([1.0, 1.0]))
    1.0
    """
    cur = np.asarray(current_counts, dtype=np.float64)
    if cur.shape != reference_cdf.shape or cur.sum() <= 0:
        raise ValueError("need two non-empty count vectors over the same bins")
    diff = np.cumsum(cur) / cur.sum() - reference_cdf
    return float(np.max(np.abs(diff)))


#: Below this, KS p-values come from the limiting Kolmogorov distribution (scipy's ``kstwo``
#: takes tens of milliseconds in the far tail; both are ~0 for any decision).
KS_TAIL_PVALUE = 1e-20

#: From this effective size ``en`` on, KS p-values come from the limiting Kolmogorov
#: distribution (``scipy.special.kolmogorov(D·sqrt(en))``, microseconds) instead of scipy's
#: finite-n ``kstwo`` (up to ~0.2 s per feature at large ``en``). Measured over a grid of D
#: and en ≥ 3250: the limiting p-value is never smaller than ``kstwo``'s and exceeds it by at
#: most 0.0049 (0.0025 where p ≤ 0.2), shrinking like 0.28/sqrt(en) — see docs/statistics.md.
KS_ASYMPTOTIC_MIN_EN = 3250


def ks_pvalue(statistic: float, n: int, m: int) -> float:
    """Two-sided asymptotic KS p-value for samples of sizes ``n`` and ``m``.

    Uses the effective size ``en = round(n·m/(n+m))``. Below ``KS_ASYMPTOTIC_MIN_EN`` it is
    scipy's ``kstwo.sf(D, en)``, as ``scipy.stats.ks_2samp(..., method="asymp")`` computes;
    from there on, and for p-values under ``KS_TAIL_PVALUE``, the limiting distribution
    ``kstwobign`` at ``D·sqrt(en)``, which is never smaller (a conservative p-value).

    Examples
    --------
    >>> ks_pvalue(0.0, 10, 10)
    1.0
    >>> from scipy import stats
    >>> ks_pvalue(0.02, 10_000, 10_000) >= float(stats.kstwo.sf(0.02, 5000))
    True
    """
    return float(ks_pvalues([statistic], [n], [m])[0])


def ks_pvalues(statistics: npt.ArrayLike, n: npt.ArrayLike, m: npt.ArrayLike
               ) -> npt.NDArray[np.float64]:
    """Vectorised :func:`ks_pvalue` (one scipy call for many features).

    Examples
    --------
    >>> float(ks_pvalues([0.0, 0.05], [1000, 1000], [1000, 1000])[0])
    1.0
    """
    d = np.asarray(statistics, dtype=np.float64)
    nn, mm = np.asarray(n, dtype=np.float64), np.asarray(m, dtype=np.float64)
    if d.size == 0:
        return d
    if np.any(nn <= 0) or np.any(mm <= 0):
        raise ValueError("both samples must be non-empty")
    en = np.round(nn * mm / (nn + mm))
    pvalues = np.asarray(special.kolmogorov(d * np.sqrt(en)), dtype=np.float64)
    finite_n = (pvalues > KS_TAIL_PVALUE) & (en < KS_ASYMPTOTIC_MIN_EN)
    if np.any(finite_n):
        pvalues[finite_n] = stats.kstwo.sf(d[finite_n], en[finite_n])
    return np.clip(pvalues, 0.0, 1.0)


def chi2_two_sample(current_counts: npt.ArrayLike, reference_counts: npt.ArrayLike
                    ) -> tuple[float, float]:
    """χ² test of homogeneity on the 2xk table [reference; current] → ``(statistic, p-value)``.

    Same semantics as ``scipy.stats.chi2_contingency`` (Yates' correction when there is one
    degree of freedom); categories empty in both samples are dropped. With a single category
    left there is nothing to test and the p-value is 1.

    Examples
    --------
    >>> stat, p = chi2_two_sample([50, 50], [50, 50])
    >>> p
    1.0
    """
    table = np.vstack([np.asarray(reference_counts, dtype=np.float64),
                       np.asarray(current_counts, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return 0.0, 1.0
    total = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    dof = table.shape[1] - 1
    diff = table - expected
    if dof == 1:
        direction = np.sign(diff)
        diff = direction * np.minimum(np.abs(diff), 0.5)
        diff = (table - expected) - diff
    stat = float(np.sum(diff * diff / expected))
    # scipy.stats.chi2.sf(stat, dof) is special.chdtrc(dof, stat) on stat >= 0, without the
    # distribution machinery's argument checks (a tenth of a millisecond a feature)
    return stat, float(special.chdtrc(dof, stat))


def benjamini_hochberg(pvalues: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``).

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.5]).round(3).tolist()
    [0.03, 0.06, 0.5]
    """
    arr = np.asarray(pvalues, dtype=np.float64)
    if arr.size == 0:
        return arr
    return np.asarray(stats.false_discovery_control(arr, method="bh"), dtype=np.float64)
