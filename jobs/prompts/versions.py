"""Evaluate a candidate PROMPT version of a role against the role's active version, and promote it only when the
evidence says so. Run through jobs.prompt_eval:

    python -m jobs.prompt_eval --role dialogue --candidate 3 --replay 200 [--promote] [--model scripted-guided]
    python -m jobs.prompt_eval --role dialogue --rollback     # also stops a running split (jobs.prompts.split)

Both arms replay the same contacts (jobs.common.scenario_mix) through the Claude path (jobs.prompts.replay), once with
each version of the role's prompt. A prompt needs a model: Claude with an API key, or `--model scripted-guided`
(a scripted model that follows the guidelines its prompt carries: a wiring check, never a Claude figure);
without either the job stops with a clear error.

Offline metrics per arm: end state reached, turns, escalation correct (as for playbooks), and the reply numbers a
prompt changes (mean reply words, replies within the word limit, openings that acknowledge the customer, turns
with knowledge whose reply cites it, questions asked again, the reply standard of telco/data/prompt_guidelines.yaml).
The decision (jobs.common.ab.decide: minimum sample, one-sided z-test against a margin) counts a conversation as a
success when it reached its end state AND met the reply standard: the end state stays the floor a prompt cannot
trade away, and the reply standard is what a prompt can change. No family may resolve less often than before.
With a model, the LLM judge (jobs.prompts.judge) scores every conversation of both arms in one Message Batch; its scores
are reported next to the offline metrics and do not decide. Promotion and rollback go through the prompt registry
(memory.prompts, versions kept with their history and metrics); each decision is logged in job_state
(jobs.common.decisions).
"""
from __future__ import annotations

from typing import Any

from actors.planner.llm_context import RolePrompts
from jobs.common.ab import MARGIN, MIN_PER_ARM, decide, families_worse
from jobs.common.decisions import EVAL_JOB, log_decision
from jobs.common.offline_metrics import summarise
from jobs.common.scenario_mix import draw_contacts
from jobs.prompts.judge import judge_arms, transcript_text
from jobs.prompts.model_source import ModelSource
from jobs.prompts.replay import PinnedPrompts, Replayed, llm_usage, replay, replay_memory, reply_metrics
from memory.experiments import Experiments, prompt_subject
from memory.prompts import PromptRegistry
from memory.store import MemoryStore, now_utc
from telco.prompt_guidelines import load_guidelines

REPLAY_SEED = 616161


def teach(source: ModelSource, scenarios: list) -> None:
    """The scripted model's knowledge of the replay set: each opening message and its labelled intents."""
    labels = getattr(source.api, "labels", None)
    if labels is not None:
        labels.update({s.message.strip().lower(): list(s.intents) for s in scenarios})


def success(r: Replayed) -> bool:
    return r.result.passed and r.replies.meets(load_guidelines().reply_standard)


def arm_metrics(runs: list[Replayed]) -> dict[str, Any]:
    return {**summarise([r.result for r in runs]), **reply_metrics(runs), "successes": sum(map(success, runs)),
            **llm_usage(runs)}


def judge_texts(runs: list[Replayed]) -> list[str]:
    return [transcript_text(r.exchanges(), f"family: {r.result.family}; end state reached: "
                                           f"{'yes' if r.result.passed else 'no'}") for r in runs]


def compare_prompts(store: MemoryStore, writer, role: str, candidate: int, source: ModelSource, *,
                    replay_n: int = 200, seed: int = REPLAY_SEED, promote: bool = False,
                    min_per_arm: int = MIN_PER_ARM, margin: float = MARGIN, judge: bool = True,
                    replay_uri: str | None = None) -> dict[str, Any]:
    """`replay_uri`: where the replayed conversations live; default a scratch memory (jobs.prompts.replay)."""
    registry = PromptRegistry(store, writer)
    control, cand = registry.active(role), registry.get(role, candidate)
    if cand.version == control.version:
        raise SystemExit(f"{role}@{candidate} is the active version; evaluate another version against it")
    scenarios = [c.scenario for c in draw_contacts(seed, replay_n)]
    teach(source, scenarios)
    base = RolePrompts(registry)
    with replay_memory(store, replay_uri) as uri:
        control_runs = replay(uri, source, PinnedPrompts(base, role, control.text), scenarios,
                              f"control {role}@{control.version}")
        cand_runs = replay(uri, source, PinnedPrompts(base, role, cand.text), scenarios,
                           f"candidate {role}@{cand.version}")
    a, b = arm_metrics(control_runs), arm_metrics(cand_runs)
    decision = decide(a["successes"], a["n"], b["successes"], b["n"], min_per_arm=min_per_arm, margin=margin)
    worse = families_worse(a, b)
    judged = batch = None
    if judge:
        scores, batch = judge_arms(source, {"control": judge_texts(control_runs),
                                            "candidate": judge_texts(cand_runs)})
        judged = {arm: s.model_dump() for arm, s in scores.items()}
    for version, m, arm in ((control.version, a, "control"), (cand.version, b, "candidate")):
        registry.record_metrics(role, version, {k: m[k] for k in (
            "resolution_rate", "mean_reply_words", "reply_standard_met", "opening_acknowledged", "n")} | (
            {f"judge_{s}": judged[arm][s] for s in ("accuracy", "efficiency", "appropriateness")
             if judged and judged[arm][s] is not None}))
    promoted = None
    if promote and decision.promote and not worse:
        registry.activate(role, cand.version)
        promoted = cand.version
    entry = {"at": now_utc().isoformat(), "role": role, "model": source.name, "control_version": control.version,
             "candidate_version": cand.version, "control": a, "candidate": b, "decision": decision.model_dump(),
             "families_worse": worse, "judge": judged, "judge_batch": batch, "promoted": promoted}
    log_decision(store, writer, entry)
    return {"job": EVAL_JOB, **entry}


def rollback_prompt(store: MemoryStore, writer, role: str) -> dict[str, Any]:
    registry = PromptRegistry(store, writer)
    before = registry.active(role).version
    Experiments(store, writer).stop(prompt_subject(role))  # a split against the version rolled back from ends too
    now = registry.rollback(role)
    entry = {"at": now_utc().isoformat(), "role": role, "rolled_back_from": before, "active": now.version}
    log_decision(store, writer, entry)
    return {"job": EVAL_JOB, **entry}


def newest_candidate(store: MemoryStore, writer, role: str) -> int:
    cands = PromptRegistry(store, writer).candidates(role)
    if not cands:
        raise SystemExit(f"role {role!r} has no candidate prompt version")
    return max(c.version for c in cands)
