"""Invariants checked over the trace of every run.

Each check replays the events in order and reports a :class:`Violation`
when the rule is broken, with the few events that show how:

- ``single_holder``: at most one holder per resource at any instant, be it
  a live lease or a name in a task's Owner field.
- ``token_order``: fencing tokens of a resource strictly increase.
- ``stale_write``: no write accepted under a token older than the newest
  one granted for its resource.
- ``foreign_release``: nobody releases a lease someone else holds.
- ``lost_note``: every note an agent wrote is in the final document.
- ``document_parses``: the final document parses (the store also refuses
  any write that does not, so every revision parses).
- ``lease_leaked``: every lease is released or expires by the end, and
  its expiry is in the trace (``lease.expired``): a manager that keeps a
  lease past its ``expires_at`` without saying so leaks it too.
- ``liveness``: once the last fault has passed, the work is done within
  the scenario's bound (checked only when the scenario sets one).
"""

from __future__ import annotations

import hashlib
import reprlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from agency.document import AgencyDocument
from agency.errors import DocumentFormatError, TraceFormatError
from agency.trace import Event, read_events
from utils.formatters import format_duration, parse_date

__all__ = [
    "INVARIANTS",
    "EventFieldError",
    "SavedRun",
    "Violation",
    "check",
    "check_saved_run",
]

# Notes can be long; a message quotes the start of one.
_SHORT = reprlib.Repr()
_SHORT.maxstring = 120

INVARIANTS = (
    "single_holder",
    "token_order",
    "stale_write",
    "foreign_release",
    "lost_note",
    "document_parses",
    "lease_leaked",
    "liveness",
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


def check(
    events: Sequence[Event], final_text: str, *, liveness: float | None = None
) -> list[Violation]:
    """Every violation in a finished run, in order of time.

    Args:
        events: the run's trace.
        final_text: the final AGENCY.md.
        liveness: the scenario's bound on finishing after the last fault,
            in seconds; None leaves liveness unchecked.
    """
    found = [
        *_leases(events),
        *_owners(events),
        *_stale_writes(events),
        *_notes(events, final_text),
        *_parses(events, final_text),
    ]
    if liveness is not None:
        found.extend(_liveness(events, liveness))
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
            token = _int(event, "token")
            expires = _float(event, "expires_at")
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
            current.expires_at = _float(event, "expires_at")
        elif event.kind == "lease.released":
            holder = event.data.get("holder")
            if holder is not None and holder != agent:
                yield Violation(
                    "foreign_release",
                    event.t,
                    f"{agent} released {resource} while {holder} held it "
                    f"(token {event.data.get('token')})",
                    agents=(agent, str(holder)),
                    resources=(resource,),
                    events=(*((current.seq,) if current else ()), event.seq),
                )
            held.pop(resource, None)
        elif event.kind == "lease.expired":
            held.pop(resource, None)
    for resource in sorted(held):
        # The last lease of a resource must end in a release or an expiry
        # event: the lock manager records expiry, so a lease past its time
        # with no such event is one the manager still keeps.
        lease = held[resource]
        if lease.expires_at > end:
            how = "when the run ended"
        else:
            how = (
                f"past its expiry at t={lease.expires_at:g}s, which the lock "
                "manager never recorded"
            )
        yield Violation(
            "lease_leaked",
            end,
            f"{lease.owner} still held {resource} (token {lease.token}) {how}",
            agents=(lease.owner,),
            resources=(resource,),
            events=(lease.seq,),
        )


def _owners(events: Iterable[Event]) -> Iterable[Violation]:
    """single_holder for the Owner field: claims without a lease."""
    owner: dict[str, tuple[str, int]] = {}
    for event in events:
        resource, agent = event.resource, event.agent
        if agent is None:
            continue
        if event.kind == "owner.claimed" and resource is not None:
            current = owner.get(resource)
            if current is not None and current[0] != agent:
                yield Violation(
                    "single_holder",
                    event.t,
                    f"{agent} took {resource} through the Owner field while "
                    f"{current[0]} still owned it",
                    agents=(current[0], agent),
                    resources=(resource,),
                    events=(current[1], event.seq),
                )
            owner[resource] = (agent, event.seq)
        elif event.kind == "owner.released" and resource is not None:
            if owner.get(resource, ("",))[0] == agent:
                del owner[resource]
        elif event.kind == "agent.crashed":
            # A dead agent holds nothing, whatever the document says.
            for name in [r for r, (who, _) in owner.items() if who == agent]:
                del owner[name]


def _stale_writes(events: Iterable[Event]) -> Iterable[Violation]:
    # The newest token known per resource, granted or written under, and
    # the event that made it known.
    newest: dict[str, tuple[int, int]] = {}
    reported: set[tuple[str, str, int]] = set()

    def learn(resource: str, token: int, seq: int) -> None:
        if resource not in newest or token > newest[resource][0]:
            newest[resource] = (token, seq)

    for event in events:
        if event.kind == "lease.claimed" and event.resource is not None:
            learn(event.resource, _int(event, "token"), event.seq)
            continue
        if event.kind != "doc.write" or event.data.get("fence_token") is None:
            continue
        resource = str(event.data.get("fence_resource"))
        token = _int(event, "fence_token")
        known = newest.get(resource)
        stale = (str(event.agent), resource, token)
        if known is not None and token < known[0] and stale not in reported:
            # One story per stale holder and token, however often it wrote.
            reported.add(stale)
            yield Violation(
                "stale_write",
                event.t,
                f"a write by {event.agent} under token {token} of {resource} was "
                f"accepted after token {known[0]} was in use",
                agents=(event.agent or "?",),
                resources=(resource,),
                events=(known[1], event.seq),
            )
        learn(resource, token, event.seq)


def _notes(events: Sequence[Event], final_text: str) -> Iterable[Violation]:
    try:
        notes = AgencyDocument.parse(final_text).notes
    except DocumentFormatError:
        return  # reported by document_parses
    # A multiset: two agents may write the same words, and each must survive.
    kept = Counter(note.text for note in notes)
    writes = [e for e in events if e.kind == "doc.write"]
    # The revision each agent's last accepted write made: a note is recorded
    # right after the write that carried it.
    last_write: dict[str | None, int] = {}
    for event in events:
        if event.kind == "doc.write" and type(event.data.get("revision")) is int:
            last_write[event.agent] = _int(event, "revision")
        if event.kind != "agent.note":
            continue
        text = str(event.data.get("text"))
        if kept[text] > 0:
            kept[text] -= 1
            continue
        message = (
            f"the note {event.agent} wrote at {event.at} is not in the "
            f"final document: {_SHORT.repr(text)}"
        )
        carried = last_write.get(event.agent)
        dropped = _dropping_write(writes, event.seq, carried)
        if dropped is None:
            agents: tuple[str, ...] = (event.agent or "?",)
            seqs: tuple[int, ...] = (event.seq,)
        else:
            message += (
                f"; {dropped.agent} wrote revision {dropped.data['revision']} from "
                f"revision {dropped.data['based_on']}, read before the note's "
                f"revision {carried}"
            )
            agents = tuple(dict.fromkeys((event.agent or "?", dropped.agent or "?")))
            seqs = (event.seq, dropped.seq)
        yield Violation("lost_note", event.t, message, agents=agents, events=seqs)


def _dropping_write(
    writes: Sequence[Event], after: int, carried: int | None
) -> Event | None:
    """The first write after ``after`` made from a revision older than ``carried``.

    Such a write was derived from a document without the note, so it put
    that document back (the naive read-modify-write race).
    """
    if carried is None:
        return None
    for write in writes:
        based_on = write.data.get("based_on")
        if write.seq > after and type(based_on) is int and based_on < carried:
            return write
    return None


def _parses(events: Sequence[Event], final_text: str) -> Iterable[Violation]:
    try:
        AgencyDocument.parse(final_text)
    except DocumentFormatError as exc:
        t = events[-1].t if events else 0.0
        yield Violation("document_parses", t, f"the final document: {exc}")


# How an agent's run can end, short of being stopped at the horizon.
_ENDS = (
    "agent.completed",
    "agent.skipped",
    "agent.blocked",
    "agent.timed_out",
    "agent.lost_lease",
    "agent.crashed",
)


def _liveness(events: Sequence[Event], bound: float) -> Iterable[Violation]:
    faults = [e for e in events if e.kind.startswith("fault.")]
    quiet = max((e.t for e in faults), default=0.0)
    deadline = quiet + bound
    tasks = any(
        e.kind == "agent.started" and e.data.get("task") is not None for e in events
    )
    done_at: float | None = None
    if tasks:
        done_at = next(
            (
                e.t
                for e in events
                if e.kind == "project.status" and e.data.get("status") == "completed"
            ),
            None,
        )
    else:
        # Jobs: done when no agent is still waiting or working, whatever
        # became of each one.
        started = {e.agent for e in events if e.kind == "agent.started"}
        ended = [e for e in events if e.kind in _ENDS]
        if {e.agent for e in ended} >= started:
            done_at = max((e.t for e in ended), default=quiet)
    if done_at is not None and done_at <= deadline:
        return
    stuck = tuple(
        sorted(
            {
                e.agent
                for e in events
                if e.agent is not None
                and e.kind in ("agent.stopped", "agent.timed_out", "agent.lost_lease")
            }
        )
    )
    what = "the project was not complete" if tasks else "not every job was done"
    last = f"the last fault at t={quiet:g}s" if faults else "the start"
    yield Violation(
        "liveness",
        min(deadline, events[-1].t if events else deadline),
        f"{what} {format_duration(bound)} after {last}"
        + (f" (done only at t={done_at:g}s)" if done_at is not None else ""),
        agents=stuck,
        events=tuple(e.seq for e in faults[-1:]),
    )


class EventFieldError(ValueError):
    """An event the invariants read lacks a field, or holds one of a wrong type.

    The simulator never records one; a trace written elsewhere may.

    Attributes:
        seq: the event's ``seq``.
        field: the field.
    """

    def __init__(self, event: Event, field: str, wanted: str):
        got = event.data.get(field, "nothing")
        super().__init__(
            f"a {event.kind} event needs {wanted} in {field!r}, got {got!r:.60}"
        )
        self.seq = event.seq
        self.field = field


def _int(event: Event, field: str) -> int:
    value = event.data.get(field)
    # bool is an int to Python, not a token to a trace.
    if type(value) is not int:
        raise EventFieldError(event, field, "a whole number")
    return value


def _float(event: Event, field: str) -> float:
    value = event.data.get(field)
    if type(value) is int or type(value) is float:
        return float(value)
    raise EventFieldError(event, field, "a number")


@dataclass(frozen=True, slots=True)
class SavedRun:
    """A finished run read back from disk, and what :func:`check` found in it.

    Attributes:
        trace: the trace file read.
        document: the final AGENCY.md beside it.
        events: the trace's events.
        start: the run's epoch, the time of its first event.
        digest: SHA-256 of the trace file, the run's digest.
        violations: broken invariants, in order of time (liveness left out:
            its bound is in the scenario, not in the run).
    """

    trace: Path
    document: Path
    events: tuple[Event, ...]
    start: datetime
    digest: str
    violations: tuple[Violation, ...]


def check_saved_run(path: Path) -> SavedRun:
    """Check the invariants over a run on disk, simulating nothing.

    Args:
        path: the run's folder (``trace.jsonl`` and ``AGENCY.md``), or its
            ``trace.jsonl``. Any trace in that format can be checked, one
            recorded outside the simulator too.

    Raises:
        TraceFormatError: a file is missing or unreadable, or the trace is
            empty, not JSON Lines, or not events in order.
    """
    trace = path / "trace.jsonl" if path.is_dir() else path
    document = trace.parent / "AGENCY.md"
    events = tuple(read_events(trace))
    if not events:
        raise TraceFormatError(str(trace), "the trace holds no events")
    start = _epoch(trace, events[0])
    try:
        final_text = document.read_text(encoding="utf-8")
        with trace.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise TraceFormatError(str(document), f"cannot read it: {reason}") from None
    written = [e for e in events if e.kind == "doc.write" and "sha256" in e.data]
    if written:
        final_sha = hashlib.sha256(final_text.encode()).hexdigest()
        if written[-1].data["sha256"] != final_sha:
            raise TraceFormatError(
                str(document),
                "not the document this trace wrote last (its sha256 differs "
                f"from the doc.write at line {written[-1].seq + 1})",
            )
    try:
        violations = tuple(check(events, final_text))
    except EventFieldError as exc:
        raise TraceFormatError(str(trace), str(exc), line=exc.seq + 1) from None
    return SavedRun(trace, document, events, start, digest, violations)


def _epoch(trace: Path, first: Event) -> datetime:
    """The epoch of a trace: the time of its first event, which is at t=0."""
    try:
        start = parse_date(first.at)
    except ValueError:
        start = None
    if not isinstance(start, datetime) or start.utcoffset() is None or first.t:
        raise TraceFormatError(
            str(trace),
            "the first event is at t=0 and 'at' is a UTC timestamp such as "
            f"2025-11-23T10:00:00Z, got t={first.t:g} at {first.at!r}",
            line=1,
        )
    return start
