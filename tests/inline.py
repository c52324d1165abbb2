"""Scenarios built in code, on the root AGENCY.md, for the agent and run tests.

Every subtask takes a fixed ``4m`` unless a test says otherwise, writes take
no time and agents start at once, so virtual times in the trace are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agency.engine import RunResult
from agency.scenario import Scenario, scenario_from_mapping
from agency.trace import Event

ROOT = Path(__file__).resolve().parents[1]

#: The seed's four agents, one per task.
FOUR: tuple[dict[str, Any], ...] = (
    {
        "id": "agent-a",
        "name": "Claude Haiku",
        "role": "email validator",
        "task": "A",
        "module": "validators",
    },
    {
        "id": "agent-b",
        "name": "Claude Haiku",
        "role": "date formatter",
        "task": "B",
        "module": "formatters",
    },
    {
        "id": "agent-c",
        "name": "Claude Sonnet",
        "role": "JSON parser",
        "task": "C",
        "module": "parsers",
    },
    {
        "id": "agent-d",
        "name": "Gemini Pro",
        "role": "string utilities",
        "task": "D",
        "module": "strings",
    },
)
A = "parallel-tasks-validators"


def agent(base: int = 0, **changes: Any) -> dict[str, Any]:
    """One of :data:`FOUR` (by index) with ``changes``."""
    return {**FOUR[base], **changes}


def second_a(**changes: Any) -> dict[str, Any]:
    """A second agent for Task A, arriving a minute after the first."""
    fields = {"id": "agent-a2", "name": "Claude Sonnet", "start_after": "1m"}
    return agent(0, **(fields | changes))


def job(agent_id: str, resource: str = "shared", **changes: Any) -> dict[str, Any]:
    """A job agent (no task) that claims ``resource``."""
    return {
        "id": agent_id,
        "name": agent_id,
        "role": "job",
        "resource": resource,
        **changes,
    }


def scenario(**fields: Any) -> Scenario:
    """A scenario on the root AGENCY.md: the four agents, 4 minutes a subtask."""
    data: dict[str, Any] = {
        "name": "inline",
        "seed": 1,
        "start": "2025-11-23T10:00:00Z",
        "document": "AGENCY.md",
        "work": "4m",
        "agents": list(FOUR),
        "expect": {"status": None},
    }
    data.update(fields)
    return scenario_from_mapping(data, base=ROOT)


def events(
    run: RunResult, kind: str, agent: str | None = None, resource: str | None = None
) -> list[Event]:
    """The run's events of ``kind`` (by ``agent``, on ``resource``)."""
    return [
        event
        for event in run.events
        if event.kind == kind
        and (agent is None or event.agent == agent)
        and (resource is None or event.resource == resource)
    ]


def times(run: RunResult, kind: str, agent: str | None = None) -> list[float]:
    """Virtual times of the run's events of ``kind`` (by ``agent``)."""
    return [event.t for event in events(run, kind, agent)]


def token(event: Event) -> int:
    """The fencing token an event names."""
    value = event.data["token"]
    assert isinstance(value, int), event
    return value


def invariants(run: RunResult) -> list[str]:
    """Names of the broken invariants, in order of time."""
    return [violation.invariant for violation in run.violations]


def outcomes(run: RunResult) -> dict[str, str]:
    """How each agent ended, by id."""
    return {result.agent: result.outcome for result in run.agents}


def after(run: RunResult, event: Event) -> Sequence[Event]:
    """The events recorded after ``event``."""
    return run.events[event.seq + 1 :]
