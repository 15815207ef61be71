"""What the first exchange of each learned conversation tells the learning job: the customer's own words, how sure
the intent agent was, whether it asked the customer to choose (and whether the answer changed the intent), and
how well the knowledge base matched the question."""
from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from jobs.common.tables import rows_in
from memory.store import MemoryStore

KB_GAP_BELOW = 0.45  # top semantic score under which a question counts as poorly served by the KB
BIN = 0.05  # confidence histogram bin width
MIN_CLARIFIED = 5  # clarifications of an intent before a threshold is proposed for it


class Opening(BaseModel):
    conversation_id: str
    text: str | None = None
    top_intent: str | None = None
    confidence: float | None = None
    asked_to_choose: bool = False
    intents_read: int = 0  # how many intents the first reading raised: more than one, and no one label fits the text
    kb_score: float | None = None  # best semantic hit in the first reply that searched the KB


def openings(store: MemoryStore, conversation_ids: list[str]) -> dict[str, Opening]:
    rows = rows_in(store.log("turns"), "conversation_id", conversation_ids,
                   ["conversation_id", "seq", "role", "text", "trace"], where="role IN ('customer', 'agent')")
    rows.sort(key=lambda r: (r["conversation_id"], r["seq"]))
    out: dict[str, Opening] = {}
    for r in rows:
        o = out.setdefault(r["conversation_id"], Opening(conversation_id=r["conversation_id"]))
        if r["role"] == "customer" and o.text is None:
            o.text = r["text"]
        elif r["role"] == "agent" and r["trace"]:
            trace = json.loads(r["trace"])
            if o.top_intent is None and trace.get("intents"):
                o.top_intent, o.confidence = trace["intents"][0]["intent"], trace["intents"][0]["confidence"]
                o.asked_to_choose = (trace.get("question") or {}).get("kind") == "choice"
                o.intents_read = len(trace["intents"])
            if o.kb_score is None:
                scores = [h["score"] for h in trace.get("trace", {}).get("memory_hits", [])
                          if h.get("source") == "semantic" and h.get("score") is not None]
                if scores:
                    o.kb_score = max(scores)
    return out


def clarification_histogram(found: dict[str, Opening], final_intent: dict[str, str]) -> dict[str, dict[str, list]]:
    """Per top intent and confidence bin: [clarified, clarification changed the intent]."""
    hist: dict[str, dict[str, list]] = {}
    for conv, o in found.items():
        if not o.asked_to_choose or o.top_intent is None or o.confidence is None or conv not in final_intent:
            continue
        b = f"{min(int(o.confidence / BIN), int(1 / BIN) - 1) * BIN:.2f}"
        cell = hist.setdefault(o.top_intent, {}).setdefault(b, [0, 0])
        cell[0] += 1
        cell[1] += final_intent[conv] != o.top_intent
    return hist


def merge_histograms(a: dict, b: dict) -> dict:
    out = json.loads(json.dumps(a))
    for intent, bins in b.items():
        for k, (n, changed) in bins.items():
            cell = out.setdefault(intent, {}).setdefault(k, [0, 0])
            cell[0] += n
            cell[1] += changed
    return out


def thresholds(hist: dict) -> dict[str, dict[str, Any]]:
    """Per intent: the lowest confidence from which asking never changed the customer's intent (asking there only
    cost a turn), proposed as that intent's clarification threshold; below it asking helped at least once."""
    out = {}
    for intent, bins in sorted(hist.items()):
        n = sum(c[0] for c in bins.values())
        if n < MIN_CLARIFIED:
            continue
        helped = sorted(float(k) for k, (_, changed) in bins.items() if changed)
        threshold = round(helped[-1] + BIN, 2) if helped else min(float(k) for k in bins)
        out[intent] = {"clarify_below": threshold, "clarified": n,
                       "changed_intent": sum(c[1] for c in bins.values())}
    return out


def kb_gaps(found: dict[str, Opening], intent_of: dict[str, str]) -> list[dict[str, Any]]:
    gaps = [{"intent": intent_of.get(c), "question": o.text, "kb_score": o.kb_score}
            for c, o in found.items() if o.text and (o.kb_score is None or o.kb_score < KB_GAP_BELOW)]
    return sorted(gaps, key=lambda g: (g["kb_score"] if g["kb_score"] is not None else -1.0, g["question"]))
