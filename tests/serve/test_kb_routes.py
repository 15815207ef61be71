"""The knowledge routes in-process: the real FastAPI app, real LanceDB memory and the real embedding model; the
Knowledge deployment's add_section is played by the same memory code it runs (memory.kb_sections)."""
import asyncio
import json
from datetime import datetime, timezone

import httpx
import pytest
from pydantic import SecretStr
from serve_fakes import Local

from memory.kb_gaps import replace_reports
from memory.kb_sections import AddedSections
from memory.store import connect
from memory.writer import LocalWriter
from serve.ingress import create_app
from telco.config import ApiKey, Settings

ADMIN, OPS, CUST = "admin-secret-1", "ops-secret-1", "cust-secret-1"
KEYS = [ApiKey(key=SecretStr(ADMIN), role="admin", name="root"),
        ApiKey(key=SecretStr(OPS), role="operations", name="ops"),
        ApiKey(key=SecretStr(CUST), role="customer", name="app-c1001", customer_id="C1001")]
SECTION = {"doc_id": "esim", "title": "eSIM", "services": ["mobile"], "heading": "Getting an eSIM",
           "body": "Ask us for an eSIM profile and scan the QR code we send you.\n\nIt is free, and 5 < 6 & 7 > 3."}


class KnowledgeAdmin:
    def __init__(self, uri: str, embedder) -> None:
        self.store = connect(uri)
        self.embedder = embedder

    async def add_section(self, section, added_by):
        return AddedSections(self.store, LocalWriter(self.store), self.embedder).add(section, added_by=added_by)


@pytest.fixture
def app(tmp_path, embedder):
    uri = str(tmp_path / "memory")
    return create_app(None, None, Settings(api_keys=KEYS, memory_uri=uri),
                      knowledge=Local(KnowledgeAdmin(uri, embedder))), uri


def call(app, method, path, key=ADMIN, **kw):
    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kw)
    return asyncio.run(go())


def test_a_section_is_added_once_listed_and_rendered_escaped(app):
    app, uri = app
    first = call(app, "POST", "/v1/admin/kb/sections", json=SECTION)
    assert first.status_code == 201, first.text
    out = first.json()
    assert out["section_id"] == "esim#getting-an-esim" and out["created"] and out["chunks"] == 1
    assert out["url"] == "/kb/esim#getting-an-esim" and out["added_by"] == "root"

    again = call(app, "POST", "/v1/admin/kb/sections", json=SECTION)
    assert again.status_code == 200 and not again.json()["changed"]
    chunks = connect(uri).table("kb_chunks").search().where("section_id = 'esim#getting-an-esim'").to_list()
    assert len(chunks) == 1  # no duplicate chunk from the re-post

    listed = call(app, "GET", "/v1/admin/kb/sections").json()
    assert [s["section_id"] for s in listed] == ["esim#getting-an-esim"]
    page = call(app, "GET", "/kb/esim")
    assert page.status_code == 200 and "Getting an eSIM" in page.text
    assert 'id="getting-an-esim"' in page.text and "5 &lt; 6 &amp; 7 &gt; 3" in page.text

    # A section added to a KB file's document shows after the file's own sections, under the file's title.
    added = call(app, "POST", "/v1/admin/kb/sections",
                 json={"doc_id": "roaming", "heading": "Roaming with an eSIM", "body": "An eSIM roams like a SIM."})
    assert added.status_code == 201 and added.json()["title"] != "eSIM"
    page = call(app, "GET", "/kb/roaming").text
    assert page.index("Two settings must both be on abroad") < page.index("Roaming with an eSIM")


@pytest.mark.parametrize("change, status, words", [
    ({"body": "<script>alert(1)</script> Ask us."}, 422, "HTML markup"),
    ({"body": "Click [here](javascript:alert(1))"}, 422, "script or data URL"),
    ({"body": "   "}, 422, "must not be empty"),
    ({"body": "x" * 6001}, 422, "at most 6000"),
    ({"body": "First part\n\n## Another question\n\nSecond part"}, 422, "markdown headings"),
    ({"heading": "<b>Bold</b>"}, 422, "HTML markup"),
    ({"heading": "!!!"}, 422, "letters or digits"),
    ({"doc_id": "Not An Id"}, 422, "doc_id"),
    ({"title": None}, 409, "needs a title"),
    ({"services": []}, 409, "which services"),
    ({"gap_id": "gap-unknown"}, 404, "no knowledge gap"),
    ({"colour": "red"}, 422, "colour"),
    ({"doc_id": "roaming", "title": None, "heading": "Enabling roaming on the line"}, 409, "roaming.md"),
    ({"doc_id": "roaming", "title": "Another title"}, 409, "leave the title out"),
])
def test_bad_sections_are_refused_with_the_reason(app, change, status, words):
    app, uri = app
    r = call(app, "POST", "/v1/admin/kb/sections", json={**SECTION, **change})
    assert r.status_code == status, r.text
    assert words in r.json()["message"]
    assert connect(uri).table("kb_sections").count_rows() == 0


def test_who_may_call_the_knowledge_routes(app):
    app, _ = app
    assert call(app, "POST", "/v1/admin/kb/sections", key=OPS, json=SECTION).status_code == 403
    assert call(app, "GET", "/v1/admin/kb/sections", key=OPS).status_code == 403
    assert call(app, "GET", "/v1/ops/knowledge-gaps", key=CUST).status_code == 403
    assert call(app, "GET", "/v1/ops/knowledge-gaps", key="nobody").status_code == 401
    assert call(app, "GET", "/v1/ops/knowledge-gaps", key=OPS).json() == []
    assert call(app, "GET", "/v1/ops/knowledge-gaps", key=OPS, params={"status": "closed"}).status_code == 422


def test_gaps_are_listed_and_a_section_naming_one_addresses_it(app):
    app, uri = app
    store = connect(uri)
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)

    def report(gap_id, count):
        return {"gap_id": gap_id, "question": f"question {gap_id}", "examples": [f"question {gap_id}"],
                "count": count, "best_score": 0.2, "reasons": json.dumps({"low_score": count}),
                "first_seen": at, "last_seen": at, "updated_at": at, "vector": None}

    replace_reports(store, LocalWriter(store), [report("gap-a", 2), report("gap-b", 5), report("gap-old", 1)])
    assert replace_reports(store, LocalWriter(store), [report("gap-a", 2), report("gap-b", 5)])["removed"] == 1
    gaps = call(app, "GET", "/v1/ops/knowledge-gaps", key=OPS).json()
    assert [g["gap_id"] for g in gaps] == ["gap-b", "gap-a"]  # largest first; gap-old left no orphan row
    assert gaps[0]["reasons"] == {"low_score": 5} and not gaps[0]["addressed"]

    r = call(app, "POST", "/v1/admin/kb/sections", json={**SECTION, "gap_id": "gap-a"})
    assert r.status_code == 201, r.text
    addressed = call(app, "GET", "/v1/ops/knowledge-gaps", key=OPS, params={"status": "addressed"}).json()
    assert [(g["gap_id"], g["sections"]) for g in addressed] == [("gap-a", ["esim#getting-an-esim"])]
    assert [g["gap_id"] for g in call(app, "GET", "/v1/ops/knowledge-gaps", key=OPS,
                                      params={"status": "open"}).json()] == ["gap-b"]
