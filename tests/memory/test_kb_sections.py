"""Added KB sections in memory (real LanceDB, real embedding model): searchable at once, a re-post replaces the text
and drops the chunks a shorter text no longer has, and re-ingesting the KB files keeps them."""
from __future__ import annotations

from memory.kb_sections import AddedSections, added_documents, list_sections
from memory.semantic import MAX_CHUNK_CHARS, SemanticMemory
from telco.contract.kb import KbSectionIn
from telco.knowledge import load_documents


def test_added_sections_are_searched_replaced_in_place_and_survive_reingestion(store, writer, embedder):
    semantic = SemanticMemory(store, writer, embedder)
    files_kb = [d for d in load_documents() if d.id == "roaming"]  # one file is enough, and cheaper to embed twice
    semantic.ingest(files_kb)
    files = store.table("kb_chunks").count_rows()
    added = AddedSections(store, writer, embedder, base_docs=files_kb)
    long_body = "\n\n".join(f"Paragraph {i} about eSIM profiles, QR codes and phones that support them. " * 4
                            for i in range(8))
    assert len(long_body) > MAX_CHUNK_CHARS
    section = KbSectionIn(doc_id="esim", title="eSIM", services=["mobile"], heading="Getting an eSIM", body=long_body)
    out = added.add(section, added_by="root")
    assert out.chunks >= 2 and store.table("kb_chunks").count_rows() == files + out.chunks

    hits = semantic.search("how do I get an eSIM profile with a QR code", k=3).hits
    assert hits[0].section_id == "esim#getting-an-esim"

    short = added.add(section.model_copy(update={"body": "Scan the QR code we send you."}), added_by="root")
    assert not short.created and short.changed and short.chunks == 1
    rows = store.table("kb_chunks").search().where("section_id = 'esim#getting-an-esim'").to_list()
    assert [r["text"] for r in rows] == ["eSIM: Getting an eSIM\nScan the QR code we send you."]

    assert semantic.ingest(files_kb) and store.table("kb_chunks").count_rows() == files + 1  # the files again: kept
    [doc] = added_documents(store)
    assert doc.id == "esim" and doc.sections[0].text == "Scan the QR code we send you."
    assert [s.section_id for s in list_sections(store)] == ["esim#getting-an-esim"]
