"""New phrasings of an intent: the opening words of resolved conversations that read unlike every known example of
their intent (by embedding), kept as learned intent examples for the classifier."""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from jobs.intent.openings import Opening
from memory.embed import get_embedder
from memory.store import MemoryStore, sql_str

NEW_PHRASING_BELOW = 0.9  # cosine to the intent's nearest known example under which a phrasing counts as new
MAX_NEW_EXAMPLES = 200  # per run, so one burst of odd traffic cannot flood the classifier


def new_phrasings(store: MemoryStore, resolved: dict[str, str], found: dict[str, Opening]) -> list[dict[str, Any]]:
    """Opening messages of resolved conversations (conversation id -> intent) that read unlike every known example
    of their intent, as intent_examples rows. Only labels the customer gave are learned: the conversation asked
    them to choose, or it ended under another intent than the first reading. An opening read as the intent it was
    resolved under, with no question asked, is the classifier's own label: learning it would teach the classifier
    its mistakes (an informal "data" complaint read as no service, "resolved" once the status bar shows signal).
    An opening that raised several intents ("... Also, is there an outage near me?") is no example of any one."""
    firsts = {c: o.text for c in resolved if (o := found.get(c)) is not None and o.text and o.intents_read <= 1
              and (o.asked_to_choose or o.top_intent != resolved[c])}
    if not firsts:
        return []
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
