"""The policy rules the audit log names for each write tool (telco/tools/write_rules.py) are real rules of real
write tools; a refusal the checks raise names one of its tool's rules (tests/actors/test_audit_log.py checks that
over the scenario suite)."""
from telco.policy import RULES
from telco.tools import TOOLS
from telco.tools.guards import GUARD_RULES
from telco.tools.write_rules import WRITE_RULES, rules_of


def test_every_write_tool_has_its_rules_and_every_rule_exists():
    writes = {name for name, spec in TOOLS.items() if spec.kind == "write"}
    assert set(WRITE_RULES) == writes
    known = set(RULES) | set(GUARD_RULES)
    assert {rule for rules in WRITE_RULES.values() for rule in rules} <= known
    assert rules_of("get_customer_details") == []  # reads are not audited
    # Every numeric policy rule about account writes is checked by some tool.
    unchecked = {r for r in RULES if not r.startswith("identity.")} - {r for rs in WRITE_RULES.values() for r in rs}
    assert not unchecked, unchecked
