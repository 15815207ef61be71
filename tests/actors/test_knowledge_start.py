"""A Knowledge agent starts from memory: over a bootstrapped memory (real LanceDB, real embedding model) it reads
the vectors of every KB section and sentence that bootstrap stored and embeds none of them, answers as an agent that
embedded them all itself, and embeds only what memory does not hold (a section added after bootstrap)."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest
from memory_template import bootstrapped_memory

from actors.agents.knowledge import KnowledgeAgent
from memory.embed import get_embedder
from memory.kb_sections import AddedSections, added_documents
from memory.semantic import SemanticMemory
from memory.store import connect
from memory.writer import LocalWriter
from telco.contract.kb import KbSectionIn
from telco.contract.messages import KnowledgeRequest
from telco.knowledge import compared_texts, load_documents

QUESTIONS = ["what's the MMSC address I should put in my phone?",
             "how long after getting a bill can I still complain about something on it?"]


class Counting:
    """The real model, recording every batch it is asked to embed."""

    def __init__(self, *, named: bool = True) -> None:
        self.inner, self.named, self.calls = get_embedder(), named, []

    @property
    def model_name(self):
        # Unnamed, memory's vectors cannot be matched to the model: the agent embeds everything, as before.
        return self.inner.model_name if self.named else None

    def embed(self, texts):
        self.calls.append(list(texts))
        return self.inner.embed(texts)


@pytest.fixture(scope="module")
def uri(tmp_path_factory) -> str:
    return bootstrapped_memory(tmp_path_factory.mktemp("memory"))


def started(uri: str, embedder: Counting) -> KnowledgeAgent:
    store = connect(uri)
    agent = KnowledgeAgent(SemanticMemory(store, LocalWriter(store), embedder), added=lambda: added_documents(store))
    agent.warm()
    return agent


def ask(agent: KnowledgeAgent, question: str):
    return asyncio.run(agent.answer(KnowledgeRequest(question=question)))


def test_a_started_agent_embeds_no_text_memory_holds_and_answers_as_before(uri):
    counting = Counting()
    agent = started(uri, counting)
    texts = set(compared_texts(load_documents()))
    assert len(agent._vectors) == len(texts) and counting.calls == []
    for question in QUESTIONS:
        ask(agent, question)
    assert counting.calls == [[q] for q in QUESTIONS]  # the questions, and nothing else

    # As an agent that embeds what it compares with (not warmed: only the texts these questions reach, to stay cheap).
    store = connect(uri)
    embedding = Counting(named=False)
    own = KnowledgeAgent(SemanticMemory(store, LocalWriter(store), embedding), added=lambda: added_documents(store))
    for question in QUESTIONS:
        mine, theirs = ask(agent, question), ask(own, question)
        assert mine.answer == theirs.answer and mine.confident
        assert [c.section_id for c in mine.citations] == [c.section_id for c in theirs.citations]
        assert [c.score for c in mine.citations] == pytest.approx([c.score for c in theirs.citations], abs=2e-4)
    embedded = {t for batch in embedding.calls for t in batch} - set(QUESTIONS)
    assert embedded and embedded <= texts
    for text in embedded:  # the same model and normalisation: equal up to float rounding across batch shapes
        np.testing.assert_allclose(agent._vectors[text], own._vectors[text], atol=1e-6)


def test_only_a_section_added_after_bootstrap_is_embedded_at_start(tmp_path):
    uri = bootstrapped_memory(tmp_path / "memory")
    store = connect(uri)
    section = KbSectionIn(doc_id="esim", title="eSIM", services=["mobile"], heading="Getting an eSIM",
                          body="Ask us for an eSIM profile. Scan the QR code we send you.")
    AddedSections(store, LocalWriter(store), get_embedder()).add(section, added_by="root")
    counting = Counting()
    started(uri, counting)
    assert counting.calls == [["eSIM: Getting an eSIM\nAsk us for an eSIM profile. Scan the QR code we send you.",
                               "Ask us for an eSIM profile.", "Scan the QR code we send you."]]
