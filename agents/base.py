"""The behaviour every simulated agent shares.

An agent of the main scenario does what the seed's Approach D asks of a
real one:

1. claim its task-specific lease (waiting its turn if someone holds it);
2. mark its task in progress and write a "starting" note;
3. for each subtask of its checklist: spend the seeded virtual time
   (renewing the lease before it runs out), run the scenario's probes for
   that subtask against the real module in ``utils/``, tick the box and
   update its progress section (a box ticked before the run takes no time
   and stays ticked, but its probes still run);
4. write a completion note, mark the task complete (and the project
   complete when it was the last task), and release the lease.

A failing probe stops the agent: the task is marked blocked, the reason goes
into the frontmatter (``blocked: true``, ``blocking_reason``), a note says
why, and the lease is released.

Every document write is fenced by the agent's lease token in safe lock
mode, so a holder whose lease has passed to someone else cannot write.

The document edits are plain functions at the end of this module, so that
:func:`rehearse` can apply a whole run's worth of them to a copy before the
run starts.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import anyio

from agency.clock import Clock
from agency.document import AgencyDocument, Task, TaskStatus
from agency.errors import ClaimTimeout, LeaseExpired, NotHolder, StaleToken
from agency.locks import Lease, LockManager, LockMode
from agency.scenario import AgentSpec, Range, Scenario
from agency.store import DocumentStore, Fence
from agency.trace import Trace
from agents.probes import run_probe
from utils.formatters import format_date, format_duration

__all__ = ["Agent", "AgentContext", "AgentResult", "Outcome", "rehearse"]

Outcome = Literal["completed", "blocked", "timed_out", "lost_lease"]


@dataclass(frozen=True, slots=True)
class AgentContext:
    """What the engine hands each agent: the shared world of one run."""

    scenario: Scenario
    clock: Clock
    locks: LockManager
    store: DocumentStore
    trace: Trace


@dataclass(frozen=True, slots=True)
class AgentResult:
    """How one agent's run ended.

    Attributes:
        agent: the agent's id.
        outcome: completed, blocked, timed_out (never got its lease) or
            lost_lease (its lease ran out under it).
        held_from, held_to: clock times of its first claim and its release
            (None if it never held the lease).
        subtasks_done: boxes it ticked.
        subtasks_total: boxes in its task's checklist.
        notes_written: notes it appended.
        probes_passed: probes that behaved as expected.
        reason: why it stopped early, if it did.
    """

    agent: str
    outcome: Outcome
    held_from: float | None
    held_to: float | None
    subtasks_done: int
    subtasks_total: int
    notes_written: int
    probes_passed: int
    reason: str | None = None


class _Stop(Exception):
    """Ends an agent's run early with an outcome and a reason."""

    def __init__(self, outcome: Outcome, reason: str):
        super().__init__(reason)
        self.outcome: Outcome = outcome
        self.reason = reason


class Agent:
    """One simulated agent.

    Args:
        spec: who it is and what it builds, from the scenario.
        context: the run's clock, lock manager, store and trace.
        rng: the agent's own random stream (durations are drawn from it).
    """

    def __init__(self, spec: AgentSpec, context: AgentContext, rng: random.Random):
        self.spec = spec
        self._ctx = context
        self._rng = rng
        self.resource = context.scenario.resource_of(spec)
        self._label = f"Agent {spec.task}"
        self._lease: Lease | None = None
        self._held_from: float | None = None
        self._held_to: float | None = None
        self._done = 0
        self._total = 0
        self._notes = 0
        self._passed = 0

    async def run(self) -> AgentResult:
        """Do the whole task and say how it ended."""
        ctx = self._ctx
        await anyio.sleep(self._draw(self.spec.start_after))
        ctx.trace.record("agent.started", agent=self.spec.id, task=self.spec.task)
        items = self._task(ctx.store.read().document).items
        self._total = len(items)
        # Boxes someone ticked before the run count as done; their probes
        # still run, so a module that fails them still blocks the task.
        self._done = sum(item.done for item in items)
        try:
            await self._claim()
            await self._start()
            for index, item in enumerate(items):
                await self._subtask(index, item.text, ticked=item.done)
            await self._finish()
        except _Stop as stop:
            ctx.trace.record(
                f"agent.{stop.outcome}", agent=self.spec.id, reason=stop.reason
            )
            return self._result(stop.outcome, stop.reason)
        ctx.trace.record("agent.completed", agent=self.spec.id, subtasks=self._done)
        return self._result("completed", None)

    # -- steps -----------------------------------------------------------

    async def _claim(self) -> None:
        ctx = self._ctx
        locks = ctx.scenario.locks
        try:
            self._lease = await ctx.locks.claim(
                self.resource, self.spec.id, locks.ttl, timeout=locks.claim_timeout
            )
        except ClaimTimeout as exc:
            raise _Stop("timed_out", str(exc)) from None
        self._held_from = self._lease.acquired_at

    async def _start(self) -> None:
        lease = self._require_lease()
        ttl = format_duration(self._ctx.scenario.locks.ttl)
        note = (
            f"Claimed {self.resource} (token {lease.token}, TTL {ttl}); "
            f"starting work on the {self.spec.role}"
        )
        await self._write(
            lambda doc: _started(doc, self.spec, self._done, self._total), note
        )

    async def _subtask(self, index: int, title: str, *, ticked: bool) -> None:
        ctx = self._ctx
        seconds = 0.0 if ticked else self._draw(ctx.scenario.work_of(self.spec))
        await self._work(seconds)
        failures = []
        probes = [
            probe
            for probe in ctx.scenario.probes.get(self.spec.module, [])
            if probe.subtask == index + 1
        ]
        for probe in probes:
            outcome = run_probe(self.spec.module, probe)
            ctx.trace.record(
                "agent.probe",
                agent=self.spec.id,
                call=outcome.call,
                passed=outcome.passed,
                detail=outcome.detail,
            )
            if outcome.passed:
                self._passed += 1
            else:
                failures.append(outcome)
        if failures:
            await self._block(title, f"{failures[0].call} {failures[0].detail}")

        ctx.trace.record(
            "agent.subtask",
            agent=self.spec.id,
            index=index + 1,
            title=title,
            worked=seconds,
            probes=len(probes),
            ticked_before=ticked,
        )
        if ticked:
            return
        self._done += 1
        done, total = self._done, self._total
        await self._write(lambda doc: _ticked(doc, self.spec, index, done, total), None)

    async def _finish(self) -> None:
        note = (
            f"Completed {self.spec.module}.py: {self._done}/{self._total} subtasks, "
            f"{self._passed} probes passing; releasing {self.resource}"
        )
        await self._write(lambda doc: _completed(doc, self.spec), note)
        self._release()

    async def _block(self, title: str, detail: str) -> None:
        reason = f"{self._label} ({self.spec.id}) blocked on '{title}': {detail}"
        await self._write(
            lambda doc: _blocked(doc, self.spec, reason),
            f"Blocked on '{title}': {detail}",
        )
        self._release()
        raise _Stop("blocked", reason)

    # -- time and the lease ----------------------------------------------

    async def _work(self, seconds: float) -> None:
        """Spend ``seconds`` of virtual time, renewing the lease as needed."""
        clock, locks = self._ctx.clock, self._ctx.scenario.locks
        end = clock.time() + seconds
        while (now := clock.time()) < end:
            lease = self._require_lease()
            renew_at = lease.expires_at - locks.renew_margin
            if now >= renew_at:
                try:
                    self._lease = self._ctx.locks.renew(
                        self.resource, self.spec.id, locks.ttl
                    )
                except (LeaseExpired, NotHolder) as exc:
                    raise _Stop("lost_lease", str(exc)) from None
                continue
            await anyio.sleep(min(end, renew_at) - now)

    def _release(self) -> None:
        try:
            self._ctx.locks.release(self.resource, self.spec.id)
        except (LeaseExpired, NotHolder) as exc:
            raise _Stop("lost_lease", str(exc)) from None
        self._held_to = self._ctx.clock.time()
        self._lease = None

    def _require_lease(self) -> Lease:
        assert self._lease is not None, "agent works without a lease"
        return self._lease

    # -- the document ----------------------------------------------------

    async def _write(
        self, change: Callable[[AgencyDocument], AgencyDocument], note: str | None
    ) -> None:
        ctx = self._ctx
        now = ctx.clock.now()
        lease = self._require_lease()
        fenced = ctx.scenario.locks.mode is LockMode.SAFE
        fence = Fence(self.resource, lease.token) if fenced else None

        def apply(doc: AgencyDocument) -> AgencyDocument:
            return _stamped(change(doc), self.spec, now, note)

        try:
            await ctx.store.edit(apply, writer=self.spec.id, fence=fence)
        except StaleToken as exc:
            raise _Stop("lost_lease", str(exc)) from None
        if note is not None:
            self._notes += 1
            ctx.trace.record("agent.note", agent=self.spec.id, text=note)

    def _task(self, doc: AgencyDocument) -> Task:
        # The engine checked before the run that every agent's task exists.
        return doc.task(self.spec.task)

    # -- helpers ---------------------------------------------------------

    def _draw(self, span: Range) -> float:
        # Whole seconds keep timestamps and the trace readable.
        if span.min == span.max:
            return span.min
        return float(round(self._rng.uniform(span.min, span.max)))

    def _result(self, outcome: Outcome, reason: str | None) -> AgentResult:
        return AgentResult(
            agent=self.spec.id,
            outcome=outcome,
            held_from=self._held_from,
            held_to=self._held_to,
            subtasks_done=self._done,
            subtasks_total=self._total,
            notes_written=self._notes,
            probes_passed=self._passed,
            reason=reason,
        )


# The edits an agent makes, as plain functions of the document, so a run's
# whole sequence can be rehearsed on a copy before it starts.


def _started(
    doc: AgencyDocument, spec: AgentSpec, done: int, total: int
) -> AgencyDocument:
    doc = doc.set_progress(
        spec.task, status=TaskStatus.IN_PROGRESS, owner=spec.id, done=done, total=total
    )
    if doc.status == "pending":
        doc = doc.set_field("status", "in_progress")
    return doc


def _ticked(
    doc: AgencyDocument, spec: AgentSpec, index: int, done: int, total: int
) -> AgencyDocument:
    doc = doc.tick(spec.task, index)
    return doc.set_progress(spec.task, done=done, total=total)


def _completed(doc: AgencyDocument, spec: AgentSpec) -> AgencyDocument:
    doc = doc.set_progress(spec.task, status=TaskStatus.COMPLETE)
    finished = all(p.status is TaskStatus.COMPLETE for p in doc.progress)
    if finished and not doc.blocked:
        doc = doc.set_field("status", "completed")
    return doc


def _blocked(doc: AgencyDocument, spec: AgentSpec, reason: str) -> AgencyDocument:
    doc = doc.set_progress(spec.task, status=TaskStatus.BLOCKED)
    return doc.set_fields(status="blocked", blocked=True, blocking_reason=reason)


def _stamped(
    doc: AgencyDocument, spec: AgentSpec, now: datetime, note: str | None
) -> AgencyDocument:
    if note is not None:
        doc = doc.append_note(
            format_date(now, "note"), spec.name, f"Agent {spec.task}", note
        )
    return doc.set_field("last_updated", now)


def rehearse(document: AgencyDocument, spec: AgentSpec, at: datetime) -> None:
    """Apply every edit an agent of ``spec`` can make in a run, on a copy.

    Used before a run, so that a document the agent could not keep current
    is refused up front instead of failing half-way.

    Raises:
        DocumentError, ValueError: an edit does not apply, or leaves a
            document that does not parse.
    """
    total = len(document.task(spec.task).items)
    doc = _stamped(_started(document, spec, 0, total), spec, at, "rehearsal")
    for index in range(total):
        doc = _stamped(_ticked(doc, spec, index, index + 1, total), spec, at, None)
    for end in (_completed(doc, spec), _blocked(doc, spec, "rehearsal")):
        AgencyDocument.parse(_stamped(end, spec, at, "rehearsal").text)
