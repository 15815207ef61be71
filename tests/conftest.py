"""Shared fixtures: real LanceDB in temporary directories and the real embedding model, loaded once.

The test doubles and kits (scripted world, fake planner, clocks) live in tests/support, put on the path here.
"""
from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))

from memory_template import bootstrapped_memory  # noqa: E402
from memory_testkit import Clock  # noqa: E402

from memory.embed import Embedder, get_embedder  # noqa: E402
from memory.store import connect  # noqa: E402
from memory.writer import LocalWriter  # noqa: E402


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    e = get_embedder()
    e.model  # load now so the first test does not carry the load time
    return e


@pytest.fixture(scope="session")
def kb(tmp_path_factory, embedder):
    """The knowledge base ingested once per session (semantic memory + seeded graph), read-only for tests."""
    from memory.graph import KnowledgeGraph
    from memory.semantic import SemanticMemory

    s = connect(tmp_path_factory.mktemp("kb") / "memory")
    w = LocalWriter(s)
    graph = KnowledgeGraph(s, w)
    graph.load_seed()
    semantic = SemanticMemory(s, w, embedder, graph)
    semantic.ingest()
    return semantic


@pytest.fixture
def store(tmp_path):
    return connect(tmp_path / "memory")


@pytest.fixture
def writer(store):
    return LocalWriter(store, cleanup_older_than=timedelta(seconds=1))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def offline_client(tmp_path_factory):
    """The whole offline system in this process (actors/runtime/local.py) over a freshly bootstrapped memory: one
    per test module (a copy of the session's bootstrapped template: tests/support/memory_template.py)."""
    from actors.runtime.local import LocalClient

    uri = str(tmp_path_factory.mktemp("memory"))
    bootstrapped_memory(uri)
    with LocalClient(uri) as c:
        yield c
