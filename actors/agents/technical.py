"""Technical agent: runs the playbook for the customer's issue, one turn at a time.

Offline brain (this issue's only brain): the playbook from procedural memory decides; the agent resolves which of
the customer's services it applies to, calls the diagnostics and fixes through the OSS/BSS tools, and pauses when only
the customer can act or look. Area outages come first because every playbook checks them before anything else.

A call is safe to retry: the run state comes in with the request and every write inside it carries an idempotency
key derived from (conversation, playbook, step, visit), so a retried step returns the stored result.
"""
from __future__ import annotations

from typing import Any, Callable

from actors.runtime.oss_bss import RemoteToolPort
from telco.contract.messages import TechnicalRequest, TechnicalResult
from telco.errors import InvalidInput
from telco.playbooks import load_playbooks
from telco.playbooks.runner import NO_ANSWER, PlaybookRunner
from telco.playbooks.spec import Playbook

PlaybookSource = Callable[[], dict[str, Playbook]]


class TechnicalAgent:
    def __init__(self, oss_bss: Any, playbooks: PlaybookSource = load_playbooks,
                 variants: Callable[[str, dict, Any], dict] | None = None) -> None:
        self.oss_bss = oss_bss
        self.playbooks = playbooks
        # A/B experiments on playbook versions (memory.experiments): which version this conversation runs.
        self.variants = variants


    async def step(self, req: TechnicalRequest) -> TechnicalResult:
        books = self.playbooks()
        if self.variants is not None:
            books = self.variants(req.conversation_id, books, req.run)
        runner = PlaybookRunner(books)
        port = RemoteToolPort(self.oss_bss, req.conversation_id, req.identity, req.principal)
        if req.start_playbook is not None:
            book = books.get(req.start_playbook)
            if book is None:
                raise InvalidInput(f"no playbook named {req.start_playbook!r}")
            # The runner settles which service the flow is about when a step first needs the account (asking
            # which line when there are several), and says when the customer must be verified first.
            scope: dict[str, Any] = {"requested_service_id": req.service_id} if req.service_id else {}
            slots = {"line_number": req.line_number} if req.line_number else {}
            run = await runner.start(book.id, port, scope, {**req.given, **slots})
        elif req.run is not None:
            run = req.run
            if set(req.given) - set(run.slots):
                # Said since the run started (e.g. a number alongside the answer to another question); what the
                # run already holds, an answer or a "don't know", stays.
                run = run.model_copy(update={"slots": {**req.given, **run.slots}})
            run = await runner.advance(run, port, req.answer if req.has_answer else NO_ANSWER)
        else:
            raise InvalidInput("a technical step needs a run to continue or a playbook to start")
        return TechnicalResult(run=run, identity=port.identity, tool_calls=port.calls)


def procedural_source(memory_uri: str, refresh_s: float = 30.0) -> PlaybookSource:
    """The active playbook versions from procedural memory, re-read every `refresh_s` so that a version promoted
    by the learning jobs reaches running replicas without a redeploy."""
    import time

    from memory.procedural import ProceduralMemory
    from memory.store import connect
    from memory.writer import LocalWriter

    store = connect(memory_uri)
    memory = ProceduralMemory(store, LocalWriter(store))
    cache: dict[str, Any] = {"at": float("-inf"), "books": {}}

    def source() -> dict[str, Playbook]:
        if time.monotonic() - cache["at"] > refresh_s:
            rows = memory.table.search().where("status = 'active'").limit(10_000).to_list()
            books = {r["name"]: Playbook.model_validate_json(r["body"]) for r in rows}
            cache.update(at=time.monotonic(), books=books or load_playbooks())
        return cache["books"]

    return source
