"""The Message Batches endpoints of the scripted Messages API through the real anthropic SDK, and the LLM judge
that sends every transcript of a prompt evaluation in one batch."""
from __future__ import annotations

import asyncio

import anthropic
import pytest

from jobs.prompts.judge import BATCH_PRICE, TOOL, judge_arms, judge_request, transcript_text
from jobs.prompts.model_source import scripted_source
from telco.testing.loopback import serve
from telco.llm.prices import cached_prices
from telco.testing.scripted_api import ScriptedMessagesApi, expired, server_error, text, tool_use
from telco.testing.guided_model import guided_reply

MODEL = "claude-sonnet-4-6"


def request(custom_id: str, said: str) -> dict:
    return {"custom_id": custom_id, "params": {"model": MODEL, "max_tokens": 16,
                                               "messages": [{"role": "user", "content": said}]}}


def by_text(body: dict):
    said = body["messages"][0]["content"]
    return {"ok": text("fine"), "late": expired(), "broken": server_error()}[said]


async def run_batch(client: anthropic.AsyncAnthropic, requests: list[dict]) -> tuple[list[str], object, dict]:
    batch = await client.messages.batches.create(requests=requests)
    statuses = [batch.processing_status]
    while batch.processing_status != "ended":
        batch = await client.messages.batches.retrieve(batch.id)
        statuses.append(batch.processing_status)
    results = {r.custom_id: r.result async for r in await client.messages.batches.results(batch.id)}
    return statuses, batch, results


def test_a_batch_is_processed_after_polling_and_its_results_are_read_as_jsonl():
    api = ScriptedMessagesApi(by_text, batch_polls=2)
    client = anthropic.AsyncAnthropic(api_key="sk-test", base_url="http://scripted.invalid",
                                      http_client=api.http_client())
    statuses, batch, results = asyncio.run(run_batch(client, [request("a-0", "ok"), request("a-1", "late"),
                                                              request("b-0", "broken")]))
    assert statuses == ["in_progress", "in_progress", "in_progress", "ended"]
    assert batch.request_counts.model_dump() == {"processing": 0, "succeeded": 1, "errored": 1, "canceled": 0,
                                                 "expired": 1}
    assert batch.results_url.endswith(f"/v1/messages/batches/{batch.id}/results") and batch.ended_at is not None
    assert results["a-0"].type == "succeeded" and results["a-0"].message.content[0].text == "fine"
    assert results["a-1"].type == "expired"
    assert results["b-0"].type == "errored" and results["b-0"].error.error.type == "api_error"
    assert not api.problems and len(api.requests) == 3  # each entry answered once, by the same script


def test_batches_over_a_loopback_socket_and_bad_batches_refused():
    api = ScriptedMessagesApi(by_text, batch_polls=0)
    async def go(url: str) -> tuple:
        client = anthropic.AsyncAnthropic(api_key="sk-test", base_url=url, max_retries=0)
        out = await run_batch(client, [request("x", "ok")])
        refused = 0
        for bad in ([request("same", "ok"), request("same", "ok")], [request("has space", "ok")], []):
            try:
                await client.messages.batches.create(requests=bad)
            except anthropic.BadRequestError:
                refused += 1
        return out, refused
    with serve(api) as url:
        (statuses, batch, results), refused = asyncio.run(go(url))
    assert statuses[-1] == "ended" and results["x"].type == "succeeded"
    assert batch.results_url.startswith(url) and refused == 3
    assert any("unique" in p for p in api.problems) and any("custom_id" in p for p in api.problems)


def test_the_judge_scores_each_arm_in_one_batch_and_counts_what_failed():
    def script(body: dict):
        said = body["messages"][0]["content"]
        if "case 3" in said:
            return expired()
        if "case 4" in said:
            return server_error()
        if "case 5" in said:  # out of the 1-5 range: not a valid JudgeScores
            return tool_use(TOOL, {"accuracy": 9, "efficiency": 3, "appropriateness": 3, "reason": "x"})
        return guided_reply(body)
    api = ScriptedMessagesApi(script)
    short = [("customer", "My data stopped."), ("system", "I understand your data stopped. Is airplane mode on?")]
    long = [("customer", "My data stopped."), ("system", "Let me look. " + "More words here to pad. " * 12)]
    arms = {"control": [transcript_text(long, f"case {n}; end state reached: yes") for n in range(6)],
            "candidate": [transcript_text(short, f"case {n}; end state reached: yes") for n in (0, 1, 2)]}
    scores, batch = judge_arms(scripted_source(api), arms)
    c, k = scores["control"], scores["candidate"]
    assert (c.n, c.judged, c.expired, c.errored, c.unreadable, c.unfinished) == (6, 3, 1, 1, 1, 0)
    assert (k.n, k.judged) == (3, 3)
    assert k.efficiency > c.efficiency and k.appropriateness > c.appropriateness and k.accuracy == 5
    assert batch["request_counts"]["succeeded"] == 7 and len({r.headers["x-batch-id"] for r in api.requests}) == 1
    # accounted at the batch price: half of what the same tokens cost as single calls
    asked = [r for r in api.requests if r.forced_tool == TOOL]
    assert len(asked) == 9 and all(r.body["tool_choice"] == {"type": "tool", "name": TOOL} for r in asked)
    assert k.input_tokens > 0 and k.output_tokens > 0
    full = cached_prices(str(scripted_source(api).settings.prices_file)).cost(
        MODEL, input_tokens=k.input_tokens, output_tokens=k.output_tokens)
    assert k.cost_usd == pytest.approx(BATCH_PRICE * full, rel=1e-3)


def test_a_batch_that_does_not_end_in_time_is_reported_unfinished():
    api = ScriptedMessagesApi(lambda body: text("late"), batch_polls=10_000)
    scores, batch = judge_arms(scripted_source(api), {"a": ["t1", "t2"]}, poll_s=0.001, max_wait_s=0.05)
    assert scores["a"].unfinished == 2 and scores["a"].judged == 0 and batch["processing_status"] == "in_progress"


def test_judge_requests_are_well_formed_messages_requests():
    from telco.testing.scripted_api import check_request

    req = judge_request("control-0", transcript_text([("customer", "hi")], "case"), MODEL)
    assert check_request(req["params"]) is None and req["params"]["tool_choice"]["name"] == TOOL


def test_the_judges_batch_requests_are_scrubbed_like_every_model_request():
    from telco.redact import CARD, DOB, SECRET

    said = [("customer", "My card is 4111 1111 1111 1111, my password is Tr0ub4dor&3 and I was born on 1987-03-14."),
            ("system", "Thanks, I can't take card details here.")]
    api = ScriptedMessagesApi(guided_reply)
    scores, _ = judge_arms(scripted_source(api), {"control": [transcript_text(said, "case 0")]})
    assert scores["control"].judged == 1
    sent = [r.body["messages"][0]["content"] for r in api.requests if r.forced_tool == TOOL]
    assert len(sent) == 1
    for planted in ("4111 1111 1111 1111", "Tr0ub4dor&3", "1987-03-14"):
        assert planted not in sent[0]
    assert CARD in sent[0] and SECRET in sent[0] and DOB in sent[0] and "Thanks, I can't take card" in sent[0]
