import asyncio

import pytest

from telco.contract.messages import IntentScore
from serve import sse
from telco.contract.http import TurnOut


@pytest.mark.parametrize("text, chunks", [
    ("Hello there. How are you? Fine!", ["Hello there. ", "How are you? ", "Fine!"]),
    ("Step 1: restart.\nStep 2: wait 2.5 minutes.", ["Step 1: restart.\n", "Step 2: wait 2.5 minutes."]),
    ("No punctuation at all", ["No punctuation at all"]),
    ("  Leading space. then more", ["  Leading space. ", "then more"]),
    ("", []),
])
def test_reply_chunks_cut_at_sentence_and_line_ends(text, chunks):
    assert sse.reply_chunks(text) == chunks
    assert "".join(sse.reply_chunks(text)) == text


def test_chunks_always_rebuild_the_reply_exactly():
    text = "Line one...\n\n  Two?! Three.  Four\tfive.\nsix"
    assert "".join(sse.reply_chunks(text)) == text


@pytest.mark.parametrize("accept, wanted", [
    ("text/event-stream", True),
    ("application/json, text/event-stream;q=0.9", True),
    ("TEXT/EVENT-STREAM", True),
    ("application/json", False),
    ("*/*", False),
    (None, False),
    ("", False),
])
def test_wants_stream(accept, wanted):
    assert sse.wants_stream(accept) is wanted


def test_event_framing_keeps_each_event_on_one_data_line():
    raw = sse.event("delta", {"text": "two\nlines"}).decode()
    assert raw == 'event: delta\ndata: {"text":"two\\nlines"}\n\n'
    assert sse.parse_events(raw) == [("delta", {"text": "two\nlines"})]


def test_turn_events_are_meta_deltas_done():
    turn = TurnOut(turn_id="t1", conversation_id="c1", reply="First. Second.\nThird", mode="offline",
                   intents=[IntentScore(intent="mobile_data", confidence=0.9)], status="waiting_customer")

    async def collect():
        return b"".join([chunk async for chunk in sse.turn_events(turn)]).decode()

    events = sse.parse_events(asyncio.run(collect()))
    names = [name for name, _ in events]
    assert names == ["meta", "delta", "delta", "delta", "done"]
    assert events[0][1] == {"turn_id": "t1", "conversation_id": "c1", "mode": "offline",
                            "status": "waiting_customer",
                            "intents": [{"intent": "mobile_data", "confidence": 0.9, "span": ""}]}
    assert [d["index"] for _, d in events[1:-1]] == [0, 1, 2]
    assert "".join(d["text"] for _, d in events[1:-1]) == turn.reply
    assert TurnOut.model_validate(events[-1][1]) == turn
