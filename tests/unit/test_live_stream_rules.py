"""LiveStream's waiting rules: what `first` answers for a producer that died, that it waits for speech that is
still to come, and how a stall names its stream; StreamHub's join-or-start on an ended stream."""

from __future__ import annotations

import threading
import time

import pytest

from functions.tts.live import (AUDIO, DONE, ERROR, SEGMENT, START, Event, LiveStream, StreamBroken, StreamHub,
                                StreamStalled)


def _later(delay_s: float, action) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay_s), action()), daemon=True)
    thread.start()
    return thread


def test_a_stream_closed_without_speech_answers_an_inference_failure():
    live = LiveStream("k")
    live.publish(Event(START))
    live.publish(Event(AUDIO, audio=b"cue!"))  # a cue alone is no speech
    live.close()
    first = live.first(5)
    assert first.kind == ERROR and isinstance(first.error, StreamBroken)


def test_first_waits_for_speech_that_comes_later():
    live = LiveStream("k")
    live.publish(Event(SEGMENT))
    speech = Event(AUDIO, audio=b"\x01\x00")
    thread = _later(0.05, lambda: live.publish(speech))
    started = time.monotonic()
    assert live.first(0.8) is speech
    assert time.monotonic() - started < 0.7  # woken by the publish, not by the timeout
    thread.join(5)


def test_first_answers_done_when_the_text_made_no_speech():
    live = LiveStream("k")
    live.publish(Event(START))
    done = Event(DONE, {"duration_s": 0})
    live.publish(done)
    assert live.first(0.05) is done


def test_first_gives_up_after_its_timeout():
    live = LiveStream("k")
    started = time.monotonic()
    assert live.first(0.05) is None
    assert 0.04 <= time.monotonic() - started < 2


def test_a_closed_stream_takes_no_more_events():
    live = LiveStream("k")
    live.publish(Event(START))
    live.close()
    live.publish(Event(AUDIO, audio=b"late"))
    assert [e.kind for e in live.follow(1)] == [START]


def test_a_reader_gets_events_as_they_come_and_ends_with_the_close():
    live = LiveStream("k")
    seen: list = []
    reader = threading.Thread(target=lambda: seen.extend(e.kind for e in live.follow(5)))
    reader.start()
    live.publish(Event(START))
    time.sleep(0.02)
    live.publish(Event(SEGMENT))
    live.publish(Event(DONE))
    time.sleep(0.02)
    live.close()
    reader.join(5)
    assert not reader.is_alive() and seen == [START, SEGMENT, DONE]


def test_a_stall_names_the_stream_by_the_first_12_characters_of_its_key():
    live = LiveStream("0123456789abcdefghij")
    live.publish(Event(START))
    events = live.follow(0.05)
    assert next(events).kind == START
    with pytest.raises(StreamStalled) as caught:
        next(events)
    assert str(caught.value) == "0123456789ab"


def test_the_hub_starts_afresh_over_a_stream_that_ended_but_was_not_forgotten():
    hub = StreamHub()
    started: list = []
    first, joined = hub.join_or_start("k", started.append)
    assert not joined and started == [first] and hub.running() == 1
    first.close()  # ended, still in the hub
    second, joined = hub.join_or_start("k", started.append)
    assert not joined and second is not first and started == [first, second] and hub.running() == 1
    hub.forget(first)  # forgetting the old one leaves the new one running
    assert hub.running() == 1 and hub.join_or_start("k", started.append) == (second, True)
    hub.forget(second)
    assert hub.running() == 0 and second.closed


def test_a_start_that_raises_closes_its_stream_and_lets_the_next_caller_start():
    hub = StreamHub()
    made: list = []

    def failing(live):
        made.append(live)
        raise KeyboardInterrupt  # any BaseException

    with pytest.raises(KeyboardInterrupt):
        hub.join_or_start("k", failing)
    assert made[0].closed and hub.running() == 0
    live, joined = hub.join_or_start("k", lambda live: None)
    assert not joined and live is not made[0]


def test_an_event_defaults_to_no_data_and_no_audio():
    event = Event(DONE)
    assert event.data == {} and event.audio == b""
    assert Event(DONE).data is not event.data  # each event its own dict
