"""The scripted Messages API itself: the checks it makes on our requests, its SSE in the API's event order, the
cache simulation and its recording, so that what the other LLM tests assert rests on a sound stand-in."""
from __future__ import annotations

import asyncio
import json

import httpx2

from telco.testing import scripted_api as s
from telco.testing.cache_sim import CacheSimulator
from telco.testing.scripted_api import ScriptedMessagesApi, check_request


def post(api, body):
    async def go():
        async with api.http_client() as http:
            r = await http.post("http://scripted.invalid/v1/messages", json=body)
            return r.status_code, r.headers, await r.aread()
    return asyncio.run(go())


def body(**kw):
    return {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **kw}


def test_requests_the_real_api_would_refuse_get_a_400_and_are_noted():
    use = {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}]}
    cases = {
        "max_tokens: Field required": {"model": "m", "messages": [{"role": "user", "content": "x"}]},
        "without tool_result": body(messages=[{"role": "user", "content": "q"}, use,
                                              {"role": "user", "content": "no results here"}]),
        "unknown tool_use ids": body(messages=[{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t9", "content": "x"}]}]),
        "tool_use.input must be an object": body(messages=[
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": "{"}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}]}]),
        "not among the request's tools": body(tool_choice={"type": "tool", "name": "decide"}),
        "first message must use the user role": body(messages=[{"role": "assistant", "content": "hi"}]),
        "at most 4 blocks with cache_control": body(system=[
            {"type": "text", "text": str(i), "cache_control": {"type": "ephemeral"}} for i in range(5)]),
    }
    for expected, b in cases.items():
        assert expected in (check_request(b) or ""), expected
        api = ScriptedMessagesApi([s.text("never sent")])
        status, _, raw = post(api, b)
        assert status == 400 and expected in json.loads(raw)["error"]["message"]
        assert len(api.problems) == 1 and api.pending == 1
    good = body(messages=[{"role": "user", "content": "q"}, use,
                          {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}])
    assert check_request(good) is None


def test_an_exhausted_script_answers_400_and_says_so():
    api = ScriptedMessagesApi([])
    status, _, raw = post(api, body())
    assert status == 400 and api.problems == ["scripted API: no reply left for request 1"]


def test_a_script_function_sees_the_request_and_its_errors_are_not_retried():
    def script(b):
        if s.forced_tool(b) == "boom":
            raise KeyError("boom")
        return s.tool_use(s.forced_tool(b), {"ok": True})

    api = ScriptedMessagesApi(script)
    tools = [{"name": "decide", "input_schema": {"type": "object"}}, {"name": "boom", "input_schema": {"type": "object"}}]
    status, _, raw = post(api, body(tools=tools, tool_choice={"type": "tool", "name": "decide"}))
    msg = json.loads(raw)
    assert status == 200 and msg["content"][0]["name"] == "decide" and msg["stop_reason"] == "tool_use"
    status, headers, _ = post(api, body(tools=tools, tool_choice={"type": "tool", "name": "boom"}))
    assert status == 500 and headers["x-should-retry"] == "false" and "KeyError" in api.problems[0]


def test_error_replies_carry_the_api_error_shape_and_retry_after():
    api = ScriptedMessagesApi([s.rate_limited(2), s.overloaded(None)])
    status, headers, raw = post(api, body())
    assert status == 429 and headers["retry-after"] == "2"
    assert json.loads(raw) == {"type": "error", "error": {"type": "rate_limit_error",
                                                          "message": "Number of requests has exceeded your rate "
                                                                     "limit (scripted)"}}
    status, headers, raw = post(api, body())
    assert status == 529 and "retry-after" not in headers and json.loads(raw)["error"]["type"] == "overloaded_error"


def test_a_streamed_answer_follows_the_api_event_order():
    api = ScriptedMessagesApi([s.tool_use("decide", {"intent": "x", "confidence": 0.5}, preface="Checking.",
                                          usage={"input_tokens": 10, "output_tokens": 7})])
    status, headers, raw = post(api, body(stream=True, tools=[{"name": "decide", "input_schema": {"type": "object"}}]))
    assert status == 200 and headers["content-type"] == "text/event-stream"
    frames = [f for f in raw.decode().split("\n\n") if f]
    names = [f.split("\n")[0].removeprefix("event: ") for f in frames]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert names[1:3] == ["content_block_start", "ping"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 2
    data = [json.loads(f.split("\n")[1].removeprefix("data: ")) for f in frames]
    assert data[0]["message"]["content"] == [] and data[0]["message"]["usage"]["input_tokens"] == 10
    partial = "".join(d["delta"]["partial_json"] for d in data if d.get("delta", {}).get("type") == "input_json_delta")
    assert json.loads(partial) == {"intent": "x", "confidence": 0.5}
    assert data[-2]["delta"]["stop_reason"] == "tool_use" and data[-2]["usage"] == {"output_tokens": 7}


def test_the_cache_simulation_reads_an_unchanged_prefix_and_respects_the_minimum():
    sim = CacheSimulator(chars_per_token=4, min_cacheable_tokens=50)
    stable = {"type": "text", "text": "x" * 400, "cache_control": {"type": "ephemeral"}}
    a = body(system=[stable, {"type": "text", "text": "turn one"}])
    b = body(system=[stable, {"type": "text", "text": "turn two, longer"}])
    first, second = sim.usage(a), sim.usage(b)
    assert first["cache_read_input_tokens"] == 0 and first["cache_creation_input_tokens"] > 100
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0 and second["input_tokens"] > first["input_tokens"]
    other_model = sim.usage({**b, "model": "claude-haiku-4-5"})
    assert other_model["cache_read_input_tokens"] == 0  # caches are per model
    short = CacheSimulator(min_cacheable_tokens=10_000).usage(a)
    assert short["cache_creation_input_tokens"] == short["cache_read_input_tokens"] == 0
    unmarked = sim.usage(body(system=[{"type": "text", "text": "x" * 400}]))
    assert unmarked["cache_creation_input_tokens"] == 0


def test_cache_entries_expire_after_their_ttl():
    now = [0.0]
    sim = CacheSimulator(min_cacheable_tokens=0, ttl_s=300, clock=lambda: now[0])
    b = body(system=[{"type": "text", "text": "y" * 200, "cache_control": {"type": "ephemeral"}}])
    sim.usage(b)
    now[0] = 299
    assert sim.usage(b)["cache_read_input_tokens"] > 0  # and the read refreshes the entry
    now[0] = 598
    assert sim.usage(b)["cache_read_input_tokens"] > 0
    now[0] = 899
    assert sim.usage(b)["cache_read_input_tokens"] == 0


def test_requests_are_recorded_with_headers_and_an_unknown_path_is_404():
    api = ScriptedMessagesApi([s.text("hello")])

    async def go():
        async with api.http_client() as http:
            r = await http.get("http://scripted.invalid/v1/models")
            await http.post("http://scripted.invalid/v1/messages", json=body(), headers={"x-stainless-retry-count": "2"})
            return r.status_code

    assert asyncio.run(go()) == 404
    [req] = api.requests
    assert req.body == body() and req.retry_count == 2 and not req.stream
    assert isinstance(api.transport(), httpx2.MockTransport)
