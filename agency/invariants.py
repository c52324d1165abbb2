"""Invariants checked over the trace of every run.

Each check replays the events in order and reports a :class:`Violation`
when the rule is broken, with the few events that show how:

- ``single_holder``: at most one live lease per resource at any instant.
- ``token_order``: fencing tokens of a resource strictly increase.
- ``stale_write``: no write accepted under a token older than one seen.
- ``lost_note``: every note an agent wrote is in the final document.
- ``document_parses``: the final document parses.
- ``lease_leaked``: every lease is released or expires by the end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agency.document import AgencyDocument
from agency.errors import DocumentFormatError
from agency.trace import Event

__all__ = ["INVARIANTS", "Violation", "check"]

INVARIANTS = (
    "single_holder",
    "token_order",
    "stale_write",
    "lost_note",
    "document_parses",
    "lease_leaked",
)


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant.

    Attributes:
        invariant: which rule, one of :data:`INVARIANTS`.
        t: virtual time at which it broke.
        message: what happened, in a sentence.
        agents: the agents involved.
        resources: the resources involved.
        events: ``seq`` numbers of the events that show it.
    """

    invariant: str
    t: float
    message: str
    agents: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    events: tuple[int, ...] = ()


@dataclass(slots=True)
class _Held:
    owner: str
    token: int
    expires_at: float
    seq: int


def check(events: Sequence[Event], final_text: str) -> list[Violation]:
    """Every violation in a finished run, in order of time."""
    found = [
        *_leases(events),
        *_stale_writes(events),
        *_notes(events, final_text),
        *_parses(events, final_text),
    ]
    return sorted(found, key=lambda v: (v.t, v.events, v.invariant))


def _leases(events: Iterable[Event]) -> Iterable[Violation]:
    held: dict[str, _Held] = {}
    last_token: dict[str, tuple[int, int]] = {}
    end = 0.0
    for event in events:
        end = event.t
        resource, agent = event.resource, event.agent
        if resource is None or agent is None or not event.kind.startswith("lease."):
            continue
        current = held.get(resource)
        if current is not None and current.expires_at <= event.t:
            # Expired on the clock even if no event said so yet.
            del held[resource]
            current = None
        if event.kind == "lease.claimed":
            token = _int(event.data.get("token"))
            expires = _float(event.data.get("expires_at"))
            if current is not None:
                yield Violation(
                    "single_holder",
                    event.t,
                    f"{agent} was granted {resource} while {current.owner} still "
                    f"held it (token {current.token}, live until "
                    f"t={current.expires_at:g}s)",
                    agents=(current.owner, agent),
                    resources=(resource,),
                    events=(current.seq, event.seq),
                )
            previous = last_token.get(resource)
            if previous is not None and token <= previous[0]:
                yield Violation(
                    "token_order",
                    event.t,
                    f"{resource} got token {token} after token {previous[0]}",
                    agents=(agent,),
                    resources=(resource,),
                    events=(previous[1], event.seq),
                )
            last_token[resource] = (token, event.seq)
            held[resource] = _Held(agent, token, expires, event.seq)
        elif event.kind == "lease.renewed" and current is not None:
            current.expires_at = _float(event.data.get("expires_at"))
        elif event.kind in ("lease.released", "lease.expired"):
            held.pop(resource, None)
    for resource in sorted(held):
        lease = held[resource]
        if lease.expires_at > end:
            yield Violation(
                "lease_leaked",
                end,
                f"{lease.owner} still held {resource} (token {lease.token}) "
                "when the run ended",
                agents=(lease.owner,),
                resources=(resource,),
                events=(lease.seq,),
            )


def _stale_writes(events: Iterable[Event]) -> Iterable[Violation]:
    newest: dict[str, tuple[int, int]] = {}
    for event in events:
        if event.kind != "doc.write" or event.data.get("fence_token") is None:
            continue
        resource = str(event.data.get("fence_resource"))
        token = _int(event.data.get("fence_token"))
        seen = newest.get(resource)
        if seen is not None and token < seen[0]:
            yield Violation(
                "stale_write",
                event.t,
                f"a write by {event.agent} under token {token} of {resource} was "
                f"accepted after token {seen[0]} had written",
                agents=(event.agent or "?",),
                resources=(resource,),
                events=(seen[1], event.seq),
            )
        if seen is None or token > seen[0]:
            newest[resource] = (token, event.seq)


def _notes(events: Sequence[Event], final_text: str) -> Iterable[Violation]:
    try:
        notes = AgencyDocument.parse(final_text).notes
    except DocumentFormatError:
        return  # reported by document_parses
    # A multiset: two agents may write the same words, and each must survive.
    kept = Counter(note.text for note in notes)
    for event in events:
        if event.kind != "agent.note":
            continue
        text = str(event.data.get("text"))
        if kept[text] > 0:
            kept[text] -= 1
            continue
        yield Violation(
            "lost_note",
            event.t,
            f"the note {event.agent} wrote at {event.at} is not in the "
            f"final document: {text!r}",
            agents=(event.agent or "?",),
            events=(event.seq,),
        )


def _parses(events: Sequence[Event], final_text: str) -> Iterable[Violation]:
    try:
        AgencyDocument.parse(final_text)
    except DocumentFormatError as exc:
        t = events[-1].t if events else 0.0
        yield Violation("document_parses", t, f"the final document: {exc}")


def _int(value: object) -> int:
    assert isinstance(value, int), value
    return value


def _float(value: object) -> float:
    assert isinstance(value, int | float), value
    return float(value)
