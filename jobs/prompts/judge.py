"""The LLM judge of the prompt evaluation: every replayed conversation of every arm is scored (accuracy,
efficiency, appropriateness, 1-5) by one Message Batch (half the price of single calls, no hurry offline).

One batch: `messages.batches.create` with a request per transcript (custom_id "<arm>-<n>", the judge_scores tool
forced), `retrieve` polled until the batch has ended, then `results` read (JSONL, in any order). Each answer is
validated with pydantic (JudgeScores); errored, expired, canceled and unreadable entries are counted, never
raised. Tokens and cost are accounted at the batch price. The judge reports next to the offline metrics; it does
not decide promotion (the offline end-state and reply-standard test does, see jobs.prompts.versions).
"""
from __future__ import annotations

import asyncio
import time
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field

from jobs.prompts.model_source import ModelSource
from telco.data import JUDGE_RUBRIC_FILE
from telco.llm.client import scrubbed
from telco.llm.exchange import usage_tokens
from telco.llm.prices import cached_prices
from telco.llm.structured import decision_tool, read_input

RUBRIC_FILE = JUDGE_RUBRIC_FILE
TOOL = "judge_scores"
BATCH_PRICE = 0.5  # the Message Batches API bills half the standard per-token price
SCORES = ("accuracy", "efficiency", "appropriateness")
MAX_TOKENS = 300


class JudgeScores(BaseModel):
    """Scores for the system's replies in one conversation, each from 1 (poor) to 5 (excellent)."""

    accuracy: int = Field(ge=1, le=5)
    efficiency: int = Field(ge=1, le=5)
    appropriateness: int = Field(ge=1, le=5)
    reason: str = Field(max_length=600)


class Judged(BaseModel):
    """What the judge said about one arm's conversations."""

    n: int = 0
    judged: int = 0
    errored: int = 0
    expired: int = 0
    canceled: int = 0
    unreadable: int = 0  # succeeded, but the answer did not fit JudgeScores
    unfinished: int = 0  # the batch had not ended when we stopped waiting
    accuracy: float | None = None
    efficiency: float | None = None
    appropriateness: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


def transcript_text(exchanges: list[tuple[str, str]], context: str) -> str:
    lines = "\n".join(f"{who}: {' '.join(text.split())}" for who, text in exchanges)
    return f"<case>\n{context}\n</case>\n<transcript>\n{lines}\n</transcript>"


@lru_cache(maxsize=1)
def rubric() -> str:
    return RUBRIC_FILE.read_text().strip()


def judge_request(custom_id: str, text: str, model: str) -> dict[str, Any]:
    # Scrubbed as every other model request is (telco/llm/client.py): a replayed transcript carries what its
    # customers typed, and a batch goes to the model as surely as a single call does.
    return {"custom_id": custom_id, "params": scrubbed({
        "model": model, "max_tokens": MAX_TOKENS, "system": rubric(),
        "tools": [decision_tool(JudgeScores, TOOL)], "tool_choice": {"type": "tool", "name": TOOL},
        "messages": [{"role": "user", "content": text}]})}


def _scores(message: Any) -> JudgeScores | None:
    use = next((b for b in message.content if b.type == "tool_use" and b.name == TOOL), None)
    if use is None:
        return None
    value, _ = read_input(JudgeScores, use.input)
    return value


async def _run_batch(sdk: Any, requests: list[dict[str, Any]], poll_s: float, max_wait_s: float) -> tuple[Any, list]:
    batch = await sdk.messages.batches.create(requests=requests)
    started = time.monotonic()
    while batch.processing_status != "ended":
        if time.monotonic() - started > max_wait_s:
            return batch, []
        await asyncio.sleep(poll_s)
        batch = await sdk.messages.batches.retrieve(batch.id)
    return batch, [r async for r in await sdk.messages.batches.results(batch.id)]


def judge_arms(source: ModelSource, arms: dict[str, list[str]], *, poll_s: float | None = None,
               max_wait_s: float = 3600.0) -> tuple[dict[str, Judged], dict[str, Any]]:
    """`arms`: arm name -> transcript texts (transcript_text). Returns per-arm scores and the batch's facts."""
    model = source.settings.model
    requests = [judge_request(f"{arm}-{n}", text, model) for arm, texts in arms.items()
                for n, text in enumerate(texts)]
    out = {arm: Judged(n=len(texts)) for arm, texts in arms.items()}
    if not requests:
        return out, {"batch_id": None}
    poll = poll_s if poll_s is not None else (0.0 if source.scripted else 30.0)

    async def go() -> tuple[Any, list]:
        sdk = source.sdk()
        try:
            return await _run_batch(sdk, requests, poll, max_wait_s)
        finally:
            await sdk.close()
    batch, results = asyncio.run(go())
    prices = cached_prices(str(source.settings.prices_file))
    sums: dict[str, dict[str, int]] = {arm: dict.fromkeys(SCORES, 0) for arm in arms}
    seen = set()
    for r in results:
        arm = r.custom_id.rsplit("-", 1)[0]
        if arm not in out:
            continue
        seen.add(r.custom_id)
        j = out[arm]
        kind = r.result.type
        if kind != "succeeded":
            setattr(j, kind, getattr(j, kind) + 1)
            continue
        tokens = usage_tokens(r.result.message.usage)
        j.input_tokens += tokens["input_tokens"] + tokens["cache_read_input_tokens"] + \
            tokens["cache_creation_input_tokens"]
        j.output_tokens += tokens["output_tokens"]
        j.cost_usd += BATCH_PRICE * prices.cost(r.result.message.model or model, **tokens)
        scores = _scores(r.result.message)
        if scores is None:
            j.unreadable += 1
            continue
        j.judged += 1
        for s in SCORES:
            sums[arm][s] += getattr(scores, s)
    for arm, j in out.items():
        j.unfinished = sum(1 for q in requests if q["custom_id"].rsplit("-", 1)[0] == arm
                           and q["custom_id"] not in seen)
        j.cost_usd = round(j.cost_usd, 6)
        if j.judged:
            for s in SCORES:
                setattr(j, s, round(sums[arm][s] / j.judged, 3))
    return out, {"batch_id": batch.id, "processing_status": batch.processing_status,
                 "request_counts": batch.request_counts.model_dump()}
