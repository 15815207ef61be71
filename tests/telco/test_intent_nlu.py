"""The intent agent's rule-based readers (no model): entities, signals, clauses, slot answers, calibration maths."""
from __future__ import annotations

import numpy as np
import pytest

from telco.contract.messages import SlotRequest
from telco.nlu import calibration as cal
from telco.nlu.clauses import split_clauses
from telco.nlu.entities import extract_entities
from telco.nlu.lexicon import load_lexicon
from telco.nlu.plans import PlanCatalogue, demo_catalogue
from telco.nlu.signals import read_signals
from telco.nlu.slots import read_slot

LEX = load_lexicon()
PLANS = demo_catalogue(LEX)


def entities(text: str) -> dict:
    return {k: v for k, v in extract_entities(text, LEX, PLANS).model_dump().items() if v}


# ---- entities -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("My number is +1 555 010 0001 and my account is C1001",
     {"phones": ["+15550100001"], "customer_ids": ["C1001"]}),
    ("The number is +15550199999.", {"phones": ["+15550199999"]}),
    ("call me on 0044 20 7946 0000", {"phones": ["+442079460000"]}),
    ("my number is 555-0100", {}),  # no country code: not a number we can use, so not read
    ("+1 555", {}),  # too short for E.164
    ("c1234 and C100045", {"customer_ids": ["C1234", "C100045"]}),
    ("I want a $100 credit", {"amounts": ["100.00"]}),
    ("twenty dollars off please", {"amounts": ["20.00"]}),
    ("twenty-five bucks", {"amounts": ["25.00"]}),
    ("I was charged 35.00 twice", {"amounts": ["35.00"]}),
    ("$1,200.50 is far too much", {"amounts": ["1200.50"]}),
    ("add 2 GB", {"gigabytes": [2.0]}),
    ("two gigs please", {"gigabytes": [2.0]}),
    ("a couple of gigs", {"gigabytes": [2.0]}),
    ("just 500MB", {"gigabytes": [0.5]}),
    ("I'm paying for 500 Mbps and getting 40", {}),  # speeds are neither data nor money
    ("I'm on the Plus 5G 40 GB plan and want Global 5G", {"plan_ids": ["M-PLUS-5G", "M-GLOBAL-5G"]}),
    ("switch me to B-FAST-300", {"plan_ids": ["B-FAST-300"]}),
    ("can I get fast 300 or giga-1000", {"plan_ids": ["B-FAST-300", "B-GIGA-1000"]}),
    ("Am I eligible for 5G?", {}),  # a family of plans, not a plan
    ("moving on 15 December 2026 to NG1 7QP", {"dates": ["2026-12-15"], "postcodes": ["NG1 7QP"]}),
    ("born 14/03/1987", {"dates": ["1987-03-14"]}),
    ("on March 3rd, 2026 and 2026-04-01", {"dates": ["2026-03-03", "2026-04-01"]}),
    ("on 03/04/2026", {}),  # 3 April or 4 March: left out rather than guessed
    ("2026-02-30", {}),
    ("postcode hv7 2ab please", {"postcodes": ["HV7 2AB"]}),
    ("my name is Maya Lindqvist and my internet is down", {"names": ["Maya Lindqvist"]}),
    ("Hi, my name's Liam O'Connor, I'm moving", {"names": ["Liam O'Connor"]}),
    ("I'm moving to Northgate next month", {}),  # "I'm" introduces no name
])
def test_entities(text, expected):
    assert entities(text) == expected


# ---- signals ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, urgency, wants_person, complaint", [
    ("I work from home and I have client calls all afternoon, this is urgent.", True, False, False),
    ("Please fix it asap", True, False, False),
    ("My internet is slow", False, False, False),
    ("I don't want a bot. Please put me through to a real person.", False, True, False),
    ("Can I speak to someone?", False, True, False),
    ("No need for a person, just tell me the steps", False, False, False),
    ("I'm going to complain to the ombudsman", False, False, True),
    ("My lawyer will hear about this", False, False, True),
    ("I'd like to make a formal complaint", False, False, True),
])
def test_signal_flags(text, urgency, wants_person, complaint):
    s = read_signals(text, LEX)
    assert (s.urgency, s.wants_person, s.complaint) == (urgency, wants_person, complaint)


def test_frustration_grows_with_words_punctuation_and_shouting():
    calm = read_signals("My internet is slow.", LEX).frustration
    mild = read_signals("I already restarted the router twice and it still happens.", LEX).frustration
    angry = read_signals("This is ridiculous, the THIRD TIME I call about it!!!", LEX).frustration
    assert calm == 0.0
    assert 0 < mild < angry <= 1.0
    # Abbreviations in capitals are not shouting.
    assert read_signals("My SIM and MMS settings", LEX).frustration == 0.0


# ---- clauses ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("my internet is slow and can I upgrade", [("my internet is slow", False), ("can I upgrade", True)]),
    ("My home internet has been really slow all week. Also, can I upgrade to something faster?",
     [("My home internet has been really slow all week", False), ("can I upgrade to something faster", True)]),
    ("I can't send photos by text, but normal messages go through.", [("I can't send photos by text", False)]),
    ("My bill is also wrong", [("My bill is also wrong", True)]),  # "also" mid-sentence does not split
    ("It costs 20.00 a month. Is that right?", [("It costs 20.00 a month", False), ("Is that right", True)]),
    ("Hi. Ok.", []),  # fragments too short to classify
])
def test_clauses(text, expected):
    clauses = [c for c in split_clauses(text, LEX) if not c.context]
    assert [(c.text, c.asks) for c in clauses] == expected


def test_hedges_are_left_out_of_what_is_classified():
    (clause,) = split_clauses("Maybe just upgrade the broadband instead, I'm not sure.", LEX)
    assert clause.core == "upgrade the broadband"  # hedges out, the customer's casing kept
    assert clause.text.startswith("Maybe just upgrade")


def test_working_fine_is_context_but_a_negation_is_not():
    assert [c.context for c in split_clauses("Mobile data is dead. Calls work fine.", LEX)] == [False, True]
    assert [c.context for c in split_clauses("Calls don't work at all.", LEX)] == [False]


# ---- slot answers -------------------------------------------------------------------------------------------
def slot(kind: str, text: str):
    return read_slot(SlotRequest(text=text, slot="answer", kind=kind), LEX, PLANS)


@pytest.mark.parametrize("kind, text, value", [
    ("name", "It's Maya Lindqvist", "Maya Lindqvist"),
    ("name", "maya lindqvist", "Maya Lindqvist"),
    ("name", "liam o'connor here", "Liam O'Connor"),
    ("name", "Sure, it is Tomás Herrera, thanks", "Tomás Herrera"),
    ("name", "The account holder is Ana de la Cruz.", "Ana de la Cruz"),
    ("date", "1987-03-14", "1987-03-14"),
    ("date", "14 March 1987", "1987-03-14"),
    ("date", "It's March 14th, 1987", "1987-03-14"),
    ("date", "14/03/1987", "1987-03-14"),
    ("date", "the 2nd of Dec 2026", "2026-12-02"),
    ("number", "5", 5),
    ("number", "five please", 5),
    ("number", "2 GB", 2),
    ("number", "2.5", 2.5),
    ("number", "no thanks", None),
    ("amount", "$20", "20.00"),
    ("amount", "20 dollars", "20.00"),
    ("amount", "20.00", "20.00"),
    ("amount", "twenty", "20.00"),
    ("amount", "$19.5", "19.50"),
    ("amount", "no", None),
    ("amount", "I don't know", None),
    ("postcode", "NG1 7QP", "NG1 7QP"),
    ("postcode", "it's ng17qp", "NG1 7QP"),
    ("plan", "Global 5G", "M-GLOBAL-5G"),
    ("plan", "B-FAST-300", "B-FAST-300"),
    ("plan", "the giga one please", "B-GIGA-1000"),
    ("plan", "the 60 GB one", "M-GLOBAL-5G"),
    ("plan", "no", None),
    ("plan", "no thanks", None),
    ("plan", "keep my plan", None),
    ("plan", "I'd rather keep my Fast 300", None),
    ("plan", "I don't know", None),
    ("yes_no", "yes", True),
    ("yes_no", "Yes, I was in Spain", True),
    ("yes_no", "No, I wasn't", False),
    ("yes_no", "nope", False),
    ("yes_no", "I don't know", None),
    ("yes_no", "I'm not sure", None),
    ("text", "31  Kiln Road", "31 Kiln Road"),
])
def test_slot_reads(kind, text, value):
    result = slot(kind, text)
    assert result.ok, result.problem
    assert result.value == value
    assert result.slot == "answer" and result.problem is None


@pytest.mark.parametrize("kind, text, says", [
    ("name", "maya", "full name"),
    ("name", "R2D2 Smith", "digits"),
    ("name", "I don't know", "name"),
    ("name", "my phone is broken", "name"),
    ("date", "03/04/1987", "3 April or 4 March"),
    ("date", "14/03/87", "year in full"),
    ("date", "15 December", "which year"),
    ("date", "2026-02-30", "not a date"),
    ("date", "yesterday", "couldn't find a date"),
    ("date", "1987-03-14 or 1987-03-15", "more than one date"),
    ("date", "not sure", "need a date"),
    ("number", "lots", "couldn't find a number"),
    ("number", "2 or 3", "more than one number"),
    ("number", "-2", "below zero"),
    ("amount", "a fair amount", "couldn't find an amount"),
    ("amount", "$20 or $30", "more than one amount"),
    ("amount", "20.005", "to the cent"),
    ("amount", "2 GB", "amount of data"),
    ("postcode", "NG1", "full postcode"),
    ("postcode", "no idea", "need the postcode"),
    ("postcode", "NG1 7QP or OT2 9XA", "more than one postcode"),
    ("plan", "a 5G plan", "Plus 5G 40 GB (M-PLUS-5G)"),
    ("plan", "the cheapest", "couldn't tell which plan"),
    ("plan", "Fast 300 or Giga 1000", "more than one plan"),
    ("yes_no", "maybe", "yes or no"),
    ("text", "   ", "didn't get an answer"),
    ("text", "I don't know", "best guess"),
    ("text", "x" * 3000, "too long"),
])
def test_slot_problems_say_what_is_wrong(kind, text, says):
    result = slot(kind, text)
    assert not result.ok and result.value is None
    assert says.lower() in result.problem.lower()
    assert not result.problem[0].islower()  # ready to be said as a sentence


def test_slot_kind_is_validated():
    with pytest.raises(ValueError, match="kind"):
        SlotRequest(text="x", slot="s", kind="colour")


def test_plan_catalogue_drops_aliases_two_plans_share():
    cat = PlanCatalogue.from_plans({"M-A-5G": "Super 5G 10 GB", "M-B-5G": "Super 5G 20 GB"}, ["plan"])
    assert "super 5g" not in cat.aliases  # both short names would be "Super 5G"
    assert cat.ids_in("the Super 5G 20 GB please") == ["M-B-5G"]
    assert read_slot(SlotRequest(text="super 5g", slot="p", kind="plan"), LEX, cat).ok is False


# ---- calibration maths --------------------------------------------------------------------------------------
def test_probabilities_sum_to_one_and_none_takes_low_scores():
    p = cal.probabilities(np.array([[0.9, 0.2, 0.1], [0.1, 0.12, 0.11]]), temperature=0.05, none_score=0.35)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert p[0, 0] > 0.99  # clearly the first intent
    assert p[1, -1] > 0.9  # far from everything: "none of these"


def test_fit_recovers_the_temperature_that_generated_the_data():
    rng = np.random.default_rng(7)
    n, m, temperature, none_score = 4000, 5, 0.08, 0.3
    scores = rng.uniform(0.0, 0.8, size=(n, m))
    probs = cal.probabilities(scores, temperature, none_score)
    targets = np.array([rng.choice(m + 1, p=row) for row in probs])
    fitted = cal.fit(scores, targets)
    assert fitted.temperature == pytest.approx(temperature, rel=0.1)
    assert fitted.none_score == pytest.approx(none_score, abs=0.03)
    assert fitted.log_loss <= cal.log_loss(probs, targets) + 1e-3


def test_fit_rejects_bad_targets():
    with pytest.raises(ValueError, match="targets must lie in 0..2"):
        cal.fit(np.zeros((2, 2)), np.array([0, 3]))
    with pytest.raises(ValueError, match="one target per row"):
        cal.fit(np.zeros((2, 2)), np.array([0]))


def test_expected_calibration_error():
    rng = np.random.default_rng(3)
    conf = rng.uniform(0.5, 1.0, 20000)
    honest = rng.uniform(size=conf.size) < conf
    assert cal.expected_calibration_error(conf, honest) < 0.02
    overconfident = rng.uniform(size=conf.size) < conf - 0.3
    assert cal.expected_calibration_error(conf, overconfident) == pytest.approx(0.3, abs=0.03)
