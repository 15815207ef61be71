"""The shapes telco/redact.py scrubs beyond cards and secrets: national id numbers, dates of birth, PINs in the
customer's own phrasing; and what must stay readable (phone numbers, order and record ids, recent or future
dates, device states)."""
from __future__ import annotations

from datetime import date

import pytest

from telco.redact import ADULT_YEARS, DOB, NATIONAL_ID, SECRET, redact, redact_text


@pytest.mark.parametrize("text, value", [
    ("my SSN is 078-05-1120, thanks", "078-05-1120"),
    ("social security 078 05 1120", "078 05 1120"),
    ("NI number JG 10 37 26 A please", "JG 10 37 26 A"),
    ("national insurance: AB123456C", "AB123456C"),
    ("passport number X12345678", "X12345678"),
    ("my DNI is 47392851Q", "47392851Q"),
    ("national id: 850314-1234", "850314-1234"),
    ("personnummer 19870314-1234", "19870314-1234"),
    ("tax id 123 456 789", "123 456 789"),
])
def test_national_id_numbers_are_redacted(text, value):
    out = redact_text(text)
    assert value not in out and NATIONAL_ID in out, out


@pytest.mark.parametrize("text, value", [
    ("my date of birth is 1987-03-14", "1987-03-14"),
    ("born 14/03/1987", "14/03/1987"),
    ("DOB: 14.03.1987", "14.03.1987"),
    ("I was born on 14 March 1987", "14 March 1987"),
    ("birthday March 14th, 1987", "March 14th, 1987"),
    ("it's 1987-03-14.", "1987-03-14"),  # unlabelled, but a full date that far back can only be a birth date
    (f"born {date.today().year - 5}-01-02", f"{date.today().year - 5}-01-02"),  # labelled: a child's line
])
def test_dates_of_birth_are_redacted(text, value):
    out = redact_text(text)
    assert value not in out and DOB in out, out


@pytest.mark.parametrize("text", [
    "the bill is due 2026-12-01",
    "my phone is +15550101001, call me",
    "call 555 010 1001 after six",
    "order 4111111111111112 arrived broken",  # 16 digits that fail the Luhn check
    "ticket TKT-00042 and bill B-00017 for line L-00001",
    "customer C1001 on BB-00001",
    "the SIM is PIN-locked and the PUK locked too",
    "I moved on 2024-06-30 and the technician comes 2026-12-20",
    f"it started {date.today().year - ADULT_YEARS + 1}-05-01",  # within ADULT_YEARS: not taken for a birth date
    "the router has 3 bars and 120 Mbps, plan costs 35.00",
    "I forgot my password yesterday",
    "my passport is at home",  # a label with no number after it
])
def test_ordinary_numbers_dates_and_words_stay(text):
    assert redact_text(text) == text


@pytest.mark.parametrize("text", ["the PIN of my card is 4821", "my pin 4821", "PIN number for the SIM: 4821",
                                  "pin code is 4821", "PUK for my sim 48210000"])
def test_pins_in_the_customers_own_words_are_redacted(text):
    out = redact_text(text)
    assert "4821" not in out and SECRET in out, out


def test_secret_keys_are_replaced_whole_and_identifiers_kept():
    value = {"date_of_birth": "1987-03-14", "national_id": "X", "pin": 4821, "customer_id": "C1001",
             "note": "NI AB123456C", "asked": {"date_of_birth": 2}}
    out = redact(value)
    assert out == {"date_of_birth": DOB, "national_id": NATIONAL_ID, "pin": SECRET, "customer_id": "C1001",
                   "note": f"NI {NATIONAL_ID}", "asked": {"date_of_birth": 2}}


def test_log_records_are_redacted_once_installed_message_arguments_and_traceback():
    import io
    import logging

    from telco.redact import install_log_redaction

    before = logging.getLogRecordFactory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        install_log_redaction()
        install_log_redaction()  # a second call does not wrap twice
        log.error("turn failed: %s", "card 4111 1111 1111 1111, my password: hunter22")
        try:
            raise ValueError("customer wrote SSN 123-45-6789")
        except ValueError:
            log.exception("agent failed")
        log.warning("not %d a fit", "x")  # a record whose arguments do not fit still reaches the handler
    finally:
        logging.setLogRecordFactory(before)
        log.removeHandler(handler)
    out = stream.getvalue()
    assert "4111" not in out and "hunter22" not in out and "123-45-6789" not in out, out
    assert "[REDACTED:card]" in out and "ValueError" in out and "agent failed" in out
