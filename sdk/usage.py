"""Token usage of generative calls: read from vendor responses by duck typing, and checked.

Nothing here imports a vendor SDK. Two response shapes are understood, as attributes or as
dict keys, under ``result.usage``:

* OpenAI chat completions: ``prompt_tokens``, ``completion_tokens``,
  ``prompt_tokens_details.cached_tokens``, ``completion_tokens_details.reasoning_tokens``
  (the Responses API's ``input_tokens``, ``output_tokens``, ``input_tokens_details.cached_tokens``
  and ``output_tokens_details.reasoning_tokens`` too);
* Anthropic messages: ``input_tokens``, ``output_tokens``, ``cache_read_input_tokens``
  (and ``cache_creation_input_tokens``).

They become the wire names (:data:`~infersight.sdk.wire.USAGE_KEYS`) with one meaning:
``input_tokens`` counts every input token, cached ones included (Anthropic reports cache reads
and writes apart: they are added), ``cached_input_tokens`` is the part of them read from the
cache; ``output_tokens`` counts every output token, ``reasoning_tokens`` the part spent reasoning.

>>> from types import SimpleNamespace as NS
>>> openai = NS(usage=NS(prompt_tokens=120, completion_tokens=30,
...                      prompt_tokens_details=NS(cached_tokens=100), completion_tokens_details=None))
>>> usage_of(openai)
{'input_tokens': 120, 'output_tokens': 30, 'cached_input_tokens': 100}
>>> usage_of({"usage": {"input_tokens": 20, "output_tokens": 7, "cache_read_input_tokens": 100}})
{'input_tokens': 120, 'output_tokens': 7, 'cached_input_tokens': 100}
>>> usage_of(0.93) is None
True
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import Any

from .wire import MAX_NAME_CHARS, MAX_USAGE_KEYS, USAGE_KEYS

__all__ = ["MAX_TOKEN_COUNT", "checked_usage", "usage_of", "vendor_usage"]

MAX_TOKEN_COUNT = 2**63 - 1
"""The largest count the wire format's consumers read (a signed 64-bit integer)."""


def _field(holder: Any, name: str) -> Any:
    if holder is None:
        return None
    if type(holder) is dict or isinstance(holder, Mapping):
        return holder.get(name)
    return getattr(holder, name, None)


def _count(holder: Any, name: str) -> int | None:
    value = _field(holder, name)
    return value if type(value) is int and 0 <= value <= MAX_TOKEN_COUNT else None


def vendor_usage(usage: Any) -> dict[str, int] | None:
    """The token counts of an OpenAI- or Anthropic-shaped usage object or dict, if any
    (already checked: what is not a count is left out).

    >>> vendor_usage({"prompt_tokens": 9, "completion_tokens": 4,
    ...               "completion_tokens_details": {"reasoning_tokens": 3}})
    {'input_tokens': 9, 'output_tokens': 4, 'reasoning_tokens': 3}
    """
    if usage is None:  # the usual case for models that are not generative: keep it quick
        return None
    prompt, completion = _count(usage, "prompt_tokens"), _count(usage, "completion_tokens")
    if prompt is not None or completion is not None:  # OpenAI chat completions
        counts = {
            "input_tokens": prompt,
            "output_tokens": completion,
            "cached_input_tokens": _count(_field(usage, "prompt_tokens_details"), "cached_tokens"),
            "reasoning_tokens": _count(_field(usage, "completion_tokens_details"), "reasoning_tokens"),
        }
    else:
        inputs = _count(usage, "input_tokens")
        cache_read = _count(usage, "cache_read_input_tokens")
        cache_write = _count(usage, "cache_creation_input_tokens")
        if cache_read is not None or cache_write is not None:  # Anthropic: input_tokens excludes the cache
            inputs = (inputs or 0) + (cache_read or 0) + (cache_write or 0)
            cached = cache_read
        else:  # OpenAI Responses API (or Anthropic without cache fields)
            cached = _count(_field(usage, "input_tokens_details"), "cached_tokens")
        counts = {
            "input_tokens": inputs,
            "output_tokens": _count(usage, "output_tokens"),
            "cached_input_tokens": cached,
            "reasoning_tokens": _count(_field(usage, "output_tokens_details"), "reasoning_tokens"),
        }
    found = {name: count for name, count in counts.items() if count is not None}
    return found or None


def usage_of(result: Any) -> dict[str, int] | None:
    """The default ``monitor(usage=...)`` extractor: the token counts of ``result.usage``
    (attribute or key), or ``None`` when the result carries none."""
    return vendor_usage(_field(result, "usage"))


def _checked_count(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"usage[{name!r}] must be a token count, got {value!r}")
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise ValueError(f"usage[{name!r}] must be a whole number of tokens, got {value!r}")
        value = int(value)
    try:
        count = operator.index(value)
    except TypeError:
        raise ValueError(f"usage[{name!r}] must be an integer, got {type(value).__name__}") from None
    if not 0 <= count <= MAX_TOKEN_COUNT:
        raise ValueError(f"usage[{name!r}] must be in [0, 2**63 - 1], got {count}")
    return count


def checked_usage(usage: Any) -> dict[str, int]:
    """Token counts ready for the wire, from a mapping of names (``None`` counts are left out)
    or a vendor usage object (``response.usage``); raises ``ValueError`` saying what is wrong.

    Names other than :data:`~infersight.sdk.wire.USAGE_KEYS` are kept (the service ignores
    them) within the wire's bound of 16 entries: beyond it the standard names are kept
    first, then the others in order.

    >>> checked_usage({"input_tokens": 12.0, "output_tokens": None, "audio_tokens": 3})
    {'input_tokens': 12, 'audio_tokens': 3}
    >>> checked_usage({"input_tokens": -1})
    Traceback (most recent call last):
    ...
    ValueError: usage['input_tokens'] must be in [0, 2**63 - 1], got -1
    """
    if not isinstance(usage, Mapping):
        counts = vendor_usage(usage)
        if counts is None:
            raise ValueError(f"usage: no token counts in a {type(usage).__name__} "
                             "(give a mapping such as {'input_tokens': 12, 'output_tokens': 3})")
        return counts
    checked: dict[str, int] = {}
    for name, value in usage.items():
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS:
            raise ValueError(f"usage: name {name!r} must be a string of 1-{MAX_NAME_CHARS} characters")
        if value is not None:
            checked[name] = _checked_count(name, value)
    if len(checked) > MAX_USAGE_KEYS:
        room = MAX_USAGE_KEYS - sum(name in checked for name in USAGE_KEYS)
        others = [name for name in checked if name not in USAGE_KEYS][:room]
        checked = {name: count for name, count in checked.items() if name in USAGE_KEYS or name in others}
    return checked
