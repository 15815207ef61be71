"""Routes that grow the knowledge base: the gaps the learning job found (operations) and sections people add
(admin). A section is embedded and indexed by the Knowledge deployment (it has the model loaded) through the
knowledge group's single writer; the lists are read straight from memory.
"""
# No `from __future__ import annotations`: FastAPI reads the route annotations as real objects.
import asyncio
from typing import Annotated, Any, Awaitable, Callable, Literal

from fastapi import APIRouter, Depends, Query, Response

from memory.kb_gaps import gap_reports
from memory.kb_sections import list_sections
from memory.store import connect
from serve.auth import require_admin, require_operations_or_admin
from serve.errors import error_responses
from telco.contract.kb import KbSectionIn, KbSectionOut, KnowledgeGapOut
from telco.contract.principal import Principal
from telco.errors import BackendUnavailable

_ADDED = {
    200: {"model": KbSectionOut, "description": "the section existed: its text replaced, or unchanged"},
    **error_responses(400, 404, 409, e404="no knowledge gap with that gap_id",
                      e409="the section does not fit the knowledge base as it is: the heading names a section of a "
                           "knowledge-base file, a new document needs a title and services, an existing one keeps "
                           "its title"),
}
_UNAVAILABLE = error_responses(503, e503="the knowledge service or memory cannot be reached")


def kb_routers(knowledge: Any, memory_uri: str, caller: Callable[..., Awaitable[Principal]],
               remote: Callable[[Awaitable[Any]], Awaitable[Any]],
               responses: dict[int | str, dict[str, Any]]) -> list[APIRouter]:
    opened: list[Any] = []

    def store() -> Any:
        if not opened:
            opened.append(connect(memory_uri))
        return opened[0]

    async def operations(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        return require_operations_or_admin(principal)

    async def admin(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        return require_admin(principal)

    gaps = APIRouter(prefix="/v1/ops", tags=["operations"], responses={**responses, **_UNAVAILABLE})

    @gaps.get("/knowledge-gaps", response_model=list[KnowledgeGapOut],
              summary="questions the knowledge base could not answer, clustered (largest first; jobs.learn)")
    async def knowledge_gaps(_: Annotated[Principal, Depends(operations)],
                             status: Literal["open", "addressed"] | None = None,
                             limit: int = Query(default=100, ge=1, le=1000)) -> Any:
        return await asyncio.to_thread(gap_reports, store(), status, limit)

    kb = APIRouter(prefix="/v1/admin/kb", tags=["knowledge base (admin)"], responses={**responses, **_UNAVAILABLE})

    @kb.post("/sections", response_model=KbSectionOut, status_code=201, responses=_ADDED,
             summary="add (or replace) a knowledge-base section; served by the knowledge agent from the next "
                     "question, no restart (200 when the section existed)")
    async def add_section(principal: Annotated[Principal, Depends(admin)], body: KbSectionIn,
                          response: Response) -> Any:
        if knowledge is None:
            raise BackendUnavailable("this app runs without a knowledge service, so sections cannot be added")
        out: KbSectionOut = await remote(knowledge.add_section.remote(body, principal.key_id))
        if not out.created:
            response.status_code = 200
        return out

    @kb.get("/sections", response_model=list[KbSectionOut], summary="the sections added through this route")
    async def sections(_: Annotated[Principal, Depends(admin)]) -> Any:
        return await asyncio.to_thread(list_sections, store())

    return [gaps, kb]
