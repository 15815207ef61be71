"""The HTTP entry point: FastAPI routes served by the `Ingress` Serve deployment.

The ingress owns the edge only: who is calling (API key -> Principal), how much (body size, message length, rate
per key), and turning every failure into an ErrorOut with the right status. Conversations are the planner's
business and the sandbox is the OSS/BSS deployment's; both are reached through DeploymentHandles given to the
constructor. `create_app` builds the same app around any objects with that interface, which is how the routes
are tested without a cluster. Every check here runs before a backend is called, so a refused request leaves no
turn and no state behind.
"""
# No `from __future__ import annotations`: FastAPI must see the route annotations (local aliases included) as
# real objects when the routes are declared inside create_app.
import asyncio
import time
from typing import Annotated, Any, Awaitable, Callable

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request, Security
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import APIKeyHeader, HTTPBearer
from ray import serve

from actors.runtime.errors import as_telco_error
from serve import sse
from serve.auth import KeyRing, RateLimiter, require_admin, require_operations_or_admin
from serve.deploy_config import deployment_options
from serve.errors import error_responses, install_error_handlers, links
from serve.limits import BodySizeLimit
from serve.probes import call_check, memory_check, readiness
from telco.config import Settings, get_settings
from telco.contract.http import (
    ConversationCreated,
    ConversationOut,
    CustomerStepIn,
    FaultIn,
    FeedbackIn,
    HealthOut,
    LoadWorldIn,
    MessageIn,
    NewConversation,
    ReadyOut,
    TurnOut,
)
from telco.contract.principal import Principal
from telco.errors import Conflict, InvalidInput
from telco.redact import install_log_redaction

API_VERSION = "0.1.0"
ConversationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="id from POST /v1/conversations")]
# Every route behind a key can answer these; routes add what else they can (a body that does not parse, an unknown
# id, a state conflict). The schemathesis run in tests/integration/live/test_api_fuzz.py holds the API to them.
_ERRORS = error_responses(401, 403, 413, 422, 429, 503)
_BODY = error_responses(400)
_NOT_FOUND = error_responses(404, e404="unknown conversation")
_CONFLICT = error_responses(409, e409="another turn of this conversation is being handled (send it again), or "
                                      "the client_message_id was used for a different message")
_DRILL = error_responses(404, 409, e404="no such customer", e409="the current world cannot take this drill")
_CONVERSATION = "/v1/conversations/{conversation_id}"
_STARTED = links(201, "/conversation_id", Read=("get", _CONVERSATION, "conversation_id"),
                 Write=("post", _CONVERSATION + "/messages", "conversation_id"),
                 Rate=("post", _CONVERSATION + "/feedback", "conversation_id"))
_HANDED_OVER = links(200, "/handoff/handoff_id", Handoff=("get", "/v1/handoffs/{handoff_id}", "handoff_id"),
                     Claim=("post", "/v1/handoffs/{handoff_id}/claim", "handoff_id"))
_STREAM_DOC = {
    200: {"description": "the turn; with `Accept: text/event-stream`, server-sent events `meta`, `delta`... "
                         "and `done` (whose data is this TurnOut)",
          "content": {sse.MEDIA_TYPE: {"schema": {"type": "string"}}}},
}


async def _remote(call: Awaitable[Any]) -> Any:
    """Await a handle call; whatever it raises leaves as the TelcoError that carries the HTTP status."""
    try:
        return await call
    except Exception as exc:
        raise as_telco_error(exc) from None


async def _drill(call: Awaitable[Any]) -> Any:
    """A sandbox drill whose body is well formed but which this world cannot take (the customer has no such line,
    the fault takes no such parameter) conflicts with the world's state: 409, with the sandbox's reason."""
    try:
        return await _remote(call)
    except InvalidInput as err:
        raise Conflict(f"cannot apply this to the current world: {err.message}", **err.details) from None


async def _prepend(first: Any, rest: Any) -> Any:
    yield first
    async for item in rest:
        yield item


def create_app(planner: Any, oss_bss: Any, settings: Settings | None = None, *,
               clock: Callable[[], float] = time.monotonic, knowledge: Any = None) -> FastAPI:
    settings = settings or get_settings()
    keyring = KeyRing.from_settings(settings)
    limiter = RateLimiter(keyring.rates, clock=clock)
    max_chars = settings.limits.max_message_chars

    app = FastAPI(
        title="telco-agents", version=API_VERSION,
        description="Customer service for mobile and home broadband. Authenticate with an API key "
                    "(`Authorization: Bearer <key>` or `X-API-Key`). Every reply says which mode produced it.",
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.limits.max_body_bytes)
    install_error_handlers(app)

    # Declared so /docs offers an Authorize button; the key itself is read from the raw headers by the KeyRing.
    bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
    header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")

    async def caller(request: Request, _b: Any = Security(bearer), _k: Any = Security(header_key)) -> Principal:
        principal = keyring.authenticate(request.headers)
        limiter.check(principal.key_id)
        return principal

    async def admin(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        return require_admin(principal)

    Caller = Annotated[Principal, Depends(caller)]

    # ---- probes (no key: load balancers and `telco up` call them) -----------------------------------------
    @app.get("/healthz", response_model=HealthOut, tags=["probes"], summary="the process is up")
    async def healthz() -> HealthOut:
        return HealthOut()

    @app.get("/readyz", response_model=ReadyOut, tags=["probes"], summary="planner, OSS/BSS and memory reachable",
             responses={503: {"model": ReadyOut, "description": "not ready: each check says what is wrong"}})
    async def readyz() -> Any:
        checks = await readiness({
            "planner": lambda: call_check("planner", lambda: planner.ping.remote()),
            "oss_bss": lambda: call_check("oss_bss", lambda: oss_bss.ping.remote()),
            "memory": lambda: asyncio.to_thread(memory_check, settings.memory_uri),
        })
        ready = all(v == "ok" for v in checks.values())
        body = ReadyOut(status="ready" if ready else "not_ready", checks=checks)
        return JSONResponse(body.model_dump(mode="json"), status_code=200 if ready else 503)

    # ---- conversations ------------------------------------------------------------------------------------
    @app.post("/v1/conversations", response_model=ConversationCreated, status_code=201, tags=["conversations"],
              summary="start a conversation", responses={**_ERRORS, **_BODY, **_STARTED})
    async def start_conversation(principal: Caller, body: NewConversation = Body(default_factory=NewConversation)
                                 ) -> ConversationCreated:
        return await _remote(planner.start_conversation.remote(principal, body))

    @app.post("/v1/conversations/{conversation_id}/messages", response_model=TurnOut, tags=["conversations"],
              summary="send the customer's message (and step results); JSON or server-sent events",
              responses={**_ERRORS, **_BODY, **_NOT_FOUND, **_CONFLICT, 200: {**_STREAM_DOC[200], **_HANDED_OVER[200]}})
    async def post_message(principal: Caller, conversation_id: ConversationId, body: MessageIn,
                           request: Request) -> Any:
        if len(body.text) > max_chars:
            raise InvalidInput(f"invalid request: text: the message is {len(body.text)} characters; "
                               f"the limit is {max_chars}",
                               errors=[{"location": "body", "field": "text",
                                        "problem": f"at most {max_chars} characters"}])
        if settings.mode != "offline" and sse.wants_stream(request.headers.get("accept")):
            # The model's reply is passed through as it is written (a hybrid turn the template answers comes as
            # the whole turn); a failure before the first event still answers with its own HTTP status.
            items = planner.options(stream=True).stream_turn.remote(principal, conversation_id, body)
            first = await _remote(items.__anext__())
            return StreamingResponse(sse.live_turn_events(_prepend(first, items)), media_type=sse.MEDIA_TYPE,
                                     headers=sse.HEADERS)
        turn: TurnOut = await _remote(planner.handle_turn.remote(principal, conversation_id, body))
        if sse.wants_stream(request.headers.get("accept")):
            return StreamingResponse(sse.turn_events(turn), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
        return turn

    @app.get("/v1/conversations/{conversation_id}", response_model=ConversationOut, tags=["conversations"],
             summary="the transcript, with each turn's trace", responses={**_ERRORS, **_NOT_FOUND})
    async def get_conversation(principal: Caller, conversation_id: ConversationId) -> ConversationOut:
        return await _remote(planner.get_conversation.remote(principal, conversation_id))

    @app.post("/v1/conversations/{conversation_id}/feedback", tags=["conversations"],
              summary="the customer's rating of the conversation",
              responses={**_ERRORS, **_BODY, **_NOT_FOUND, **_CONFLICT})
    async def feedback(principal: Caller, conversation_id: ConversationId, body: FeedbackIn) -> dict[str, Any]:
        return await _remote(planner.feedback.remote(principal, conversation_id, body))

    # ---- sandbox administration ---------------------------------------------------------------------------
    sandbox = APIRouter(prefix="/v1/admin/sandbox", tags=["sandbox (admin)"], responses=_ERRORS,
                        dependencies=[Depends(admin)])

    @sandbox.post("/world", summary="load the demo fixture or a generated world {seed, customers}", responses=_BODY)
    async def load_world(body: LoadWorldIn) -> dict[str, Any]:
        loaded = await _remote(oss_bss.load_world.remote(body.spec()))
        await _remote(planner.operations.remote("world_reloaded"))
        return loaded

    @sandbox.get("/world", summary="the whole world as JSON",
                 responses={200: {"content": {"application/json": {}}}})
    async def dump_world() -> Response:
        text: str = await _remote(oss_bss.dump_world.remote())
        return Response(content=text, media_type="application/json")

    @sandbox.post("/faults", summary="inject a fault from the catalogue",
                  responses={**_BODY, **_DRILL})
    async def inject_fault(body: FaultIn) -> dict[str, Any]:
        return await _drill(oss_bss.inject_fault.remote(body.name, body.customer_id, body.service_id, body.params))

    @sandbox.post("/customer-steps", summary="do a customer step on the device and return what the customer sees",
                  responses={**_BODY, **_DRILL})
    async def customer_step(body: CustomerStepIn) -> dict[str, Any]:
        return await _drill(oss_bss.apply_customer_step.remote(body.step_id, body.customer_id, body.service_id))

    @sandbox.get("/faults", summary="the fault catalogue")
    async def fault_catalogue() -> list[dict[str, Any]]:
        return (await _remote(oss_bss.catalogue.remote()))["faults"]

    @sandbox.get("/customer-steps", summary="the customer-step catalogue")
    async def step_catalogue() -> list[dict[str, Any]]:
        return (await _remote(oss_bss.catalogue.remote()))["customer_steps"]

    app.include_router(sandbox)
    from serve.ops_routes import ops_routers

    for router in ops_routers(planner, oss_bss, caller, _remote, _ERRORS):
        app.include_router(router)
    from serve.kb_routes import kb_routers

    for router in kb_routers(knowledge, settings.memory_uri, caller, _remote, _ERRORS):
        app.include_router(router)
    from serve.desk_routes import desk_router
    from serve.ops_metrics import OpsMetrics, ops_metrics

    app.include_router(desk_router(oss_bss, caller, _remote, _ERRORS))
    from serve.audit_routes import audit_router

    app.include_router(audit_router(settings.memory_uri, caller, _ERRORS))
    from serve.pages import install_pages

    @app.get("/v1/ops/metrics", response_model=OpsMetrics, tags=["operations"], responses=_ERRORS,
             summary="turns/s, latency, errors, tokens, cost, modes, resolutions and hand-overs of a recent window")
    async def metrics(principal: Caller, window_s: int = Query(default=300, ge=10, le=86_400)) -> OpsMetrics:
        require_operations_or_admin(principal)
        return await ops_metrics(settings.memory_uri, window_s)

    install_pages(app, keyring, settings, caller)
    return app


# serve/config.yaml's numbers also when the ingress is bound on its own (the HTTP tests), not only through serve/app.py.
@serve.deployment(name="Ingress", **deployment_options("Ingress"))
@serve.ingress()
class Ingress:
    """Serve deployment around create_app; `planner`, `oss_bss` and `knowledge` are DeploymentHandles (bound by
    serve/app.py; the knowledge handle adds KB sections)."""

    def __init__(self, planner: Any, oss_bss: Any, settings: Settings | None = None, knowledge: Any = None) -> None:
        install_log_redaction()  # its error log quotes what the failed request carried
        self._app = create_app(planner, oss_bss, settings, knowledge=knowledge)

    def __serve_build_asgi_app__(self) -> FastAPI:
        return self._app
