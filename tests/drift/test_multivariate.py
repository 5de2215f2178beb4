"""Multivariate drift by reconstruction error, against scikit-learn on the same data: the
per-row errors of a StandardScaler + PCA(0.65) pipeline, exact merging of any split, and the
decision on broken correlations that no univariate test sees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from infersight.drift import Reference, compare
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler


def correlated(rng: np.random.Generator, n: int, broken: bool = False) -> dict[str, np.ndarray]:
    """Four numeric features driven by two factors, and a categorical one; ``broken`` flips
    the sign of one factor's second loading: every marginal stays, the correlation inverts."""
    s, t = rng.normal(size=n), rng.normal(size=n)
    noise = rng.normal(size=(4, n)) / 4
    return {"a": s + noise[0], "b": (-s if broken else s) + noise[1], "c": t + noise[2],
            "d": t + noise[3], "city": rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2])}


def loosely_correlated(rng: np.random.Generator, n: int,
                       broken: bool = False) -> dict[str, np.ndarray]:
    """Six numeric features sharing one weak factor, and the categorical one: keeping 65 % of
    the variance takes most axes, so the error is measured on the few discarded ones."""
    s = rng.normal(size=n)
    columns = {name: 0.6 * (-s if broken and name == "b" else s) + rng.normal(size=n)
               for name in "abcdef"}
    return {**columns, "city": rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2])}


GENERATORS = {"few components": correlated, "few discarded axes": loosely_correlated}


@pytest.mark.parametrize("shape", GENERATORS)
def test_row_errors_equal_a_scikit_learn_scaler_and_pca_pipeline(shape: str) -> None:
    rng = np.random.default_rng(3)
    generate = GENERATORS[shape]
    reference, current = generate(rng, 5000), generate(rng, 700, broken=True)
    profile = Reference.from_data(reference).multivariate
    numeric = [name for name in reference if name != "city"]
    assert profile is not None and profile.features == [*numeric, "city"]
    assert (profile.residual is not None) == (shape == "few discarded axes")

    def encoded(columns: dict[str, np.ndarray]) -> np.ndarray:  # count encoding, normalised
        frequencies = pd.Series(reference["city"]).value_counts(normalize=True)
        city = pd.Series(columns["city"]).map(frequencies).to_numpy()
        return np.column_stack([*(columns[name] for name in numeric), city])

    scaler = StandardScaler().fit(encoded(reference))
    pca = PCA(n_components=0.65, svd_solver="full").fit(scaler.transform(encoded(reference)))
    scaled = scaler.transform(encoded(current))
    expected = np.linalg.norm(scaled - pca.inverse_transform(pca.transform(scaled)), axis=1)
    assert profile.components.shape[0] == pca.n_components_
    np.testing.assert_allclose(profile.errors(current, 700), expected, rtol=1e-9, atol=1e-12)


def test_missing_values_are_imputed_as_the_references_mean_and_most_frequent_category() -> None:
    rng = np.random.default_rng(4)
    reference = correlated(rng, 2000)
    profile = Reference.from_data(reference).multivariate
    assert profile is not None
    row = {"a": [None], "b": [1.0], "c": [float("nan")], "d": [0.5], "city": [None]}
    filled = {"a": [float(np.mean(reference["a"]))], "b": [1.0],
              "c": [float(np.mean(reference["c"]))], "d": [0.5], "city": ["x"]}
    assert profile.errors(row, 1)[0] == pytest.approx(profile.errors(filled, 1)[0], rel=1e-12)


@pytest.mark.parametrize("shape", GENERATORS)
def test_any_split_of_a_window_merges_to_the_whole_bit_for_bit(shape: str) -> None:
    rng = np.random.default_rng(5)
    reference = Reference.from_data(GENERATORS[shape](rng, 3000))
    data = GENERATORS[shape](rng, 1000, broken=True)
    whole = reference.new_window()
    whole.update(data)
    merged = reference.new_window()
    for start, stop in ((0, 1), (1, 8), (8, 501), (501, 1000)):
        part = reference.new_window()
        part.update({name: column[start:stop] for name, column in data.items()})
        merged.merge(reference.window_from_bytes(part.to_bytes()))
    assert merged.reconstruction is not None and whole.reconstruction is not None
    assert merged.reconstruction.to_dict() == whole.reconstruction.to_dict()
    assert compare(reference, merged).model == compare(reference, whole).model


def test_broken_correlations_drift_multivariately_and_not_univariately() -> None:
    rng = np.random.default_rng(6)
    reference = Reference.from_data(correlated(rng, 20_000))
    window = reference.new_window()
    window.update(correlated(rng, 1000, broken=True))
    report = compare(reference, window)
    assert report.drift_share == 0.0  # every marginal holds
    assert report.model["multivariate_drift"] == 1.0
    assert report.model["reconstruction_error_drift"] > 10


def test_unchanged_windows_do_not_drift_multivariately() -> None:
    rng = np.random.default_rng(7)
    reference = Reference.from_data(correlated(rng, 5000))
    flagged = 0
    for _ in range(300):
        window = reference.new_window()
        window.update(correlated(rng, 500))
        flagged += compare(reference, window).model["multivariate_drift"] == 1.0
    assert flagged == 0  # the decision is at 0.001 a window


@pytest.mark.parametrize("shape", GENERATORS)
def test_a_reference_keeps_its_transform_through_bytes_and_old_references_have_none(
        shape: str) -> None:
    rng = np.random.default_rng(8)
    reference = Reference.from_data(GENERATORS[shape](rng, 1000))
    restored = Reference.from_bytes(reference.to_bytes())
    assert restored.fingerprint == reference.fingerprint
    assert restored.multivariate is not None
    data = GENERATORS[shape](rng, 50)
    np.testing.assert_array_equal(restored.multivariate.errors(data, 50),
                                  reference.multivariate.errors(data, 50))
    single = Reference.from_data({"a": rng.normal(size=1000)})
    assert single.multivariate is None and "multivariate_drift" not in compare(
        single, single.new_window()).model
