"""Token usage, time to first token and errors of generative calls, through the memory transport."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace as NS
from typing import Any

import pytest
from infersight.sdk import MemoryTransport
from infersight.sdk.wire import decode_batch

import infersight


def _events(memory: MemoryTransport) -> list[dict[str, Any]]:
    assert infersight.flush(timeout=5)
    return memory.events


def _decoded(memory: MemoryTransport) -> list[Any]:
    """The predictions as the service reads them (the SDK's own encoded batches)."""
    assert infersight.flush(timeout=5)
    predictions = []
    for batch in memory.batches:
        decoded = decode_batch(batch.value)
        assert decoded.rejected == []
        predictions += decoded.predictions
    return predictions


class OpenAIUsage:
    """An attribute-only response shape, like the OpenAI SDK's pydantic objects."""

    def __init__(self, prompt: int, completion: int, cached: int, reasoning: int) -> None:
        self.prompt_tokens = prompt
        self.completion_tokens = completion
        self.total_tokens = prompt + completion
        self.prompt_tokens_details = NS(cached_tokens=cached, audio_tokens=None)
        self.completion_tokens_details = NS(reasoning_tokens=reasoning)


class ChatCompletion:
    def __init__(self, usage: Any) -> None:
        self.choices = [NS(message=NS(content="Bonjour"))]
        self.usage = usage


def test_default_extractor_reads_both_vendor_shapes_as_attributes_or_dicts(memory: MemoryTransport) -> None:
    @infersight.monitor(model="chat", prediction=lambda out: "answered")
    def complete(prompt: str, response: Any) -> Any:
        return response

    openai_attributes = ChatCompletion(OpenAIUsage(prompt=120, completion=30, cached=100, reasoning=12))
    openai_dict = {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2,
                                            "prompt_tokens_details": None}}
    anthropic_attributes = NS(content=[], usage=NS(input_tokens=20, output_tokens=5,
                                                   cache_read_input_tokens=100, cache_creation_input_tokens=0))
    anthropic_dict = {"usage": {"input_tokens": 11, "output_tokens": 4}}
    responses_api = NS(usage=NS(input_tokens=50, output_tokens=9, input_tokens_details=NS(cached_tokens=40),
                                output_tokens_details=NS(reasoning_tokens=6)))
    for response in (openai_attributes, openai_dict, anthropic_attributes, anthropic_dict, responses_api):
        assert complete("hi", response) is response
    assert [event["usage"] for event in _events(memory)] == [
        {"input_tokens": 120, "output_tokens": 30, "cached_input_tokens": 100, "reasoning_tokens": 12},
        {"input_tokens": 7, "output_tokens": 2},
        {"input_tokens": 120, "output_tokens": 5, "cached_input_tokens": 100},  # cache reads added
        {"input_tokens": 11, "output_tokens": 4},
        {"input_tokens": 50, "output_tokens": 9, "cached_input_tokens": 40, "reasoning_tokens": 6},
    ]
    assert [p.usage["input_tokens"] for p in _decoded(memory)] == [120, 7, 120, 11, 50]


def test_results_without_usage_send_no_usage_and_usage_false_turns_it_off(memory: MemoryTransport) -> None:
    @infersight.monitor(model="plain", prediction=lambda out: 0.5)
    def score(x: Any) -> Any:
        return x

    @infersight.monitor(model="plain", prediction=lambda out: 1, usage=False)
    def complete(prompt: str) -> Any:
        return {"usage": {"prompt_tokens": 7, "completion_tokens": 2}}

    score(0.5)
    score({"usage": "not token counts"})  # a usage the extractor does not recognise: none
    score(NS(usage=NS(prompt_tokens=True, completion_tokens=-3)))  # neither is a count
    complete("hi")
    events = _events(memory)
    assert len(events) == 4
    assert all("usage" not in event for event in events)
    assert infersight.stats()["dropped_fields"] == {}
    assert all(p.usage == {} for p in _decoded(memory))  # events without usage stay valid


def test_async_functions_report_usage_too(memory: MemoryTransport) -> None:
    @infersight.monitor(model="chat", prediction=lambda out: out["text"])
    async def complete(prompt: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"text": "ok", "usage": {"input_tokens": 4, "output_tokens": 1}}

    assert asyncio.run(complete("hi")) == {"text": "ok", "usage": {"input_tokens": 4, "output_tokens": 1}}
    [event] = _events(memory)
    assert (event["prediction"], event["usage"]) == ("ok", {"input_tokens": 4, "output_tokens": 1})


def test_custom_extractor_and_one_that_fails_never_cost_the_event(memory: MemoryTransport) -> None:
    @infersight.monitor(model="chat", prediction=lambda out: out["text"],
                        usage=lambda out: {"input_tokens": out["n_in"], "output_tokens": out["n_out"],
                                           "audio_tokens": 3.0})
    def complete(prompt: str, n_in: Any = 5, n_out: Any = 2) -> dict[str, Any]:
        return {"text": "ok", "n_in": n_in, "n_out": n_out}

    @infersight.monitor(model="chat", usage=lambda out: 1 / 0)
    def raising(prompt: str) -> str:
        return "raising"

    assert complete("a") == {"text": "ok", "n_in": 5, "n_out": 2}
    complete("b", n_in=-1)  # not a count
    complete("c", n_in=True)  # booleans are refused
    complete("d", n_in=2.5)  # not a whole number
    assert raising("e") == "raising"
    events = _events(memory)
    assert [event["prediction"] for event in events] == ["ok", "ok", "ok", "ok", "raising"]
    assert events[0]["usage"] == {"input_tokens": 5, "output_tokens": 2, "audio_tokens": 3}
    assert ["usage" in event for event in events] == [True, False, False, False, False]
    stats = infersight.stats()
    assert stats["dropped_fields"] == {"usage": 4}
    assert stats["dropped"] == 0


def test_a_raising_call_is_an_error_event_without_usage(memory: MemoryTransport) -> None:
    @infersight.monitor(model="chat")
    def complete(prompt: str) -> Any:
        raise TimeoutError("upstream model timed out")

    with pytest.raises(TimeoutError):
        complete("hi")
    [event] = _events(memory)
    assert (event["error"], event["prediction"], "usage" in event) == ("TimeoutError", None, False)
    [decoded] = _decoded(memory)
    assert decoded.error == "TimeoutError"


def test_log_prediction_takes_usage_error_and_time_to_first_token(memory: MemoryTransport) -> None:
    infersight.log_prediction(model="chat", features={"chars": 80}, prediction="Hi",
                              usage={"input_tokens": 20, "output_tokens": 3.0, "reasoning_tokens": None},
                              latency_ms=410.0, time_to_first_token_ms=95)
    infersight.log_prediction(model="chat", features={"chars": 81}, prediction="ignored",
                              error=ConnectionError("reset"), latency_ms=12.0)
    infersight.log_prediction(model="chat", features={"chars": 82}, prediction=None, error="RateLimitError",
                              usage=OpenAIUsage(prompt=9, completion=0, cached=0, reasoning=0))
    events = _events(memory)
    assert [(e.get("usage"), e.get("error"), e.get("ttft_ms"), e["prediction"]) for e in events] == [
        ({"input_tokens": 20, "output_tokens": 3}, None, 95.0, "Hi"),
        (None, "ConnectionError", None, None),
        ({"input_tokens": 9, "output_tokens": 0, "cached_input_tokens": 0, "reasoning_tokens": 0},
         "RateLimitError", None, None),
    ]
    decoded = _decoded(memory)
    assert (decoded[0].usage, decoded[0].ttft_ms) == ({"input_tokens": 20, "output_tokens": 3}, 95.0)


def test_malformed_usage_drops_the_event_and_bad_ttft_only_the_field(memory: MemoryTransport) -> None:
    for usage in ({"input_tokens": True}, {"input_tokens": -1}, {"input_tokens": "12"}, {"": 1},
                  {"input_tokens": 2**63}, "12 tokens"):
        infersight.log_prediction(model="chat", features={}, prediction=1, usage=usage)
    infersight.log_prediction(model="chat", features={}, prediction=1, time_to_first_token_ms="fast")
    infersight.log_prediction(model="chat", features={}, prediction=1, error=42)  # type: ignore[arg-type]
    for ttft in (-1.0, math.nan, math.inf):
        infersight.log_prediction(model="chat", features={"ttft": str(ttft)}, prediction=1,
                                  time_to_first_token_ms=ttft)
    events = _events(memory)
    assert [event["features"] for event in events] == [{"ttft": "-1.0"}, {"ttft": "nan"}, {"ttft": "inf"}]
    assert all("ttft_ms" not in event for event in events)
    stats = infersight.stats()
    assert stats["dropped_by_reason"] == {"invalid_event": 8}
    assert stats["dropped_fields"] == {"ttft_ms": 3}


def test_usage_beyond_sixteen_names_keeps_the_standard_ones_first(memory: MemoryTransport) -> None:
    usage = {f"extra_{i:02d}": i for i in range(20)} | {"input_tokens": 1, "output_tokens": 2}
    infersight.log_prediction(model="chat", features={}, prediction=1, usage=usage)
    [event] = _events(memory)
    assert len(event["usage"]) == 16
    assert (event["usage"]["input_tokens"], event["usage"]["output_tokens"]) == (1, 2)
    assert [name for name in event["usage"] if name.startswith("extra")] == [f"extra_{i:02d}" for i in range(14)]
    assert len(_decoded(memory)[0].usage) == 16


def _chunks(thinking: float) -> Iterator[str]:
    time.sleep(thinking)
    yield "Bon"
    time.sleep(0.02)
    yield "jour"


def test_streamed_call_records_time_to_first_chunk_before_the_end(memory: MemoryTransport) -> None:
    with infersight.monitor(model="chat") as call:
        call.features = {"prompt_chars": 12}
        text = "".join(call.iterate(_chunks(thinking=0.05)))
        call.prediction = text
        call.usage = NS(input_tokens=3, output_tokens=2)  # a vendor usage object, as is
    with infersight.monitor(model="chat") as manual:
        time.sleep(0.03)
        manual.first_token()
        first = manual.ttft_ms
        time.sleep(0.01)
        manual.first_token()  # idempotent
        assert manual.ttft_ms == first
    with infersight.monitor(model="chat") as empty:
        assert list(empty.iterate([])) == []
    streamed, marked, without = _events(memory)
    assert (streamed["prediction"], streamed["usage"]) == ("Bonjour", {"input_tokens": 3, "output_tokens": 2})
    assert 50 <= streamed["ttft_ms"] < streamed["latency_ms"]
    assert 30 <= marked["ttft_ms"] < marked["latency_ms"]
    assert "ttft_ms" not in without
    assert [p.ttft_ms is not None for p in _decoded(memory)] == [True, True, False]


def test_async_streams_record_time_to_first_chunk(memory: MemoryTransport) -> None:
    async def chunks() -> AsyncIterator[str]:
        await asyncio.sleep(0.04)
        yield "a"
        await asyncio.sleep(0.02)
        yield "b"

    async def main() -> str:
        async with infersight.monitor(model="chat") as call:
            parts = [chunk async for chunk in call.iterate(chunks())]
            call.prediction = "".join(parts)
            call.usage = {"input_tokens": 1, "output_tokens": 2}
        return call.prediction

    assert asyncio.run(main()) == "ab"
    [event] = _events(memory)
    assert 40 <= event["ttft_ms"] < event["latency_ms"]
    assert event["usage"] == {"input_tokens": 1, "output_tokens": 2}


def test_last_prediction_id_is_the_sent_id_also_in_a_forked_child(memory: MemoryTransport) -> None:
    @infersight.monitor(model="m")
    def predict(x: float) -> float:
        return x

    predict(1.0)
    parent_id = infersight.last_prediction_id()
    assert parent_id is not None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the inherited id is still the parent's; new ones have their own prefix
        try:
            child_id = infersight.sdk.ids.new_prediction_id()
            os.write(write, f"{infersight.last_prediction_id()} {child_id}".encode())
        finally:
            os._exit(0)
    os.close(write)
    inherited, child_id = os.read(read, 1000).decode().split()
    os.waitpid(pid, 0)
    assert inherited == parent_id
    assert child_id.split("-")[0] != parent_id.split("-")[0]
    [event] = _events(memory)
    assert event["prediction_id"] == parent_id


def test_exit_with_the_broker_down_ends_within_the_exit_timeout_and_counts_what_is_lost() -> None:
    code = textwrap.dedent("""
        import socket, time, infersight
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # closed once the socket is: nothing listens there
        infersight.init(transport=f"kafka://127.0.0.1:{port}")
        for i in range(50):
            infersight.log_prediction(model="m", features={"i": i}, prediction=1)
        time.sleep(0.2)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "INFERSIGHT_SDK_EXIT_TIMEOUT": "1s"})
    assert result.returncode == 0, result.stderr
    assert "dropped 50 event(s): exit_timeout" in result.stderr
