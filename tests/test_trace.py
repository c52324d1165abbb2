"""Traces read back: streamed, checked for order, byte-identical when rewritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from agency.clock import run
from agency.errors import TraceFormatError
from agency.trace import Event, aread_events, read_events

GOLDEN = Path(__file__).resolve().parent / "golden"


def rewritten(events: list[Event]) -> bytes:
    return "".join(event.to_json() + "\n" for event in events).encode()


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.jsonl")), ids=lambda p: p.stem)
def test_a_golden_trace_reads_back_to_the_same_bytes(path: Path) -> None:
    events = list(read_events(path))

    assert rewritten(events) == path.read_bytes()
    assert [event.seq for event in events] == list(range(len(events)))


def test_the_async_reader_on_the_virtual_loop_gives_the_same_events() -> None:
    path = GOLDEN / "expiry.jsonl"

    async def main() -> list[Event]:
        return [event async for event in aread_events(path)]

    assert run(main) == list(read_events(path))


def write(folder: Path, *lines: str) -> Path:
    path = folder / "trace.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


START = '{"seq":0,"t":0.0,"at":"2025-11-23T10:00:00Z","kind":"run.started"}'


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        ('{"seq":1,"t":1.0,', r":2: not JSON: "),
        ("[1, 2]", r":2: an event is a JSON object, got an array$"),
        ('{"seq":1,"t":1.0,"kind":"x"}', r":2: an event needs 'at'$"),
        (
            '{"seq":2,"t":1.0,"at":"x","kind":"x"}',
            r":2: events are numbered from 0 in order: expected seq 1, got 2$",
        ),
        (
            '{"seq":1,"t":-1,"at":"x","kind":"x"}',
            r":2: 't' is virtual seconds, 0 or more, got -1$",
        ),
        (
            '{"seq":1,"t":0.0,"at":"x","kind":"x","agent":3}',
            r":2: 'agent' is a string or null, got 3$",
        ),
    ],
)
def test_a_bad_line_is_refused_naming_it(
    tmp_path: Path, second: str, reason: str
) -> None:
    path = write(tmp_path, START, second)

    with pytest.raises(TraceFormatError, match=f"^{path}{reason}"):
        list(read_events(path))


def test_time_going_back_is_refused(tmp_path: Path) -> None:
    later = START.replace('"t":0.0', '"t":5.0')
    path = write(tmp_path, later, '{"seq":1,"t":4.5,"at":"x","kind":"x"}')

    with pytest.raises(TraceFormatError, match=r":2: time goes back: t=4.5 after t=5$"):
        list(read_events(path))


def test_a_missing_trace_is_a_trace_error(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match=r"cannot read it: No such file"):
        list(read_events(tmp_path / "absent.jsonl"))


def test_fields_beyond_the_head_come_back_as_data() -> None:
    event = Event.from_json({"seq": 0, "t": 1, "at": "a", "kind": "k", "n": [1]})

    assert event == Event(seq=0, t=1.0, at="a", kind="k", data={"n": [1]})
