"""Distances between two binned distributions (current ``p`` vs reference ``q``, same bins).

Each function takes raw counts or proportions (they are normalised) and returns a float. PSI and
KL divergence replace zero proportions by ``EPSILON`` and renormalise (a zero would make them
infinite); Jensen-Shannon and Hellinger are finite on zeros and use the exact proportions.

Examples
--------
>>> round(psi([60, 40], [50, 50]), 4)
0.0405
>>> round(js_distance([60, 40], [50, 50]), 4)
0.0854
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Replaces a zero proportion in PSI and KL divergence.
EPSILON = 1e-4

ArrayF = npt.NDArray[np.float64]


def proportions(counts: npt.ArrayLike) -> ArrayF:
    """Normalise non-negative counts to proportions summing to 1.

    Examples
    --------
    >>> proportions([1, 3]).tolist()
    [0.25, 0.75]
    """
    arr = np.asarray(counts, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("counts must be a non-empty 1-D array")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError("counts must be finite and non-negative")
    total = arr.sum()
    if total <= 0:
        raise ValueError("counts sum to zero: no distribution to compare")
    out: ArrayF = arr / total
    return out


def _pair(p: npt.ArrayLike, q: npt.ArrayLike) -> tuple[ArrayF, ArrayF]:
    pp, qq = proportions(p), proportions(q)
    if pp.shape != qq.shape:
        raise ValueError(f"p and q have different numbers of bins ({pp.size} vs {qq.size})")
    return pp, qq


def _smoothed(x: ArrayF) -> ArrayF:
    y = np.where(x == 0, EPSILON, x)
    out: ArrayF = y / y.sum()
    return out


def psi(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Population stability index ``Σ (pᵢ - qᵢ)·ln(pᵢ/qᵢ)`` (zeros replaced by ``EPSILON``).

    Examples
    --------
    >>> psi([1, 1], [1, 1])
    0.0
    """
    pp, qq = _pair(p, q)
    ps, qs = _smoothed(pp), _smoothed(qq)
    return float(np.sum((ps - qs) * np.log(ps / qs)))


def kl_divergence(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Kullback-Leibler divergence ``KL(p‖q) = Σ pᵢ ln(pᵢ/qᵢ)`` in nats (zeros → ``EPSILON``).

    Equals ``scipy.stats.entropy(p, q)`` on the smoothed proportions.

    Examples
    --------
    >>> round(kl_divergence([60, 40], [50, 50]), 4)
    0.0201
    """
    pp, qq = _pair(p, q)
    ps, qs = _smoothed(pp), _smoothed(qq)
    return float(np.sum(ps * np.log(ps / qs)))


def js_distance(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Jensen-Shannon distance, base 2 (as ``scipy.spatial.distance.jensenshannon(p, q, base=2)``).

    Examples
    --------
    >>> js_distance([1, 0], [0, 1])
    1.0
    """
    pp, qq = _pair(p, q)
    m = 0.5 * (pp + qq)

    def _kl_to_m(x: ArrayF) -> float:
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    js = 0.5 * (_kl_to_m(pp) + _kl_to_m(qq))
    return float(np.sqrt(max(js, 0.0)))


def hellinger(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Hellinger distance ``sqrt(1 - Σ sqrt(pᵢ qᵢ))``, range [0, 1].

    Examples
    --------
    >>> hellinger([1, 0], [0, 1])
    1.0
    """
    pp, qq = _pair(p, q)
    bc = float(np.sum(np.sqrt(pp * qq)))
    return float(np.sqrt(max(1.0 - bc, 0.0)))


class Side:
    """One distribution's proportions, smoothed proportions and non-zero mask: what
    :func:`all_distances` derives from each side, kept so a reference's side is derived once.

    Examples
    --------
    >>> Side([1, 3]).proportions.tolist()
    [0.25, 0.75]
    """

    __slots__ = ("nonzero", "proportions", "smoothed")

    def __init__(self, counts: npt.ArrayLike) -> None:
        self.proportions = proportions(counts)
        self.smoothed = _smoothed(self.proportions)
        self.nonzero = self.proportions > 0


def all_distances(p: npt.ArrayLike, q: npt.ArrayLike) -> dict[str, float]:
    """``psi``, ``js_distance``, ``hellinger`` and ``kl_divergence`` in one pass.

    Examples
    --------
    >>> d = all_distances([60, 40], [50, 50])
    >>> d["psi"] == psi([60, 40], [50, 50]), sorted(d)
    (True, ['hellinger', 'js_distance', 'kl_divergence', 'psi'])
    """
    return distances_to(p, Side(q))


def distances_to(p: npt.ArrayLike, reference: Side) -> dict[str, float]:
    """:func:`all_distances` of ``p`` against a prepared reference side (the same floats).

    Examples
    --------
    >>> distances_to([60, 40], Side([50, 50])) == all_distances([60, 40], [50, 50])
    True
    """
    pp, qq = proportions(p), reference.proportions
    if pp.shape != qq.shape:
        raise ValueError(f"p and q have different numbers of bins ({pp.size} vs {qq.size})")
    ps, qs = _smoothed(pp), reference.smoothed
    log_ratio = np.log(ps / qs)
    m = 0.5 * (pp + qq)
    nz_p, nz_q = pp > 0, reference.nonzero
    # ndarray.sum(): np.sum's reduction without its dispatch (the same floats)
    js = 0.5 * (float((pp[nz_p] * np.log2(pp[nz_p] / m[nz_p])).sum())
                + float((qq[nz_q] * np.log2(qq[nz_q] / m[nz_q])).sum()))
    bc = float(np.sqrt(pp * qq).sum())
    return {"psi": float(((ps - qs) * log_ratio).sum()),
            "js_distance": float(np.sqrt(max(js, 0.0))),
            "hellinger": float(np.sqrt(max(1.0 - bc, 0.0))),
            "kl_divergence": float((ps * log_ratio).sum())}
