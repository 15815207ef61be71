"""The operator's network: areas, cells, access nodes, outages and planned maintenance."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from telco.models.common import Model
from telco.models.devices import RadioTech

ServiceKind = Literal["mobile", "broadband"]


class Area(Model):
    id: str
    name: str
    postcode_prefix: str
    fiber: bool
    dsl_max_mbps: int
    cable: bool
    five_g: bool
    # The radio technologies the operator still runs here. Operators switch 2G and 3G off area by area to reuse
    # the spectrum; a phone locked to a switched-off technology then finds no network at all.
    radio: list[RadioTech]


class Cell(Model):
    id: str
    area_id: str
    technologies: list[RadioTech]
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


class RoamingPartner(Model):
    """The network a customer's phone uses in one country abroad; its own technology and load decide the speed."""

    country: str  # ISO 3166 alpha-2 code, the key it is stored under
    name: str
    technologies: list[RadioTech]
    load: float = Field(default=0.4, ge=0, le=1)
    bars: int = Field(default=3, ge=1, le=4)  # typical signal in the places travellers go
