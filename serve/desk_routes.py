"""GET /v1/ops/customers/{customer_id}: the account a person at the desk needs beside a hand-off (name, status,
lines, broadband), so they never ask the customer for it again.

Read through the same typed read tool the agents use (`get_customer_details`), on behalf of an operator: the
operator's role is the authority here, so the tool is called with the customer as the verified identity. Reads
only; nothing a person changes goes around the tools.
"""
# No `from __future__ import annotations`: FastAPI reads the route annotations as real objects.
from typing import Annotated, Any, Awaitable, Callable

from fastapi import APIRouter, Depends, Path

from serve.auth import require_operations_or_admin
from serve.errors import error_responses
from telco.contract.messages import Identity
from telco.contract.principal import Principal
from telco.errors import error_from_dict

CustomerId = Annotated[str, Path(pattern=r"^C\d{4,9}$")]
DESK_CONVERSATION = "ops-desk"  # the tool layer's conversation key for reads made from the desk


def desk_router(oss_bss: Any, caller: Callable[..., Awaitable[Principal]],
                remote: Callable[[Awaitable[Any]], Awaitable[Any]],
                responses: dict[int | str, dict[str, Any]]) -> APIRouter:
    async def operations(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        return require_operations_or_admin(principal)

    router = APIRouter(prefix="/v1/ops", tags=["operations"], responses=responses)

    @router.get("/customers/{customer_id}", summary="a customer's account, lines and broadband (for the desk)",
                responses=error_responses(404, e404="no customer with that id"))
    async def customer(_: Annotated[Principal, Depends(operations)], customer_id: CustomerId) -> dict[str, Any]:
        outcome = await remote(oss_bss.call_tool.remote(DESK_CONVERSATION, Identity(verified_customer_id=customer_id),
                                                        "get_customer_details", {"customer_id": customer_id}))
        if outcome.error:
            raise error_from_dict(outcome.error)  # e.g. not_found (404), backend_unavailable (503)
        return outcome.result

    return router
