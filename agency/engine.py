"""The engine: one scenario and seed in, one finished run out.

It builds the world of a run on a fresh virtual loop (clock, trace, lock
manager, document store holding a copy of the scenario's AGENCY.md), starts
one task per agent in the scenario's order, waits for all of them, checks
the invariants over the trace and compares the outcome with the scenario's
expectations. The run is a pure function of the scenario, the seed and the
code: the same inputs give the same trace, byte for byte.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import anyio

from agency import clock as _clock
from agency.document import AgencyDocument
from agency.errors import DocumentError, ScenarioError, SimulationError
from agency.invariants import Violation, check
from agency.locks import LockManager
from agency.scenario import Scenario, check_scenario
from agency.store import DocumentStore, WriteRecord
from agency.trace import Event, Trace
from agents.base import Agent, AgentContext, AgentResult, rehearse

__all__ = [
    "ExpectationCheck",
    "RunResult",
    "agent_rng",
    "preflight",
    "run_scenario",
]


@dataclass(frozen=True, slots=True)
class ExpectationCheck:
    """One line of the scenario's ``expect:`` block, judged."""

    name: str
    expected: str
    actual: str
    met: bool


@dataclass(frozen=True, slots=True)
class RunResult:
    """Everything a finished run produced.

    Attributes:
        scenario: the scenario as run (with the seed used).
        trace: the events, in order.
        digest: SHA-256 of the trace's JSONL.
        start, end: the virtual instants the run began and ended.
        agents: one result per agent, in the scenario's order.
        document: the final AGENCY.md.
        violations: broken invariants, in order of time.
        expectations: the ``expect:`` block, judged line by line.
    """

    scenario: Scenario
    trace: Trace
    digest: str
    start: datetime
    end: datetime
    agents: tuple[AgentResult, ...]
    document: AgencyDocument
    violations: tuple[Violation, ...]
    expectations: tuple[ExpectationCheck, ...]

    @property
    def ok(self) -> bool:
        """Whether every expectation held."""
        return all(check.met for check in self.expectations)

    @property
    def events(self) -> Sequence[Event]:
        """The trace's events."""
        return self.trace.events


def agent_rng(seed: int, agent_id: str) -> random.Random:
    """The random stream of one agent: a function of the seed and its id.

    Derived through SHA-256 rather than ``hash()``, which Python salts per
    process.
    """
    material = hashlib.sha256(f"agency/{seed}/{agent_id}".encode()).digest()
    return random.Random(int.from_bytes(material[:16], "big"))


def run_scenario(
    scenario: Scenario,
    *,
    workdir: Path | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> RunResult:
    """Run a scenario on a fresh virtual loop.

    Args:
        scenario: the validated scenario (its ``seed`` is the one used).
        workdir: folder that receives the working copy ``AGENCY.md``; with
            None the document lives in memory only.
        on_event: called with each event as it is recorded (for a live
            timeline).

    Returns:
        The finished run.

    Raises:
        ScenarioError: the scenario's AGENCY.md cannot be used for it.
        SimulationError: the run deadlocked or passed ``max_events``.
        RuntimeError: called from async code (it runs a loop of its own).
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(
            "run_scenario() takes a Scenario (see load_scenario), "
            f"got {type(scenario).__name__}"
        )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            "run_scenario() runs its own virtual-time loop; call it from "
            "synchronous code (or in a worker thread), not inside a running loop"
        )
    scenario = scenario.validated()  # model_copy(update=...) checks nothing
    text = preflight(scenario)
    if workdir is not None:
        copy = workdir / "AGENCY.md"
        if copy.resolve() == scenario.document.resolve():
            raise ScenarioError(
                str(workdir),
                "workdir holds the scenario's own AGENCY.md; a run works on a "
                "copy and never overwrites the original",
            )
        workdir.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(text.encode())

    traces: list[Trace] = []

    async def main() -> RunResult:
        return await _run(scenario, text, workdir, on_event, traces)

    try:
        return _clock.run(main)
    except SimulationError as exc:
        if traces:
            exc.partial_trace = traces[0].jsonl()
        raise


async def _run(
    scenario: Scenario,
    text: str,
    workdir: Path | None,
    on_event: Callable[[Event], None] | None,
    traces: list[Trace],
) -> RunResult:
    clock = _clock.Clock(scenario.start)
    trace = Trace(clock, limit=scenario.max_events)
    traces.append(trace)  # so a run that stops early can still show its trace
    if on_event is not None:
        trace.subscribe(on_event)

    def observe(record: WriteRecord) -> None:
        fence = record.fence
        trace.record(
            "doc.write" if record.accepted else "doc.refused",
            agent=record.writer,
            resource=fence.resource if fence else None,
            revision=record.revision,
            fence_resource=fence.resource if fence else None,
            fence_token=fence.token if fence else None,
            sha256=record.text_sha256,
            **({"reason": record.reason} if record.reason else {}),
        )

    if workdir is None:
        store = DocumentStore.in_memory(text, source="AGENCY.md", observer=observe)
    else:
        store = await DocumentStore.open(workdir / "AGENCY.md", observer=observe)
    locks = LockManager(clock, mode=scenario.locks.mode, trace=trace)
    context = AgentContext(scenario, clock, locks, store, trace)
    agents = [
        Agent(spec, context, agent_rng(scenario.seed, spec.id))
        for spec in scenario.agents
    ]

    trace.record(
        "run.started",
        scenario=scenario.name,
        seed=scenario.seed,
        agents=len(agents),
        ttl=scenario.locks.ttl,
        mode=scenario.locks.mode.value,
    )
    results: dict[str, AgentResult] = {}

    async def run_one(agent: Agent) -> None:
        results[agent.spec.id] = await agent.run()

    # Tasks start in scenario order (start_soon is FIFO). Agents end by
    # themselves; the group is never cancelled, because the order in which
    # asyncio cancels a group's tasks is not deterministic.
    try:
        async with anyio.create_task_group() as group:
            for agent in agents:
                group.start_soon(run_one, agent)
    except* SimulationError as group:
        # The run itself stopped (e.g. the event limit): report that, not
        # the group wrapped around it.
        raise group.exceptions[0] from None

    final = store.read().document
    trace.record(
        "run.finished",
        status=str(final.status),
        revision=store.read().revision,
    )
    violations = tuple(check(trace.events, final.text))
    ordered = tuple(results[spec.id] for spec in scenario.agents)
    return RunResult(
        scenario=scenario,
        trace=trace,
        digest=trace.digest(),
        start=clock.epoch,
        end=clock.now(),
        agents=ordered,
        document=final,
        violations=violations,
        expectations=_judge(scenario, final, violations),
    )


def preflight(scenario: Scenario) -> str:
    """Check the scenario's AGENCY.md takes every edit a run makes.

    Finding out before the run keeps a document the agents cannot edit from
    failing half-way, with a partial copy on disk.

    Returns:
        The document's text.

    Raises:
        ScenarioError: the document is unreadable, malformed, lacks an
            agent's task, or refuses one of the edits.
    """
    path = scenario.document
    for loc, reason in check_scenario(scenario):
        field = ".".join(map(str, loc))
        raise ScenarioError(str(path), f"{field}: {reason}")
    text = path.read_bytes().decode("utf-8")
    document = AgencyDocument.parse(text, source=str(path))
    try:
        for spec in scenario.agents:
            rehearse(document, spec, scenario.start)
    except (DocumentError, ValueError) as exc:
        raise ScenarioError(
            str(path), f"the agents could not keep this document current: {exc}"
        ) from None
    return text


def _judge(
    scenario: Scenario, final: AgencyDocument, violations: Sequence[Violation]
) -> tuple[ExpectationCheck, ...]:
    expect = scenario.expect
    checks = []
    if expect.status is not None:
        actual = str(final.status)
        checks.append(
            ExpectationCheck("status", expect.status, actual, actual == expect.status)
        )
    if expect.blocked is not None:
        actual_blocked = bool(final.blocked)
        checks.append(
            ExpectationCheck(
                "blocked",
                str(expect.blocked).lower(),
                str(actual_blocked).lower(),
                actual_blocked == expect.blocked,
            )
        )
    wanted = sorted(set(expect.violations))
    seen = sorted({v.invariant for v in violations})
    checks.append(
        ExpectationCheck(
            "violations",
            ", ".join(wanted) or "none",
            ", ".join(seen) or "none",
            wanted == seen,
        )
    )
    return tuple(checks)
