"""A knowledge gap closed over HTTP on the shared live app (local Ray cluster, Serve, LanceDB on disk, the embedding
model): a question the knowledge base cannot answer, the learn job's gap report listed by the operations route, a
section added through the admin route for it, and the next conversation's answer quoting and citing that section,
served by the running Knowledge replicas without a restart. Offline mode."""
from __future__ import annotations

import httpx
import pytest

ray = pytest.importorskip("ray")

from live_kit import ADMIN, C1001, OPS, h  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]

QUESTION = "What is an eSIM and can I get one?"
ESIM = {"doc_id": "esim", "title": "eSIM", "services": ["mobile"], "heading": "What an eSIM is and how to get one",
        "body": "An eSIM is a SIM built into your phone, so there is no card to insert. Any phone that supports eSIM "
                "can get one: ask us for an eSIM profile and scan the QR code we send you under Settings, Mobile "
                "network, Add eSIM.\n\nSwitching from a plastic SIM to an eSIM is free and keeps your number."}


def ok(response: httpx.Response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()


def ask(http: httpx.Client, text: str) -> dict:
    """In a new conversation, as the customer would after the section was added."""
    cid = ok(http.post("/v1/conversations", headers=h(C1001), json={}), 201)["conversation_id"]
    return ok(http.post(f"/v1/conversations/{cid}/messages", headers=h(C1001), json={"text": text}))


def test_a_section_added_through_the_admin_route_is_cited_in_the_next_answer(app, http):
    ok(http.post("/v1/admin/sandbox/world", headers=h(ADMIN), json={"fixture": "demo"}))
    before = ask(http, QUESTION)
    assert not before["citations"] and not before["trace"]["knowledge"]["confident"], before["reply"]

    gap_id = None
    if app.get("uri"):  # the learn job over the app's memory, as `python -m jobs.learn` runs it
        from jobs.intent.learning import learn

        learn(app["uri"], with_examples=False)
        gaps = ok(http.get("/v1/ops/knowledge-gaps", headers=h(OPS), params={"status": "open"}))
        gap = next(g for g in gaps if QUESTION in g["examples"])
        assert gap["reasons"].get("low_score") and not gap["addressed"]
        gap_id = gap["gap_id"]

    assert http.post("/v1/admin/kb/sections", headers=h(OPS), json=ESIM).status_code == 403
    bad = http.post("/v1/admin/kb/sections", headers=h(ADMIN), json={**ESIM, "body": "<script>x</script>"})
    assert bad.status_code == 422 and "HTML" in bad.json()["message"]
    posted = ok(http.post("/v1/admin/kb/sections", headers=h(ADMIN), json={**ESIM, "gap_id": gap_id}), 201)
    assert posted["section_id"] == "esim#what-an-esim-is-and-how-to-get-one" and posted["chunks"] == 1
    assert not ok(http.post("/v1/admin/kb/sections", headers=h(ADMIN), json={**ESIM, "gap_id": gap_id}))["changed"]

    # Twice: with two Knowledge replicas the second question may reach the one that did not write the section.
    for _ in range(2):
        after = ask(http, QUESTION)
        assert [c["section_id"] for c in after["citations"]][:1] == [posted["section_id"]], after["reply"]
        assert "eSIM" in after["reply"] and after["trace"]["knowledge"]["confident"]
    page = http.get("/kb/esim")
    assert page.status_code == 200 and ESIM["heading"] in page.text
    if gap_id is not None:
        addressed = ok(http.get("/v1/ops/knowledge-gaps", headers=h(OPS), params={"status": "addressed"}))
        assert [g["sections"] for g in addressed if g["gap_id"] == gap_id] == [[posted["section_id"]]]
