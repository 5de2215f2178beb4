"""The demo's simulated credit-default classifier: applicants, its scores and the truth.

Twenty features describe a loan applicant. The model scores the probability of default with
a fixed logistic formula that matches the world it was trained in. After the drift starts,
the world moves in two ways at once:

- *data drift*: eight inputs shift (incomes fall, debt and utilisation rise, more applications
  come through a partner channel for debt consolidation, ...), so about 40 % of the features
  drift — above the built-in ``data_drift_share`` threshold of 0.3;
- *concept drift*: defaults start to depend on something the model gives little weight
  (recent delinquencies), so its realised F1 falls well below the reference F1.

``intensity`` in [0, 1] scales both (0 before the drift, ramping to 1).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> batch = applicants(rng, 1000, intensity=0.0)
>>> len(batch), len(batch["annual_income"])
(20, 1000)
>>> scores = default_score(batch)
>>> bool(((scores > 0) & (scores < 1)).all())
True
>>> shifted = applicants(rng, 1000, intensity=1.0)
>>> bool(shifted["annual_income"].mean() < batch["annual_income"].mean())
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Columns = dict[str, npt.NDArray[Any]]

MODEL = "credit-default"
VERSION = "1"
SHARPNESS = 1.6
"""Scale of the logit: how separable defaults are before the drift."""

NUMERIC_FEATURES = (
    "age",
    "annual_income",
    "debt_to_income",
    "credit_utilization",
    "open_accounts",
    "late_payments_12m",
    "months_since_delinquency",
    "loan_amount",
    "loan_term_months",
    "interest_rate",
    "employment_years",
    "credit_inquiries_6m",
    "savings_balance",
    "revolving_balance",
    "installment_to_income",
    "credit_history_years",
)
CATEGORICAL_FEATURES = ("home_ownership", "loan_purpose", "region", "application_channel")
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES

DRIFTING_FEATURES = (
    "annual_income",
    "debt_to_income",
    "credit_utilization",
    "loan_amount",
    "interest_rate",
    "credit_inquiries_6m",
    "loan_purpose",
    "application_channel",
)
"""The inputs that shift once the drift starts (8 of 20)."""

_HOME = np.array(["rent", "mortgage", "own", "other"])
_PURPOSE = np.array(["debt_consolidation", "home_improvement", "car", "business", "medical",
                     "education"])
_REGION = np.array(["north", "south", "east", "west", "central"])
_CHANNEL = np.array(["web", "branch", "mobile", "partner"])


def _mix(before: list[float], after: list[float], intensity: float) -> npt.NDArray[np.float64]:
    p = (1 - intensity) * np.asarray(before) + intensity * np.asarray(after)
    return np.asarray(p / p.sum(), dtype=np.float64)


def applicants(rng: np.random.Generator, n: int, intensity: float = 0.0) -> Columns:
    """``n`` applicants as columns; ``intensity`` in [0, 1] is how far the drift has gone."""
    k = float(min(max(intensity, 0.0), 1.0))
    age = np.clip(rng.normal(41, 12, n), 18, 90).round()
    income = rng.lognormal(np.log(58_000) - 0.35 * k, 0.45, n).round(-2)
    dti = np.clip(rng.normal(0.28 + 0.03 * k, 0.1, n), 0.0, 1.2)
    utilization = np.clip(rng.beta(2.0 + 0.5 * k, 4.0, n), 0.0, 1.0)
    late = rng.poisson(0.4, n).astype(float)
    since_delinquency = np.clip(rng.exponential(40, n), 0, 240).round()
    loan_amount = rng.lognormal(np.log(14_000) + 0.3 * k, 0.6, n).round(-2)
    term = rng.choice([36.0, 60.0], n, p=[0.7, 0.3])
    rate = np.clip(rng.normal(0.11 + 0.035 * k, 0.03, n), 0.03, 0.35)
    employment = np.clip(rng.gamma(2.0, 3.5, n), 0, 45).round(1)
    inquiries = rng.poisson(1.0 + 1.6 * k, n).astype(float)
    savings = rng.lognormal(np.log(6_000), 1.0, n).round(-1)
    revolving = rng.lognormal(np.log(8_000), 0.8, n).round(-1)
    installment = np.clip(loan_amount / np.maximum(income, 1) / term * 12 * 1.3, 0, 2)
    history = np.clip(age - 18 - rng.uniform(0, 6, n), 0, 60).round(1)
    return {
        "age": age,
        "annual_income": income,
        "debt_to_income": dti,
        "credit_utilization": utilization,
        "open_accounts": rng.poisson(7, n).astype(float),
        "late_payments_12m": late,
        "months_since_delinquency": since_delinquency,
        "loan_amount": loan_amount,
        "loan_term_months": term,
        "interest_rate": rate,
        "employment_years": employment,
        "credit_inquiries_6m": inquiries,
        "savings_balance": savings,
        "revolving_balance": revolving,
        "installment_to_income": installment,
        "credit_history_years": history,
        "home_ownership": rng.choice(_HOME, n, p=[0.38, 0.42, 0.17, 0.03]),
        "loan_purpose": rng.choice(
            _PURPOSE, n, p=_mix([0.35, 0.2, 0.15, 0.12, 0.1, 0.08],
                                [0.6, 0.1, 0.1, 0.1, 0.05, 0.05], k)),
        "region": rng.choice(_REGION, n, p=[0.2, 0.22, 0.18, 0.25, 0.15]),
        "application_channel": rng.choice(
            _CHANNEL, n, p=_mix([0.45, 0.25, 0.22, 0.08], [0.3, 0.15, 0.2, 0.35], k)),
    }


def _model_logit(x: Columns) -> npt.NDArray[np.float64]:
    return np.asarray(
        -1.9
        + 9.0 * (x["debt_to_income"] - 0.28)
        + 7.0 * (x["credit_utilization"] - 0.33)
        + 1.6 * x["late_payments_12m"]
        + 0.2 * (x["credit_inquiries_6m"] - 1.0)
        - 1.2 * (np.log(x["annual_income"]) - np.log(58_000))
        - 0.08 * (x["employment_years"] - 7.0)
        + 6.0 * (x["interest_rate"] - 0.11)
        + 0.8 * (x["home_ownership"] == "rent")
        - 0.02 * (x["age"] - 41),
        dtype=np.float64,
    )


def default_score(x: Columns) -> npt.NDArray[np.float64]:
    """The model's predicted probability of default (what the demo logs as its prediction)."""
    return np.asarray(1.0 / (1.0 + np.exp(-SHARPNESS * _model_logit(x))), dtype=np.float64)


def default_probability(x: Columns, intensity: float = 0.0) -> npt.NDArray[np.float64]:
    """The true probability of default: the model's formula before the drift; afterwards
    recent delinquencies matter far more and the model's signal far less (concept drift)."""
    k = float(min(max(intensity, 0.0), 1.0))
    recent = np.exp(-x["months_since_delinquency"] / 12.0)
    logit = (1 - 0.8 * k) * SHARPNESS * _model_logit(x) + k * (5.0 * recent - 2.2)
    return np.asarray(1.0 / (1.0 + np.exp(-logit)), dtype=np.float64)


def outcomes(rng: np.random.Generator, x: Columns, intensity: float = 0.0) -> npt.NDArray[np.int64]:
    """Whether each applicant defaults (1) or repays (0): the labels that arrive later."""
    return (rng.random(len(x["age"])) < default_probability(x, intensity)).astype(np.int64)
