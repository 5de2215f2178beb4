"""``@infersight.monitor``: a decorator for sync and async functions and methods, and a
context manager for code that is not a single call, streamed responses included.

On each call the wrapper reads the clock, builds one tuple and puts it on the queue
without blocking; extractors (features, prediction, token usage) run later on the
background thread. The function's result is returned unchanged; an exception it raises
is logged as an error event (``"error": "<ExceptionType>"``, ``prediction: null``) and
re-raised unchanged.

>>> import infersight
>>> from infersight.sdk import MemoryTransport
>>> sent = MemoryTransport()
>>> infersight.init(transport=sent)
>>> with infersight.monitor(model="pricing", version="2") as call:
...     call.features = {"rooms": 3, "city": "Lyon"}
...     call.prediction = 241_000.0
>>> infersight.flush()
True
>>> sent.events[0]["features"], sent.events[0]["prediction"]
({'rooms': 3, 'city': 'Lyon'}, 241000.0)
>>> infersight.shutdown()
"""

from __future__ import annotations

import functools
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextvars import ContextVar, Token
from random import random as _random
from time import perf_counter_ns
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

from . import client as _client
from . import ids as _ids
from .config import check_sample_rate, field_names, tag_map
from .extract import is_data_like
from .records import CALL, PREDICTION

__all__ = ["FirstTokenStream", "Monitor", "MonitoredCall", "monitor"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
_LAST = _ids.LAST_PREDICTION_ID
_next_number = _ids.next_number
_SCALARS = (int, float, str, bool, type(None))


class _CallSpec:
    """What the background thread needs to turn a decorated function's call into events."""

    __slots__ = (
        "default_names", "drops_self", "feature_names", "features", "hash", "model",
        "prediction", "redact", "tags", "usage", "version",
    )

    def __init__(self, monitor: Monitor, parameter_names: Sequence[str], drops_self: bool) -> None:
        self.model = monitor.model
        self.version = monitor.version
        self.features = monitor.features
        self.prediction = monitor.prediction
        self.feature_names = monitor.feature_names
        self.tags = monitor.tags
        self.redact = monitor.redact
        self.hash = monitor.hash
        self.usage = monitor.usage
        self.drops_self = drops_self
        self.default_names = tuple(parameter_names[1:] if drops_self else parameter_names)

    def default_features(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The first data-like argument (dict, DataFrame, array, pydantic model, ...), else
        the scalar arguments by parameter name."""
        for value in args:
            if is_data_like(value):
                return value
        for value in kwargs.values():
            if is_data_like(value):
                return value
        named = dict(zip(self.default_names, args, strict=False))
        named.update(kwargs)
        return {name: value for name, value in named.items() if type(value) in _SCALARS}


class MonitoredCall:
    """The handle of ``with monitor(...) as call``: set ``features``, ``prediction`` and
    ``usage`` on it; for a streamed response, mark the first chunk with :meth:`first_token`
    or iterate the stream through :meth:`iterate`.

    ``usage`` takes token counts by name (``{"input_tokens": 12, "output_tokens": 40}``) or
    a vendor's usage object as is (``response.usage`` of OpenAI or Anthropic).
    ``ttft_ms`` is the time to the first token in milliseconds; :meth:`first_token` sets it,
    or set it yourself.

    >>> import time, infersight
    >>> from infersight.sdk import MemoryTransport
    >>> sent = MemoryTransport()
    >>> infersight.init(transport=sent)
    >>> def stream():
    ...     time.sleep(0.01)  # the model thinks before its first chunk
    ...     yield from ["Bon", "jour"]
    >>> with infersight.monitor(model="chat") as call:
    ...     call.features = {"prompt_chars": 12}
    ...     call.prediction = "".join(call.iterate(stream()))
    ...     call.usage = {"input_tokens": 3, "output_tokens": 2}
    >>> infersight.flush()
    True
    >>> event = sent.events[0]
    >>> event["prediction"], event["usage"], 10 <= event["ttft_ms"] <= event["latency_ms"]
    ('Bonjour', {'input_tokens': 3, 'output_tokens': 2}, True)
    >>> infersight.shutdown()
    """

    __slots__ = ("_start_ns", "_token", "features", "prediction", "prediction_id", "sampled", "tags",
                 "ttft_ms", "usage")

    def __init__(self, prediction_id: str, sampled: bool) -> None:
        self.prediction_id = prediction_id
        self.features: Any = None
        self.prediction: Any = None
        self.usage: Any = None
        self.ttft_ms: float | None = None
        self.tags: Mapping[str, Any] | None = None
        self.sampled = sampled
        self._token: Token[MonitoredCall | None] | None = None
        self._start_ns = perf_counter_ns()

    def log(self, features: Any = None, prediction: Any = None, usage: Any = None) -> None:
        """Set the call's features, prediction and usage in one go."""
        if features is not None:
            self.features = features
        if prediction is not None:
            self.prediction = prediction
        if usage is not None:
            self.usage = usage

    def first_token(self) -> None:
        """Record the time to the first token, since the ``with`` began; later calls do nothing."""
        if self.ttft_ms is None:
            self.ttft_ms = (perf_counter_ns() - self._start_ns) / 1e6

    def iterate(self, chunks: Iterable[T] | AsyncIterable[T]) -> FirstTokenStream[T]:
        """``chunks`` unchanged, calling :meth:`first_token` when the first one arrives:
        ``for chunk in call.iterate(stream)``, or ``async for`` over an async stream."""
        return FirstTokenStream(self, chunks)


class FirstTokenStream(Generic[T]):
    """What :meth:`MonitoredCall.iterate` returns: iterate it with ``for`` or ``async for``."""

    __slots__ = ("_call", "_chunks")

    def __init__(self, call: MonitoredCall, chunks: Iterable[T] | AsyncIterable[T]) -> None:
        self._call = call
        self._chunks = chunks

    def __iter__(self) -> Iterator[T]:
        chunks = iter(cast(Iterable[T], self._chunks))
        for chunk in chunks:
            self._call.first_token()
            yield chunk
            break
        yield from chunks

    async def __aiter__(self) -> AsyncIterator[T]:
        chunks = aiter(cast(AsyncIterable[T], self._chunks))
        async for chunk in chunks:
            self._call.first_token()
            yield chunk
            break
        async for chunk in chunks:
            yield chunk


class Monitor:
    """The object ``monitor(...)`` returns: a decorator and a (sync or async) context manager."""

    def __init__(
        self, model: str, version: str | None, features: Callable[..., Any] | None,
        prediction: Callable[[Any], Any] | None, prediction_id: Callable[..., Any] | None,
        feature_names: Sequence[str] | None, tags: Mapping[str, Any] | None,
        sample_rate: float | None, redact: Iterable[str] | None, hash: Iterable[str] | None,
        usage: Callable[[Any], Any] | bool | None = True,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ValueError(f"monitor() needs a model name (a non-empty string), got {model!r}")
        for name, extractor in (("features", features), ("prediction", prediction), ("prediction_id", prediction_id)):
            if extractor is not None and not callable(extractor):
                raise TypeError(f"monitor({name}=...) must be a callable, got {type(extractor).__name__}")
        if not (callable(usage) or usage in (True, False, None)):
            raise TypeError(f"monitor(usage=...) must be a callable, True or False, got {type(usage).__name__}")
        self.model = model
        self.version = None if version is None else str(version)
        self.features = features
        self.prediction = prediction
        self.prediction_id = prediction_id
        self.feature_names = None if feature_names is None else [str(name) for name in feature_names]
        self.tags = tag_map(tags) or None
        self.sample_rate = None if sample_rate is None else check_sample_rate(sample_rate)
        self.redact = field_names(redact, "redact")
        self.hash = field_names(hash, "hash")
        self.usage: Callable[[Any], Any] | bool | None = usage if callable(usage) or usage is True else None
        self._active: ContextVar[MonitoredCall | None] = ContextVar(f"infersight_monitor_{model}", default=None)

    # -- decorator ---------------------------------------------------------------------
    def __call__(self, func: F) -> F:
        if isinstance(func, classmethod | staticmethod):
            inner = self._wrap(func.__func__, drops_self=isinstance(func, classmethod))
            return cast(F, type(func)(inner))
        if not callable(func):
            raise TypeError(f"monitor() decorates a function, got {type(func).__name__}")
        return cast(F, self._wrap(func, drops_self=None))

    def _wrap(self, func: Callable[..., Any], drops_self: bool | None) -> Callable[..., Any]:
        import inspect  # at decoration time only

        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(
                f"monitor() cannot decorate the generator function {func.__qualname__}: "
                "decorate the function that returns the prediction"
            )
        code = getattr(inspect.unwrap(func), "__code__", None)
        names = list(code.co_varnames[: code.co_argcount]) if code is not None else []
        if drops_self is None:
            drops_self = bool(names) and names[0] in {"self", "cls"}
        spec = _CallSpec(self, names, drops_self)
        if inspect.iscoroutinefunction(func):
            return _async_wrapper(func, spec, self.sample_rate, self.prediction_id)
        return _sync_wrapper(func, spec, self.sample_rate, self.prediction_id)

    # -- context manager ---------------------------------------------------------------
    def __enter__(self) -> MonitoredCall:
        try:
            client = _client.current()
            rate = self.sample_rate if self.sample_rate is not None else client.sample_rate
            sampled = rate >= 1.0 or _random() < rate
            call = MonitoredCall(_ids.new_prediction_id(), sampled)
            _LAST.set(call.prediction_id if sampled else None)
        except Exception:  # never raise into user code
            call = MonitoredCall("", sampled=False)
        call._token = self._active.set(call)
        return call

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        call = self._active.get()
        if call is None:
            return
        if call._token is not None:
            try:
                self._active.reset(call._token)
            except ValueError:  # exited in another context than entered
                self._active.set(None)
        if not call.sampled:
            return
        try:
            end_ns = perf_counter_ns()
            error = exc_type.__name__ if exc_type is not None and issubclass(exc_type, Exception) else None
            tags = {**(self.tags or {}), **tag_map(call.tags)} if call.tags else self.tags
            _client.current().submit((
                PREDICTION, self.model, self.version, call.features, call.prediction,
                (end_ns - call._start_ns) / 1e6, call.prediction_id, None, tags, self.feature_names,
                self.redact, self.hash, error, end_ns, call.usage, call.ttft_ms,
            ))
        except Exception:  # never raise into user code
            pass

    async def __aenter__(self) -> MonitoredCall:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def _sync_wrapper(
    func: Callable[..., Any], spec: _CallSpec, sample_rate: float | None, ids: Callable[..., Any] | None
) -> Callable[..., Any]:
    @functools.wraps(func)
    def monitored(*args: Any, **kwargs: Any) -> Any:
        client = _client._current or _client.current()
        rate = client.sample_rate if sample_rate is None else sample_rate
        if rate < 1.0 and _random() >= rate:
            _LAST.set(None)
            return func(*args, **kwargs)
        start = perf_counter_ns()
        try:
            result = func(*args, **kwargs)
        except Exception as exc:
            _record(client, spec, ids, args, kwargs, None, type(exc).__name__, start)
            raise
        end = perf_counter_ns()
        try:
            number = _next_number()
            _LAST.set(number)
            client.submit((CALL, spec, args, kwargs, result, None, start, end, number,
                           None if ids is None else _user_ids(ids, spec, args, kwargs)))
        except Exception:  # never raise into user code
            pass
        return result

    monitored.__infersight_spec__ = spec  # type: ignore[attr-defined]
    return monitored


def _async_wrapper(
    func: Callable[..., Any], spec: _CallSpec, sample_rate: float | None, ids: Callable[..., Any] | None
) -> Callable[..., Any]:
    @functools.wraps(func)
    async def monitored(*args: Any, **kwargs: Any) -> Any:
        client = _client._current or _client.current()
        rate = client.sample_rate if sample_rate is None else sample_rate
        if rate < 1.0 and _random() >= rate:
            _LAST.set(None)
            return await func(*args, **kwargs)
        start = perf_counter_ns()
        try:
            result = await func(*args, **kwargs)
        except Exception as exc:
            _record(client, spec, ids, args, kwargs, None, type(exc).__name__, start)
            raise
        _record(client, spec, ids, args, kwargs, result, None, start)
        return result

    monitored.__infersight_spec__ = spec  # type: ignore[attr-defined]
    return monitored


def _record(
    client: _client.Client, spec: _CallSpec, ids: Callable[..., Any] | None, args: tuple[Any, ...],
    kwargs: dict[str, Any], result: Any, error: str | None, start_ns: int,
) -> None:
    try:
        end_ns = perf_counter_ns()
        number = _next_number()
        _LAST.set(number)
        user_ids = None if ids is None else _user_ids(ids, spec, args, kwargs)
        client.submit((CALL, spec, args, kwargs, result, error, start_ns, end_ns, number, user_ids))
    except Exception:  # never raise into user code
        pass


def _user_ids(ids: Callable[..., Any], spec: _CallSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The caller's own prediction id(s), read on the call path so last_prediction_id() sees it."""
    try:
        value = ids(*(args[1:] if spec.drops_self else args), **kwargs)
    except Exception:
        return None
    if isinstance(value, str):
        _LAST.set(value)
    return value


def monitor(
    model: str,
    version: str | None = None,
    *,
    features: Callable[..., Any] | None = None,
    prediction: Callable[[Any], Any] | None = None,
    prediction_id: Callable[..., Any] | None = None,
    feature_names: Sequence[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    sample_rate: float | None = None,
    redact: Iterable[str] | None = None,
    hash: Iterable[str] | None = None,
    usage: Callable[[Any], Any] | bool | None = True,
) -> Monitor:
    """Monitor a model's calls: ``@monitor(model=...)`` or ``with monitor(model=...) as call``.

    ``features`` receives the call's arguments (without ``self``/``cls`` for methods) and
    returns the input: a mapping, DataFrame (one event per row), array (with
    ``feature_names``), pydantic model or dataclass. Default: the first such argument,
    else the scalar arguments by parameter name. ``prediction`` receives the result
    (default: the result itself). ``prediction_id`` receives the arguments and returns
    your own id (a sequence of ids for a batch); it runs on the call path, keep it
    cheap. ``redact`` drops fields, ``hash`` replaces them by a SHA-256 prefix.
    ``sample_rate`` defaults to ``init(sample_rate=...)``.

    ``usage`` receives the result and returns its token counts (a mapping such as
    ``{"input_tokens": 12, "output_tokens": 40}``, a vendor usage object, or ``None``); by
    default the counts of ``result.usage`` in the OpenAI or Anthropic shape are read
    (:func:`infersight.sdk.usage.usage_of`); ``usage=False`` turns it off. It runs on the
    background thread; if it raises, the event is sent without usage (counted in
    ``stats()["dropped_fields"]``).

    >>> import infersight
    >>> infersight.init(transport="memory")
    >>> class Scorer:
    ...     @infersight.monitor(model="churn", prediction=lambda out: out["p"])
    ...     def score(self, customer):
    ...         return {"p": 0.25}
    >>> Scorer().score({"tenure": 14, "plan": "pro"})
    {'p': 0.25}
    >>> infersight.last_prediction_id() is not None
    True
    >>> @infersight.monitor(model="chat", prediction=lambda out: out["text"])
    ... def answer(question):
    ...     return {"text": "42", "usage": {"prompt_tokens": 9, "completion_tokens": 1}}
    >>> answer("meaning of life?")["text"]
    '42'
    >>> infersight.flush()
    True
    >>> infersight.sdk.active_transport().events[-1]["usage"]
    {'input_tokens': 9, 'output_tokens': 1}
    >>> infersight.shutdown()
    """
    return Monitor(model, version, features, prediction, prediction_id, feature_names, tags, sample_rate,
                   redact, hash, usage)
