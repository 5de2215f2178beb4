"""Reference uploads: a JSON document of columns, a CSV file or a Parquet file → ``Reference``.

JSON is what :func:`infersight.upload_reference` sends::

    {"features": {"amount": [12.5, 3.0], "country": ["FR", "DE"]},
     "predictions": [0.2, 0.9] | null, "labels": [0, 1] | null,
     "task": "binary" | null, "positive_class": 1 | null, "threshold": 0.5 | null}

CSV and Parquet carry one column per feature; ``label_column``, ``prediction_column`` and
``score_column`` name the columns that are not features. Every problem is a
:class:`UploadProblem` naming the field, so the route answers 4xx, never 500.

>>> import io
>>> parsed = parse_csv(io.BytesIO(b"x,y,label\\n1,a,0\\n2,b,1\\n"), UploadOptions(label_column="label"))
>>> sorted(parsed.features), parsed.labels
(['x', 'y'], [0, 1])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import IO, Any

import msgspec
from infersight.sdk.reference import TASKS

PARQUET_MAGIC = b"PAR1"


class UploadProblem(ValueError):
    """What is wrong with an upload, and where (``body.features``, ``query.label_column``)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass
class UploadOptions:
    """Query parameters of a CSV/Parquet upload (JSON carries its own)."""

    label_column: str | None = None
    prediction_column: str | None = None
    score_column: str | None = None
    task: str | None = None
    positive_class: Any = None
    threshold: float | None = None
    feature_types: dict[str, str] | None = None


@dataclass
class ParsedReference:
    """Columns ready for :meth:`infersight.drift.Reference.from_data`."""

    features: Any
    predictions: list[Any] | None = None
    labels: list[Any] | None = None
    task: str | None = None
    positive_class: Any = None
    threshold: float | None = None
    rows: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    feature_types: dict[str, str] | None = None


class _JsonReference(msgspec.Struct, forbid_unknown_fields=False):
    features: dict[str, list[Any]]
    predictions: list[Any] | None = None
    labels: list[Any] | None = None
    task: str | None = None
    positive_class: Any = None
    threshold: float | None = None
    feature_types: dict[str, str] | None = None


def parse_json(body: bytes) -> ParsedReference:
    """The SDK's JSON document of columns."""
    try:
        doc = msgspec.json.decode(body, type=_JsonReference)
    except msgspec.ValidationError as exc:
        path = str(exc).rsplit("at `$", 1)
        where = "body" + (path[1].rstrip("`").replace("[", ".").replace("]", "") if len(path) > 1 else "")
        raise UploadProblem(where, str(exc).split(" - at ")[0]) from None
    except msgspec.DecodeError as exc:
        raise UploadProblem("body", f"not valid JSON: {exc}") from None
    if not doc.features:
        raise UploadProblem("body.features", "no feature columns")
    lengths = {name: len(col) for name, col in doc.features.items()}
    rows = next(iter(lengths.values()))
    if len(set(lengths.values())) > 1:
        raise UploadProblem("body.features", f"columns differ in length: {lengths}")
    if rows == 0:
        raise UploadProblem("body.features", "the reference has no rows")
    for what, values in (("predictions", doc.predictions), ("labels", doc.labels)):
        if values is not None and len(values) != rows:
            raise UploadProblem(f"body.{what}", f"has {len(values)} values, features have {rows} rows")
    return ParsedReference(doc.features, doc.predictions, doc.labels, doc.task,
                           doc.positive_class, doc.threshold, rows,
                           feature_types=doc.feature_types)


def _from_frame(frame: Any, options: UploadOptions) -> ParsedReference:
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    named = {"label_column": options.label_column, "prediction_column": options.prediction_column,
             "score_column": options.score_column}
    for option, wanted in named.items():
        if wanted is not None and wanted not in columns:
            raise UploadProblem(f"query.{option}", f"no column {wanted!r} (columns: {', '.join(columns[:50])})")
    used = {c for c in named.values() if c is not None}
    features = frame[[c for c in columns if c not in used]]
    if features.shape[1] == 0:
        raise UploadProblem("body", "no feature columns left besides the label/prediction/score ones")
    if len(frame) == 0:
        raise UploadProblem("body", "the reference has no rows")

    def column(name: str | None) -> list[Any] | None:
        if name is None:
            return None
        values = frame[name].tolist()
        return [None if isinstance(v, float) and math.isnan(v) else v for v in values]

    labels = column(options.label_column)
    scores = column(options.score_column)
    predicted = column(options.prediction_column)
    predictions: list[Any] | None
    if predicted is not None and scores is not None:
        predictions = [{"label": p, "score": s} for p, s in zip(predicted, scores, strict=True)]
    else:
        predictions = predicted if predicted is not None else scores
    return ParsedReference(features, predictions, labels, options.task, options.positive_class,
                           options.threshold, len(frame), feature_types=options.feature_types)


def parse_csv(stream: IO[bytes], options: UploadOptions) -> ParsedReference:
    """A CSV file with a header row; a column whose every value is a JSON array of numbers
    (``"[0.12, -0.5, …]"``) holds vectors (an embedding feature)."""
    import pandas as pd

    try:
        frame = pd.read_csv(stream)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UploadProblem("body", f"not a readable CSV file: {str(exc).splitlines()[0][:300]}") from None
    for name in frame.columns:
        vectors = _json_arrays(frame[name].tolist())
        if vectors is not None:
            frame[name] = vectors
    return _from_frame(frame, options)


def _json_arrays(values: list[Any]) -> list[Any] | None:
    """The values as lists when every non-missing one is a JSON array of numbers, else None."""
    present = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    if not present or not all(isinstance(v, str) and v.lstrip().startswith("[") for v in present):
        return None
    try:
        decoded = [msgspec.json.decode(v, type=list[float]) if isinstance(v, str) else None
                   for v in values]
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return decoded


def parse_parquet(stream: IO[bytes], options: UploadOptions) -> ParsedReference:
    """A Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(stream).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UploadProblem("body", f"not a readable Parquet file: {str(exc)[:300]}") from None
    return _from_frame(frame, options)


def non_number_warnings(reference: Any, parsed: ParsedReference, shown: int = 5) -> list[str]:
    """What the upload should tell: numeric features holding values that are not numbers
    (profiled as missing), by row (1-based, in the data) and value."""
    from infersight.drift.columns import non_numbers

    features = parsed.features
    warnings = []
    for name, kind in reference.feature_kinds.items():
        if kind != "numeric" or name not in features:
            continue
        column = features[name]
        bad = non_numbers(column.tolist() if hasattr(column, "tolist") else column)
        if bad:
            listed = ", ".join(f"row {row + 1} {value!r}" for row, value in bad[:shown])
            more = f" and {len(bad) - shown} more" if len(bad) > shown else ""
            warnings.append(f"feature {name!r}: {len(bad)} value(s) are not numbers and were "
                            f"profiled as missing: {listed}{more}")
    return warnings


def build_reference(parsed: ParsedReference) -> Any:
    """The :class:`~infersight.drift.Reference` profile of the parsed columns."""
    from infersight.drift import Reference

    if parsed.task is not None and parsed.task not in TASKS:
        raise UploadProblem("task", f"must be one of {', '.join(TASKS)}, got {parsed.task!r}")
    threshold = 0.5 if parsed.threshold is None else parsed.threshold
    if isinstance(threshold, bool) or not (isinstance(threshold, int | float) and math.isfinite(threshold)):
        raise UploadProblem("threshold", f"must be a finite number, got {threshold!r}")
    try:
        return Reference.from_data(parsed.features, predictions=parsed.predictions,
                                   labels=parsed.labels, task=parsed.task,
                                   positive_label=parsed.positive_class, threshold=float(threshold),
                                   feature_types=parsed.feature_types)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise UploadProblem("body", f"cannot profile this reference: {exc}") from None
