"""The intent agent: what the customer wants (one intent or several), how sure we are, and what they mentioned.

Offline brain: sentence embeddings (memory.embed.Embedder, all-MiniLM-L6-v2) of the intent examples, scored
against the message per intent by centroid similarity, by the mean similarity of the k nearest examples, or by
the mean of both ("blend"). `python -m actors.agents.intent --calibrate` measures every candidate on the development
messages (telco/data/intent_dev.yaml) and keeps the best; scores become probabilities through a fitted
temperature and a "none of these" score (telco/nlu/calibration.py). The fitted constants live in
telco/data/intent_calibration.yaml.

Several intents: the message is split into clauses (telco/nlu/clauses.py) and the whole message and its clauses
are embedded in one call. The whole message gives the main intent; a clause that confidently asks for something
else raises that intent too (see _decide), in the order the customer raised them.

Entities, signals and slot answers are rule-based readers in telco/nlu/ over the lexicons in telco/data/nlu.yaml.

    python -m actors.agents.intent --eval        accuracy on the scenario opening messages (JSON summary last)
    python -m actors.agents.intent --calibrate   refit and rewrite telco/data/intent_calibration.yaml
"""
from __future__ import annotations

import asyncio
import hashlib
import inspect
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol, Sequence

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from telco.contract.limits import MAX_MESSAGE_CHARS
from telco.contract.messages import IntentRequest, IntentResult, IntentScore, SlotRequest, SlotResult
from telco.data import INTENT_CALIBRATION_FILE, INTENT_DEV_FILE
from telco.errors import InvalidInput
from telco.intents import load_intents
from telco.nlu import calibration as cal
from telco.nlu.clauses import split_clauses
from telco.nlu.entities import extract_entities
from telco.nlu.lexicon import Lexicon, load_lexicon
from telco.nlu.plans import PlanCatalogue, demo_catalogue
from telco.nlu.signals import read_signals
from telco.nlu.slots import read_slot

CALIBRATION_FILE = INTENT_CALIBRATION_FILE
DEV_FILE = INTENT_DEV_FILE  # development messages: choose the scorer, feed the calibration
Method = Literal["knn", "centroid", "blend"]
# What --calibrate compares: (method, k). knn averages the k closest examples of each intent; blend is the mean
# of the centroid score and that; k is unused for centroids.
CANDIDATES: tuple[tuple[Method, int], ...] = (
    ("centroid", 0), ("knn", 1), ("knn", 3), ("knn", 5), ("blend", 3), ("blend", 5))


class EmbedderLike(Protocol):
    """Anything that turns texts into unit vectors: the local Embedder, or a wrapper around a Serve handle
    whose embed() is a coroutine."""

    def embed(self, texts: Sequence[str]) -> Any: ...


class Calibration(BaseModel):
    """The fitted constants (stored in intent_calibration.yaml) and what they were fitted on."""

    model_config = ConfigDict(extra="forbid")
    method: Method
    k: int = Field(ge=0)
    temperature: float = Field(gt=0)
    none_score: float
    # A clause raises an intent of its own only at or above this confidence. Chosen on the dev messages once the
    # scorer is fitted (intent_eval.choose_multi_intent_threshold), so it is None only in between; the stored file
    # always holds it (load_calibration checks) and is its one definition.
    multi_intent_threshold: float | None = Field(default=None, ge=0, le=1)
    examples_digest: str  # which examples, out-of-scope and development messages the fit saw
    fitted_on: dict[str, int] = {}
    metrics: dict[str, float] = {}
    compared: dict[str, dict[str, float]] = {}  # every candidate scorer's numbers, as measured when choosing


class DevMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1)
    intents: list[str] = Field(min_length=1)


@dataclass(frozen=True)
class FitData:
    """What calibration learns from besides the examples: out-of-scope messages and development messages."""

    out_of_scope: tuple[str, ...]
    dev: tuple[DevMessage, ...]

    @property
    def texts(self) -> list[str]:
        return [*self.out_of_scope, *(d.text for d in self.dev)]


def load_fit_data(lexicon: Lexicon, path: str | Path = DEV_FILE) -> FitData:
    raw = yaml.safe_load(Path(path).read_text())
    dev = tuple(DevMessage.model_validate(item) for item in raw["messages"])
    known = load_intents()
    for d in dev:
        unknown = [i for i in d.intents if i not in known]
        if unknown:
            raise InvalidInput(f"development message {d.text!r} names unknown intents {unknown}")
    return FitData(out_of_scope=tuple(lexicon.out_of_scope_examples), dev=dev)


def catalogue_examples() -> list[tuple[str, str]]:
    return [(spec.id, text) for spec in load_intents().values() for text in spec.examples]


# Learned rows of an intent form a cluster of their own from this many on. Fewer join the catalogue's: a cluster of
# one or two scores as the raw similarity to those rows, above what any broad cluster's centroid reaches, and would
# take other intents' messages (measured: one learned phrasing in a cluster of its own cost 5 of 45 held-out
# messages; pooled, none).
MIN_LEARNED_CLUSTER = 5


def example_clusters(examples: Sequence[tuple[str, str]], intents: list[str]) -> np.ndarray:
    """ExampleIndex clusters: an example's intent, apart for rows that are not the catalogue's (learned ones) once
    the intent has MIN_LEARNED_CLUSTER of them."""
    catalogue = set(catalogue_examples())
    learned = [(i, t) not in catalogue for i, t in examples]
    counts: dict[str, int] = {}
    for (i, _), new in zip(examples, learned):
        counts[i] = counts.get(i, 0) + new
    m = len(intents)
    return np.array([intents.index(i) + (m if new and counts[i] >= MIN_LEARNED_CLUSTER else 0)
                     for (i, _), new in zip(examples, learned)], dtype=np.int64)


def examples_digest(examples: Sequence[tuple[str, str]], data: FitData) -> str:
    h = hashlib.sha256()
    for intent, text in sorted(examples):
        h.update(f"{intent}\t{text}\n".encode())
    for text in sorted(data.out_of_scope):
        h.update(f"none\t{text}\n".encode())
    for d in sorted(data.dev, key=lambda d: d.text):
        h.update(f"dev:{','.join(d.intents)}\t{d.text}\n".encode())
    return h.hexdigest()[:16]


def load_calibration(path: str | Path = CALIBRATION_FILE) -> Calibration:
    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"intent calibration file {str(p)!r} is missing; run python -m actors.agents.intent_eval --calibrate")
    calibration = Calibration.model_validate(yaml.safe_load(p.read_text()))
    if calibration.multi_intent_threshold is None:
        raise InvalidInput(f"intent calibration file {str(p)!r} has no multi_intent_threshold; "
                           "run python -m actors.agents.intent_eval --calibrate")
    return calibration


# ---- scoring ------------------------------------------------------------------------------------------------
class ExampleIndex:
    """Example vectors grouped by intent, scored against query vectors.

    clusters (optional, one id per example, each cluster within one intent) splits an intent into groups scored
    apart, the intent taking its best group's score: learned phrasings in another register (informal wording) then
    form a centroid of their own instead of pulling the catalogue's (example_clusters). Without it, one per intent.
    """

    def __init__(self, intents: list[str], labels: np.ndarray, vectors: np.ndarray, method: Method, k: int,
                 clusters: np.ndarray | None = None):
        if method in ("knn", "blend") and k < 1:
            raise InvalidInput(f"nearest-neighbour scoring needs k >= 1, got {k}")
        self.intents = intents
        self.labels = labels
        self.vectors = vectors
        self.method = method
        self.k = k
        groups = labels if clusters is None else np.unique(np.asarray(clusters), return_inverse=True)[1]
        self._columns = [np.flatnonzero(groups == g) for g in range(int(groups.max()) + 1)] if len(groups) else []
        self._owner = np.array([labels[cols[0]] for cols in self._columns], dtype=np.int64)
        if any(len(set(labels[cols].tolist())) > 1 for cols in self._columns):
            raise InvalidInput("an example cluster must hold examples of one intent")
        if method != "knn":
            c = np.stack([vectors[cols].mean(axis=0) for cols in self._columns])
            self._centroids = c / np.linalg.norm(c, axis=1, keepdims=True)

    @property
    def name(self) -> str:
        return scorer_name(self.method, self.k)

    def scores(self, queries: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
        """(n, d) queries -> (n, m) scores. exclude (n, N) bool hides examples from individual queries
        (leave-one-out, or near-duplicates of a test message)."""
        q = np.atleast_2d(queries)
        if self.method == "centroid":
            per_cluster = self._centroid_scores(q, exclude)
        elif self.method == "knn":
            per_cluster = self._knn_scores(q, exclude)
        else:
            per_cluster = 0.5 * (self._centroid_scores(q, exclude) + self._knn_scores(q, exclude))
        if np.array_equal(self._owner, np.arange(len(self.intents))):  # one cluster per intent, in intent order
            return per_cluster
        out = np.full((q.shape[0], len(self.intents)), -1.0)
        for a in range(len(self.intents)):
            out[:, a] = per_cluster[:, self._owner == a].max(axis=1)
        return out

    def _centroid_scores(self, q: np.ndarray, exclude: np.ndarray | None) -> np.ndarray:
        if exclude is None:
            return q @ self._centroids.T
        out = np.full((q.shape[0], len(self._columns)), -1.0)
        for a, cols in enumerate(self._columns):
            c = (~exclude[:, cols]).astype(np.float64) @ self.vectors[cols]
            norm = np.linalg.norm(c, axis=1)
            ok = norm > 0
            out[ok, a] = np.sum(c[ok] * q[ok], axis=1) / norm[ok]
        return out

    def _knn_scores(self, q: np.ndarray, exclude: np.ndarray | None) -> np.ndarray:
        out = np.full((q.shape[0], len(self._columns)), -1.0)
        sims = q @ self.vectors.T
        for a, cols in enumerate(self._columns):
            part = sims[:, cols]
            if exclude is not None:
                part = np.where(exclude[:, cols], -np.inf, part)
            kk = min(self.k, len(cols))
            top = np.partition(part, len(cols) - kk, axis=1)[:, -kk:]
            if exclude is None:
                out[:, a] = top.mean(axis=1)
            else:
                finite = np.isfinite(top)
                counts = finite.sum(axis=1)
                sums = np.where(finite, top, 0.0).sum(axis=1)
                out[:, a] = np.where(counts > 0, sums / np.maximum(counts, 1), -1.0)
        return out

    def leave_one_out(self) -> np.ndarray:
        return self.scores(self.vectors, exclude=np.eye(len(self.vectors), dtype=bool))


def scorer_name(method: Method, k: int) -> str:
    return method if method == "centroid" else f"{method}@{k}"


def _top_stats(probs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    m = probs.shape[1] - 1
    top = probs[:, :m].argmax(axis=1)
    conf = probs[np.arange(len(top)), top]
    ok = top == targets
    stats = {
        "accuracy": round(float(ok.mean()), 4),
        "log_loss": round(cal.log_loss(probs, targets), 4),
        "ece": round(cal.expected_calibration_error(conf, ok), 4),
    }
    if ok.any():
        stats["mean_conf_correct"] = round(float(conf[ok].mean()), 4)
    if (~ok).any():
        stats["mean_conf_incorrect"] = round(float(conf[~ok].mean()), 4)
    return stats


def fit_calibration(index: ExampleIndex, data: FitData, fit_vectors: np.ndarray, digest: str) -> Calibration:
    """Fit temperature and none-score on held-out readings: leave-one-out over the examples, the out-of-scope
    messages (target: none) and the development messages (target: their first intent). fit_vectors holds the
    vectors of data.texts, in that order."""
    m = len(index.intents)
    n_oos = len(data.out_of_scope)
    oos, dev = fit_vectors[:n_oos], fit_vectors[n_oos:]
    dev_targets = np.array([index.intents.index(d.intents[0]) for d in data.dev], dtype=np.int64)
    loo = index.leave_one_out()
    parts = [(loo, index.labels), (index.scores(oos), np.full(n_oos, m))]
    if len(dev):
        parts.append((index.scores(dev), dev_targets))
    result = cal.fit(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    probs = lambda s: cal.probabilities(s, result.temperature, result.none_score)  # noqa: E731
    metrics = {f"loo_{k}": v for k, v in _top_stats(probs(loo), index.labels).items()}
    if len(dev):
        metrics |= {f"dev_{k}": v for k, v in _top_stats(probs(index.scores(dev)), dev_targets).items()}
    if n_oos:
        metrics["out_of_scope_mean_conf"] = round(float(probs(index.scores(oos))[:, :m].max(axis=1).mean()), 4)
    metrics["fit_log_loss"] = round(result.log_loss, 4)
    return Calibration(
        method=index.method, k=index.k, temperature=round(result.temperature, 6),
        none_score=round(result.none_score, 6), examples_digest=digest,
        fitted_on={"examples": len(index.labels), "out_of_scope": n_oos, "dev_messages": len(dev), "intents": m},
        metrics=metrics,
    )


def choose_scorer(intents: list[str], labels: np.ndarray, vectors: np.ndarray, data: FitData,
                  fit_vectors: np.ndarray, digest: str, clusters: np.ndarray | None = None) -> Calibration:
    """Every candidate scorer is calibrated without the development messages and judged on them (log loss of
    the whole-message reading, a proper score that rewards accuracy and honest confidence alike); the winner is
    then refitted with them."""
    n_oos = len(data.out_of_scope)
    no_dev = FitData(out_of_scope=data.out_of_scope, dev=())
    dev_targets = np.array([intents.index(d.intents[0]) for d in data.dev], dtype=np.int64)
    compared: dict[str, dict[str, float]] = {}
    for method, k in CANDIDATES:
        index = ExampleIndex(intents, labels, vectors, method, k, clusters)
        held = fit_calibration(index, no_dev, fit_vectors[:n_oos], digest)
        dev_probs = cal.probabilities(index.scores(fit_vectors[n_oos:]), held.temperature, held.none_score)
        compared[index.name] = {"loo_accuracy": held.metrics["loo_accuracy"],
                                **{f"dev_{k}": v for k, v in _top_stats(dev_probs, dev_targets).items()}}
    best = min(compared, key=lambda n: (compared[n]["dev_log_loss"], -compared[n]["dev_accuracy"]))
    method, k = next((m, k) for m, k in CANDIDATES if scorer_name(m, k) == best)
    final = fit_calibration(ExampleIndex(intents, labels, vectors, method, k, clusters), data, fit_vectors, digest)
    return final.model_copy(update={"compared": compared})


# ---- the agent ----------------------------------------------------------------------------------------------
@dataclass
class _Brain:
    index: ExampleIndex
    calibration: Calibration
    source: str  # "file" as stored, "given" by the caller, "refit" because the examples differ from the file's


@dataclass(frozen=True)
class _Reading:
    intent: int
    confidence: float
    span: str
    position: int  # 0 for the whole message, 1.. for clauses in order
    asks: bool


@lru_cache(maxsize=1)
def _model_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="intent-embed")


# Vectors per embedder and text, so every agent in a process embeds each example once.
_VECTORS: "weakref.WeakKeyDictionary[Any, dict[str, np.ndarray]]" = weakref.WeakKeyDictionary()


class IntentAgent:
    """Stateless intent reader. One instance per replica; the example index is built on first use."""

    def __init__(self, embedder: EmbedderLike | None = None, examples: Sequence[tuple[str, str]] | None = None, *,
                 calibration: Calibration | None = None, lexicon: Lexicon | None = None,
                 plans: PlanCatalogue | None = None) -> None:
        """embedder: anything with embed(texts) (sync or async); default the process-wide local model.
        examples: (intent, text) pairs, e.g. memory's intent_examples table; default the catalogue's.
        calibration: fitted constants; default the file, refitted here when the examples differ from its fit."""
        if embedder is None:
            from memory.embed import get_embedder  # the process-wide model: loaded once per process

            embedder = get_embedder()
        self.embedder = embedder
        self.lexicon = lexicon or load_lexicon()
        self.plans = plans or demo_catalogue(self.lexicon)
        self.examples = _checked_examples(catalogue_examples() if examples is None else examples)
        self._calibration = calibration
        self._brain: _Brain | None = None
        self._lock = asyncio.Lock()

    # -- public API --
    async def classify(self, req: IntentRequest) -> IntentResult:
        # Tidy spacing but keep line breaks: they separate sentences for the clause splitter.
        text = "\n".join(" ".join(line.split()) for line in req.text.splitlines() if line.strip())
        if not text:  # only spaces and line breaks: a valid message that asks nothing (the reply asks what they need)
            return IntentResult(intents=[])
        text = text[:MAX_MESSAGE_CHARS]  # a caller other than the API (a job) may send more: its start is read
        if not req.read_intents:
            return IntentResult(intents=[], entities=extract_entities(text, self.lexicon, self.plans),
                                signals=read_signals(text, self.lexicon))
        brain = await self._ready()
        readings, whole, vectors = await self._readings(text, brain)
        chosen = _decide(readings, brain.calibration.multi_intent_threshold)
        intents = [IntentScore(intent=brain.index.intents[r.intent], confidence=_conf(r.confidence), span=r.span)
                   for r in chosen]
        return IntentResult(
            intents=intents,
            entities=extract_entities(text, self.lexicon, self.plans),
            signals=read_signals(text, self.lexicon),
            alternatives=self._alternatives(whole, {r.intent for r in chosen}, brain.index.intents, text),
            text_vector=vectors[0].tolist(),
        )

    async def read_slot(self, req: SlotRequest) -> SlotResult:
        return read_slot(req, self.lexicon, self.plans)

    async def warm_up(self) -> None:
        """Build the index (and load the model) now rather than on the first customer message."""
        await self.classify(IntentRequest(text="my internet is slow"))

    @property
    def calibration(self) -> Calibration | None:
        return self._brain.calibration if self._brain else None

    @property
    def calibration_source(self) -> str | None:
        return self._brain.source if self._brain else None

    # -- internals --
    async def _readings(self, text: str, brain: _Brain) -> tuple[list[_Reading], np.ndarray, np.ndarray]:
        """The whole message's reading and each clause's, the whole message's intent probabilities, and the
        embeddings (the whole message first)."""
        clauses = [c for c in split_clauses(text, self.lexicon) if not c.context]
        if len(clauses) < 2:
            clauses = []
        vectors = await self._embed([text] + [c.core for c in clauses])  # one model call for all of them
        probs = cal.probabilities(brain.index.scores(vectors), brain.calibration.temperature,
                                  brain.calibration.none_score)
        m = len(brain.index.intents)
        spans = [(text, False)] + [(c.text, c.asks) for c in clauses]
        readings = [_Reading(int(row[:m].argmax()), float(row[:m].max()), span, pos, asks)
                    for pos, (row, (span, asks)) in enumerate(zip(probs, spans))]
        return readings, probs[0, :m], vectors

    def _alternatives(self, whole: np.ndarray, chosen: set[int], intents: list[str], text: str) -> list[IntentScore]:
        mi = self.lexicon.multi_intent
        order = [a for a in np.argsort(-whole, kind="stable") if a not in chosen]
        return [IntentScore(intent=intents[a], confidence=_conf(whole[a]), span=text)
                for a in order if whole[a] >= mi.min_alternative_confidence][:mi.max_alternatives]

    async def _embed(self, texts: list[str]) -> np.ndarray:
        if inspect.iscoroutinefunction(self.embedder.embed):
            raw = await self.embedder.embed(texts)
        else:
            # The local model is CPU-bound and releases the GIL: run it off the event loop, on one long-lived
            # thread (torch sets up its thread pool per calling thread, so fresh threads cost time per call).
            raw = await asyncio.get_running_loop().run_in_executor(_model_thread(), self.embedder.embed, texts)
            if inspect.isawaitable(raw):
                raw = await raw
        vecs = np.asarray(raw, dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape[0] != len(texts):
            raise InvalidInput(f"the embedder returned shape {vecs.shape} for {len(texts)} texts")
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.where(norms > 0, norms, 1.0)

    async def _embed_cached(self, texts: list[str]) -> np.ndarray:
        """Vectors per text, so a new example set (the last one plus a few learned phrasings) embeds only the
        texts this process has not seen."""
        try:
            cache = _VECTORS.setdefault(self.embedder, {})
        except TypeError:  # an embedder that cannot be weakly referenced is simply not shared
            cache = {}
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            cache.update(zip(missing, await self._embed(missing)))
        return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)

    async def _ready(self) -> _Brain:
        if self._brain is not None:
            return self._brain
        async with self._lock:
            if self._brain is None:
                self._brain = await self._build()
        return self._brain

    async def _build(self) -> _Brain:
        intents = sorted({i for i, _ in self.examples}, key=list(load_intents()).index)
        labels = np.array([intents.index(i) for i, _ in self.examples])
        vectors = await self._embed_cached([t for _, t in self.examples])
        calibration, source = self._calibration, "given"
        if calibration is None:
            calibration, source = load_calibration(), "file"
        index = ExampleIndex(intents, labels, vectors, calibration.method, calibration.k,
                             example_clusters(self.examples, intents))
        if source == "file":
            data = load_fit_data(self.lexicon)
            digest = examples_digest(self.examples, data)
            if calibration.examples_digest != digest:
                # The examples (e.g. from memory) are not the ones the stored constants were fitted on:
                # refit with the same scorer; it costs a few milliseconds once the vectors exist.
                data = FitData(data.out_of_scope, tuple(d for d in data.dev if d.intents[0] in intents))
                fit_vectors = await self._embed_cached(data.texts)
                refit = fit_calibration(index, data, fit_vectors, digest)
                calibration = refit.model_copy(update={"multi_intent_threshold": calibration.multi_intent_threshold})
                source = "refit"
        return _Brain(index=index, calibration=calibration, source=source)


def _checked_examples(examples: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    known = load_intents()
    out: list[tuple[str, str]] = []
    for n, item in enumerate(examples):
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise InvalidInput(f"intent example {n} must be an (intent, text) pair of strings, got {item!r}")
        intent, text = item[0].strip(), " ".join(item[1].split())
        if intent not in known:
            raise InvalidInput(f"intent example {n} names unknown intent {intent!r}; known: {sorted(known)}")
        if not text:
            raise InvalidInput(f"intent example {n} for {intent!r} has no text")
        out.append((intent, text))
    if not out:
        raise InvalidInput("the intent classifier needs at least one example")
    return out


def _conf(p: float) -> float:
    return round(float(min(1.0, max(0.0, p))), 4)


def _decide(readings: list[_Reading], threshold: float) -> list[_Reading]:
    """Which intents the message raises. readings[0] is the whole message, the rest its clauses in order.

    - The main intent is the whole message's reading (unsure or not: a low confidence makes the dialogue ask).
    - A confident clause that asks for something (a question, a request, "also ...") raises its own intent.
    - So does a confident statement before the first such ask: the problem described before a separate question.
      Later statements only add detail to what was already said.
    Several intents come back in the order the customer raised them, each with its surest reading.
    """
    main, clauses = readings[0], readings[1:]
    confident = [r for r in clauses if r.confidence >= threshold]
    raised = [r for r in confident if r.asks]
    if raised:
        lead = next((r for r in confident if not r.asks), None)
        if lead is not None and lead.position < raised[0].position:
            raised.append(lead)
    if not any(r.intent != main.intent for r in raised):
        return [main]
    best: dict[int, _Reading] = {main.intent: main}
    first_seen: dict[int, int] = {}
    for r in sorted(raised, key=lambda r: r.position):
        first_seen.setdefault(r.intent, r.position)
        current = best.get(r.intent)
        if current is None or r.confidence > current.confidence:
            best[r.intent] = r
    order = sorted(best, key=lambda a: first_seen.get(a, 0))
    return [best[a] for a in order]
