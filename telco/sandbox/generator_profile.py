"""The generator's distributions (telco/data/sandbox/generator.yaml) as a validated model.

Kept apart from the generator so a bad profile fails once, at load, with a message naming the field,
instead of surfacing as an odd record deep inside a 100k-customer world.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from telco.data import DEMO_WORLD_FILE, GENERATOR_PROFILE_FILE
from telco.errors import InvalidInput
from telco.models import BroadbandPlan, MobilePlan, Plan, RoamingPartner

PROFILE_PATH = GENERATOR_PROFILE_FILE
CATALOGUE_PATH = DEMO_WORLD_FILE

Range = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AreaProfile(_Strict):
    name: str
    weight: float = Field(gt=0)
    fiber: bool
    cable: float = Field(ge=0, le=1)  # chance the area also has cable
    dsl_max_mbps: tuple[int, int]
    five_g: float = Field(ge=0, le=1)  # chance the area has 5G


class Shares(_Strict):
    mobile: float = Field(ge=0, le=1)
    broadband_given_mobile: float = Field(ge=0, le=1)
    second_line: float = Field(ge=0, le=1)
    small_business: float = Field(ge=0, le=1)
    second_payment_method: float = Field(ge=0, le=1)
    goodwill_used: float = Field(ge=0, le=1)
    roaming_enabled: float = Field(ge=0, le=1)
    abroad_now: float = Field(ge=0, le=1)
    refuelled_this_cycle: float = Field(ge=0, le=1)
    refuel_on_past_bill: float = Field(ge=0, le=1)
    roaming_charge_on_past_bill: float = Field(ge=0, le=1)
    contract_ending_soon: float = Field(ge=0, le=1)
    promotion: float = Field(ge=0, le=1)
    autopay_current_bill: float = Field(ge=0, le=1)
    late_payer: float = Field(ge=0, le=1)
    suspended_given_late: float = Field(ge=0, le=1)
    awaiting_payment: float = Field(ge=0, le=1)
    wifi_24ghz: float = Field(ge=0, le=1)
    firmware_outdated: float = Field(ge=0, le=1)
    wifi_calling: float = Field(ge=0, le=1)


class Billing(_Strict):
    cycle_days: list[int] = Field(min_length=1)
    days_to_pay: int = Field(gt=0)
    suspend_after_days: int = Field(ge=0)
    periods: int = Field(ge=1, le=12)


class PromotionSpec(_Strict):
    description: str
    monthly_discount: Decimal = Field(gt=0, decimal_places=2)


class PhoneModel(_Strict):
    model: str
    supports_5g: bool
    weight: float = Field(gt=0)


class RouterModels(_Strict):
    models: list[str] = Field(min_length=1)
    firmware: str
    previous_firmware: str


class Healthy(_Strict):
    optical_power_dbm: Range
    snr_db: Range
    temperature_c: Range
    channel_interference: Range
    cell_load: Range
    node_load: Range


class GeneratorProfile(_Strict):
    customers_per_area: int = Field(gt=0)
    min_areas: int = Field(ge=1)
    area_profiles: list[AreaProfile] = Field(min_length=1)
    technology_weights: dict[Literal["fiber", "dsl", "cable"], float]
    customers_per_cell: int = Field(gt=0)
    node_capacity: dict[Literal["fiber", "dsl", "cable"], int]
    shares: Shares
    billing: Billing
    promotion: PromotionSpec
    mobile_plan_weights: dict[str, float]
    broadband_plan_weights: dict[str, float]
    phone_models: list[PhoneModel] = Field(min_length=1)
    router_models: dict[Literal["ont", "dsl_modem", "cable_modem"], RouterModels]
    healthy: Healthy
    wifi_channels: dict[Literal["5GHz", "2.4GHz"], list[int]]
    travel_countries: list[str] = Field(min_length=1)
    first_names: list[str] = Field(min_length=1)
    last_names: list[str] = Field(min_length=1)
    street_names: list[str] = Field(min_length=1)
    area_names: list[str] = Field(min_length=1)
    email_domains: list[str] = Field(min_length=1)
    card_labels: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _every_kind_covered(self) -> "GeneratorProfile":
        for mapping, what in ((self.technology_weights, "technology_weights"), (self.node_capacity, "node_capacity")):
            missing = {"fiber", "dsl", "cable"} - set(mapping)
            if missing:
                raise ValueError(f"{what} lacks {sorted(missing)}")
        if not any(not m.supports_5g for m in self.phone_models):
            raise ValueError("phone_models needs at least one 4G-only model for 4G plans to be realistic")
        return self


def load_profile(path: Path = PROFILE_PATH) -> GeneratorProfile:
    try:
        return GeneratorProfile.model_validate(yaml.safe_load(path.read_text()))
    except ValidationError as exc:
        raise InvalidInput(f"generator profile {path} is invalid: {exc}") from None


def load_plans(profile: GeneratorProfile, path: Path = CATALOGUE_PATH) -> dict[str, MobilePlan | BroadbandPlan]:
    """The plan catalogue shared with the demo world, checked against the profile's plan weights."""
    raw = yaml.safe_load(path.read_text()).get("plans") or {}
    plans = TypeAdapter(dict[str, Plan]).validate_python(raw)
    for weights, kind in ((profile.mobile_plan_weights, "mobile"), (profile.broadband_plan_weights, "broadband")):
        for plan_id in weights:
            plan = plans.get(plan_id)
            if plan is None or plan.kind != kind:
                raise InvalidInput(f"generator profile weights {kind} plan {plan_id!r}, which the catalogue lacks")
    if not any(isinstance(p, MobilePlan) and not p.five_g and p.id in profile.mobile_plan_weights for p in plans.values()):
        raise InvalidInput("generator profile weights no 4G mobile plan, so 4G-only phones would have no plan")
    return plans


def load_roaming_partners(profile: GeneratorProfile, path: Path = CATALOGUE_PATH) -> dict[str, RoamingPartner]:
    """The roaming partners shared with the demo world; every country travellers go to must have one."""
    raw = yaml.safe_load(path.read_text()).get("roaming_partners") or {}
    partners = TypeAdapter(dict[str, RoamingPartner]).validate_python(raw)
    missing = sorted(set(profile.travel_countries) - set(partners))
    if missing:
        raise InvalidInput(f"generator profile sends travellers to {missing}, which have no roaming partner")
    return partners
