"""Learn from the episodes that ended since the last run, and update memory through the single writer:

- playbook step statistics: one procedure_runs row per episode (jobs.playbooks.run_stats),
- knowledge-graph evidence: intent -caused_by-> cause and intent -resolved_by-> fix, counted from resolved
  episodes (jobs.intent.evidence),
- intent examples: the opening words of resolved conversations that are a new phrasing for their intent
  (jobs.intent.phrasings); clarification thresholds and KB gaps from the first exchanges (jobs.intent.openings).

Incremental: a watermark in job_state plus a ledger of learned episode ids, so running it twice counts nothing
twice, also when a run stopped half-way (see _learn_batch). Aggregates in this process (`--engine local`) or in
Ray tasks, a chunk of episodes each (`--engine ray`); both use the same per-batch aggregation.

Run as `python -m jobs.learn --memory-uri ./var/memory [--engine ray]`.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from jobs.common.command import progress
from jobs.common.episodes import read_ids, read_new
from jobs.common.tables import local_writer
from jobs.intent.evidence import cause_of, fix_of
from jobs.intent.knowledge_gaps import learn_gaps
from jobs.intent.openings import clarification_histogram, kb_gaps, merge_histograms, openings, thresholds
from jobs.intent.phrasings import new_phrasings
from jobs.playbooks.run_stats import run_row
from memory.graph import KnowledgeGraph
from memory.store import MemoryStore, now_utc, sql_str, sql_ts
from telco.contract.episode import Episode

JOB = "learn"


@dataclass
class Partial:
    """What one batch of episodes contributes; partials add up (Ray Data map_batches, or one local pass)."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    edges: Counter = field(default_factory=Counter)
    resolved_conversations: dict[str, str] = field(default_factory=dict)
    conversations: dict[str, str] = field(default_factory=dict)  # every learned conversation -> its intent
    outcomes: Counter = field(default_factory=Counter)
    latest: datetime | None = None

    def add(self, other: "Partial") -> "Partial":
        self.runs += other.runs
        self.edges.update(other.edges)
        self.resolved_conversations.update(other.resolved_conversations)
        self.conversations.update(other.conversations)
        self.outcomes.update(other.outcomes)
        if other.latest and (self.latest is None or other.latest > self.latest):
            self.latest = other.latest
        return self


def aggregate(episodes: Iterable[Episode]) -> Partial:
    part = Partial()
    for ep in episodes:
        part.outcomes[ep.outcome] += 1
        if part.latest is None or ep.ended_at > part.latest:
            part.latest = ep.ended_at
        run = run_row(ep)
        if run is not None:
            part.runs.append(run)
        intent = ep.intent
        if intent and ep.conversation_id:
            part.conversations[ep.conversation_id] = intent
        if ep.outcome == "resolved" and intent:
            fix, cause = fix_of(ep.steps), cause_of(ep.steps)
            if fix:
                part.edges[(intent, "resolved_by", fix)] += 1
            if cause:
                part.edges[(intent, "caused_by", cause)] += 1
            if ep.conversation_id:
                part.resolved_conversations[ep.conversation_id] = intent
    return part


def _aggregate_with_ray(episodes: list[Episode], chunk: int = 5000) -> Partial:
    """The same aggregation as Ray tasks, one per chunk of episodes (Ray Data's read_lance would need pandas,
    which this project does not install)."""
    import ray

    task = ray.remote(num_cpus=1)(aggregate)
    refs = [task.remote(episodes[i:i + chunk]) for i in range(0, len(episodes), chunk)]
    total = Partial()
    for part in progress(ray.get(refs), total=len(refs), desc="learn (ray)"):
        total.add(part)
    return total


def _state(store: MemoryStore) -> tuple[datetime | None, dict[str, Any], datetime | None]:
    """The watermark, the running totals and when the last batch was committed."""
    rows = store.table("job_state").search().where(f"job = {sql_str(JOB)}").limit(1).to_list()
    if not rows:
        return None, {}, None
    return rows[0]["watermark"], json.loads(rows[0]["state"] or "{}"), rows[0]["updated_at"]


def report_markdown(totals: dict[str, Any]) -> str:
    lines = ["# What the learn job found", "", "## Clarification thresholds per intent", "",
             "| intent | ask to choose below | clarifications seen | changed the intent |", "|---|---|---|---|"]
    lines += [f"| {i} | {t['clarify_below']} | {t['clarified']} | {t['changed_intent']} |"
              for i, t in totals["intent_thresholds"].items()]
    lines += ["", "## KB gaps: questions the knowledge base matched poorly", "",
              "| intent | best KB score | question |", "|---|---|---|"]
    lines += [f"| {g['intent']} | {g['kb_score'] if g['kb_score'] is not None else 'no hit'} | {g['question']} |"
              for g in totals["kb_gaps"][:50]]
    return "\n".join(lines) + "\n"


def learn(memory_uri: str, *, engine: str = "local", with_examples: bool = True,
          report: str | None = None) -> dict[str, Any]:
    store, writer = local_writer(memory_uri)
    started = time.perf_counter()
    watermark, totals, committed = _state(store)
    recovered = 0
    for batch, episodes in _unfinished(store, committed):  # a run stopped after its ledger: finish its batch first
        watermark, totals, _ = _learn_batch(store, writer, episodes, watermark, totals, batch, engine=engine,
                                            with_examples=with_examples, write_ledger=False)
        recovered += len(episodes)
    episodes = read_new(store, JOB, watermark)
    new_mark, totals, done = _learn_batch(store, writer, episodes, watermark, totals, now_utc(), engine=engine,
                                          with_examples=with_examples, write_ledger=True)
    # From the turns log, on its own watermark: a question no intent took opens no issue and leaves no episode.
    done["knowledge_gaps"] = learn_gaps(store, writer)
    if report:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(report_markdown(totals))
    elapsed = time.perf_counter() - started
    return {"job": JOB, "engine": engine, "episodes": len(episodes), "recovered": recovered, **done,
            "intent_thresholds": totals["intent_thresholds"], "seconds": round(elapsed, 2),
            "episodes_per_s": round(len(episodes) / elapsed, 1) if episodes else 0.0,
            "watermark": new_mark.isoformat() if new_mark else None}


def _learn_batch(store: MemoryStore, writer: Any, episodes: list[Episode], watermark: datetime | None,
                 totals: dict[str, Any], batch: datetime, *, engine: str, with_examples: bool,
                 write_ledger: bool) -> tuple[datetime | None, dict[str, Any], dict[str, Any]]:
    """Learn one batch of episodes. The writes are ordered so that a crash anywhere counts nothing twice and loses
    nothing: keyed rows (procedure_runs, intent examples: a rewrite adds nothing), then the ledger stamped with
    the batch time, then graph evidence tagged with the batch (an edge already carrying the tag is skipped), then
    job_state, whose updated_at commits the batch. Ledger rows newer than the commit are a stopped batch that the
    next run finishes (`_unfinished`)."""
    if engine == "ray" and episodes:
        part = _aggregate_with_ray(episodes)
    else:
        part = Partial()
        chunk = 5000
        for i in progress(range(0, len(episodes), chunk), total=(len(episodes) + chunk - 1) // chunk, desc="learn"):
            part.add(aggregate(episodes[i:i + chunk]))
    found = openings(store, sorted(part.conversations)) if part.conversations else {}
    examples = new_phrasings(store, part.resolved_conversations, found) if with_examples else []
    totals = dict(totals)
    hist = merge_histograms(totals.pop("clarifications", {}), clarification_histogram(found, part.conversations))
    gaps = (kb_gaps(found, part.conversations) + totals.pop("kb_gaps", []))
    gaps = sorted(gaps, key=lambda g: (g["kb_score"] if g["kb_score"] is not None else -1.0, g["question"]))[:200]
    for i in range(0, len(part.runs), 20_000):
        writer.append("procedure_runs", part.runs[i:i + 20_000])
    if examples:
        writer.upsert("intent_examples", examples)
    if write_ledger:
        ledger = [{"ledger_id": f"{JOB}:{e.episode_id}", "job": JOB, "episode_id": e.episode_id,
                   "ended_at": e.ended_at, "learned_at": batch} for e in episodes]
        for i in range(0, len(ledger), 20_000):
            writer.append("learned_episodes", ledger[i:i + 20_000])
    graph = KnowledgeGraph(store, writer)
    edges = graph.add_evidence(dict(part.edges), source=f"job:{JOB}", batch=batch.isoformat()) if part.edges else 0
    new_mark = max(filter(None, [watermark, part.latest]), default=None)
    counts = Counter({k: v for k, v in totals.items() if isinstance(v, int)})
    totals = dict(counts + Counter({"episodes": len(episodes), **part.outcomes}))
    totals.update(clarifications=hist, kb_gaps=gaps, intent_thresholds=thresholds(hist))
    writer.upsert("job_state", [{"job": JOB, "watermark": new_mark, "state": json.dumps(totals),
                                 "updated_at": max(now_utc(), batch)}])
    return new_mark, totals, {"runs_recorded": len(part.runs), "graph_edges_touched": edges,
                              "new_intent_examples": len(examples), "kb_gaps": len(gaps),
                              "outcomes": dict(part.outcomes)}


def _unfinished(store: MemoryStore, committed: datetime | None) -> list[tuple[datetime, list[Episode]]]:
    """The batches stopped runs left, oldest first: their ledger rows are newer than the last job_state commit."""
    where = f"job = {sql_str(JOB)}" + (f" AND learned_at > {sql_ts(committed)}" if committed else "")
    ledger = (store.table("learned_episodes").search().where(where).select(["episode_id", "learned_at"])
              .limit(10_000_000).to_arrow().to_pylist())
    batches: dict[datetime, list[str]] = {}
    for r in ledger:
        batches.setdefault(r["learned_at"], []).append(r["episode_id"])
    return [(batch, read_ids(store, ids)) for batch, ids in sorted(batches.items())]

