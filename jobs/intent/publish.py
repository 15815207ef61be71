"""The publish gate for intent examples: what jobs.learn learned reaches serving only if it reads no worse.

1. Candidate rows: the learned examples the active set lacks (memory's `intent_examples`, source "learned",
   jobs/intent/phrasings.py).
2. Screen, on the development messages (telco/data/intent_dev.yaml): in order, a learned row is kept only if,
   added to the active set and the rows kept so far, the development messages are read no worse (whole-message
   top-1 with the active set's scorer). A batch of one register (say informal wording for one intent) pulls that
   intent's centroid towards itself; the screen stops before it starts taking other intents' messages.
3. Calibration is refitted offline on exactly the new rows (actors/agents/intent_eval.fit: scorer, temperature,
   none-score, multi-intent threshold), so the planner's 0.8 clarify and 0.4 unsure bars keep their meaning, and
   ships inside the set.
4. Gate, on the scenarios' opening messages (telco/data/scenarios: never examples, never fitted on, not used by
   the screen), minus any an example of either set rewords (cosine >= NEAR_DUPLICATE): the candidate is activated
   only if its top-1 accuracy is not lower. The decision and both accuracies are recorded on the candidate's row,
   refused or not. Replicas pick an activated set up within settings.intent_refresh_s.
"""
from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np

from actors.agents.intent import Calibration, ExampleIndex, IntentAgent, example_clusters, load_fit_data
from actors.agents.intent_eval import NEAR_DUPLICATE, fit
from memory.intent_sets import IntentSet, IntentSets
from memory.store import MemoryStore
from telco.errors import NotFound
from telco.intents import load_intents
from telco.nlu import calibration as cal

Labelled = tuple[str, str]  # (text, intent)


def held_out_messages() -> list[Labelled]:
    """The gate's test: the scenarios' opening messages (also actors/agents/intent_eval.py's test set)."""
    from telco.scenarios.spec import load_scenarios

    return [(s.message, s.intents[0]) for s in load_scenarios()]


def development_messages() -> list[Labelled]:
    """The screen's messages (calibration reads them too; no index holds them)."""
    from telco.nlu.lexicon import load_lexicon

    return [(d.text, d.intents[0]) for d in load_fit_data(load_lexicon()).dev]


def learned_examples(store: MemoryStore) -> list[tuple[str, str]]:
    rows = (store.table("intent_examples").search().where("source = 'learned'").select(["intent", "text"])
            .limit(1_000_000).to_list())
    return sorted((r["intent"], r["text"]) for r in rows)


def candidate_examples(active: IntentSet, learned: Sequence[tuple[str, str]]) -> tuple[list[tuple[str, str]], int]:
    """The active set plus learned phrasings it does not have (a text already an example of any intent is skipped:
    one text, one label). Returns the rows and how many were added."""
    rows = [tuple(x) for x in active.examples]
    seen = {" ".join(t.split()).lower() for _, t in rows}
    added = 0
    for intent, text in learned:
        key = " ".join(text.split()).lower()
        if key not in seen:
            seen.add(key)
            rows.append((intent, text))
            added += 1
    return rows, added


async def accuracy(agent: IntentAgent, messages: Sequence[Labelled]) -> float:
    """Top-1 accuracy of the whole-message reading, the main intent the planner acts on (IntentAgent.classify's
    first intent), read in one batch: the vectors are shared by every agent of the process."""
    if not messages:
        return 0.0
    brain = await agent._ready()
    vectors = await agent._embed_cached([t for t, _ in messages])
    probs = cal.probabilities(brain.index.scores(vectors), brain.calibration.temperature,
                              brain.calibration.none_score)
    top = probs[:, :len(brain.index.intents)].argmax(axis=1)
    right = sum(brain.index.intents[a] == want for a, (_, want) in zip(top, messages))
    return round(right / len(messages), 4)


async def disjoint(agent: IntentAgent, messages: Sequence[Labelled], examples: Sequence[tuple[str, str]]
                   ) -> list[Labelled]:
    """The messages no example rewords."""
    if not messages:
        return []
    queries = await agent._embed_cached([t for t, _ in messages])
    vectors = await agent._embed_cached([t for _, t in examples])
    near = (queries @ vectors.T).max(axis=1) >= NEAR_DUPLICATE
    return [m for m, n in zip(messages, near) if not bool(n)]


async def screen(before: IntentAgent, rows: list[tuple[str, str]], n_base: int, dev: Sequence[Labelled]
                 ) -> list[tuple[str, str]]:
    """rows[:n_base] is the active set, the rest learned rows in order; returns the active set plus the learned
    rows kept (see the module's step 2). Each trial is one small matrix product over vectors embedded once."""
    brain = await before._ready()
    vectors = await before._embed_cached([t for _, t in rows])
    queries = await before._embed_cached([t for t, _ in dev])
    catalogue = list(load_intents())

    def right(keep: list[int]) -> int:
        intents = sorted({rows[i][0] for i in keep}, key=catalogue.index)
        labels = np.array([intents.index(rows[i][0]) for i in keep])
        index = ExampleIndex(intents, labels, vectors[keep], brain.calibration.method, brain.calibration.k,
                             example_clusters([rows[i] for i in keep], intents))
        top = index.scores(queries).argmax(axis=1)
        return sum(intents[a] == want for a, (_, want) in zip(top, dev))

    keep = list(range(n_base))
    best = right(keep)
    for i in range(n_base, len(rows)):
        score = right([*keep, i])
        if score >= best:
            keep.append(i)
            best = score
    return [rows[i] for i in keep]


async def gate(base: IntentSet, examples: list[tuple[str, str]], held_out: Sequence[Labelled], *,
               embedder: Any = None) -> tuple[Calibration, dict[str, Any]]:
    """Refit calibration for the candidate examples and read the held-out messages with both sets."""
    before = IntentAgent(embedder, base.examples, calibration=_calibration(base))
    candidate = IntentAgent(before.embedder, examples, lexicon=before.lexicon, plans=before.plans)
    calibration = await fit(candidate)
    after = IntentAgent(before.embedder, examples, calibration=calibration, lexicon=before.lexicon,
                        plans=before.plans)
    test = await disjoint(before, held_out, [*base.examples, *examples])
    acc_before, acc_after = await accuracy(before, test), await accuracy(after, test)
    return calibration, {"held_out": len(test), "held_out_dropped_near_examples": len(held_out) - len(test),
                         "accuracy_before": acc_before, "accuracy_after": acc_after,
                         "dev_log_loss": calibration.metrics.get("dev_log_loss")}


def _calibration(s: IntentSet) -> Calibration | None:
    return Calibration.model_validate(s.calibration) if s.calibration else None


def publish(store: MemoryStore, writer: Any, **options: Any) -> dict[str, Any]:
    """Build, gate and (when it reads no worse) activate a new example set. Returns the decision."""
    return asyncio.run(apublish(store, writer, **options))


async def apublish(store: MemoryStore, writer: Any, *, held_out: Sequence[Labelled] | None = None,
                   extra_examples: Sequence[tuple[str, str]] = (), embedder: Any = None,
                   screened: bool = True) -> dict[str, Any]:
    """held_out: the gate's test messages (default the scenarios' openings); extra_examples: rows to consider
    besides memory's learned ones; screened=False sends every learned row to the gate (to test the gate itself)."""
    sets = IntentSets(store, writer)
    try:
        base = sets.active()
    except NotFound:
        return {"decision": "no_active_set", "active_version": None}
    learned = [*learned_examples(store), *extra_examples]
    examples, added = candidate_examples(base, learned)
    if not added:
        return {"decision": "nothing_new", "active_version": base.version, "learned": len(learned)}
    if screened:
        probe = IntentAgent(embedder, base.examples, calibration=_calibration(base))
        examples = await screen(probe, examples, len(base.examples), development_messages())
    kept = len(examples) - len(base.examples)
    if not kept:
        return {"decision": "nothing_new", "active_version": base.version, "learned": len(learned),
                "screened_out": added}
    messages = held_out_messages() if held_out is None else list(held_out)
    calibration, measured = await gate(base, examples, messages, embedder=embedder)
    promote = measured["held_out"] > 0 and measured["accuracy_after"] >= measured["accuracy_before"]
    decision = "promoted" if promote else "refused"
    metrics = {**measured, "decision": decision, "base_version": base.version, "added": kept,
               "screened_out": added - kept}
    stored = sets.add(examples, calibration.model_dump(), activate=promote, metrics=metrics,
                      note=f"v{base.version} + {kept} learned examples")
    if not promote:
        stored = sets.refuse(stored.version, {})
    return {**metrics, "version": stored.version, "active_version": sets.active_version()}


def rollback(store: MemoryStore, writer: Any) -> dict[str, Any]:
    sets = IntentSets(store, writer)
    before = sets.active_version()
    after = sets.rollback()
    return {"decision": "rolled_back", "from_version": before, "active_version": after.version}


def status(store: MemoryStore) -> dict[str, Any]:
    sets = IntentSets(store)
    history = sets.history()
    return {"active_version": sets.active_version(),
            "versions": [{"version": s.version, "status": s.status, "note": s.note,
                          "created_at": s.created_at.isoformat(),
                          "activated_at": s.activated_at.isoformat() if s.activated_at else None,
                          **{k: s.metrics.get(k) for k in ("examples", "decision", "accuracy_before",
                                                            "accuracy_after", "held_out") if k in s.metrics}}
                         for s in history]}
