"""What the model is shown on a turn: the role prompts, the stable catalogue and policy, the customer's context.

Each request is split for prompt caching (telco/llm/caching.py): the stable blocks (role prompt, policy, the
catalogue of intents, flows, customer steps and tools) are the same on every turn of every conversation and sit
first, under the cache mark; the customer's context and their similar resolved episodes change per turn and come
after it. The customer's own words never go in the system prompt: they travel as a user message inside a
<customer_message> element, as data.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from actors.planner.conversation import ConversationState
from actors.planner.prompt_split import PromptPick, candidate_version
from telco.contract.http import MessageIn
from telco.contract.messages import ReplyParts
from telco.data import PROMPTS_DIR
from telco.intents import load_intents
from telco.llm import SystemBlock
from telco.policy import POLICY_PATH
from telco.sandbox.customer_steps import list_customer_steps
from telco.tools import TOOLS

PROMPT_TTL_S = 60.0  # a prompt promoted in the registry reaches running replicas within this long

log = logging.getLogger(__name__)


def file_prompt(role: str) -> str:
    return (PROMPTS_DIR / f"{role}.md").read_text().strip()


class RolePrompts:
    """The active prompt of each role from the prompt registry, re-read at most every PROMPT_TTL_S; the file in
    telco/data/prompts/ when the registry has none (or cannot be read), so a turn never fails for want of a prompt.

    pick(role, conversation_id) also serves running prompt experiments (actors/planner/prompt_split.py): the candidate
    version to the experiment's share of conversations, sticky per conversation; experiments are re-read at most
    every memory.experiments.REFRESH_S."""

    def __init__(self, registry: Any | None = None, clock: Callable[[], float] = time.monotonic,
                 experiments: Callable[[], list[dict[str, Any]]] | None = None) -> None:
        self.registry, self.clock = registry, clock
        self._cache: dict[str, tuple[float, PromptPick]] = {}
        self._versions: dict[tuple[str, int], PromptPick] = {}
        if experiments is None and getattr(registry, "store", None) is not None:
            from memory.experiments import running_reader

            experiments = running_reader(registry.store, clock=clock)
        self.experiments = experiments

    def __call__(self, role: str) -> str:
        return self.pick(role).text

    def pick(self, role: str, conversation_id: str | None = None, pinned: int | None = None) -> PromptPick:
        """pinned: the version this conversation was served before; it keeps it (as a playbook run keeps its
        version) whatever experiments start, stop or get promoted meanwhile."""
        if pinned is not None and self.registry is not None:
            kept = self._version(role, pinned)
            if kept is not None:
                return kept
        active = self._active(role)
        if conversation_id is None or self.experiments is None or active.version is None:
            return active
        try:
            version = candidate_version(self.experiments(), role, conversation_id)
        except Exception:  # memory unreachable: the active version still serves
            log.exception("prompt experiments not read")
            version = None
        return (self._version(role, version) or active) if version is not None else active

    def _active(self, role: str) -> PromptPick:
        hit = self._cache.get(role)
        if hit is not None and self.clock() - hit[0] < PROMPT_TTL_S:
            return hit[1]
        chosen = None
        if self.registry is not None:
            try:
                v = self.registry.active(role)
                chosen = PromptPick(role, v.text, v.version) if v.text else None
            except Exception:  # NotFound, or memory unreachable: the shipped text is still a good prompt
                chosen = None
        chosen = chosen or PromptPick(role, file_prompt(role))
        self._cache[role] = (self.clock(), chosen)
        return chosen

    def _version(self, role: str, version: int) -> PromptPick | None:
        """A version's text never changes: read once."""
        if (role, version) not in self._versions:
            try:
                v = self.registry.get(role, version)
                self._versions[(role, version)] = PromptPick(role, v.text, v.version)
            except Exception:  # a candidate that cannot be read: this conversation gets the active one
                log.exception("prompt %s@%s not read", role, version)
                return None
        return self._versions[(role, version)]


@lru_cache(maxsize=1)
def catalogue_text() -> str:
    """Every intent, flow, customer step and tool that exists: the only things the model may choose from."""
    intents = [f"- {s.id}: {s.description} (flow: {s.playbook or 'a person handles it'})"
               for s in load_intents().values()]
    steps = [f"- {s.id} ({s.target}): {s.instruction}" for s in list_customer_steps()]
    tools = [f"- {t.name} [{t.kind}]: {t.description}" for t in TOOLS.values()]
    return "\n".join(["# Intents (use these ids only)", *intents, "", "# Customer steps (things only the customer "
                      "can do on their device)", *steps, "", "# Operator tools (reads look, writes change an "
                      "account; every write is checked by policy code before it runs)", *tools])


@lru_cache(maxsize=1)
def policy_text() -> str:
    return "# Policy limits the system enforces in code (telco/data/policy.yaml)\n" + POLICY_PATH.read_text().strip()


def planner_system(prompts: Callable[[str], str], context: str) -> list[SystemBlock]:
    return [SystemBlock(prompts("planner")), SystemBlock(prompts("intent")), SystemBlock(policy_text()),
            SystemBlock(catalogue_text()), SystemBlock(context, stable=False)]


def dialogue_system(prompts: Callable[[str], str]) -> list[SystemBlock]:
    # The catalogue tells the writer what each customer step and tool means; it also lifts this prefix above the
    # API's minimum cacheable length (1024 tokens for Sonnet), below which nothing would be cached at all.
    return [SystemBlock(prompts("dialogue")), SystemBlock(policy_text()), SystemBlock(catalogue_text())]


def customer_context(state: ConversationState, episodes: list[str]) -> str:
    """The changing part of the planner's system prompt: who the customer is, where the conversation stands."""
    active = state.active
    run = active.run if active else None
    pending = run.pending if run else (state.identify_run.pending if state.identify_run else None)
    facts = {
        "conversation_status": state.status,
        "customer_verified": state.identity.verified_customer_id is not None,
        "customer_id": state.identity.verified_customer_id,
        "open_issues": [{"intent": i.intent, "status": i.status} for i in state.issues
                        if i.status in ("pending", "active")],
        "current_flow": f"{run.playbook_id} at step {run.current}" if run else None,
        "waiting_for": {"kind": pending.kind, "id": pending.id, "text": pending.text} if pending else None,
        "asked_to_choose_between": [c.intent for c in state.clarifying],
        "earlier_turns": state.turns,
    }
    text = "# This conversation\n" + json.dumps(facts, indent=1, default=str)
    if episodes:
        text += "\n\n# Similar issues of this customer that ended before (examples of what worked)\n" + \
                "\n".join(f"- {e}" for e in episodes)
    return text


def customer_message(body: MessageIn) -> list[dict[str, Any]]:
    parts = [f"<customer_message>\n{body.text}\n</customer_message>"]
    if body.step_results:
        results = [r.model_dump(mode="json") for r in body.step_results]
        parts.append(f"<step_results>\n{json.dumps(results)}\n</step_results>")
    return [{"role": "user", "content": "\n".join(parts)}]


def reply_request(parts: ReplyParts, draft: str, body: MessageIn) -> list[dict[str, Any]]:
    """The dialogue call's user message: what the turn must convey, and the template reply as a floor."""
    convey = parts.model_dump(mode="json", exclude_defaults=True)
    return [{"role": "user", "content": (
        f"<customer_message>\n{body.text}\n</customer_message>\n"
        f"<this_turn_must_convey>\n{json.dumps(convey)}\n</this_turn_must_convey>\n"
        f"<template_reply>\n{draft}\n</template_reply>\n"
        "Write the reply to the customer now: the same facts, instruction and question as the template reply, "
        "keeping every [n] marker, in your own warm words.")}]
