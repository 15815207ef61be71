"""The embedding model: offline, normalised 384-d vectors, meaning-preserving, deterministic."""
from __future__ import annotations

import os

import numpy as np
import pytest

from memory.embed import DIM, Embedder, EmbedderService
from telco.errors import InvalidInput


def test_vectors_are_unit_length_384_float32(embedder):
    v = embedder.embed(["my internet keeps dropping", "I want to pay my bill", ""])
    assert v.shape == (3, DIM) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_paraphrases_are_closer_than_unrelated_text(embedder):
    a, b, c = embedder.embed(["the broadband disconnects every half hour",
                              "my home internet keeps cutting out",
                              "how do I dispute a roaming charge on my bill"])
    assert float(a @ b) > float(a @ c) + 0.2


def test_embedding_is_deterministic_and_batch_independent(embedder):
    one = embedder.embed_one("router lights are red")
    batch = embedder.embed(["something else", "router lights are red"])[1]
    assert np.allclose(one, batch, atol=1e-5)


def test_bad_input_is_a_typed_error_and_empty_input_is_empty(embedder):
    with pytest.raises(InvalidInput, match="list of texts"):
        embedder.embed("a string")
    with pytest.raises(InvalidInput, match="text 1 to embed is int"):
        embedder.embed(["ok", 3])
    assert embedder.embed([]).shape == (0, DIM)
    with pytest.raises(InvalidInput, match="does not exist"):
        Embedder("/nonexistent/model").embed(["x"])


def test_the_service_batch_method_matches_the_in_process_embedder(embedder):
    import asyncio

    svc = EmbedderService(embedder)
    out = asyncio.run(svc.embed_batch(["a", "b"]))
    assert np.allclose(np.array(out), embedder.embed(["a", "b"]), atol=1e-6)
