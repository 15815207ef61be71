"""The operator's network: areas, cells, access nodes, outages and planned maintenance."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from telco.models.common import Model

ServiceKind = Literal["mobile", "broadband"]


class Area(Model):
    id: str
    name: str
    postcode_prefix: str
    fiber: bool
    dsl_max_mbps: int
    cable: bool
    five_g: bool


class Cell(Model):
    id: str
    area_id: str
    technologies: list[Literal["2G", "3G", "4G", "5G"]]
    load: float = Field(default=0.3, ge=0, le=1)
    status: Literal["up", "degraded", "down"] = "up"
    # When the equipment went down; a down cell or node is itself an outage, dated from here.
    down_since: datetime | None = None


class AccessNode(Model):
    id: str
    area_id: str
    technology: Literal["fiber", "dsl", "cable"]
    load: float = Field(default=0.3, ge=0, le=1)
    status: Literal["up", "degraded", "down"] = "up"
    # When the equipment went down; a down cell or node is itself an outage, dated from here.
    down_since: datetime | None = None


class Outage(Model):
    id: str
    area_id: str
    services: list[ServiceKind]
    cause: str
    started_at: datetime
    expected_end: datetime | None = None
    resolved_at: datetime | None = None


class Maintenance(Model):
    id: str
    area_id: str
    services: list[ServiceKind]
    description: str
    starts_at: datetime
    ends_at: datetime
