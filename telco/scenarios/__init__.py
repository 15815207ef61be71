"""Scenarios as data (tests/scenarios/*.yaml), the scripted customer, runners and end-state checks."""
from .spec import Scenario, load_scenarios

__all__ = ["Scenario", "load_scenarios"]
