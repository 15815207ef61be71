"""Learn from the episodes that ended since the last run, and update memory through the single writer:

- playbook step statistics: one procedure_runs row per episode (keyed by episode id, so a rerun adds nothing),
- knowledge-graph evidence: intent -caused_by-> cause and intent -resolved_by-> fix, counted from resolved
  episodes,
- intent examples: the opening words of resolved conversations that are a new phrasing for their intent.

Incremental: a watermark in job_state plus a ledger of learned episode ids, so running it twice counts nothing
twice, also when a run stopped half-way (see _learn_batch). Aggregates in this process (`--engine local`) or in
Ray tasks, a chunk of episodes each (`--engine ray`); both use the same per-batch aggregation.

    python -m jobs.learn --memory-uri ./var/memory [--engine ray]
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from memory.store import MemoryStore, now_utc, sql_str, sql_ts

from jobs.common import local_writer, parser, print_summary, progress
from jobs.episodes import cause_of, fix_of, playbook_of, read_ids, read_new, steps_of
from jobs.openings import Opening, clarification_histogram, kb_gaps, merge_histograms, openings, thresholds

JOB = "learn"
NEW_PHRASING_BELOW = 0.9  # cosine to the intent's nearest known example under which a phrasing counts as new
MAX_NEW_EXAMPLES = 200  # per run, so one burst of odd traffic cannot flood the classifier


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


def aggregate(rows: Iterable[dict[str, Any]], active_versions: dict[str, int]) -> Partial:
    part = Partial()
    for row in rows:
        steps = steps_of(row)
        part.outcomes[row["outcome"]] += 1
        if part.latest is None or row["ended_at"] > part.latest:
            part.latest = row["ended_at"]
        name, version = playbook_of(row["summary"])
        version = version or active_versions.get(name or "")
        if name and version:
            part.runs.append({
                "run_id": row["episode_id"], "procedure_id": f"{name}@{version}", "name": name, "version": version,
                "outcome": row["outcome"], "turns": len(steps),
                "step_outcomes": json.dumps({s["name"]: "ok" if s.get("ok", True) else "failed" for s in steps},
                                            sort_keys=True),
                "at": row["ended_at"]})
        intent = row.get("intent")
        if intent and row.get("conversation_id"):
            part.conversations[row["conversation_id"]] = intent
        if row["outcome"] == "resolved" and intent:
            fix, cause = fix_of(steps), cause_of(steps)
            if fix:
                part.edges[(intent, "resolved_by", fix)] += 1
            if cause:
                part.edges[(intent, "caused_by", cause)] += 1
            if row.get("conversation_id"):
                part.resolved_conversations[row["conversation_id"]] = intent
    return part


def _active_versions(store: MemoryStore) -> dict[str, int]:
    rows = store.table("procedures").search().where("status = 'active'").select(["name", "version"]).limit(
        100_000).to_list()
    return {r["name"]: int(r["version"]) for r in rows}


def _aggregate_with_ray(rows: list[dict[str, Any]], active: dict[str, int], chunk: int = 5000) -> Partial:
    """The same aggregation as Ray tasks, one per chunk of episodes (Ray Data's read_lance would need pandas,
    which this project does not install)."""
    import ray

    task = ray.remote(num_cpus=1)(aggregate)
    active_ref = ray.put(active)
    refs = [task.remote(rows[i:i + chunk], active_ref) for i in range(0, len(rows), chunk)]
    total = Partial()
    for part in progress(ray.get(refs), total=len(refs), desc="learn (ray)"):
        total.add(part)
    return total


def _new_phrasings(store: MemoryStore, resolved: dict[str, str], found: dict[str, Opening]) -> list[dict[str, Any]]:
    """Opening messages of resolved conversations that read unlike every known example of their intent."""
    firsts = {c: found[c].text for c in resolved if c in found and found[c].text}
    if not firsts:
        return []
    import hashlib

    import numpy as np

    from memory.embed import get_embedder

    candidates = sorted({(resolved[c], text) for c, text in firsts.items()})
    embedder = get_embedder()
    vectors = embedder.embed([t for _, t in candidates])
    known: dict[str, np.ndarray] = {}
    out: list[dict[str, Any]] = []
    for (intent, text), vec in zip(candidates, vectors):
        if intent not in known:
            rows = (store.table("intent_examples").search().where(f"intent = {sql_str(intent)}")
                    .select(["vector"]).limit(100_000).to_list())
            known[intent] = np.array([r["vector"] for r in rows if r["vector"] is not None], dtype=np.float32)
        have = known[intent]
        v = np.asarray(vec, dtype=np.float32)
        if have.size and float((have @ v).max()) >= NEW_PHRASING_BELOW:
            continue
        example_id = "learned:" + hashlib.sha1(f"{intent}|{text}".encode()).hexdigest()[:16]
        out.append({"example_id": example_id, "intent": intent, "text": text, "source": "learned",
                    "vector": v.tolist()})
        known[intent] = np.vstack([have, v[None, :]]) if have.size else v[None, :]
        if len(out) >= MAX_NEW_EXAMPLES:
            break
    return out


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
    lines += ["", "## KB gaps: questions the knowledge base matched poorly", "", "| intent | best KB score | question |",
              "|---|---|---|"]
    lines += [f"| {g['intent']} | {g['kb_score'] if g['kb_score'] is not None else 'no hit'} | {g['question']} |"
              for g in totals["kb_gaps"][:50]]
    return "\n".join(lines) + "\n"


def learn(memory_uri: str, *, engine: str = "local", with_examples: bool = True,
          report: str | None = None) -> dict[str, Any]:
    store, writer = local_writer(memory_uri)
    started = time.perf_counter()
    watermark, totals, committed = _state(store)
    recovered = 0
    for batch, rows in _unfinished(store, committed):  # a run stopped after its ledger: finish its batch first
        watermark, totals, _ = _learn_batch(store, writer, rows, watermark, totals, batch, engine=engine,
                                            with_examples=with_examples, write_ledger=False)
        recovered += len(rows)
    rows = read_new(store, JOB, watermark)
    new_mark, totals, done = _learn_batch(store, writer, rows, watermark, totals, now_utc(), engine=engine,
                                          with_examples=with_examples, write_ledger=True)
    if report:
        from pathlib import Path

        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(report_markdown(totals))
    elapsed = time.perf_counter() - started
    return {"job": JOB, "engine": engine, "episodes": len(rows), "recovered": recovered, **done,
            "intent_thresholds": totals["intent_thresholds"], "seconds": round(elapsed, 2),
            "episodes_per_s": round(len(rows) / elapsed, 1) if rows else 0.0,
            "watermark": new_mark.isoformat() if new_mark else None}


def _learn_batch(store: MemoryStore, writer: Any, rows: list[dict[str, Any]], watermark: datetime | None,
                 totals: dict[str, Any], batch: datetime, *, engine: str, with_examples: bool,
                 write_ledger: bool) -> tuple[datetime | None, dict[str, Any], dict[str, Any]]:
    """Learn one batch of episodes. The writes are ordered so that a crash anywhere counts nothing twice and loses
    nothing: keyed rows (procedure_runs, intent examples: a rewrite adds nothing), then the ledger stamped with
    the batch time, then graph evidence tagged with the batch (an edge already carrying the tag is skipped), then
    job_state, whose updated_at commits the batch. Ledger rows newer than the commit are a stopped batch that the
    next run finishes (`_unfinished`)."""
    from memory.graph import KnowledgeGraph

    active = _active_versions(store)
    if engine == "ray" and rows:
        part = _aggregate_with_ray(rows, active)
    else:
        part = Partial()
        chunk = 5000
        for i in progress(range(0, len(rows), chunk), total=(len(rows) + chunk - 1) // chunk, desc="learn"):
            part.add(aggregate(rows[i:i + chunk], active))
    found = openings(store, sorted(part.conversations)) if part.conversations else {}
    examples = _new_phrasings(store, part.resolved_conversations, found) if with_examples else []
    totals = dict(totals)
    hist = merge_histograms(totals.pop("clarifications", {}), clarification_histogram(found, part.conversations))
    gaps = (kb_gaps(found, part.conversations) + totals.pop("kb_gaps", []))
    gaps = sorted(gaps, key=lambda g: (g["kb_score"] if g["kb_score"] is not None else -1.0, g["question"]))[:200]
    for i in range(0, len(part.runs), 20_000):
        writer.append("procedure_runs", part.runs[i:i + 20_000])
    if examples:
        writer.upsert("intent_examples", examples)
    if write_ledger:
        ledger = [{"ledger_id": f"{JOB}:{r['episode_id']}", "job": JOB, "episode_id": r["episode_id"],
                   "ended_at": r["ended_at"], "learned_at": batch} for r in rows]
        for i in range(0, len(ledger), 20_000):
            writer.append("learned_episodes", ledger[i:i + 20_000])
    graph = KnowledgeGraph(store, writer)
    edges = graph.add_evidence(dict(part.edges), source=f"job:{JOB}", batch=batch.isoformat()) if part.edges else 0
    new_mark = max(filter(None, [watermark, part.latest]), default=None)
    counts = Counter({k: v for k, v in totals.items() if isinstance(v, int)})
    totals = dict(counts + Counter({"episodes": len(rows), **part.outcomes}))
    totals.update(clarifications=hist, kb_gaps=gaps, intent_thresholds=thresholds(hist))
    writer.upsert("job_state", [{"job": JOB, "watermark": new_mark, "state": json.dumps(totals),
                                 "updated_at": max(now_utc(), batch)}])
    return new_mark, totals, {"runs_recorded": len(part.runs), "graph_edges_touched": edges,
                              "new_intent_examples": len(examples), "kb_gaps": len(gaps),
                              "outcomes": dict(part.outcomes)}


def _unfinished(store: MemoryStore, committed: datetime | None) -> list[tuple[datetime, list[dict[str, Any]]]]:
    """The batches stopped runs left, oldest first: their ledger rows are newer than the last job_state commit."""
    where = f"job = {sql_str(JOB)}" + (f" AND learned_at > {sql_ts(committed)}" if committed else "")
    ledger = (store.table("learned_episodes").search().where(where).select(["episode_id", "learned_at"])
              .limit(10_000_000).to_arrow().to_pylist())
    batches: dict[datetime, list[str]] = {}
    for r in ledger:
        batches.setdefault(r["learned_at"], []).append(r["episode_id"])
    return [(batch, read_ids(store, ids)) for batch, ids in sorted(batches.items())]


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--engine", choices=["local", "ray"], default="local")
    p.add_argument("--no-examples", action="store_true", help="skip learning intent examples (no embedding model)")
    p.add_argument("--report", default=None, help="write thresholds and KB gaps as markdown here")
    args = p.parse_args(argv)
    if args.engine == "ray":
        import ray

        # Under `ray job submit` RAY_ADDRESS names the cluster; run by hand, a private local one (never someone
        # else's cluster that happens to be running on this machine).
        ray.init(address=os.environ.get("RAY_ADDRESS") or "local", ignore_reinit_error=True)
    print_summary(learn(args.memory_uri, engine=args.engine, with_examples=not args.no_examples,
                        report=args.report))


if __name__ == "__main__":
    main()
