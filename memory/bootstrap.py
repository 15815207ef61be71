"""Loads what the system starts with into memory: the KB, the knowledge-graph seed, playbooks, intent examples.

Idempotent: running it again upserts the same rows (and keeps a playbook version that is already active).
Runs before the app serves traffic, so it writes in-process rather than through the writer actors.
"""
from __future__ import annotations

from typing import Any

import yaml

from telco.data import INTENT_CALIBRATION_FILE, PROMPTS_DIR


def memory_bootstrap(settings: Any) -> str:
    from memory.embed import get_embedder
    from memory.graph import KnowledgeGraph
    from memory.kb_sections import added_documents
    from memory.procedural import ProceduralMemory
    from memory.semantic import SemanticMemory
    from memory.store import connect
    from memory.text_vectors import store_compared_texts
    from memory.writer import LocalWriter
    from telco.knowledge import load_documents, merge_documents

    store = connect(settings.memory_uri)
    writer = LocalWriter(store)
    embedder = get_embedder()
    graph = KnowledgeGraph(store, writer)
    chunks = SemanticMemory(store, writer, embedder, graph).ingest()
    # After the chunks: a section whose chunk has exactly its text takes the chunk's vector.
    texts, _ = store_compared_texts(store, writer, embedder, merge_documents(load_documents(),
                                                                             added_documents(store)))
    facts = graph.load_seed()
    playbooks = ProceduralMemory(store, writer).load_playbooks()
    examples, published = load_intent_examples(store, writer, embedder)
    prompts = load_role_prompts(store, writer)
    return (f"{chunks} KB chunks ({texts} texts the knowledge agent compares with), {facts} graph facts, "
            f"{len(playbooks)} new playbook versions, {examples} intent examples{' (example set v1)' if published else ''}, {prompts} new role prompts")


def load_intent_examples(store: Any, writer: Any, embedder: Any) -> tuple[int, bool]:
    """The catalogue's examples into `intent_examples` (what learning compares new phrasings with) and, on a memory
    with no example set yet, as the served set v1 with the calibration fitted on them (memory/intent_sets.py)."""
    from memory.intent_sets import publish_catalogue
    from telco.intents import load_intents

    examples = [(spec.id, text) for spec in load_intents().values() for text in spec.examples]
    rows = [{"example_id": f"seed:{intent}:{n}", "intent": intent, "text": text, "source": "catalogue"}
            for n, (intent, text) in enumerate(examples)]
    # A restart over existing memory embeds only the catalogue rows that are new or changed.
    stored = {(r["example_id"], r["intent"], r["text"]) for r in store.table("intent_examples").search()
              .where("source = 'catalogue'").select(["example_id", "intent", "text"]).limit(1_000_000).to_list()}
    changed = [r for r in rows if (r["example_id"], r["intent"], r["text"]) not in stored]
    if changed:
        vectors = embedder.embed([r["text"] for r in changed])
        writer.upsert("intent_examples", [{**r, "vector": v.tolist()} for r, v in zip(changed, vectors)])
    published = publish_catalogue(store, writer, examples, yaml.safe_load(INTENT_CALIBRATION_FILE.read_text()))
    return len(examples), published is not None


def load_role_prompts(store: Any, writer: Any) -> int:
    """telco/data/prompts/<role>.md into the prompt registry: a text not registered yet becomes that role's active
    version when the role has none, else a candidate (promotion is the evaluation jobs' decision)."""

    from memory.prompts import PromptRegistry
    from telco.errors import NotFound

    registry = PromptRegistry(store, writer)
    added = 0
    for path in sorted(PROMPTS_DIR.glob("*.md")):
        role, text = path.stem, path.read_text().strip()
        history = registry.history(role)
        if any(v.text == text for v in history):
            continue
        try:
            registry.active(role)
            status = "candidate"
        except NotFound:
            status = "active"
        registry.register(role, text, status=status, note=f"from {path.name}")
        added += 1
    return added
