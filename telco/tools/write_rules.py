"""Which policy rules each write tool is checked against: what the audit log records as `policy_rules`.

The checks themselves are code (telco/policy.py, telco/tools/guards.py) and raise PolicyDenied with the rule that
refused; this table names every rule a tool's code path may check, so an audit row of an applied write says what
it passed. tests/telco/test_write_rules.py keeps it honest: every write tool is listed, every name is a rule the
checks can raise, and a refusal seen in the scenario suite names a rule of its own tool.
"""
from __future__ import annotations

from types import MappingProxyType

_IDENTITY = ("identity.verified_before_account_change", "identity.own_records_only")

WRITE_RULES = MappingProxyType({
    "suspend_line": (*_IDENTITY, "suspend_line.line_active"),
    "resume_line": (*_IDENTITY, "resume_line.line_suspended", "resume_line.allowed_suspension_reasons",
                    "resume_line.no_overdue_bill", "resume_line.contract_not_ended"),
    "set_line_roaming": (*_IDENTITY, "roaming.requires_no_overdue_bill"),
    "refuel_data": (*_IDENTITY, "refuel.max_gb_per_request", "refuel.max_gb_per_cycle"),
    "change_plan": (*_IDENTITY, "plan_change.technology_available", "plan_change.five_g_requires_capable_device",
                    "plan_change.no_overdue_bill", "plan_change.min_months_before_downgrade"),
    "send_payment_request": (*_IDENTITY, "payment_request.payable_bill", "payment_request.default_payment_method",
                             "payment_request.one_open_request"),
    "apply_credit": (*_IDENTITY, "goodwill_credit.max_per_credit", "goodwill_credit.yearly_limit",
                     "correction_credit.evidence_required", "correction_credit.max_evidenced_amount"),
    "dispute_bill_item": (*_IDENTITY, "billing_dispute.charge_only", "billing_dispute.not_already_disputed",
                          "billing_dispute.window_days"),
    "reset_port": _IDENTITY,
    "reprovision_service": _IDENTITY,
    "reboot_router": _IDENTITY,
    "update_router_firmware": (*_IDENTITY, "update_router_firmware.firmware_outdated"),
    "schedule_technician": (*_IDENTITY, "technician.max_open_appointments_per_service", "technician.slot_window",
                            "technician.slot_available"),
    "move_service": (*_IDENTITY, "plan_change.technology_available", "move_service.serviceable",
                     "move_service.technology_available"),
    # Tickets and hand-overs need no verified identity, only that a verified conversation names its own customer.
    "open_ticket": ("identity.own_records_only",),
    "transfer_to_person": ("identity.own_records_only",),
})


def rules_of(tool: str) -> list[str]:
    return list(WRITE_RULES.get(tool, ()))
