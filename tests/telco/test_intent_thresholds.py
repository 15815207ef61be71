"""The planner's confidence bars: one definition, the `thresholds` section of telco/data/intents.yaml."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from telco.intents import IntentThresholds, intent_thresholds


def test_the_catalogue_holds_the_bars_the_planner_uses():
    bar = intent_thresholds()
    assert (bar.clarify_below, bar.clarify_options, bar.unsure_below, bar.secondary_min) == (0.8, 3, 0.4, 0.5)


def test_a_guess_cannot_outrank_a_clear_reading():
    with pytest.raises(ValidationError, match="unsure_below"):
        IntentThresholds(clarify_below=0.3, clarify_options=3, unsure_below=0.4, secondary_min=0.5)


def test_a_typo_in_the_section_is_refused():
    with pytest.raises(ValidationError):
        IntentThresholds(clarify_below=0.8, clarify_options=3, unsure_below=0.4, secondary_min=0.5, clarfy=1)
