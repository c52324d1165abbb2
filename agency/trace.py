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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeAlias

from agency.clock import Clock
from agency.errors import SimulationError
from utils.formatters import format_date

__all__ = ["Event", "JSONScalar", "JSONValue", "Trace"]

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
