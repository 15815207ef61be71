"""A scripted Messages API that plays a competent model for the scenario suite (tests and benchmarks only).

It answers from the request's own content, as a good model would, with the scenario labels as its knowledge:
- the planner's decision (forced tool `turn_plan`): the labelled intents of the scenario whose opening message
  this is, the intent a "I mean: <description>" answer describes, none for an answer to a question; signals read
  with the offline rule-based reader; next action: follow the flow;
- the reply (a streamed text request): the template reply it was given, as the facts to convey.
Replacing Claude by this shows the Claude path is wired end to end; it measures nothing about Claude.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from telco.testing.scripted_api import Reply, ScriptedMessagesApi, forced_tool, text, tool_use

PLAN_TOOL = "turn_plan"
_CUSTOMER = re.compile(r"<customer_message>\n(.*?)\n</customer_message>", re.S)
_TEMPLATE = re.compile(r"<template_reply>\n(.*?)\n</template_reply>", re.S)


def last_user_text(body: dict[str, Any]) -> str:
    content = (body.get("messages") or [{}])[-1].get("content")
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text")


@lru_cache(maxsize=1)
def _labels() -> dict[str, list[str]]:
    """Lower-cased customer text -> labelled intents: scenario openings and 'I mean: ...' choices."""
    from telco.intents import load_intents
    from telco.scenarios import load_scenarios

    out = {s.message.strip().lower(): list(s.intents) for s in load_scenarios()}
    for spec in load_intents().values():
        out[f"i mean: {spec.description.rstrip('.').lower()}."] = [spec.id]
    return out


def plan_for(customer_text: str, labels: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """`labels`: further customer texts (lower-cased) and their intents, e.g. a benchmark's opening messages."""
    from telco.nlu.lexicon import load_lexicon
    from telco.nlu.signals import read_signals

    key = customer_text.strip().lower()
    intents = (labels or {}).get(key) or _labels().get(key, [])
    return {"intents": [{"intent": i, "confidence": 0.95} for i in intents],
            "signals": read_signals(customer_text, load_lexicon()).model_dump(),
            "next_action": {"kind": "follow_flow", "reason": "the intent's flow handles this"}}


def competent_reply(body: dict[str, Any], labels: dict[str, list[str]] | None = None) -> Reply:
    said = last_user_text(body)
    if forced_tool(body) == PLAN_TOOL:
        found = _CUSTOMER.search(said)
        return tool_use(PLAN_TOOL, plan_for(found.group(1) if found else said, labels))
    found = _TEMPLATE.search(said)
    return text(found.group(1) if found else "Thanks for your message; let me look into it.")


def competent_api(delay_s: float = 0.0, labels: dict[str, list[str]] | None = None,
                  **kw: Any) -> ScriptedMessagesApi:
    known = {k.strip().lower(): v for k, v in (labels or {}).items()}
    return ScriptedMessagesApi(lambda body: competent_reply(body, known), delay_s=delay_s, **kw)


def with_fallback(script: Callable[[dict[str, Any]], Reply | None]) -> Callable[[dict[str, Any]], Reply]:
    """A script that answers some requests itself (returning a Reply) and leaves the rest to the competent model."""
    def reply(body: dict[str, Any]) -> Reply:
        return script(body) or competent_reply(body)
    return reply
