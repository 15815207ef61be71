"""Catalogue of mobile and broadband plans."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from telco.models.common import Model, Money


class MobilePlan(Model):
    kind: Literal["mobile"] = "mobile"
    id: str
    name: str
    monthly_price: Money
    data_limit_gb: float = Field(ge=0)
    refuel_price_per_gb: Money
    five_g: bool = False
    roaming_included: bool = False


class BroadbandPlan(Model):
    kind: Literal["broadband"] = "broadband"
    id: str
    name: str
    monthly_price: Money
    download_mbps: int = Field(gt=0)
    upload_mbps: int = Field(gt=0)
    technologies: list[Literal["fiber", "dsl", "cable"]]


Plan = Annotated[Union[MobilePlan, BroadbandPlan], Field(discriminator="kind")]
