"""The failure report's prompt-guideline rules: what the failed runs and their conversations' replies say about the
prompts.

Failed runs that took more than LONG_RUN_STEPS steps -> concision. Then, read from the turns log (every system turn
keeps the API's answer: reply, citations, question) of the conversations behind failed episodes:
- long replies (mean words above the threshold) -> concision;
- an opening reply that does not acknowledge the customer's situation -> acknowledgement;
- low context use: a question asked again after the customer had answered it, or an answering turn that found
  knowledge and did not quote it -> history.
A rule fires when enough of the failed conversations show its signal; the thresholds and the markers are data
(telco/data/prompt_guidelines.yaml).
"""
from __future__ import annotations

import json
from typing import Any

from jobs.common.runs import Run
from jobs.common.tables import rows_in
from memory.store import MemoryStore
from telco.contract.episode import Episode
from telco.prompt_guidelines import ConversationReplies, GuidelineBook, load_guidelines, read_replies

LONG_RUN_STEPS = 14  # failed runs longer than this suggest a concision guideline


def system_turns(store: MemoryStore, conversation_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """conversation id -> the system's turns in order (the recorded TurnOut, or the reply text alone)."""
    out: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for r in rows_in(store.log("turns"), "conversation_id", conversation_ids,
                     ["conversation_id", "seq", "text", "trace"], where="role = 'agent'"):
        try:
            turn = json.loads(r["trace"]) if r.get("trace") else {}
        except json.JSONDecodeError:
            turn = {}
        turn = turn if isinstance(turn, dict) and "reply" in turn else {"reply": r["text"]}
        out.setdefault(r["conversation_id"], []).append((r["seq"], turn))
    return {c: [t for _, t in sorted(ts, key=lambda x: x[0])] for c, ts in out.items()}


def signals(read: ConversationReplies, book: GuidelineBook) -> set[str]:
    found = set()
    if read.mean_words > (book.failure_rules.concision.long_reply_words or book.reply_standard.max_words):
        found.add("concision")
    if not read.opening_acknowledged:
        found.add("acknowledgement")
    if read.reasked or read.passages_cited < read.passages:
        found.add("history")
    return found


def reply_guidelines(store: MemoryStore, failed: list[Episode], have: set[str] = frozenset()
                     ) -> list[dict[str, Any]]:
    """Guideline proposals from the failed episodes' conversations (those not already in `have`)."""
    book = load_guidelines()
    ids = sorted({e.conversation_id for e in failed if e.conversation_id})
    reads = [read_replies(t, book) for t in system_turns(store, ids).values() if t]
    if len(reads) < book.failure_rules.min_conversations:
        return []
    out = []
    for name in ("concision", "acknowledgement", "history"):
        hit = sum(name in signals(r, book) for r in reads)
        share = hit / len(reads)
        if name in have or share < getattr(book.failure_rules, name).min_share:
            continue
        for role in book.guidelines[name].roles:
            out.append({"kind": "prompt_guideline", "role": role, "guideline": name, "share": round(share, 4),
                        "why": f"{hit} of {len(reads)} failed conversations: {book.guidelines[name].why}"})
    return out


def proposed_guidelines(store: MemoryStore, failed: list[Episode], runs: list[Run]) -> list[dict[str, Any]]:
    """Every guideline the failure report proposes: concision from long failed runs (hand-overs the situation
    called for are not failures), then the reply rules over the conversations of the `failed` episodes."""
    long_runs = sum(1 for r in runs if r.failed and len(r.episode.steps) > LONG_RUN_STEPS)
    out = []
    if long_runs:
        out.append({"kind": "prompt_guideline", "role": "dialogue", "guideline": "concision",
                    "why": f"{long_runs} failed runs took more than {LONG_RUN_STEPS} steps"})
    return out + reply_guidelines(store, failed, have={g["guideline"] for g in out})
