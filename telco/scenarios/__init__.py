"""Scenarios as data (telco/data/scenarios/*.yaml), the scripted customer, runners and end-state checks."""
from telco.scenarios.spec import Scenario, load_scenarios

__all__ = ["Scenario", "load_scenarios"]
