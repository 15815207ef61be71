"""Builds the Serve application: the HTTP ingress in front of the planner, which composes the agent deployments."""
from __future__ import annotations

from typing import Any

from ray import serve

from actors import deployments as d
from serve.ingress import Ingress
from telco.config import Settings, get_settings


def build_app(settings: Settings | None = None, world: Any = "demo") -> serve.Application:
    settings = settings or get_settings()
    uri = settings.memory_uri
    oss_bss = d.OssBssDeployment.options(**d.options("OssBss")).bind(world)
    planner = d.PlannerDeployment.options(**d.options("Planner")).bind(
        d.IntentDeployment.options(**d.options("Intent")).bind(),
        d.TechnicalDeployment.options(**d.options("Technical")).bind(oss_bss, uri),
        d.KnowledgeDeployment.options(**d.options("Knowledge")).bind(uri),
        d.DialogueDeployment.options(**d.options("Dialogue")).bind(),
        d.EscalationDeployment.options(**d.options("Escalation")).bind(),
        oss_bss,
        d.EpisodesDeployment.options(**d.options("Episodes")).bind(uri),
        uri,
    )
    return Ingress.options(**d.options("Ingress")).bind(planner, oss_bss)


def __getattr__(name: str) -> Any:
    # `serve deploy serve/config.yaml` imports serve.app:app; build it only then, not on every import.
    if name == "app":
        return build_app()
    raise AttributeError(name)
