"""The trace: every state change of a run, in order, as typed events.

A run is identified by the SHA-256 digest of its trace written as JSONL.
Each line has the same key order (``seq``, ``t``, ``at``, ``kind``,
``agent``, ``resource``, then the event's own fields sorted by name), so two
runs that did the same things produce the same bytes.

Event kinds are dotted: ``run.*`` for the engine, ``lease.*`` for the lock
manager, ``doc.*`` for the document store and ``agent.*`` for the agents.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeAlias

from agency.clock import Clock
from agency.errors import SimulationError, TraceFormatError
from utils.errors import JSONParseError
from utils.formatters import format_date

__all__ = [
    "Event",
    "JSONScalar",
    "JSONValue",
    "Trace",
    "aread_events",
    "read_events",
]

JSONScalar: TypeAlias = str | int | float | bool | None
JSONValue: TypeAlias = JSONScalar | Sequence["JSONValue"] | Mapping[str, "JSONValue"]


@dataclass(frozen=True, slots=True)
class Event:
    """One state change.

    Attributes:
        seq: position in the trace, from 0.
        t: virtual seconds since the scenario's start.
        at: ``t`` as an RFC 3339 UTC timestamp.
        kind: dotted event kind, e.g. ``lease.claimed``.
        agent: the agent that caused it, if any.
        resource: the lease resource it concerns, if any.
        data: the event's own fields.
    """

    seq: int
    t: float
    at: str
    kind: str
    agent: str | None = None
    resource: str | None = None
    data: Mapping[str, JSONValue] = field(default_factory=dict)

    @classmethod
    def from_json(cls, value: object) -> Event:
        """The event that :meth:`to_json` wrote as ``value`` (parsed JSON).

        Raises:
            ValueError: ``value`` is not such an event; the message says
                which field is missing or of the wrong type.
        """
        if not isinstance(value, dict):
            raise ValueError(f"an event is a JSON object, got {_kind_of(value)}")
        missing = [key for key in ("seq", "t", "at", "kind") if key not in value]
        if missing:
            raise ValueError(f"an event needs {', '.join(map(repr, missing))}")
        data = dict(value)
        seq, t, at, kind = (data.pop(key) for key in ("seq", "t", "at", "kind"))
        agent, resource = data.pop("agent", None), data.pop("resource", None)
        if type(seq) is not int or seq < 0:
            raise ValueError(f"'seq' is a whole number, 0 or more, got {seq!r}")
        if type(t) not in (int, float) or not 0 <= t < float("inf"):
            raise ValueError(f"'t' is virtual seconds, 0 or more, got {t!r}")
        if not isinstance(at, str) or not isinstance(kind, str):
            raise ValueError("'at' and 'kind' are strings")
        for key, name in (("agent", agent), ("resource", resource)):
            if not isinstance(name, str | None):
                raise ValueError(f"{key!r} is a string or null, got {name!r}")
        return cls(seq, float(t), at, kind, agent, resource, data)

    def to_json(self) -> str:
        """The event as one line of JSON with a stable key order."""
        head = {
            "seq": self.seq,
            "t": self.t,
            "at": self.at,
            "kind": self.kind,
            "agent": self.agent,
            "resource": self.resource,
        }
        body = {key: self.data[key] for key in sorted(self.data)}
        return json.dumps(
            head | body, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )


class Trace:
    """An append-only list of events, stamped with the clock.

    Args:
        clock: the run's clock; events take its current time.
        limit: the most events a run may record; one more raises
            :class:`~agency.errors.SimulationError`, so a scenario that
            renews every millisecond for a year stops instead of running on.
    """

    def __init__(self, clock: Clock, *, limit: int | None = None):
        self._clock = clock
        self._limit = limit
        self._events: list[Event] = []
        self._listeners: list[Callable[[Event], None]] = []

    def record(
        self,
        kind: str,
        *,
        agent: str | None = None,
        resource: str | None = None,
        **data: JSONValue,
    ) -> Event:
        """Append an event at the current virtual time and return it."""
        if self._limit is not None and len(self._events) >= self._limit:
            raise SimulationError(
                f"the run passed its limit of {self._limit:,} "
                f"event{'' if self._limit == 1 else 's'} at "
                f"t={self._clock.time():g}s (scenario field max_events)"
            )
        t = self._clock.time()
        event = Event(
            seq=len(self._events),
            t=t,
            at=format_date(self._clock.at(t), "iso"),
            kind=kind,
            agent=agent,
            resource=resource,
            data=data,
        )
        self._events.append(event)
        for listener in self._listeners:
            listener(event)
        return event

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` with every event recorded from now on."""
        self._listeners.append(listener)

    @property
    def events(self) -> Sequence[Event]:
        """The events so far (a read-only view)."""
        return tuple(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    @property
    def start(self) -> datetime:
        """The epoch of the run's clock."""
        return self._clock.epoch

    def jsonl(self) -> bytes:
        """The whole trace as UTF-8 JSONL, one event per line."""
        return "".join(event.to_json() + "\n" for event in self._events).encode()

    def digest(self) -> str:
        """SHA-256 of :meth:`jsonl`, in hex: the identity of a run."""
        return hashlib.sha256(self.jsonl()).hexdigest()

    def write(self, path: Path) -> None:
        """Write the trace as JSONL to ``path`` (after the run, not during)."""
        path.write_bytes(self.jsonl())


def _kind_of(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else repr(value)


def read_events(path: str | os.PathLike[str]) -> Iterator[Event]:
    """The events of a ``trace.jsonl`` file, streamed one at a time.

    The file is read through :func:`utils.parsers.iter_json_items`, so a
    trace of any size takes little memory. Events must come in order:
    ``seq`` counting from 0 and ``t`` never going back.

    Raises:
        TraceFormatError: the file cannot be read, a line is not JSON, or
            it is not an event in order; the message names the line.
    """
    # utils.parsers brings pydantic and jsonschema: imported when first read,
    # not by every run that only writes a trace.
    from utils.parsers import iter_json_items

    checker = _Order(str(path))
    with checker.reading():
        for value in iter_json_items(path, "", multiple_values=True):
            yield checker.event(value)


async def aread_events(path: str | os.PathLike[str]) -> AsyncIterator[Event]:
    """:func:`read_events` for async code, such as a run on the virtual loop.

    The file is read with aiofiles, whose thread-pool calls the simulator's
    loop runs inline, so reading a trace inside a run keeps it deterministic.
    """
    from utils.parsers import aiter_json_items

    checker = _Order(str(path))
    with checker.reading():
        async for value in aiter_json_items(path, "", multiple_values=True):
            yield checker.event(value)


class _Order:
    """Turns the values of a trace file into events, checking their order."""

    def __init__(self, source: str):
        self.source = source
        self.count = 0
        self.last_t = 0.0

    def event(self, value: object) -> Event:
        # A trace file holds one event a line (Trace.jsonl), so the count of
        # events read is the line.
        line = self.count + 1
        try:
            event = Event.from_json(value)
        except ValueError as exc:
            raise TraceFormatError(self.source, str(exc), line=line) from None
        if event.seq != self.count:
            raise TraceFormatError(
                self.source,
                f"events are numbered from 0 in order: expected seq "
                f"{self.count}, got {event.seq}",
                line=line,
            )
        if event.t < self.last_t:
            raise TraceFormatError(
                self.source,
                f"time goes back: t={event.t:g} after t={self.last_t:g}",
                line=line,
            )
        self.count, self.last_t = line, event.t
        return event

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Turn the reader's failures into :class:`TraceFormatError`."""
        try:
            yield
        except JSONParseError as exc:
            error = self._bad_json(exc)
            if error is not None:
                raise error from None
        except OSError as exc:
            raise TraceFormatError(
                self.source, f"cannot read it: {exc.strerror}"
            ) from None

    def _bad_json(self, exc: JSONParseError) -> TraceFormatError | None:
        """The error to raise for ``exc``; None for a file of blank lines.

        The stream parser reads ahead, so it cannot say which line failed;
        this reads the file again, a line at a time, to find it. ijson also
        calls an empty stream incomplete, where JSON Lines sees no events.
        """
        from utils.parsers import parse_json

        blank = True
        try:
            with open(self.source, "rb") as lines:
                for number, line in enumerate(lines, 1):
                    if not line.strip():
                        continue
                    blank = False
                    try:
                        parse_json(line)
                    except JSONParseError as bad:
                        return TraceFormatError(
                            self.source, f"not JSON: {bad.reason}", line=number
                        )
        except OSError:
            blank = False
        if blank:
            return None
        return TraceFormatError(self.source, f"not JSON Lines: {exc.reason}")
