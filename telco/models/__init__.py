"""The telecom domain model (pydantic): everything the sandbox stores and the tools exchange."""
from .billing import Bill, BillStatus, Credit, Dispute, LineItem, PaymentRequest, Promotion
from .common import Model, Money, PhoneNumber, PositiveMoney, normalise_phone
from .customers import Address, Customer, PaymentMethod
from .devices import OPERATOR_APN, OPERATOR_DNS, OPERATOR_MMSC, ApnSettings, NetworkMode, Phone, Router
from .network import AccessNode, Area, Cell, Maintenance, Outage, ServiceKind
from .plans import BroadbandPlan, MobilePlan, Plan
from .services import BroadbandService, MobileLine, SuspensionReason
from .work import Appointment, Handoff, Order, Ticket
from .world import AppliedWrite, World

__all__ = [name for name in dir() if not name.startswith("_")]
