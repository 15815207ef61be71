"""Knowledge agent (actors/agents/knowledge.py + telco/data/knowledge.yaml) with the real embedding model and a real
LanceDB holding the real knowledge base: quoted answers with citations, no answer to off-topic questions, intent
steering, stale documents flagged, and clear errors for bad input."""
from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from actors.agents.knowledge import SETTINGS_FILE, KnowledgeAgent, load_settings, measure, split_sentences
from telco.contract.messages import KnowledgeAnswer, KnowledgeRequest
from memory.embed import get_embedder
from memory.semantic import SemanticMemory
from memory.store import connect
from memory.writer import LocalWriter
from telco.errors import InvalidInput
from telco.intents import load_intents
from telco.knowledge import find_section, load_documents, load_retrieval_eval

DOCS = load_documents()
SETTINGS = load_settings()
KB_DATE = max(d.updated for d in DOCS)
FRESH = KB_DATE + timedelta(days=30)  # a day on which no document is old yet


class MemoEmbedder:
    """The real model, remembering what it embedded: ingestion and the agent embed the same section texts, and
    the test should not pay for them twice."""

    def __init__(self, model) -> None:
        self.model, self.seen = model, {}

    def embed(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if missing:
            self.seen.update(zip(missing, self.model.embed(missing)))
        return np.stack([self.seen[t] for t in texts]) if texts else self.model.embed([])

    def embed_one(self, text):
        return self.embed([text])[0]


@pytest.fixture(scope="module")
def memory(tmp_path_factory) -> SemanticMemory:
    store = connect(tmp_path_factory.mktemp("kb-memory"))
    mem = SemanticMemory(store, LocalWriter(store), MemoEmbedder(get_embedder()))
    mem.ingest(DOCS)
    return mem


@pytest.fixture(scope="module")
def agent(memory) -> KnowledgeAgent:
    return KnowledgeAgent(memory, today=lambda: FRESH)


def ask(agent: KnowledgeAgent, question: str, **kw) -> KnowledgeAnswer:
    return asyncio.run(agent.answer(KnowledgeRequest(question=question, **kw)))


def flat(text: str) -> str:
    return " ".join(text.split())


CLEAR = [
    ("the connection cuts out like clockwork every half hour and the box feels really hot",
     "broadband-keeps-dropping#a-router-that-overheats-reboots-itself"),
    ("what's the MMSC address I should put in my phone?", "mms-picture-messages#mms-centre-settings"),
    ("can I top up 10 gigs in one go?", "data-refuel#how-much-data-can-be-added"),
    ("how long after getting a bill can I still complain about something on it?",
     "billing-disputes#the-deadline-for-raising-a-dispute"),
]


@pytest.mark.parametrize("question,expected", CLEAR)
def test_answer_quotes_the_cited_sections_word_for_word(agent, question, expected):
    answer = ask(agent, question)
    assert answer.confident and answer.mode == "offline"
    assert expected in [c.section_id for c in answer.citations]
    assert 1 <= len(answer.quotes) <= SETTINGS.answer.max_sentences
    assert answer.answer == " ".join(q.text for q in answer.quotes) and answer.note is None
    for quote in answer.quotes:
        cited = answer.citations[quote.citation]
        assert quote.text in flat(find_section(DOCS, cited.section_id).text)  # extractive: never invented
    for c in answer.citations:
        doc = next(d for d in DOCS if d.id == c.doc_id)
        section = find_section(DOCS, c.section_id)
        assert (c.title, c.heading, c.updated, c.stale) == (doc.title, section.heading, doc.updated, False)
        assert SETTINGS.confidence.min_similarity - SETTINGS.answer.section_margin <= c.score <= 1
    assert {q.citation for q in answer.quotes} == set(range(len(answer.citations)))  # every citation is used


def test_the_answer_stays_short(agent):
    answer = ask(agent, "I pay for 500 meg and only get about 100, is that acceptable?")
    first = answer.quotes[0].text
    assert len(answer.answer.split()) <= max(SETTINGS.answer.max_words, len(first.split()))


@pytest.mark.parametrize("question", SETTINGS.off_topic_probes)
def test_off_topic_questions_are_not_answered(agent, question):
    answer = ask(agent, question)
    # Nothing quoted; how close the KB came is still said (the learning job's gap reports read it).
    assert answer.model_copy(update={"best_score": None}) == KnowledgeAnswer(answer="", citations=[], confident=False)
    assert answer.best_score is not None and answer.best_score < SETTINGS.confidence.min_similarity


def test_confidence_bar_keeps_labelled_questions_answered(agent):
    """The bar is set just above the off-topic probes; on a fixed sample of the labelled set (the whole set and
    the citation rates are `python -m actors.agents.knowledge`) it must still let real questions through."""
    sample = load_retrieval_eval()[::12]
    result = measure(agent, sample, [], with_intents=False)
    assert result["answered"] >= 0.9, result


def test_intent_settles_a_near_tie(agent):
    # Two sections score within 0.01 of each other; the customer's intent (no service) says which one they need.
    question = "I paid the overdue amount, when will my number start working again"
    plain = ask(agent, question)
    steered = ask(agent, question, intent="mobile_no_service")
    assert plain.citations[0].doc_id == "billing-and-payments"
    assert steered.citations[0].section_id == "suspension-and-reactivation#reactivating-after-an-overdue-bill"
    assert steered.citations[0].doc_id in load_intents()["mobile_no_service"].kb_docs


def test_an_unrelated_intent_does_not_override_a_clear_answer(agent):
    question, expected = CLEAR[1]
    answer = ask(agent, question, intent="broadband_slow")
    assert answer.confident and answer.citations[0].section_id == expected


def test_old_documents_are_flagged(memory):
    later = KB_DATE + timedelta(days=SETTINGS.staleness.after_days["policy"] + 1)
    assert (later - KB_DATE).days <= SETTINGS.staleness.after_days["manual"]  # policy stale, manuals not yet
    agent = KnowledgeAgent(memory, today=lambda: later)
    policy = ask(agent, CLEAR[2][0])  # data refuel: a policy document
    assert any(c.stale for c in policy.citations)
    assert policy.note == SETTINGS.staleness.note.format(updated=KB_DATE.isoformat())
    assert policy.answer.endswith(policy.note)
    manual = ask(agent, CLEAR[0][0])  # router overheating: a manual
    assert manual.confident and not any(c.stale for c in manual.citations) and manual.note is None


def test_same_question_same_answer(agent, memory):
    question = "why won't you turn on roaming for me, I'm flying tomorrow"
    first = ask(agent, question, intent="mobile_data")
    assert first == ask(agent, question, intent="mobile_data")
    assert first == ask(KnowledgeAgent(memory, today=lambda: FRESH), question, intent="mobile_data")


def test_sections_the_loaded_kb_does_not_know_are_never_cited(memory):
    # The index holds every document; this agent's KB lacks one (an index built from another KB version).
    docs = [d for d in DOCS if d.id != "broadband-keeps-dropping"]
    agent = KnowledgeAgent(memory, docs=docs, intent_docs={}, today=lambda: FRESH)
    answer = ask(agent, CLEAR[0][0])
    assert all(c.doc_id != "broadband-keeps-dropping" for c in answer.citations)


# ---- bad input --------------------------------------------------------------------------------------------
def test_empty_question_is_refused(agent):
    with pytest.raises(InvalidInput, match="must not be empty"):
        ask(agent, "   ")


def test_unknown_intent_is_refused(agent):
    with pytest.raises(InvalidInput, match="unknown intent 'weather'"):
        ask(agent, "is it raining", intent="weather")


def test_malformed_request_is_refused(agent):
    with pytest.raises(InvalidInput, match="k"):
        asyncio.run(agent.answer({"question": "roaming prices", "k": 50}))


def test_intent_docs_must_exist(memory):
    with pytest.raises(InvalidInput, match=r"'mms' lists kb_docs \['picture-msgs'\]"):
        KnowledgeAgent(memory, intent_docs={"mms": ["picture-msgs"]})


def test_search_without_an_embedder_is_refused():
    class Bare:
        def search(self, query, **kw):
            raise AssertionError("not reached")

    with pytest.raises(InvalidInput, match="needs an embedder"):
        KnowledgeAgent(Bare())


@pytest.mark.parametrize("mutate,message", [
    (lambda r: r["confidence"].update(min_similarity=2), "confidence.min_similarity"),
    (lambda r: r["staleness"].update(note="old"), "staleness.note"),
    (lambda r: r["answer"].update(max_sentences=5), "answer.max_sentences"),
    (lambda r: r.update(colour="red"), "colour"),
    (lambda r: r["staleness"]["after_days"].pop("manual"), r"missing \['manual'\]"),
    (lambda r: r["staleness"]["after_days"].update(polcy=10), "polcy"),
])
def test_bad_settings_are_refused(tmp_path: Path, memory, mutate, message):
    raw = yaml.safe_load(SETTINGS_FILE.read_text())
    mutate(raw)
    path = tmp_path / "knowledge.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(InvalidInput, match=message):
        KnowledgeAgent(memory, settings_path=path)


# ---- data and helpers -------------------------------------------------------------------------------------
def test_every_intent_names_real_kb_documents():
    ids = {d.id for d in DOCS}
    for intent, spec in load_intents().items():
        assert set(spec.kb_docs) <= ids, (intent, set(spec.kb_docs) - ids)


def test_sentences_split_on_prose_boundaries_only():
    text = ("For our network it must be http://mms.telco.example/mms, and the APN should be internet.telco. If\n"
            "it differs, reset it. A credit is at most $25.00 per credit! Why? Because.")
    assert split_sentences(text) == (
        "For our network it must be http://mms.telco.example/mms, and the APN should be internet.telco.",
        "If it differs, reset it.", "A credit is at most $25.00 per credit!", "Why?", "Because.")
