"""What a run looks like to people (a timeline, a summary and the story of
each broken invariant) and to programs (one JSON object)."""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agency.engine import RunResult
from agency.invariants import Violation
from agency.trace import Event
from utils.formatters import format_date, format_duration

__all__ = [
    "RULES",
    "describe_event",
    "story_events",
    "summary_json",
    "summary_text",
    "timeline_line",
    "violation_data",
    "violation_story",
]

RULES: Mapping[str, str] = {
    "single_holder": "at most one agent may hold a resource at any instant",
    "token_order": (
        "each new lease on a resource gets a larger fencing token than the last"
    ),
    "stale_write": (
        "no write is accepted under a fencing token older than one granted"
    ),
    "foreign_release": "only the holder of a lease may release it",
    "lost_note": "every note an agent wrote must be in the final AGENCY.md",
    "document_parses": "the final AGENCY.md must still parse",
    "lease_leaked": "every lease must be released or expire before the run ends",
    "liveness": "once faults stop, the project completes within the scenario's bound",
}
"""Each invariant's rule in one line of plain words, by name."""

# A story shows at most this many events, of which at most _CONTEXT are not
# named by the violation itself: enough to follow, short enough to read.
_STORY_EVENTS = 8
# Above this many agents the summary counts outcomes instead of listing them.
_AGENT_ROWS = 30
_CONTEXT = 4
# Kinds of event that can explain how a rule broke; run.* and the like are
# bookkeeping that would crowd out the events that matter.
_STORY_KINDS = ("lease.", "doc.", "fault.", "owner.", "agent.")
# The text summary tells this many stories in full and lists the rest in one
# line each, so a run with hundreds of lost notes stays readable.
_STORIES_IN_FULL = 5
# The epoch only moves the times in an event's words, so any will do to learn
# whether it has words at all.
_ANY_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _clock_text(start: datetime, t: float | None, *, days: bool = False) -> str:
    if t is None:
        return "-"
    pattern = "%Y-%m-%d %H:%M:%S" if days else "%H:%M:%S"
    return format_date(start + timedelta(seconds=t), pattern)


def describe_event(event: Event, start: datetime) -> str | None:
    """A few words on what ``event`` did, or None for bookkeeping events.

    Kinds recorded by newer parts of the simulator (faults, the Owner field,
    retries) read their fields with ``.get``, so an event missing one still
    gets a sentence rather than an error.
    """
    data: Mapping[str, Any] = event.data
    resource = event.resource
    match event.kind:
        case "run.started":
            return (
                f"run starts: {data['agents']} agents, lease TTL "
                f"{format_duration(float(data['ttl']))}, {data['mode']} locks"
            )
        case "run.finished":
            return f"run ends: project status {data['status']}"
        case "run.horizon":
            return _horizon_text(data, start)
        case "agent.started":
            return f"starts on Task {data['task']}"
        case "lease.claimed":
            until = _clock_text(start, data["expires_at"])
            waited = (
                f", after waiting {format_duration(data['waited'])}"
                if data.get("waited")
                else ""
            )
            return f"claims {resource} (token {data['token']}, until {until}{waited})"
        case "lease.reclaimed":
            return f"re-claims {resource}, which it already holds" + _bracket(
                _token_text(data.get("token")),
                _until_text(start, data.get("expires_at")),
            )
        case "lease.waiting":
            return f"waits for {resource}, held by {data['holder']}"
        case "lease.conflict":
            return f"finds {resource} held by {data['holder']}"
        case "lease.renewed":
            return f"renews {resource} until {_clock_text(start, data['expires_at'])}"
        case "lease.released":
            return f"releases {resource}"
        case "lease.expired":
            return f"lease on {resource} expires (token {data['token']})"
        case "lease.timeout":
            return f"gives up waiting for {resource}"
        case "agent.note":
            return f"note: {data['text']}"
        case "agent.subtask":
            probes = data["probes"]
            return (
                f"done {data['index']}: {data['title']} "
                f"({format_duration(data['worked'])}, "
                f"{probes} probe{'' if probes == 1 else 's'})"
            )
        case "agent.probe":
            return (
                None
                if data["passed"]
                else f"probe fails: {data['call']} {data['detail']}"
            )
        case "agent.completed":
            return "finished its task"
        case "agent.blocked" | "agent.lost_lease" | "agent.timed_out":
            return f"{event.kind.removeprefix('agent.')}: {data['reason']}"
        case "agent.crashed" | "agent.retry" | "agent.skipped":
            verb = {"agent.crashed": "crashed", "agent.retry": "retries"}.get(
                event.kind, "skipped"
            )
            reason = data.get("reason")
            return verb if reason is None else f"{verb}: {reason}"
        case "owner.claimed":
            return f"sets itself as Owner of {_task_text(data)} in AGENCY.md"
        case "owner.released":
            return f"clears the Owner of {_task_text(data)} in AGENCY.md"
        case "doc.refused":
            return f"write refused: {data.get('reason')}"
        case "doc.conflict":
            return "write conflict: AGENCY.md changed since it was read" + _bracket(
                _labelled("expected revision", data.get("expected")),
                _labelled("found", data.get("actual")),
            )
        case "fault.crash":
            return "fault: crashes"
        case "fault.stall":
            duration = _duration_text(data.get("duration"))
            return "fault: stalls" + (f" for {duration}" if duration else "")
        case "fault.stall_end":
            return "fault: stall ends, carries on"
        case "fault.slow_write":
            delay = _duration_text(data.get("delay"))
            return "fault: slow write" + (f", delayed {delay}" if delay else "")
        case "fault.clock_skew":
            return _skew_text(data)
        case "fault.lost_reply":
            about = f" about {resource}" if resource else ""
            return f"fault: a reply{about} is lost" + _bracket(
                _token_text(data.get("token"))
            )
        case _:
            return None


def timeline_line(event: Event, start: datetime, *, days: bool = False) -> str | None:
    """One line of the live timeline, or None if the event is not shown.

    ``days`` puts the date before the time, for runs that pass midnight.
    """
    text = describe_event(event, start)
    if text is None:
        return None
    return _line(event, start, text, days=days)


def violation_story(
    violation: Violation,
    events: Sequence[Event],
    start: datetime,
    *,
    days: bool | None = None,
) -> str:
    """A broken invariant as a few lines a person can follow.

    A heading names the invariant, when it broke and what happened; under it
    come the rule in plain words, who and what was involved, and the events
    that led to it as timeline lines, in trace order. Events the check named
    are marked ``>``; the others are context (see :func:`story_events`).

    Args:
        violation: the broken invariant.
        events: the run's trace.
        start: the scenario's start, the epoch of the virtual clock.
        days: show dates as well as times; None shows them when the story
            reaches past the start's date.
    """
    shown, hidden = _story(violation, events)
    if days is None:
        days = any(
            _moment(start, t).date() != start.date()
            for t in (violation.t, *(event.t for event in shown))
        )
    lines = [
        f"{violation.invariant} at {_clock_text(start, violation.t, days=days)} "
        f"\N{EM DASH} {violation.message}"
    ]
    rule = RULES.get(violation.invariant)
    if rule is not None:
        lines.append(f"  rule: {rule}")
    involved = [
        f"{label}: {', '.join(names)}"
        for label, names in (
            ("agents", violation.agents),
            ("resources", violation.resources),
        )
        if names
    ]
    if involved:
        lines.append(f"  {'; '.join(involved)}")
    if hidden:
        lines.append(
            f"  ({hidden} earlier event{'' if hidden == 1 else 's'} named by the "
            "check not shown)"
        )
    named = set(violation.events)
    for event in shown:
        mark = ">" if event.seq in named else " "
        text = _story_text(event, start) or _bare_text(event)
        lines.append(f"  {mark} {_line(event, start, text, days=days)}")
    return "\n".join(lines)


def violation_data(
    violation: Violation, events: Sequence[Event], start: datetime
) -> dict[str, Any]:
    """The same story as :func:`violation_story`, as data for programs.

    ``events`` holds the story's events as the objects of ``trace.jsonl``;
    ``rule`` is None for an invariant this module has no words for.
    """
    shown, _ = _story(violation, events)
    return {
        "invariant": violation.invariant,
        "rule": RULES.get(violation.invariant),
        "t": violation.t,
        "at": format_date(_moment(start, violation.t), "iso"),
        "message": violation.message,
        "agents": list(violation.agents),
        "resources": list(violation.resources),
        "events": [_event_data(event) for event in shown],
    }


def story_events(violation: Violation, events: Sequence[Event]) -> list[Event]:
    """The events that tell how ``violation`` came about, in trace order.

    Every event the violation names (the latest eight of them), plus up to
    four others just before the latest named one (or, for a violation found
    after its last named event, such as a lease leaked at the end, just
    before the violation's time) that concern the same agents or resources
    and are of a kind that can explain it (``lease.*``, ``doc.*``,
    ``fault.*``, ``owner.*``, ``agent.*``). Events the timeline has no words
    for (a passed probe, say) are not picked as context.
    """
    return _story(violation, events)[0]


def _story(violation: Violation, events: Sequence[Event]) -> tuple[list[Event], int]:
    """The story's events and how many named events were left out."""
    found = {
        position
        for seq in violation.events
        if (position := _position(events, seq)) is not None
    }
    named = sorted(found)[-_STORY_EVENTS:]
    hidden = len(found) - len(named)
    # Context ends at the last named event, or at the violation's time when
    # that is later: what led to a leak at the end happened after the claim.
    end = bisect_right(events, violation.t, key=lambda event: event.t)
    if named and events[named[-1]].t >= violation.t:
        end = named[-1] + 1
    budget = min(_CONTEXT, _STORY_EVENTS - len(named))
    agents, resources = set(violation.agents), set(violation.resources)
    context: list[int] = []
    position = end - 1
    while position >= 0 and len(context) < budget:
        event = events[position]
        if (
            position not in found
            and _relevant(event, agents, resources)
            and _story_text(event, _ANY_EPOCH) is not None
        ):
            context.append(position)
        position -= 1
    return [events[i] for i in sorted({*named, *context})], hidden


def _relevant(event: Event, agents: set[str], resources: set[str]) -> bool:
    if not event.kind.startswith(_STORY_KINDS):
        return False
    if event.agent is not None and event.agent in agents:
        return True
    fence = event.data.get("fence_resource")
    return event.resource in resources or (
        isinstance(fence, str) and fence in resources
    )


def _position(events: Sequence[Event], seq: int) -> int | None:
    # A recorded trace holds event n at index n; a hand-made or filtered one
    # may not, so fall back to looking.
    if 0 <= seq < len(events) and events[seq].seq == seq:
        return seq
    return next((i for i, event in enumerate(events) if event.seq == seq), None)


def _story_text(event: Event, start: datetime) -> str | None:
    """Words for an event in a story; None for an event not worth showing."""
    try:
        text = describe_event(event, start)
    except (KeyError, TypeError, ValueError):
        # A hand-written or newer event without the fields its kind had.
        text = None
    if text is not None:
        return text
    data: Mapping[str, Any] = event.data
    if event.kind == "doc.write":
        # Left out of the live timeline (every step writes), but in a story
        # about a stale write it is the write that matters.
        fence = _labelled("token", data.get("fence_token"))
        if fence and data.get("fence_resource"):
            fence += f" of {data['fence_resource']}"
        revision, based_on = data.get("revision"), data.get("based_on")
        made = _labelled("revision", revision)
        # Only a write made from an older revision than the one it replaces
        # says where it came from: that is the write that can lose others' work.
        if type(revision) is int and type(based_on) is int and based_on < revision - 1:
            made = f"revision {revision} from revision {based_on}"
        return "writes AGENCY.md" + _bracket(made, fence or "no fence")
    return None


def _bare_text(event: Event) -> str:
    """The kind and first few fields of an event that has no words."""
    # An event the check named is shown even without words for it.
    data: Mapping[str, Any] = event.data
    fields = ", ".join(f"{key}={data[key]}" for key in sorted(data)[:3])
    return event.kind + (f" ({fields})" if fields else "")


def _line(event: Event, start: datetime, text: str, *, days: bool) -> str:
    who = event.agent or ""
    return f"{_clock_text(start, event.t, days=days)}  {who:<10} {text}"


def _event_data(event: Event) -> dict[str, Any]:
    # The same object, keys and order as the event's line in trace.jsonl.
    data: dict[str, Any] = json.loads(event.to_json())
    return data


def _moment(start: datetime, t: float) -> datetime:
    return start + timedelta(seconds=t)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _duration_text(value: object) -> str | None:
    seconds = _number(value)
    return None if seconds is None or seconds < 0 else format_duration(seconds)


def _bracket(*parts: str | None) -> str:
    shown = [part for part in parts if part]
    return f" ({', '.join(shown)})" if shown else ""


def _labelled(label: str, value: object) -> str | None:
    return None if value is None else f"{label} {value}"


def _token_text(value: object) -> str | None:
    return _labelled("token", value)


def _until_text(start: datetime, value: object) -> str | None:
    t = _number(value)
    return None if t is None else f"until {_clock_text(start, t)}"


def _task_text(data: Mapping[str, Any]) -> str:
    task = data.get("task")
    return "its task" if task is None else f"Task {task}"


def _horizon_text(data: Mapping[str, Any], start: datetime) -> str:
    text = "run stops at its time bound"
    reason, t = data.get("reason"), _number(data.get("t"))
    if reason is not None:
        return f"{text}: {reason}"
    return text if t is None else f"{text} ({_clock_text(start, t)})"


def _skew_text(data: Mapping[str, Any]) -> str:
    offset, drift = _number(data.get("offset")), _number(data.get("drift"))
    if offset is None or offset == 0:
        text = "fault: its clock is skewed"
    else:
        way = "ahead" if offset > 0 else "behind"
        text = f"fault: its clock runs {format_duration(abs(offset))} {way}"
    return text + ("" if not drift else f" (drift {drift:g})")


def _agent_rows(result: RunResult, *, days: bool, held_width: int) -> list[str]:
    lines = [
        f"{'agent':<10} {'task':<5} {'lease held':<{held_width}} {'subtasks':<9} "
        f"{'notes':<6} outcome"
    ]
    specs = {spec.id: spec for spec in result.scenario.agents}
    for agent in result.agents:
        task = specs[agent.agent].task or "-"
        held = (
            f"{_clock_text(result.start, agent.held_from, days=days)} to "
            f"{_clock_text(result.start, agent.held_to, days=days)}"
        )
        done = f"{agent.subtasks_done}/{agent.subtasks_total}"
        lines.append(
            f"{agent.agent:<10} {task:<5} {held:<{held_width}} {done:<9} "
            f"{agent.notes_written:<6} {agent.outcome}"
        )
    for agent in result.agents:
        if agent.reason is not None:
            lines.append(f"  {agent.agent} {agent.outcome}: {agent.reason}")
    return lines


def _outcome_counts(result: RunResult) -> list[str]:
    # A crowd gets counts, and the first few agents of each unusual ending.
    lines = [f"{len(result.agents)} agents:"]
    by_outcome: dict[str, list[str]] = {}
    for agent in result.agents:
        by_outcome.setdefault(agent.outcome, []).append(agent.agent)
    for outcome in sorted(by_outcome, key=lambda o: (-len(by_outcome[o]), o)):
        names = by_outcome[outcome]
        example = (
            ""
            if outcome in ("completed", "skipped")
            else " (" + ", ".join(names[:3]) + (", ..." if len(names) > 3 else "") + ")"
        )
        lines.append(f"  {len(names):>6} {outcome}{example}")
    return lines


def summary_text(result: RunResult, *, source: str, out: Path | None) -> str:
    """The end-of-run summary for people."""
    scenario = result.scenario
    elapsed = (result.end - result.start).total_seconds()
    # Times of day alone are ambiguous once a run passes midnight.
    days = result.end.date() != result.start.date()
    end_pattern = "%Y-%m-%d %H:%M:%S" if days else "%H:%M:%S"
    held_width = 43 if days else 21
    lines = [
        "",
        f"{scenario.name} (seed {scenario.seed}): "
        f"{format_date(result.start, '%Y-%m-%d %H:%M:%S')} to "
        f"{format_date(result.end, end_pattern)} UTC, "
        f"{format_duration(elapsed)} of virtual time, {len(result.trace)} events",
        "",
    ]
    if len(result.agents) > _AGENT_ROWS:
        lines.extend(_outcome_counts(result))
    else:
        lines.extend(_agent_rows(result, days=days, held_width=held_width))
    lines.append("")
    lines.append(f"project status: {result.document.status}")
    horizon = next((e for e in result.trace if e.kind == "run.horizon"), None)
    if horizon is not None:
        stopped = sum(agent.outcome == "stopped" for agent in result.agents)
        lines.append(
            f"horizon: the run stopped at "
            f"{_clock_text(result.start, horizon.t, days=days)} "
            f"(scenario field horizon), {stopped:,} "
            f"agent{'' if stopped == 1 else 's'} still at work"
        )
    if result.violations:
        lines.append(f"violations: {len(result.violations)}")
        events = result.trace.events
        for violation in result.violations[:_STORIES_IN_FULL]:
            story = violation_story(violation, events, result.start, days=days)
            lines.extend(f"  {line}" for line in story.splitlines())
        rest = result.violations[_STORIES_IN_FULL:]
        if rest:
            lines.append(f"  and {len(rest)} more (all told in --json):")
        for violation in rest:
            when = _clock_text(result.start, violation.t, days=days)
            lines.append(f"  {violation.invariant} at {when}: {violation.message}")
    else:
        lines.append("violations: none")
    for check in result.expectations:
        mark = "ok" if check.met else "NOT MET"
        lines.append(
            f"expect {check.name}: {check.expected} (got {check.actual}) {mark}"
        )
    lines.append(f"trace digest: {result.digest}")
    if out is not None:
        lines.append(f"output: {out} (AGENCY.md, trace.jsonl)")
    return "\n".join(lines)


def summary_json(result: RunResult, *, source: str, out: Path | None) -> dict[str, Any]:
    """The same summary as data, for ``--json``."""
    specs = {spec.id: spec for spec in result.scenario.agents}
    events, violations = result.trace.events, result.violations
    return {
        "scenario": result.scenario.name,
        "file": source,
        "seed": result.scenario.seed,
        "digest": result.digest,
        "start": format_date(result.start, "iso"),
        "end": format_date(result.end, "iso"),
        "events": len(result.trace),
        "status": result.document.status,
        "agents": [
            {
                "id": agent.agent,
                "name": specs[agent.agent].name,
                "task": specs[agent.agent].task,
                "resource": result.scenario.resource_of(specs[agent.agent]),
                "outcome": agent.outcome,
                "held_from": agent.held_from,
                "held_to": agent.held_to,
                "subtasks_done": agent.subtasks_done,
                "subtasks_total": agent.subtasks_total,
                "notes_written": agent.notes_written,
                "probes_passed": agent.probes_passed,
                "reason": agent.reason,
            }
            for agent in result.agents
        ],
        "violations": [_violation_entry(v, events, result.start) for v in violations],
        "expectations": {
            "met": result.ok,
            "checks": [
                {
                    "name": c.name,
                    "expected": c.expected,
                    "actual": c.actual,
                    "met": c.met,
                }
                for c in result.expectations
            ],
        },
        "out": str(out) if out is not None else None,
    }


def _violation_entry(
    violation: Violation, events: Sequence[Event], start: datetime
) -> dict[str, Any]:
    story = violation_data(violation, events, start)
    # "events" has always held the seq numbers the check named; the story's
    # own events go under a new key so existing readers keep working.
    return {
        "invariant": violation.invariant,
        "rule": story["rule"],
        "t": violation.t,
        "at": story["at"],
        "message": violation.message,
        "agents": list(violation.agents),
        "resources": list(violation.resources),
        "events": list(violation.events),
        "story_events": story["events"],
    }
