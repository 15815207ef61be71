"""The vectors of the texts the knowledge agent compares questions with (memory/text_vectors.py), with real LanceDB
and the real model: a section whose chunk has its exact text reuses the chunk's vector, a second run embeds and
writes nothing, a changed section embeds only its new texts and drops the old rows, and another model reads none."""
from __future__ import annotations

import numpy as np

from memory.semantic import SemanticMemory
from memory.text_vectors import TABLE, load_vectors, store_compared_texts
from telco.knowledge import compared_texts, load_documents, split_sentences


class Counting:
    def __init__(self, inner) -> None:
        self.inner, self.texts = inner, []
        self.model_name = inner.model_name

    def embed(self, texts):
        self.texts += list(texts)
        return self.inner.embed(texts)


def test_stored_once_reused_from_chunks_and_kept_to_the_current_kb(store, writer, embedder):
    docs = [d for d in load_documents() if d.id == "roaming"]  # one file is enough, and cheaper to embed
    SemanticMemory(store, writer, embedder).ingest(docs)
    counting = Counting(embedder)
    texts = compared_texts(docs)
    sentences = [t for s in docs[0].sections for t in split_sentences(s.text)]
    assert store_compared_texts(store, writer, counting, docs) == (len(set(texts)), len(set(sentences)))
    assert sorted(counting.texts) == sorted(set(sentences))  # every section's vector came from its chunk

    stored = load_vectors(store, counting.model_name, texts)
    assert set(stored) == set(texts)
    chunk = store.table("kb_chunks").search().limit(1).to_list()[0]
    assert np.array_equal(stored[chunk["text"]], np.asarray(chunk["vector"], dtype=np.float32))
    version = store.table(TABLE).version
    counting.texts = []
    assert store_compared_texts(store, writer, counting, docs) == (len(set(texts)), 0)
    assert counting.texts == [] and store.table(TABLE).version == version  # nothing embedded, nothing written

    first = docs[0].sections[0]
    edited = first.model_copy(update={"text": first.text + " Roaming is billed by the day."})
    changed = [docs[0].model_copy(update={"sections": [edited, *docs[0].sections[1:]]})]
    assert store_compared_texts(store, writer, counting, changed)[1] == 2  # the section's text, its new sentence
    assert sorted(counting.texts) == sorted([compared_texts(changed)[0], "Roaming is billed by the day."])
    assert set(load_vectors(store, counting.model_name, texts + compared_texts(changed))) == set(
        compared_texts(changed))  # the old section text's row is gone
    assert store.table(TABLE).count_rows() == len(set(compared_texts(changed)))
    assert load_vectors(store, "another-model", texts) == {}
