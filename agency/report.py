"""What a run looks like to people (a timeline and a summary) and to
programs (one JSON object)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agency.engine import RunResult
from agency.trace import Event
from utils.formatters import format_date, format_duration

__all__ = ["describe_event", "summary_json", "summary_text", "timeline_line"]


def _clock_text(start: datetime, t: float | None, *, days: bool = False) -> str:
    if t is None:
        return "-"
    pattern = "%Y-%m-%d %H:%M:%S" if days else "%H:%M:%S"
    return format_date(start + timedelta(seconds=t), pattern)


def describe_event(event: Event, start: datetime) -> str | None:
    """A few words on what ``event`` did, or None for bookkeeping events."""
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
        case "doc.refused":
            return f"write refused: {data.get('reason')}"
        case _:
            return None


def timeline_line(event: Event, start: datetime) -> str | None:
    """One line of the live timeline, or None if the event is not shown."""
    text = describe_event(event, start)
    if text is None:
        return None
    who = event.agent or ""
    return f"{_clock_text(start, event.t)}  {who:<10} {text}"


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
        f"{'agent':<10} {'task':<5} {'lease held':<{held_width}} {'subtasks':<9} "
        f"{'notes':<6} outcome",
    ]
    specs = {spec.id: spec for spec in scenario.agents}
    for agent in result.agents:
        spec = specs[agent.agent]
        held = (
            f"{_clock_text(result.start, agent.held_from, days=days)} to "
            f"{_clock_text(result.start, agent.held_to, days=days)}"
        )
        done = f"{agent.subtasks_done}/{agent.subtasks_total}"
        lines.append(
            f"{agent.agent:<10} {spec.task:<5} {held:<{held_width}} {done:<9} "
            f"{agent.notes_written:<6} {agent.outcome}"
        )
    for agent in result.agents:
        if agent.reason is not None:
            lines.append(f"  {agent.agent} {agent.outcome}: {agent.reason}")
    lines.append("")
    lines.append(f"project status: {result.document.status}")
    if result.violations:
        lines.append(f"violations: {len(result.violations)}")
        for violation in result.violations:
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
        "violations": [
            {
                "invariant": v.invariant,
                "t": v.t,
                "message": v.message,
                "agents": list(v.agents),
                "resources": list(v.resources),
                "events": list(v.events),
            }
            for v in result.violations
        ],
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
