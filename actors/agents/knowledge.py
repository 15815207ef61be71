"""Knowledge agent (offline): answers a question from the knowledge base with sentences quoted word for word.

1. Retrieve: memory's hybrid search (vector + full text) proposes candidate sections.
2. Judge: each candidate's cosine similarity to the question, plus a small boost for the documents the intent
   usually needs (`kb_docs` in telco/data/intents.yaml). When even the best section is too far from the question,
   nothing is quoted and the answer says it is not confident.
3. Extract: from the closest sections, the sentences closest to the question (1-3, within a word budget), put
   back in reading order and each tied to its citation. Nothing is paraphrased, so nothing can be invented.
4. Date: a quoted document older than its staleness limit adds a note saying so.
Sections people add through the admin route (memory/kb_sections.py) are served without a restart: when a search
hit names a section this replica does not know, or its text differs from the copy held, the added sections are
read again (`added`), so the steady state costs one set lookup per hit and no read.
The sections' and sentences' vectors are read from memory at start, where bootstrap stored them
(memory/text_vectors.py); only texts memory does not hold (a section added since) are embedded here.
Every number is data: telco/data/knowledge.yaml. `python -m actors.agents.knowledge` measures them on the labelled set.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence, get_args

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from telco.contract.messages import Citation, KnowledgeAnswer, KnowledgeRequest, Quote
from telco.data import KNOWLEDGE_FILE
from telco.errors import InvalidInput
from telco.knowledge import KbDocument, KbSection, indexed_text, load_documents, merge_documents, split_sentences

SETTINGS_FILE = KNOWLEDGE_FILE


class KnowledgeSearch(Protocol):
    """What the agent needs from semantic memory (memory.semantic.SemanticMemory fits)."""

    def search(self, query: str, *, k: int = ..., mode: str = ...,
               query_vector: np.ndarray | None = ...) -> Any:  # .hits[i].section_id
        ...


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray:  # unit-length rows
        ...


# ---- settings ---------------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetrievalSettings(_Strict):
    pool: int = Field(ge=1, le=30)
    intent_boost: float = Field(ge=0, le=1)


class ConfidenceSettings(_Strict):
    min_similarity: float = Field(gt=-1, lt=1)


class AnswerSettings(_Strict):
    section_margin: float = Field(ge=0, le=2)
    max_sentences: int = Field(ge=1, le=3)
    sentence_margin: float = Field(ge=0, le=2)
    max_words: int = Field(ge=10)


KbKind = KbDocument.model_fields["kind"].annotation


class StalenessSettings(_Strict):
    after_days: dict[KbKind, int]  # by document kind
    note: str = Field(pattern=r"\{updated\}")

    @model_validator(mode="after")
    def _every_kind(self) -> "StalenessSettings":
        missing = set(get_args(KbKind)) - set(self.after_days)
        if missing:
            raise ValueError(f"after_days needs a limit for every document kind; missing {sorted(missing)}")
        return self


class KnowledgeSettings(_Strict):
    retrieval: RetrievalSettings
    confidence: ConfidenceSettings
    answer: AnswerSettings
    staleness: StalenessSettings
    off_topic_probes: list[str] = Field(min_length=1)


def load_settings(path: Path | str | None = None) -> KnowledgeSettings:
    source = Path(path) if path is not None else SETTINGS_FILE
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
        return KnowledgeSettings.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{source}: cannot read the knowledge settings: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"{source}: bad knowledge settings: {problems}") from exc


@dataclass(frozen=True)
class _Section:
    doc: KbDocument
    section: KbSection
    sentences: tuple[str, ...]

    @property
    def indexed_text(self) -> str:
        return indexed_text(self.doc, self.section)

    def holds(self, chunk_text: str) -> bool:
        """The indexed chunk's text is part of this copy of the section (a chunk is "<title>: <heading>\n<part>")."""
        _, _, part = chunk_text.partition("\n")
        return " ".join(part.split()) in self.flat_text

    @cached_property
    def flat_text(self) -> str:
        return " ".join(self.section.text.split())


@dataclass(frozen=True)
class _Candidate:
    section: _Section
    similarity: float  # cosine to the question: the confidence signal, never boosted
    relevance: float  # similarity plus the intent boost: the order in which sections are quoted


# ---- the agent --------------------------------------------------------------------------------------------
class KnowledgeAgent:
    """Stateless apart from a cache of KB section and sentence vectors (bounded by the size of the KB)."""

    def __init__(self, search: KnowledgeSearch, *, embedder: Embedder | None = None,
                 docs: Iterable[KbDocument] | None = None, intent_docs: dict[str, list[str]] | None = None,
                 settings_path: Path | str | None = None, today: Callable[[], date] = date.today,
                 added: Callable[[], Iterable[KbDocument]] | None = None) -> None:
        self.search = search
        self.embedder = embedder if embedder is not None else getattr(search, "embedder", None)
        if self.embedder is None:
            raise InvalidInput("the knowledge agent needs an embedder: pass one, or a search object that has .embedder")
        docs = list(docs) if docs is not None else load_documents()
        self._base_docs = docs
        # added: the sections people added through the admin route (memory.kb_sections.added_documents).
        self._added = added
        self._sections = self._index(docs)
        self._unresolved: set[tuple[str, int]] = set()  # hits a refresh could not explain: never refresh for them
        if added is not None:
            self.refresh()
        if intent_docs is None:
            from telco.intents import load_intents

            intent_docs = {i: spec.kb_docs for i, spec in load_intents().items()}
        known = {d.id for d in docs}
        for intent, ids in intent_docs.items():
            if set(ids) - known:
                raise InvalidInput(f"intent {intent!r} lists kb_docs {sorted(set(ids) - known)} that are not in "
                                   "the knowledge base")
        self._intent_docs = {i: frozenset(ids) for i, ids in intent_docs.items()}
        self.settings = load_settings(settings_path)
        self._today = today
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._load_stored_vectors()

    async def answer(self, request: KnowledgeRequest) -> KnowledgeAnswer:
        if not isinstance(request, KnowledgeRequest):
            try:
                request = KnowledgeRequest.model_validate(request)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise InvalidInput(f"bad knowledge request: {first['loc']}: {first['msg']}") from exc
        # Embedding and search are CPU work: off the event loop, so a replica keeps serving other calls.
        return await asyncio.to_thread(self.answer_now, request)

    def answer_now(self, request: KnowledgeRequest) -> KnowledgeAnswer:
        given = np.asarray(request.question_vector, dtype=np.float32) if request.question_vector else None
        candidates, question_vec = self._candidates(request.question.strip(), request.intent, request.k, given)
        return self._answer(candidates, question_vec, request.k)

    def best_similarity(self, question: str) -> float:
        """How close the best retrieved section is to the question (what confidence is judged on)."""
        candidates, _ = self._candidates(question.strip(), None, 1)
        return max((c.similarity for c in candidates), default=-1.0)

    def refresh(self) -> int:
        """Read the added sections again; returns how many sections this replica now serves."""
        if self._added is not None:
            self._sections = self._index(merge_documents(self._base_docs, list(self._added())))
        return len(self._sections)

    @staticmethod
    def _index(docs: Iterable[KbDocument]) -> dict[str, _Section]:
        return {s.id: _Section(d, s, split_sentences(s.text)) for d in docs for s in d.sections}

    def _follow_index(self, hits: Sequence[Any]) -> None:
        """Refresh when the index holds a section (or a section's text) this replica has not loaded yet."""
        if self._added is None:
            return
        unknown = {(h.section_id, hash(h.text)) for h in hits if not self._knows(h)} - self._unresolved
        if not unknown:
            return
        self.refresh()
        # A hit a refresh does not explain comes from an index built on another KB version: it is left out of the
        # answer (_candidates) and never read for again.
        self._unresolved |= {(h.section_id, hash(h.text)) for h in hits if not self._knows(h)}

    def _knows(self, hit: Any) -> bool:
        section = self._sections.get(hit.section_id)
        return section is not None and section.holds(hit.text)

    def warm(self) -> int:
        """Have the vector of every KB section and sentence now (a replica calls this at start, so no customer pays
        for the first use of a section): those memory did not hold are embedded. Returns how many are cached."""
        self._vectors_of(self._compared_texts())
        # With every vector read from memory the model has not run yet: load it now, not on the first question.
        getattr(self.embedder, "model", None)
        return len(self._vectors)

    # ---- steps --------------------------------------------------------------------------------------------
    def _answer(self, candidates: list[_Candidate], question_vec: np.ndarray, k: int) -> KnowledgeAnswer:
        # Judged on plain similarity: the intent boost may reorder sections but never makes a weak one quotable.
        best = max((c.similarity for c in candidates), default=None)
        if best is None or best < self.settings.confidence.min_similarity:
            return KnowledgeAnswer(answer="", citations=[], confident=False,
                                   best_score=None if best is None else round(best, 4))
        quoted = self._sections_to_quote(candidates, k)
        picked = self._sentences(quoted, question_vec)
        today = self._today()
        citations: list[Citation] = []
        quotes: list[Quote] = []
        for rank, _, text in picked:
            citation = self._citation(quoted[rank], today)
            if citation not in citations:
                citations.append(citation)
            quotes.append(Quote(text=text, citation=citations.index(citation)))
        note = self._stale_note(citations)
        answer = " ".join([q.text for q in quotes] + ([note] if note else []))
        return KnowledgeAnswer(answer=answer, citations=citations, confident=True, quotes=quotes, note=note,
                               best_score=round(best, 4))

    def _candidates(self, question: str, intent: str | None, k: int,
                    question_vec: np.ndarray | None = None) -> tuple[list[_Candidate], np.ndarray]:
        if not question:
            raise InvalidInput("a knowledge question must not be empty")
        if intent is not None and intent not in self._intent_docs:
            raise InvalidInput(f"unknown intent {intent!r} for a knowledge question; known: "
                               f"{', '.join(sorted(self._intent_docs))}")
        if question_vec is None or question_vec.ndim != 1:
            question_vec = self._embed_question(question)
        # One embedding of the question serves both the search and the sentence choice.
        hits = self.search.search(question, k=max(k, self.settings.retrieval.pool), mode="hybrid",
                                  query_vector=question_vec).hits
        self._follow_index(hits)
        sections: list[_Section] = []
        for hit in hits:
            # A hit the loaded KB does not know comes from an index built on another KB version; quoting it
            # could cite a section that no longer exists, so it is left out.
            section = self._sections.get(hit.section_id)
            if section is not None and section not in sections:
                sections.append(section)
        if not sections:
            return [], question_vec
        sims = self._vectors_of([s.indexed_text for s in sections]) @ question_vec
        preferred = self._intent_docs.get(intent, frozenset()) if intent else frozenset()
        boost = self.settings.retrieval.intent_boost
        candidates = [_Candidate(s, float(sim), float(sim) + (boost if s.doc.id in preferred else 0.0))
                      for s, sim in zip(sections, sims)]
        # Search order breaks ties, so equal scores always come out the same way.
        order = sorted(range(len(candidates)), key=lambda i: (-candidates[i].relevance, i))
        return [candidates[i] for i in order], question_vec

    def _sections_to_quote(self, candidates: list[_Candidate], k: int) -> list[_Candidate]:
        best = candidates[0].relevance
        margin = self.settings.answer.section_margin
        return [c for c in candidates[:k] if c.relevance >= best - margin]

    def _sentences(self, quoted: list[_Candidate], question_vec: np.ndarray) -> list[tuple[int, int, str]]:
        """(section rank, position, sentence) of the chosen sentences, in reading order."""
        a = self.settings.answer
        scored: list[tuple[float, int, int, str]] = []
        for rank, candidate in enumerate(quoted):
            section = candidate.section
            sims = self._vectors_of(section.sentences) @ question_vec
            scored += [(float(sim), rank, pos, text) for pos, (text, sim) in enumerate(zip(section.sentences, sims))]
        scored.sort(key=lambda s: (-s[0], s[1], s[2]))
        best = scored[0]
        picked = [best]
        words = len(best[3].split())
        for candidate in scored[1:]:
            if len(picked) == a.max_sentences or candidate[0] < best[0] - a.sentence_margin:
                break
            size = len(candidate[3].split())
            if words + size <= a.max_words:
                picked.append(candidate)
                words += size
        return sorted(((rank, pos, text) for _, rank, pos, text in picked), key=lambda p: (p[0], p[1]))

    def _citation(self, candidate: _Candidate, today: date) -> Citation:
        doc, section = candidate.section.doc, candidate.section.section
        stale = (today - doc.updated).days > self.settings.staleness.after_days[doc.kind]
        # The score is the unboosted similarity, rounded so that the same answer always serialises the same.
        return Citation(doc_id=doc.id, section_id=section.id, title=doc.title, heading=section.heading,
                        score=round(candidate.similarity, 4), updated=doc.updated, stale=stale)

    def _stale_note(self, citations: list[Citation]) -> str | None:
        dates = [c.updated for c in citations if c.stale and c.updated is not None]
        return self.settings.staleness.note.format(updated=min(dates).isoformat()) if dates else None

    # ---- vectors ------------------------------------------------------------------------------------------
    def _load_stored_vectors(self) -> None:
        """The vectors bootstrap stored for the sections' texts (memory/text_vectors.py), in one read, when the
        search object has a memory store and the embedder names its model (a vector is only reused for the same
        model); a text memory does not hold is embedded on first use, as before."""
        store, model = getattr(self.search, "store", None), getattr(self.embedder, "model_name", None)
        if store is None or not isinstance(model, str):
            return
        from memory.text_vectors import load_vectors

        self._vectors.update(load_vectors(store, model, self._compared_texts()))

    def _compared_texts(self) -> list[str]:
        """What questions are compared with (the same texts as telco.knowledge.compared_texts)."""
        sections = list(self._sections.values())
        return [s.indexed_text for s in sections] + [t for s in sections for t in s.sentences]

    def _embed_question(self, question: str) -> np.ndarray:
        # Questions are not cached: they rarely repeat, and the cache must stay bounded by the KB.
        return np.asarray(self.embedder.embed([question]), dtype=np.float32)[0]

    def _vectors_of(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            vecs = np.asarray(self.embedder.embed(missing), dtype=np.float32)
            with self._lock:
                self._vectors.update(zip(missing, vecs))
        with self._lock:
            return np.stack([self._vectors[t] for t in texts])


# ---- measuring the settings on the labelled questions -------------------------------------------------------
def measure(agent: KnowledgeAgent, cases: Sequence[Any], probes: Sequence[str], *,
            with_intents: bool = True) -> dict[str, Any]:
    """How the settings do on labelled questions (telco.knowledge.RetrievalCase) and off-topic probes: whether
    the confidence bar separates them, and how often the labelled section is quoted, without an intent, with
    the intent whose kb_docs hold it, and with an unrelated intent (what a misread intent costs)."""
    def owner(doc_id: str, mine: bool) -> str | None:
        return next((i for i, ids in agent._intent_docs.items() if (doc_id in ids) == mine), None)

    def run(question: str, intent: str | None) -> tuple[float, KnowledgeAnswer]:
        candidates, vec = agent._candidates(question, intent, 3)
        return max((c.similarity for c in candidates), default=-1.0), agent._answer(candidates, vec, 3)

    started = time.perf_counter()
    in_domain: list[float] = []
    words: list[int] = []
    counts = {"answered": 0, "first_expected": 0, "cited_expected": 0}
    if with_intents:
        counts.update(cited_with_intent=0, cited_with_wrong_intent=0)
    for case in cases:
        similarity, answer = run(case.question, None)
        in_domain.append(similarity)
        cited = [c.section_id for c in answer.citations]
        counts["answered"] += answer.confident
        counts["cited_expected"] += case.expected in cited
        counts["first_expected"] += bool(cited) and cited[0] == case.expected
        words.append(len(" ".join(q.text for q in answer.quotes).split()))
        if with_intents:
            doc_id = case.expected.split("#")[0]
            for key, mine in (("cited_with_intent", True), ("cited_with_wrong_intent", False)):
                intent = owner(doc_id, mine)
                _, steered = run(case.question, intent) if intent else (0.0, answer)
                counts[key] += case.expected in [c.section_id for c in steered.citations]
    off_topic = [run(p, None) for p in probes]
    elapsed = time.perf_counter() - started
    n = max(1, len(cases))
    in_sorted, words_sorted = sorted(in_domain), sorted(words)
    bar = agent.settings.confidence.min_similarity
    off_max = max((s for s, _ in off_topic), default=-1.0)
    return {
        "questions": len(cases), "probes": len(probes), "min_similarity": bar,
        **{k: round(v / n, 4) for k, v in counts.items()},
        "probes_answered": sum(a.confident for _, a in off_topic),
        "in_domain_min_similarity": round(in_sorted[0], 4) if in_sorted else None,
        "in_domain_p05_similarity": round(in_sorted[len(in_sorted) // 20], 4) if in_sorted else None,
        "off_topic_max_similarity": round(off_max, 4),
        "in_domain_below_bar": sum(1 for s in in_sorted if s < bar),
        "answer_words_p50": words_sorted[len(words_sorted) // 2] if words_sorted else 0,
        "answer_words_max": words_sorted[-1] if words_sorted else 0,
        "mean_ms_per_question": round(1000 * elapsed / max(1, len(cases) * (3 if with_intents else 1) + len(probes)),
                                      1),
    }


def main() -> int:
    import tempfile

    from memory.embed import get_embedder
    from memory.semantic import SemanticMemory
    from memory.store import connect
    from memory.writer import LocalWriter
    from telco.knowledge import load_retrieval_eval

    with tempfile.TemporaryDirectory(prefix="knowledge-measure-") as tmp:
        store = connect(tmp)
        memory = SemanticMemory(store, LocalWriter(store), get_embedder())
        memory.ingest()
        agent = KnowledgeAgent(memory)
        result = measure(agent, load_retrieval_eval(), agent.settings.off_topic_probes)
    print(json.dumps(result, sort_keys=True))
    return 0 if result["probes_answered"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
