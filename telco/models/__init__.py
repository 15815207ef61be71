"""The telecom domain model (pydantic): everything the sandbox stores and the tools exchange."""
from telco.models.billing import Bill, BillStatus, Credit, Dispute, LineItem, PaymentRequest, Promotion
from telco.models.common import Model, Money, PhoneNumber, PositiveMoney, normalise_phone
from telco.models.customers import Address, Customer, PaymentMethod
from telco.models.devices import (
    NETWORK_MODE_TECHS,
    OPERATOR_APN,
    OPERATOR_DNS,
    OPERATOR_MMSC,
    RADIO_RANK,
    ApnSettings,
    NetworkMode,
    Phone,
    RadioTech,
    Router,
    SimLock,
)
from telco.models.network import AccessNode, Area, Cell, Maintenance, Outage, RoamingPartner, ServiceKind
from telco.models.plans import BroadbandPlan, MobilePlan, Plan
from telco.models.services import BroadbandService, MobileLine, SuspensionReason
from telco.models.work import Appointment, Handoff, Order, Ticket
from telco.models.world import AppliedWrite, World

__all__ = [name for name in dir() if not name.startswith("_")]
