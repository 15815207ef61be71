"""The browser screens of the contact centre: customer chat (/chat), agent desk (/desk), operations console (/ops).

Pages are rendered on the server from Jinja2 templates (autoescaped, so a customer's words can never become markup)
and talk to the same JSON API as every other client. The API key is typed once into a form and kept in the tab's
sessionStorage; scripts send it as the Authorization header, so it never appears in a URL, a log line or a
Referer. A page request may also carry the key as a header (a proxy in front of the desk, or a test): a key whose
role may not open the page then gets a 403 page from the server; in the browser the same refusal is shown by the
page's script after it asks /v1/session who the key belongs to.
"""
# No `from __future__ import annotations`: FastAPI reads the route annotations as real objects.
import asyncio
import logging
from pathlib import Path
from typing import Annotated, Any, Awaitable, Callable, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.middleware.base import BaseHTTPMiddleware

from actors.agents.dialogue import load_templates
from memory.kb_sections import added_documents
from memory.store import connect
from serve.auth import KeyRing
from serve.errors import error_responses
from telco.config import Settings
from telco.contract.principal import Principal
from telco.errors import TelcoError
from telco.knowledge import load_documents, merge_documents

HERE = Path(__file__).parent
log = logging.getLogger(__name__)
# Scripts and styles only from this origin; no inline script, no eval, no framing, no plugins. `connect-src 'self'`
# is all the pages need: they only call this app's API.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
Screen = Literal["chat", "desk", "ops"]
# Who may open which screen; the API routes behind each screen check the same roles again.
ROLES: dict[str, tuple[str, ...]] = {"chat": ("customer", "operations", "admin"),
                                     "desk": ("operations", "admin"), "ops": ("operations", "admin")}


class PageLinks(BaseSettings):
    """Where the ops console points people for more: TELCO_PAGES_RAY_DASHBOARD, TELCO_PAGES_GRAFANA."""

    model_config = SettingsConfigDict(env_prefix="TELCO_PAGES_", extra="ignore")

    ray_dashboard: str = "http://127.0.0.1:8265"
    grafana: str = "http://127.0.0.1:3000"


class SessionOut(BaseModel):
    """GET /v1/session: who the presented key is, so a page can greet the person or refuse the screen."""

    key_id: str
    role: str
    customer_id: str | None = None
    screens: list[str]


# FastAPI's own /docs and /redoc pages load their scripts from a CDN and run inline ones: they keep their defaults.
API_DOC_PATHS = ("/docs", "/redoc")


class SecurityHeaders(BaseHTTPMiddleware):
    """Every response of the app carries the CSP and friends; for JSON they cost nothing and close odd corners."""

    async def dispatch(self, request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        if request.url.path.startswith(API_DOC_PATHS):
            return response
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def demo_admin_key(settings: Settings) -> str | None:
    """The key the chat page's "Done" button uses to perform a step on the simulated device.

    Only a demo has a simulated device, so only outside production, and only when the published development
    admin keys are in use: a real operator's admin key must never be handed to a browser.
    """
    if settings.env == "production" or not settings.using_dev_keys:
        return None
    return next((k.key.get_secret_value() for k in settings.api_keys if k.role == "admin"), None)


def install_pages(app: FastAPI, keyring: KeyRing, settings: Settings, caller: Callable[..., Awaitable[Principal]],
                  links: PageLinks | None = None) -> None:
    links = links or PageLinks()
    templates = Jinja2Templates(directory=str(HERE / "templates"))  # .html templates are autoescaped
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    router = APIRouter(include_in_schema=False)
    demo_key = demo_admin_key(settings)
    # A choice question names intents; the chat shows (and sends back) the same plain words the replies use.
    intent_labels = {name: t.label for name, t in load_templates().intents.items()}

    def refused(request: Request, screen: str) -> str | None:
        """The role of a key sent with the page request when that role may not open `screen`."""
        if "authorization" not in request.headers and "x-api-key" not in request.headers:
            return None
        try:
            principal = keyring.authenticate(request.headers)
        except TelcoError:
            return "unknown"
        return None if principal.role in ROLES[screen] else principal.role

    def page(request: Request, screen: Screen, **extra: Any) -> HTMLResponse:
        role = refused(request, screen)
        context = {"screen": screen, "roles": ROLES[screen], "links": links, **extra}
        if role is not None:
            return templates.TemplateResponse(request, "forbidden.html", {**context, "role": role}, status_code=403)
        return templates.TemplateResponse(request, f"{screen}.html", context)

    @app.get("/v1/session", response_model=SessionOut, tags=["pages"], summary="who the presented key is",
             responses=error_responses(401, 413, 429))
    async def session(principal: Annotated[Principal, Depends(caller)]) -> SessionOut:
        return SessionOut(key_id=principal.key_id, role=principal.role, customer_id=principal.customer_id,
                          screens=[s for s, roles in ROLES.items() if principal.role in roles])

    @router.get("/chat", response_class=HTMLResponse)
    async def chat(request: Request) -> HTMLResponse:
        return page(request, "chat", demo_admin_key=demo_key, intent_labels=intent_labels)

    @router.get("/desk", response_class=HTMLResponse)
    async def desk(request: Request) -> HTMLResponse:
        return page(request, "desk")

    @router.get("/ops", response_class=HTMLResponse)
    async def ops(request: Request) -> HTMLResponse:
        return page(request, "ops")

    @router.get("/forbidden/{screen}", response_class=HTMLResponse)
    async def forbidden(request: Request, screen: Screen, role: str = "customer") -> HTMLResponse:
        # Where a page's script sends a key that may not open it: the same 403 page the server gives.
        role = role if role in ("customer", "operations", "admin", "unknown") else "unknown"
        context = {"screen": screen, "roles": ROLES[screen], "links": links, "role": role}
        return templates.TemplateResponse(request, "forbidden.html", context, status_code=403)

    files = load_documents()
    memory: list[Any] = []

    def documents() -> dict[str, Any]:
        # The files plus the sections added through the admin route, read per page view: a new section shows
        # at once on every ingress replica.
        try:
            if not memory:
                memory.append(connect(settings.memory_uri))
            added = added_documents(memory[0])
        except Exception:  # memory unreachable: the files' pages still show
            log.warning("knowledge-base pages without the added sections: memory unreachable", exc_info=True)
            added = []
        return {d.id: d for d in merge_documents(files, added)}

    @router.get("/kb/{doc_id}", response_class=HTMLResponse)
    async def kb_document(request: Request, doc_id: str) -> HTMLResponse:
        # Citations link here as /kb/<doc_id>#<slug>; each section carries its slug as the element id.
        doc = (await asyncio.to_thread(documents)).get(doc_id)
        if doc is None:
            return templates.TemplateResponse(request, "not_found.html", {"what": "knowledge-base document"},
                                              status_code=404)
        return templates.TemplateResponse(request, "kb.html", {"doc": doc, "links": links})

    app.include_router(router)
