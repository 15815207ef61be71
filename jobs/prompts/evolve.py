"""Prompt candidates from the failure report: the role's active prompt with the guidelines the report proposes
for it, gated on a small batch of replayed contacts before it is stored as a candidate in the prompt registry
(for the full evaluation, jobs.prompts.versions). Run through jobs.evolve:

    python -m jobs.evolve --role dialogue [--guideline concision ...] [--batch 8] [--model scripted-guided]

Two ways to write the candidate:
- rule-based: the guideline texts of telco/data/prompt_guidelines.yaml appended to the active prompt (no model);
- reflective (with a model): the model rewrites the prompt from the failure signals and a few failed
  conversations. Its output is checked (not empty, bounded growth, keeps enough of the prompt and every policy or
  safety line word for word); a rewrite that fails the check is dropped for the rule-based candidate.
The gate replays the batch with the active prompt and with each candidate (a prompt acts only through a model, so
gating needs one: Claude with a key, or the scripted stand-in); the best candidate is stored only when it has more
successes (end state reached and reply standard met) than the active prompt, with a note saying where it came from.
"""
from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from actors.planner.llm_context import RolePrompts
from jobs.common.episodes import read_all
from jobs.common.library import Library
from jobs.common.runs import FAILED, runs_of
from jobs.common.scenario_mix import draw_contacts
from jobs.prompts.guideline_rules import proposed_guidelines, system_turns
from jobs.prompts.model_source import ModelSource
from jobs.prompts.replay import PinnedPrompts, replay, replay_memory
from jobs.prompts.versions import success, teach
from memory.prompts import PromptRegistry
from memory.store import MemoryStore
from telco.contract.episode import Episode
from telco.prompt_guidelines import GuidelineBook, load_guidelines, with_guidelines

REPLAY_SEED = 626262
TRACES = 3  # failed conversations shown to the reflective rewrite


class RewrittenPrompt(BaseModel):
    """The whole rewritten prompt, and in one sentence what it changes and why."""

    prompt: str = Field(min_length=1)
    rationale: str = Field(max_length=600)


def proposed(store: MemoryStore, role: str) -> tuple[list[str], list[Episode]]:
    """(guideline names, failed episodes) the failure report (jobs.playbooks.failures) proposes for `role` now."""
    episodes = read_all(store)
    failed = [e for e in episodes if e.outcome in FAILED]
    guidelines = proposed_guidelines(store, failed, runs_of(episodes, Library(store), desc="failures"))
    names = [g["guideline"] for g in guidelines if g["role"] == role]
    return list(dict.fromkeys(names)), failed[:TRACES * 10]


def check_rewrite(current: str, rewrite: str, book: GuidelineBook) -> str | None:
    """Why a rewrite cannot be used, or None."""
    r = book.reflection
    text = rewrite.strip()
    if not text:
        return "the rewrite is empty"
    if len(text) > len(current) + r.max_growth_chars:
        return f"the rewrite grew by {len(text) - len(current)} characters (at most {r.max_growth_chars})"
    if len(text) < r.min_keep_ratio * len(current):
        return f"the rewrite kept {len(text)} of {len(current)} characters (at least {r.min_keep_ratio:.0%})"
    flat = " ".join(text.split())
    for line in current.splitlines():
        if any(m in line.lower() for m in r.safety_markers) and " ".join(line.split()) not in flat:
            return f"the rewrite dropped the policy line {line.strip()[:80]!r}"
    return None


def reflection_request(current: str, names: list[str], traces: list[list[dict[str, Any]]],
                       book: GuidelineBook) -> list[dict[str, Any]]:
    signals = "\n".join(f"signal: {n} ({book.guidelines[n].why})" for n in names)
    shown = "\n\n".join("\n".join(f"system: {' '.join((t.get('reply') or '').split())}" for t in turns)
                        for turns in traces[:TRACES])
    return [{"role": "user", "content": f"<current_prompt>\n{current}\n</current_prompt>\n<failure_signals>\n"
                                        f"{signals}\n</failure_signals>\n<failed_conversations>\n{shown}\n"
                                        "</failed_conversations>\nRewrite the prompt."}]


def reflect(source: ModelSource, role: str, current: str, names: list[str], traces: list[list[dict[str, Any]]]
            ) -> tuple[str | None, str, dict[str, Any]]:
    """(rewritten prompt or None, why not / rationale, usage)."""
    book = load_guidelines()

    async def ask() -> Any:
        async with source.llm_client() as client:
            return await client.decide(role, book.reflection.system, reflection_request(current, names, traces, book),
                                       RewrittenPrompt, tool_name="rewritten_prompt", max_tokens=4096)
    decision = asyncio.run(ask())
    usage = {"calls": decision.calls, "cost_usd": round(sum(r.cost_usd for r in decision.records), 6),
             "tokens": sum(r.tokens for r in decision.records)}
    if not decision.ok:
        return None, f"the model gave no usable rewrite ({decision.reason}: {decision.detail})", usage
    problem = check_rewrite(current, decision.value.prompt, book)
    if problem is not None:
        return None, problem, usage
    return decision.value.prompt.strip(), decision.value.rationale, usage


def evolve_prompt(store: MemoryStore, writer, role: str, source: ModelSource, *, names: list[str] | None = None,
                  batch: int = 8, reflective: bool = True, replay_uri: str | None = None) -> dict[str, Any]:
    book = load_guidelines()
    failed: list[Episode] = []
    if names is None:
        names, failed = proposed(store, role)
    unknown = [n for n in names if n not in book.guidelines]
    if unknown:
        raise SystemExit(f"unknown guideline(s) {unknown}; known: {', '.join(book.guidelines)}")
    base = {"job": "evolve", "role": role, "model": source.name, "guidelines": names}
    if not names:
        return {**base, "candidates": 0, "stored": None, "reason": f"the failure report proposes no guideline "
                                                                    f"for {role}"}
    registry = PromptRegistry(store, writer)
    current = registry.active(role)
    cands: list[tuple[str, str]] = [("rule-based", with_guidelines(current.text, names, book))]
    reflection: dict[str, Any] | None = None
    if reflective:
        ids = sorted({e.conversation_id for e in failed if e.conversation_id})
        traces = list(system_turns(store, ids[:TRACES]).values()) if ids else []
        text, why, usage = reflect(source, role, current.text, names, traces)
        reflection = {"used": text is not None, "why": why, **usage}
        if text is not None and text != cands[0][1]:
            cands.insert(0, ("reflective", text))
    scenarios = [c.scenario for c in draw_contacts(REPLAY_SEED, batch)]
    teach(source, scenarios)
    prompts = RolePrompts(registry)
    with replay_memory(store, replay_uri) as uri:
        baseline = sum(map(success, replay(uri, source, PinnedPrompts(prompts, role, current.text), scenarios,
                                           f"gate {role}@{current.version}")))
        gated = [(sum(map(success, replay(uri, source, PinnedPrompts(prompts, role, text), scenarios,
                                          f"gate {how}"))), how, text) for how, text in cands]
    best, how, text = max(gated, key=lambda g: g[0])  # max keeps the first of equals: reflective first
    stored = None
    if best > baseline:
        note = (f"evolved ({how}) from failure-report guidelines {', '.join(names)}; gate {best}/{len(scenarios)} "
                f"vs {baseline}/{len(scenarios)} with {role}@{current.version} ({source.name})")
        if reflection and not reflection["used"]:
            note += f"; reflective rewrite not used: {reflection['why']}"
        v = registry.register(role, text, status="candidate", note=note)
        stored = {"role": role, "version": v.version, "how": how, "note": note}
    return {**base, "candidates": len(cands), "gate_batch": len(scenarios), "gate_baseline": baseline,
            "gate": {h: s for s, h, _ in gated}, "reflection": reflection, "stored": stored}
