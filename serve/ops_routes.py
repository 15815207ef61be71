"""Routes for an operator's team: the human handoff queue, alerts, area incidents, and network drills (admin).

Everything goes through the planner deployment (which holds the conversations, the monitor and incident actors)
or the OSS/BSS deployment (the operator's records); this module only checks who is calling and shapes the calls.
"""
# No `from __future__ import annotations`: FastAPI reads the route annotations as real objects.
from typing import Annotated, Any, Awaitable, Callable, Literal

from fastapi import APIRouter, Body, Depends, Path, Query

from actors.operations.handoffs import MAX_PERSON_CHARS, ClaimIn, HandoffDetail, HandoffItem, PersonReplyIn, ResolveIn
from actors.operations.monitor import ALERTS_PAGE, RECENT_ALERTS
from actors.runtime.oss_bss import Chaos
from serve.auth import require_admin, require_operations_or_admin
from serve.errors import error_responses, links
from telco.contract.http import TurnOut
from telco.contract.principal import Principal

HandoffId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="id from GET /v1/handoffs")]
AreaId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
_UNKNOWN_HANDOFF = error_responses(404, e404="no handoff with that id")
# A person's action on a handoff: its body may not parse, the id may be unknown, someone else may hold it.
_DESK_ACTION = {**error_responses(400, 409, e409="the handoff is claimed by someone else or already resolved"),
                **_UNKNOWN_HANDOFF}


def ops_routers(planner: Any, oss_bss: Any, caller: Callable[..., Awaitable[Principal]],
                remote: Callable[[Awaitable[Any]], Awaitable[Any]],
                responses: dict[int | str, dict[str, Any]]) -> list[APIRouter]:
    async def operations(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        return require_operations_or_admin(principal)

    async def admin(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        return require_admin(principal)

    Operator = Annotated[Principal, Depends(operations)]

    def desk(op: str, *args: Any) -> Awaitable[Any]:
        return remote(planner.handoff_desk.remote(op, *args))

    handoffs = APIRouter(prefix="/v1/handoffs", tags=["handoffs (operations)"], responses=responses)

    @handoffs.get("", response_model=list[HandoffItem], summary="the queue of conversations handed to people")
    async def list_handoffs(_: Operator, status: Literal["queued", "claimed", "resolved"] | None = None,
                            queue: str | None = Query(default=None, max_length=32)) -> Any:
        return await desk("list", status, queue)

    @handoffs.get("/{handoff_id}", response_model=HandoffDetail, responses=_UNKNOWN_HANDOFF,
                  summary="one handoff with the whole conversation (including messages sent while waiting)")
    async def get_handoff(_: Operator, handoff_id: HandoffId) -> Any:
        return await desk("get", handoff_id)

    @handoffs.post("/{handoff_id}/claim", response_model=HandoffItem, summary="take the conversation",
                   responses={**_DESK_ACTION, **links(200, "/handoff_id",
                                                      Reply=("post", "/v1/handoffs/{handoff_id}/reply", "handoff_id"),
                                                      Resolve=("post", "/v1/handoffs/{handoff_id}/resolve",
                                                               "handoff_id"))})
    async def claim(principal: Operator, handoff_id: HandoffId, body: ClaimIn = Body(default_factory=ClaimIn)) -> Any:
        return await desk("claim", handoff_id, body.person or principal.key_id)

    @handoffs.post("/{handoff_id}/reply", response_model=TurnOut, responses=_DESK_ACTION,
                   summary="write to the customer; the reply becomes a turn of their conversation")
    async def reply(principal: Operator, handoff_id: HandoffId, body: PersonReplyIn,
                    person: str | None = Query(default=None, max_length=MAX_PERSON_CHARS)) -> Any:
        return await desk("reply", handoff_id, person or principal.key_id, body.text)

    @handoffs.post("/{handoff_id}/resolve", response_model=HandoffItem, responses=_DESK_ACTION,
                   summary="close the handoff; the outcome is written to episodic memory")
    async def resolve(principal: Operator, handoff_id: HandoffId, body: ResolveIn = Body(default_factory=ResolveIn),
                      person: str | None = Query(default=None, max_length=MAX_PERSON_CHARS)) -> Any:
        return await desk("resolve", handoff_id, person or principal.key_id, body)

    ops = APIRouter(prefix="/v1/ops", tags=["operations"], responses=responses)

    @ops.get("/alerts", summary="the monitor's alerts, newest first (agent, metric, window, severity)")
    async def alerts(_: Operator, severity: Literal["warning", "critical"] | None = None,
                     limit: int = Query(default=ALERTS_PAGE, ge=1, le=RECENT_ALERTS)) -> list[dict[str, Any]]:
        return await remote(planner.operations.remote("alerts", severity, limit))

    @ops.get("/incidents", summary="area incidents, newest first; open ones are rechecked against the network")
    async def incidents(_: Operator, status: Literal["open", "closed"] | None = None) -> list[dict[str, Any]]:
        return await remote(planner.operations.remote("incidents", status))

    drills = APIRouter(prefix="/v1/admin/sandbox", tags=["sandbox (admin)"], responses=responses,
                       dependencies=[Depends(admin)])

    @drills.post("/chaos", summary="slow down or take down the OSS/BSS backend (zeros restore it)",
                 responses=error_responses(400))
    async def chaos(body: Chaos) -> dict[str, Any]:
        return await remote(oss_bss.set_chaos.remote(body.model_dump()))

    @drills.post("/areas/{area_id}/restore", summary="the network of an area recovers: outages end, equipment up",
                 responses=error_responses(404, e404="no area with that id"))
    async def restore(area_id: AreaId) -> dict[str, Any]:
        return await remote(oss_bss.restore_area.remote(area_id))

    return [handoffs, ops, drills]
