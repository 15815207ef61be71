"""Knowledge gaps: the questions the knowledge agent could not answer, clustered by meaning into reports that an
operations person can close by adding a KB section (POST /v1/admin/kb/sections).

A question is a gap when, in the turn's trace (`trace.knowledge`, written by the planner):
- low_score: the knowledge agent found nothing close enough to quote, or quoted a section that was only loosely
  related (best similarity under KB_GAP_BELOW),
- handed_over: the answer was in the reply and a person took over within the next HANDOVER_WITHIN turns,
- not_helpful: the answer was the conversation's last one in a reply and the customer's feedback said the
  problem was not resolved, or rated the conversation NOT_HELPFUL_CSAT or lower.

Read from the turns log, not from episodes: a question the system could not place under any intent opens no issue
and leaves no episode. Conversations with a row since the last run (less a grace period, so a turn committed late
is not missed) are read whole, and their gap questions upserted by turn id, so a rerun adds nothing. The clusters
are then recomputed from every stored question (the most recent MAX_QUESTIONS): greedy, in the order the questions
were asked, each joining the closest cluster centre at or above CLUSTER_MIN_SIMILARITY or starting its own, so the
same questions always give the same clusters and a cluster keeps its id (its first question's) as questions are
added. The reports replace the previous run's in one commit (memory/kb_gaps.py), so none is left orphaned.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from jobs.common.tables import rows_in
from jobs.intent.openings import KB_GAP_BELOW
from memory.kb_gaps import QUESTIONS, replace_reports
from memory.store import MemoryStore, now_utc, sql_str, sql_ts

JOB = "learn:kb-gaps"
# A question joins a cluster whose centre is at least this close (cosine). Measured with all-MiniLM-L6-v2 on the
# questions of tests/jobs/test_knowledge_gaps.py (12 questions, 4 topics: eSIM, voicemail, phone insurance, student
# discounts): questions of one topic sit 0.48-0.88 from each other, of different topics at most 0.44; 0.50-0.60
# gives the 4 topics, 0.65 splits them into 7. One report per topic is what a KB section answers.
CLUSTER_MIN_SIMILARITY = 0.55
HANDOVER_WITHIN = 2
NOT_HELPFUL_CSAT = 2
MIN_WORDS = 3  # "hello", "thanks": small talk, not a question the knowledge base should answer
MAX_QUESTIONS = 20_000
EXAMPLES = 5
GRACE = timedelta(minutes=5)
_NOT_A_HANDOVER = {None, "already_with_person"}


def conversation_gaps(turns: list[dict[str, Any]], feedback: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The gap questions of one conversation. `turns`: its agent rows in order, each {turn_id, created_at,
    trace: the TurnOut as a dict}; `feedback`: the customer's rating ({csat, resolved}) if they gave one."""
    traces = [t["trace"].get("trace") or {} for t in turns]
    shown = [i for i, tr in enumerate(traces) if (tr.get("knowledge") or {}).get("shown")]
    out = []
    for i, (turn, tr) in enumerate(zip(turns, traces)):
        k = tr.get("knowledge")
        if not k or len(k["question"].split()) < MIN_WORDS:
            continue
        score = k.get("best_score")
        reason = None
        if not k["confident"] or (k["shown"] and (score is None or score < KB_GAP_BELOW)):
            reason = "low_score"
        elif k["shown"]:
            later = traces[i + 1:i + 1 + HANDOVER_WITHIN]
            if any(t.get("escalation_rule") not in _NOT_A_HANDOVER for t in later):
                reason = "handed_over"
            elif feedback and i == shown[-1] and (not feedback.get("resolved", True)
                                                  or feedback.get("csat", 5) <= NOT_HELPFUL_CSAT):
                reason = "not_helpful"
        if reason:
            out.append({"question_id": turn["turn_id"], "conversation_id": turn["conversation_id"],
                        "question": " ".join(k["question"].split()), "reason": reason, "best_score": score,
                        "asked_at": turn["created_at"]})
    return out


def read_gap_questions(store: MemoryStore, since: datetime | None) -> tuple[list[dict[str, Any]], datetime | None]:
    """Gap questions of the conversations with a row after `since`, and the newest row time seen."""
    turns = store.log("turns")
    query = turns.search()
    if since is not None:
        query = query.where(f"created_at > {sql_ts(since - GRACE)}")
    touched = query.select(["conversation_id", "created_at"]).limit(10_000_000).to_list()
    if not touched:
        return [], since
    latest = max(r["created_at"] for r in touched)
    conversations = sorted({r["conversation_id"] for r in touched})
    agent = rows_in(turns, "conversation_id", conversations, ["turn_id", "conversation_id", "seq", "trace",
                                                               "created_at"], where="role = 'agent'")
    states = rows_in(turns, "conversation_id", conversations, ["conversation_id", "seq", "state_patch"],
                     where="role = 'system'")
    feedback: dict[str, tuple[int, dict]] = {}
    for r in states:
        given = (json.loads(r["state_patch"] or "{}").get("context") or {}).get("feedback")
        if given and r["seq"] >= feedback.get(r["conversation_id"], (-1, {}))[0]:
            feedback[r["conversation_id"]] = (r["seq"], given)
    by_conversation: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(agent, key=lambda r: (r["conversation_id"], r["seq"])):
        if r["trace"]:
            by_conversation.setdefault(r["conversation_id"], []).append({**r, "trace": json.loads(r["trace"])})
    out = []
    for conversation, rows in by_conversation.items():
        out += conversation_gaps(rows, feedback.get(conversation, (0, None))[1])
    return out, max(latest, since) if since else latest


def cluster(questions: list[dict[str, Any]], threshold: float = CLUSTER_MIN_SIMILARITY) -> list[dict[str, Any]]:
    """Gap reports from question rows (each with a unit `vector`), greedily in the order asked."""
    ordered = sorted(questions, key=lambda q: (q["asked_at"], q["question_id"]))
    sums: list[np.ndarray] = []
    members: list[list[int]] = []
    centres = np.zeros((0, 0), dtype=np.float32)
    vectors = [np.asarray(q["vector"], dtype=np.float32) for q in ordered]
    for i, v in enumerate(vectors):
        if sums:
            sims = centres @ v
            j = int(np.argmax(sims))
            if sims[j] >= threshold:
                sums[j] = sums[j] + v
                members[j].append(i)
                centres[j] = sums[j] / max(float(np.linalg.norm(sums[j])), 1e-9)
                continue
        sums.append(v.copy())
        members.append([i])
        centres = np.vstack([centres, v[None, :]]) if centres.size else v[None, :].copy()
    now = now_utc()
    reports = []
    for j, idx in enumerate(members):
        group = [ordered[i] for i in idx]
        closeness = [float(centres[j] @ vectors[i]) for i in idx]
        by_closeness = [group[n] for n in sorted(range(len(group)), key=lambda n: (-closeness[n], n))]
        examples: list[str] = []
        for q in by_closeness:
            if q["question"].lower() not in {e.lower() for e in examples}:
                examples.append(q["question"])
            if len(examples) == EXAMPLES:
                break
        scores = [q["best_score"] for q in group if q["best_score"] is not None]
        reports.append({
            "gap_id": "gap-" + hashlib.sha1(group[0]["question_id"].encode()).hexdigest()[:12],
            "question": examples[0], "examples": examples, "count": len(group),
            "best_score": max(scores) if scores else None,
            "reasons": json.dumps(dict(sorted(Counter(q["reason"] for q in group).items()))),
            "first_seen": group[0]["asked_at"], "last_seen": max(q["asked_at"] for q in group),
            "updated_at": now, "vector": centres[j].tolist(),
        })
    return reports


def learn_gaps(store: MemoryStore, writer: Any, embedder: Any = None) -> dict[str, Any]:
    """One run: new gap questions stored, every cluster recomputed and the reports replaced. The embedding model is
    loaded only when there are questions to embed."""
    rows = store.table("job_state").search().where(f"job = {sql_str(JOB)}").limit(1).to_list()
    since = rows[0]["watermark"] if rows else None
    found, latest = read_gap_questions(store, since)
    new = 0
    if found:
        have = {r["question_id"]: r["vector"] for r in rows_in(store.table(QUESTIONS), "question_id",
                                                                [q["question_id"] for q in found],
                                                                ["question_id", "vector"])}
        new = sum(1 for q in found if q["question_id"] not in have)
        missing = [q for q in found if have.get(q["question_id"]) is None]
        if missing:
            if embedder is None:
                from memory.embed import get_embedder

                embedder = get_embedder()
            for q, v in zip(missing, embedder.embed([q["question"] for q in missing])):
                have[q["question_id"]] = v.tolist()
        writer.upsert(QUESTIONS, [{**q, "vector": list(have[q["question_id"]])} for q in found])
    stored = (store.table(QUESTIONS).search().select(["question_id", "question", "reason", "best_score",
                                                      "asked_at", "vector"])
              .limit(10_000_000).to_list())
    stored = sorted(stored, key=lambda q: (q["asked_at"], q["question_id"]))[-MAX_QUESTIONS:]
    summary = replace_reports(store, writer, cluster(stored))
    if latest is not None and latest != since:
        writer.upsert("job_state", [{"job": JOB, "watermark": latest, "state": json.dumps(summary),
                                     "updated_at": now_utc()}])
    # Conversations touched since the last run are read whole (and within GRACE again), so `read` counts some
    # questions a second time; `new` only the ones never stored before.
    return {"new_questions": new, "read_questions": len(found), "stored_questions": len(stored), **summary}
