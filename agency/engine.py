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
import os
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import anyio

from agency import clock as _clock
from agency.clock import Clock
from agency.document import AgencyDocument
from agency.errors import DocumentError, ScenarioError, SimulationError
from agency.invariants import Violation, check
from agency.locks import LockManager, LockMode
from agency.outputs import prepare_workdir, write_output
from agency.scenario import Scenario, check_scenario, count_holds
from agency.store import DocumentStore, WriteRecord
from agency.trace import Event, Trace
from agents.base import Agent, AgentContext, AgentResult, rehearse

__all__ = [
    "ExpectationCheck",
    "LockManagerFactory",
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


#: Builds the run's lock manager from its clock, lock mode and trace.
LockManagerFactory = Callable[[Clock, LockMode, Trace], LockManager]


def run_scenario(
    scenario: Scenario,
    *,
    workdir: str | os.PathLike[str] | None = None,
    on_event: Callable[[Event], None] | None = None,
    lock_manager: LockManagerFactory | None = None,
) -> RunResult:
    """Run a scenario on a fresh virtual loop.

    Called where an event loop is already running (a Jupyter cell, or a
    coroutine), the run takes a thread of its own and blocks the caller
    until it ends; inside a coroutine, ``await asyncio.to_thread(...)``
    keeps the caller's loop free meanwhile.

    Args:
        scenario: the validated scenario (its ``seed`` is the one used). A
            scenario with variants runs as written; see
            :meth:`Scenario.runs` for the variants.
        workdir: folder that receives the working copy ``AGENCY.md`` and,
            at the end, ``trace.jsonl``; it must be new, empty or an earlier
            run's (see :func:`agency.outputs.prepare_workdir`). With None the
            run stays in
            memory.
        on_event: called with each event as it is recorded (for a live
            timeline).
        lock_manager: builds the lock manager, to test another one (or a
            deliberately broken one) against the same invariants; by
            default :class:`~agency.locks.LockManager`.

    Returns:
        The finished run.

    Raises:
        ScenarioError: the scenario's AGENCY.md cannot be used for it, or
            ``workdir`` cannot take the run's outputs.
        SimulationError: the run deadlocked or passed ``max_events`` (the
            trace so far is in ``partial_trace``, and in ``workdir``).
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(
            "run_scenario() takes a Scenario (see load_scenario), "
            f"got {type(scenario).__name__}"
        )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        nested = False
    else:
        # A Jupyter cell runs inside the kernel's loop; a loop cannot run
        # inside another in one thread, so the run gets a thread of its own.
        nested = True
    # model_copy(update=...) checks nothing, so check again; a swarm becomes
    # its agents here, from the seed.
    scenario = scenario.validated().population()
    text = preflight(scenario)
    workdir = Path(workdir) if workdir is not None else None
    if workdir is not None:
        prepare_workdir(workdir, scenario)
        write_output(workdir / "AGENCY.md", text.encode())

    traces: list[Trace] = []

    async def main() -> RunResult:
        return await _run(
            scenario, text, workdir, on_event, lock_manager or _default_locks, traces
        )

    try:
        result = _in_own_thread(main) if nested else _clock.run(main)
    except SimulationError as exc:
        if traces:
            exc.partial_trace = traces[0].jsonl()
            if workdir is not None:
                write_output(workdir / "trace.jsonl", exc.partial_trace)
        raise
    except (OSError, BaseExceptionGroup) as exc:
        # The store's own writes into workdir (a full disk, say), raised in
        # an agent's task and so wrapped by the task group.
        failed = _os_error(exc)
        if failed is None or workdir is None:
            raise
        raise ScenarioError(
            str(workdir / "AGENCY.md"), f"cannot write it: {failed.strerror}"
        ) from None
    if workdir is not None:
        write_output(workdir / "trace.jsonl", result.trace.jsonl())
    return result


def _in_own_thread(main: Callable[[], Awaitable[RunResult]]) -> RunResult:
    with ThreadPoolExecutor(1, thread_name_prefix="agency-run") as pool:
        return pool.submit(_clock.run, main).result()


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError that ``exc`` is or holds, if that is all it holds."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        matched, rest = exc.split(OSError)
        if matched is not None and rest is None:
            first: BaseException = matched
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            return first if isinstance(first, OSError) else None
    return None


async def _run(
    scenario: Scenario,
    text: str,
    workdir: Path | None,
    on_event: Callable[[Event], None] | None,
    lock_manager: LockManagerFactory,
    traces: list[Trace],
) -> RunResult:
    clock = _clock.Clock(scenario.start)
    trace = Trace(clock, limit=scenario.max_events)
    traces.append(trace)  # so a run that stops early can still show its trace
    if on_event is not None:
        trace.subscribe(on_event)

    safe = scenario.locks.mode is LockMode.SAFE
    status: list[str] = []

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
            based_on=record.based_on,
            **({"reason": record.reason} if record.reason else {}),
        )
        if record.accepted:
            # The store calls this after the write took effect.
            now = str(store.read().document.status)
            if now != status[-1]:
                status.append(now)
                trace.record("project.status", agent=record.writer, status=now)

    if workdir is None:
        store = DocumentStore.in_memory(
            text, source="AGENCY.md", observer=observe, fencing=safe
        )
    else:
        store = await DocumentStore.open(
            workdir / "AGENCY.md", observer=observe, fencing=safe
        )
    status.append(str(store.read().document.status))
    if safe:
        # The claim server and the store share the token sequence: a grant
        # fences off the previous holder at once (Kleppmann's fencing).
        def fence_on_grant(event: Event) -> None:
            if event.kind == "lease.claimed" and event.resource is not None:
                store.raise_fence(event.resource, int(str(event.data["token"])))

        trace.subscribe(fence_on_grant)
    locks = lock_manager(clock, scenario.locks.mode, trace)
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
        coordination=scenario.coordination.value,
        writes=scenario.writes.mode.value,
    )
    results = await _run_agents(agents, clock, trace, scenario.horizon)
    await _let_leases_lapse(locks, clock, scenario.horizon)

    final = store.read().document
    trace.record(
        "run.finished",
        status=str(final.status),
        revision=store.read().revision,
    )
    violations = tuple(check(trace.events, final.text, liveness=scenario.liveness))
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
        expectations=_judge(scenario, final, violations, ordered, trace.events),
    )


def _default_locks(clock: Clock, mode: LockMode, trace: Trace) -> LockManager:
    return LockManager(clock, mode=mode, trace=trace)


async def _run_agents(
    agents: Sequence[Agent], clock: _clock.Clock, trace: Trace, horizon: float
) -> dict[str, AgentResult]:
    """Run every agent to its end, or stop those still at work at ``horizon``.

    Tasks start in scenario order (start_soon is FIFO). The group is never
    cancelled as a whole, because the order in which asyncio cancels a
    group's tasks is not deterministic: at the horizon each agent still at
    work is stopped through its own scope, in scenario order.
    """
    results: dict[str, AgentResult] = {}
    scopes = {agent.spec.id: anyio.CancelScope() for agent in agents}
    watch = anyio.CancelScope()
    running = [len(agents)]

    async def run_one(agent: Agent) -> None:
        with scopes[agent.spec.id]:
            results[agent.spec.id] = await agent.run()
        if agent.spec.id not in results:
            results[agent.spec.id] = agent.stopped(
                "still at work when the run reached its horizon"
            )
        running[0] -= 1
        if not running[0]:
            watch.cancel()

    async def stop_at_horizon() -> None:
        with watch:
            await anyio.sleep(max(0.0, horizon - clock.time()))
            trace.record("run.horizon", reason="the run reached its horizon")
            for agent in agents:
                if agent.spec.id not in results:
                    scopes[agent.spec.id].cancel()

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(stop_at_horizon)
            for agent in agents:
                group.start_soon(run_one, agent)
    except* SimulationError as group:
        # The run itself stopped (e.g. the event limit): report that, not
        # the group wrapped around it.
        raise group.exceptions[0] from None
    return results


async def _let_leases_lapse(
    locks: LockManager, clock: _clock.Clock, horizon: float
) -> None:
    """Wait (in virtual time) until no lease is live, or the horizon.

    A crashed agent's lease outlives it; the run ends when it has expired,
    so the trace shows every lease released or expired, and a manager
    whose leases never expire is caught by ``lease_leaked``. A manager that
    still reports a lease live after its ``expires_at`` will not end it by
    waiting longer, so the run ends there rather than spinning.
    """
    while (live := locks.reservations()) and clock.time() < horizon:
        due = min(lease.expires_at for lease in live)
        if due <= clock.time():
            break
        await anyio.sleep(min(due, horizon) - clock.time())


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
    scenario: Scenario,
    final: AgencyDocument,
    violations: Sequence[Violation],
    agents: Sequence[AgentResult],
    events: Sequence[Event],
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
    outcomes = {agent.agent: agent.outcome for agent in agents}
    for agent_id, outcome in expect.outcomes.items():
        actual = outcomes[agent_id]
        checks.append(
            ExpectationCheck(
                f"outcome of {agent_id}", outcome, actual, actual == outcome
            )
        )
    if expect.events:
        counts = Counter(event.kind for event in events)
        for kind, bound in expect.events.items():
            checks.append(
                ExpectationCheck(
                    f"{kind} events",
                    bound,
                    str(counts[kind]),
                    count_holds(bound, counts[kind]),
                )
            )
    return tuple(checks)
