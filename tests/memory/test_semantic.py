"""Semantic memory: KB ingestion with citations, the three search modes, graph expansion, retrieval quality."""
from __future__ import annotations

import json

import pytest

from memory.eval_retrieval import run_retrieval_eval
from memory.semantic import SemanticMemory, chunk_documents
from telco.errors import InvalidInput
from telco.knowledge import load_documents, load_retrieval_eval, parse_document



def test_every_kb_section_is_one_citable_chunk(kb):
    docs = load_documents()
    sections = {s.id for d in docs for s in d.sections}
    rows = kb.table.to_arrow().to_pylist()
    assert {r["section_id"] for r in rows} == sections
    assert all(r["text"].startswith(f"{r['doc_title']}: {r['heading']}") for r in rows)
    assert kb.table.count_rows() == len(chunk_documents(docs))


def test_long_sections_split_on_paragraphs_and_keep_their_citation():
    para = "Routers restart when they overheat. " * 20
    doc = parse_document("---\nid: long\ntitle: Long\nkind: manual\nservices: [broadband]\nupdated: 2025-01-01\n"
                         f"---\n## Big one\n\n{para}\n\n{para}\n\n{para}\n")
    chunks = chunk_documents([doc])
    assert len(chunks) > 1 and {c.section_id for c in chunks} == {"long#big-one"}
    assert all(len(c.text) < 1_400 for c in chunks)


@pytest.mark.parametrize("mode", ["vector", "fts", "hybrid"])
def test_search_returns_cited_sections_in_every_mode(kb, mode):
    res = kb.search("my router overheats and reboots itself every half hour", k=3, mode=mode)
    assert len(res.hits) == 3 and len({h.section_id for h in res.hits}) == 3
    want = "broadband-keeps-dropping#a-router-that-overheats-reboots-itself"
    hit = next(h for h in res.hits if h.section_id == want)
    assert hit.citation.document == "broadband-keeps-dropping" and hit.citation.section == want
    assert hit.citation.heading == "A router that overheats reboots itself"
    assert [h.score for h in res.hits] == sorted((h.score for h in res.hits), reverse=True)


def test_service_filter_and_bad_queries(kb):
    res = kb.search("how much does it cost", k=5, services=["mobile"])
    docs = {d.id: d for d in load_documents()}
    assert all("mobile" in docs[h.citation.document].services for h in res.hits)
    with pytest.raises(InvalidInput, match="non-empty question"):
        kb.search("  ")
    with pytest.raises(InvalidInput, match="mode"):
        kb.search("x", mode="magic")


def test_graph_expansion_adds_linked_sections_and_facts(kb):
    plain = kb.search("wifi congestion at home", k=1)
    expanded = kb.search("wifi congestion at home", k=1, expand_graph=True)
    assert [h.via for h in plain.hits] == ["search"]
    graph_hits = [h for h in expanded.hits if h.via == "graph"]
    linked = {"home-wifi#crowded-channels-and-interference"} - {plain.hits[0].section_id}
    assert {h.section_id for h in graph_hits} >= linked
    assert any(f.src == "wifi congestion" and f.relation == "fixed_by" for f in expanded.facts)


def test_reingesting_an_edited_kb_removes_stale_chunks(store, writer, embedder):
    semantic = SemanticMemory(store, writer, embedder)
    docs = load_documents()[:2]
    semantic.ingest(docs)
    semantic.ingest(docs[:1])
    assert {r["doc_id"] for r in semantic.table.to_arrow().to_pylist()} == {docs[0].id}



def test_reingesting_embeds_only_new_or_changed_chunks(store, writer, embedder):
    embedded: list[str] = []

    class Counting:
        def embed(self, texts):
            embedded.extend(texts)
            return embedder.embed(texts)

        def __getattr__(self, name):
            return getattr(embedder, name)

    semantic = SemanticMemory(store, writer, Counting())
    docs = load_documents()[:2]
    first = semantic.ingest(docs)
    assert len(embedded) == first
    embedded.clear()
    assert semantic.ingest(docs) == first and embedded == []  # a restart over the same KB embeds nothing
    section = docs[0].sections[0]
    edited = docs[0].model_copy(update={"sections": [section.model_copy(update={"text": section.text + " Edited."}),
                                                     *docs[0].sections[1:]]})
    semantic.ingest([edited, docs[1]])
    assert len(embedded) == 1 and embedded[0].endswith("Edited.")  # only the edited chunk
    stored = {r["text"] for r in semantic.table.to_arrow().to_pylist() if r["section_id"] == section.id}
    assert any(t.endswith("Edited.") for t in stored)

def test_retrieval_quality_on_the_labelled_set(kb):
    cases = load_retrieval_eval()
    assert len(cases) >= 60
    result = run_retrieval_eval(memory=kb)
    assert result["questions"] == len(cases)
    assert result["hybrid"] >= 0.90
    assert result["hybrid"] >= result["vector"] and result["hybrid"] >= result["fts"]
    assert result["hybrid_ok"] is True


def test_eval_entry_point_prints_one_line_json_last(kb, monkeypatch, capsys, tmp_path):
    import memory.eval_retrieval as entry

    small = tmp_path / "cases.yaml"
    small.write_text("- question: my router keeps overheating and restarting\n"
                     "  expected: broadband-keeps-dropping#a-router-that-overheats-reboots-itself\n"
                     "- question: what is the weather like on mars\n"
                     "  expected: roaming#what-roaming-costs\n")
    real = entry.run_retrieval_eval
    monkeypatch.setattr(entry, "run_retrieval_eval",
                        lambda uri=None, **kw: real(uri, **{**kw, "memory": kb, "cases": load_retrieval_eval(small)}))
    code = entry.main([])
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["questions"] == 2 and summary["hybrid"] == 0.5
    assert set(summary) >= {"vector", "fts", "hybrid", "hybrid_rrf", "metric", "hybrid_ok"}
    assert code == 1 and "miss [hybrid] 'what is the weather like on mars'" in err
