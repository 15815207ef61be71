"""Benchmark: how long a Knowledge agent takes to start (construct + warm) over a bootstrapped memory, with the
section and sentence vectors read from memory against embedding them all, as every start did before
memory/text_vectors.py. Same process, same memory, same loaded model, alternating runs.

Usage: python bench/knowledge_start.py [--runs 3]
The last line is a one-line JSON summary.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class Unnamed:
    """The real model without a name: memory's stored vectors cannot be matched to it, so the agent embeds."""

    def __init__(self, embedder) -> None:
        self.inner, self.calls = embedder, 0

    def embed(self, texts):
        self.calls += 1
        return self.inner.embed(texts)


def start_seconds(uri: str, embedder) -> tuple[float, int]:
    from actors.agents.knowledge import KnowledgeAgent
    from memory.kb_sections import added_documents
    from memory.semantic import SemanticMemory
    from memory.store import connect
    from memory.writer import LocalWriter

    started = time.perf_counter()
    store = connect(uri)  # as a replica does: its own connection
    agent = KnowledgeAgent(SemanticMemory(store, LocalWriter(store), embedder), added=lambda: added_documents(store))
    cached = agent.warm()
    return time.perf_counter() - started, cached


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from memory.bootstrap import memory_bootstrap
    from memory.embed import get_embedder
    from telco.config import Settings

    load = os.getloadavg()
    embedder = get_embedder()
    t = time.perf_counter()
    embedder.model
    model_load_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory(prefix="knowledge-start-") as tmp:
        uri = str(Path(tmp) / "memory")
        t = time.perf_counter()
        memory_bootstrap(Settings(memory_uri=uri))
        bootstrap_s = time.perf_counter() - t
        t = time.perf_counter()
        memory_bootstrap(Settings(memory_uri=uri))
        rebootstrap_s = time.perf_counter() - t
        embedding, stored = [], []
        for _ in range(args.runs):
            seconds, cached = start_seconds(uri, Unnamed(embedder))
            embedding.append(seconds)
            seconds, stored_cached = start_seconds(uri, embedder)
            stored.append(seconds)
            assert cached == stored_cached, (cached, stored_cached)
    before, after = statistics.median(embedding), statistics.median(stored)
    summary = {
        "bench": "knowledge_start", "runs": args.runs, "texts": cached,
        "start_s_embedding_median": round(before, 3), "start_s_from_memory_median": round(after, 3),
        "start_s_embedding": [round(s, 3) for s in embedding], "start_s_from_memory": [round(s, 3) for s in stored],
        "speedup": round(before / after, 1), "model_load_s": round(model_load_s, 2),
        "bootstrap_fresh_s": round(bootstrap_s, 2), "bootstrap_again_s": round(rebootstrap_s, 2),
        "machine": {"nproc": os.cpu_count(), "load_at_start": [round(x, 2) for x in load],
                    "python": platform.python_version()},
    }
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
