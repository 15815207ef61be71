"""Builds the Serve application: the HTTP ingress in front of the planner, which composes the agent deployments."""
from __future__ import annotations

from typing import Any

from ray import serve

from actors.runtime import deployments as d
from serve.deploy_config import deployment_options
from serve.ingress import Ingress
from telco.config import Settings, get_settings


def build_app(settings: Settings | None = None, world: Any = "demo") -> serve.Application:
    settings = settings or get_settings()
    uri = settings.memory_uri
    oss_bss = d.OssBssDeployment.options(**deployment_options("OssBss")).bind(world, uri)
    knowledge = d.KnowledgeDeployment.options(**deployment_options("Knowledge")).bind(uri)
    planner = d.PlannerDeployment.options(**deployment_options("Planner")).bind(
        d.IntentDeployment.options(**deployment_options("Intent")).bind(uri),
        d.TechnicalDeployment.options(**deployment_options("Technical")).bind(oss_bss, uri),
        knowledge,
        d.DialogueDeployment.options(**deployment_options("Dialogue")).bind(),
        d.EscalationDeployment.options(**deployment_options("Escalation")).bind(),
        oss_bss,
        d.EpisodesDeployment.options(**deployment_options("Episodes")).bind(uri),
        uri,
    )
    return Ingress.options(**deployment_options("Ingress")).bind(planner, oss_bss, knowledge=knowledge)


def __getattr__(name: str) -> Any:
    # `serve deploy serve/config.yaml` imports serve.app:app; build it only then, not on every import.
    if name == "app":
        return build_app()
    raise AttributeError(name)
