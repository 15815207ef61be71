"""Card numbers, security codes and secrets never reach storage; ordinary numbers and words survive."""
from __future__ import annotations

import pytest

from memory.redact import CARD, CVV, SECRET, luhn_valid, redact, redact_text


@pytest.mark.parametrize("number", [
    "4111111111111111",          # 16 digits, Visa test number
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "378282246310005",           # 15 digits, Amex test number
    "4222222222222",             # 13 digits
    "6011000990139424",
])
def test_luhn_valid_card_numbers_are_redacted(number):
    out = redact_text(f"my card is {number} thanks")
    assert out == f"my card is {CARD} thanks"
    assert not any(ch.isdigit() for ch in out)


def test_a_19_digit_card_is_redacted_and_20_digits_is_not_a_card():
    nineteen = "6304000000000000000"[:-1]
    # build a Luhn-valid 19-digit number by fixing the check digit
    for d in "0123456789":
        if luhn_valid(nineteen + d):
            nineteen += d
            break
    assert len(nineteen) == 19 and luhn_valid(nineteen)
    assert redact_text(f"card {nineteen}") == f"card {CARD}"
    twenty = nineteen + "0"
    assert redact_text(f"ref {twenty}") == f"ref {twenty}"


@pytest.mark.parametrize("text", [
    "call me on +15551230001",          # phone number: 11 digits
    "order 4111111111111112",           # 16 digits failing the Luhn check
    "bill total 1234.56 due 2025-03-01",
    "ticket 123456789012",              # 12 digits, too short for a card
])
def test_numbers_that_are_not_cards_survive(text):
    assert redact_text(text) == text


def test_cvv_password_pin_and_tokens_are_redacted():
    out = redact_text("cvv 123, CVC: 9876, security code is 321, password: hunter2 and my pin is 4321, "
                      "key sk-abcdefghijklmnopqrstuv")
    assert "123" not in out and "9876" not in out and "321" not in out
    assert "hunter2" not in out and "4321" not in out and "sk-abc" not in out
    assert out.count(CVV) == 3 and out.count(SECRET) == 3


def test_domain_words_are_not_mistaken_for_secrets():
    text = "The SIM is PIN-locked; I forgot my password yesterday and the router has 3 bars"
    assert redact_text(text) == text


def test_redact_walks_nested_values_and_leaves_non_strings():
    value = {"slots": {"card": "4111 1111 1111 1111", "n": 3}, "steps": [{"note": "password=abc"}], "ok": True}
    out = redact(value)
    assert out == {"slots": {"card": CARD, "n": 3}, "steps": [{"note": f"password={SECRET}"}], "ok": True}
    assert value["slots"]["card"] == "4111 1111 1111 1111"  # input untouched


def test_identifiers_survive_redaction_even_when_they_look_like_card_numbers():
    from memory.redact import redact

    card_like = "4242424242424242"  # passes the Luhn check
    state = {"conversation_id": f"conv-{card_like}da3", "customer_id": "C1001", "line_ids": [card_like],
             "slots": {"note": f"my card is {card_like}"}}
    out = redact(state)
    assert out["conversation_id"] == state["conversation_id"] and out["line_ids"] == [card_like]
    assert card_like not in out["slots"]["note"]


def test_a_count_kept_under_a_date_of_birth_key_survives_and_the_date_does_not():
    from memory.redact import DOB

    # The identify flow counts how often it asked each question: the conversation state must load back.
    state = {"identify_run": {"asked": {"date_of_birth": 1, "pin": 1234}}, "slots": {"date_of_birth": "1985-03-14"}}
    out = redact(state)
    assert out["identify_run"]["asked"]["date_of_birth"] == 1 and out["identify_run"]["asked"]["pin"] == SECRET
    assert out["slots"]["date_of_birth"] == DOB
