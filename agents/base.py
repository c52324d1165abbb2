"""The behaviour every simulated agent shares.

An agent with a task does what the seed's approaches ask of a real one,
under the scenario's ``coordination``:

1. get the right to work on its task: a lease per task (``lease`` and
   ``combined``), its name in the task's ``Owner`` field (``owner-field``,
   check then set), or nothing but a note saying it starts (``git-only``);
2. read the task from AGENCY.md (boxes already ticked, e.g. by an agent
   that crashed, count as done; a complete task is skipped);
3. for each subtask: spend the seeded virtual time (renewing a lease
   before it runs out), run the scenario's probes for that subtask against
   the real module in ``utils/``, tick the box and update its progress;
4. write a completion note, mark the task complete (and the project
   complete when it was the last task), and release what it holds (under
   ``owner-field`` the same write sets the Owner field back to ``null``).

A failing probe stops the agent: the task is marked blocked, the reason goes
into the frontmatter (``blocked: true``, ``blocking_reason``), a note says
why, and the lease is released. Notes are written under every approach but
``lease``.

A job agent (no task, as in a swarm) only claims its resource, holds it for
one draw of work, and releases it.

Every write goes through the scenario's write mode (atomic, naive
read-modify-write, or optimistic with a retry on a changed revision), and
under a lease it carries the lease's fencing token: the store refuses a
stale one in safe lock mode and only records it in loose mode.

Faults strike at virtual times or at named points (``start``, ``claim``,
``subtask N``). The agent keeps its own idea of time: it starts equal to
the run's clock, a stall hides the frozen span from it, and clock skew
shifts and stretches it. Renewal decisions use that idea; only the lock
manager's clock decides expiry.

The document edits are plain functions at the end of this module, so that
:func:`rehearse` can apply a whole run's worth of them to a copy before the
run starts.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import anyio

from agency.clock import Clock
from agency.document import AgencyDocument, TaskStatus
from agency.errors import (
    ClaimTimeout,
    LeaseExpired,
    NotHolder,
    RevisionConflict,
    StaleToken,
)
from agency.locks import Lease, LockManager
from agency.scenario import (
    AgentSpec,
    Approach,
    Fault,
    FaultKind,
    Outcome,
    Range,
    Scenario,
    WriteMode,
)
from agency.store import DocumentStore, Fence
from agency.trace import Trace
from agents.probes import run_probe
from utils.formatters import format_date, format_duration

__all__ = ["Agent", "AgentContext", "AgentResult", "Outcome", "rehearse"]


# An optimistic writer that keeps losing the race gives up after this many
# tries, rather than retrying for ever.
_MAX_WRITE_TRIES = 100
# Backoff doubles per retry up to this factor, and never waits over an hour.
_MAX_BACKOFF_DOUBLINGS = 6
_MAX_BACKOFF = 3600.0


@dataclass(frozen=True, slots=True)
class AgentContext:
    """What the engine hands each agent: the shared world of one run."""

    scenario: Scenario
    clock: Clock
    locks: LockManager
    store: DocumentStore
    trace: Trace
    #: The scenario's faults by agent id, in file order; built once, since
    #: a swarm has as many agents as faults to sort out.
    faults: Mapping[str, Sequence[Fault]] = field(init=False)

    def __post_init__(self) -> None:
        by_agent: dict[str, list[Fault]] = {}
        for fault in self.scenario.faults:
            by_agent.setdefault(fault.agent, []).append(fault)
        object.__setattr__(self, "faults", by_agent)


@dataclass(frozen=True, slots=True)
class AgentResult:
    """How one agent's run ended.

    Attributes:
        agent: the agent's id.
        outcome: completed; skipped (its task was already complete);
            blocked (a probe failed); timed_out (never got its task);
            lost_lease (its lease ran out under it, or its write was
            refused as stale); crashed (a fault); stopped (still at work
            when the run reached its horizon).
        held_from, held_to: clock times of its first claim and its release
            (None if it never held its task, or never let go).
        subtasks_done: boxes ticked when it stopped (including those ticked
            before it started).
        subtasks_total: boxes in its task's checklist (1 for a job).
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


class _Taken(Exception):
    """The task's Owner field names someone else, or the task is done."""

    def __init__(self, owner: str | None, *, complete: bool = False):
        super().__init__(owner)
        self.owner = owner
        self.complete = complete


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
        scenario = context.scenario
        self.resource = scenario.resource_of(spec)
        self._approach = scenario.coordination
        self._label = f"Agent {spec.task}"
        self._lease: Lease | None = None
        # When the lease runs out, on the agent's own clock.
        self._deadline = 0.0
        self._owns_field = False
        self._held_from: float | None = None
        self._held_to: float | None = None
        self._done = 0
        self._total = 0
        self._notes = 0
        self._passed = 0
        # Faults: timed ones in order of time (then of the file), the rest
        # by the point of work that sets them off.
        mine = context.faults.get(spec.id, ())
        self._timed = sorted(
            (f for f in mine if f.at is not None),
            key=lambda f: f.at if f.at is not None else 0.0,
        )
        self._on_point = [f for f in mine if f.after is not None]
        self._slow_writes: list[float] = []
        self._lost_reply = False
        # The agent's own clock: believed = base + (t - since) * (1 + drift).
        self._since = 0.0
        self._base = 0.0
        self._drift = 0.0

    async def run(self) -> AgentResult:
        """Do the whole task (or job) and say how it ended."""
        ctx = self._ctx
        try:
            await self._pause(self._draw(self.spec.start_after))
            ctx.trace.record(
                "agent.started",
                agent=self.spec.id,
                task=self.spec.task,
                resource=self.resource,
            )
            await self._point("start")
            if self.spec.task is None:
                await self._job()
            else:
                await self._build()
        except _Stop as stop:
            ctx.trace.record(
                f"agent.{stop.outcome}", agent=self.spec.id, reason=stop.reason
            )
            return self._result(stop.outcome, stop.reason)
        ctx.trace.record("agent.completed", agent=self.spec.id, subtasks=self._done)
        return self._result("completed", None)

    def stopped(self, reason: str) -> AgentResult:
        """Record that the engine stopped this agent, and say how far it got."""
        self._ctx.trace.record("agent.stopped", agent=self.spec.id, reason=reason)
        return self._result("stopped", reason)

    # -- a task ----------------------------------------------------------

    async def _build(self) -> None:
        ctx, task = self._ctx, self._task_letter()
        await self._acquire()
        await self._point("claim")
        doc = ctx.store.read().document
        if doc.progress_of(task).status is TaskStatus.COMPLETE:
            self._release()
            raise _Stop("skipped", f"Task {task} is already complete")
        items = doc.task(task).items
        self._total = len(items)
        # Boxes ticked before it started count as done; their probes still
        # run, so a module that fails them still blocks the task.
        self._done = sum(item.done for item in items)
        if self._approach is not Approach.OWNER_FIELD:
            await self._start()  # the owner-field claim was the start
        for index, item in enumerate(items):
            await self._subtask(index, item.text, ticked=item.done)
            await self._point(f"subtask {index + 1}")
        await self._finish()

    async def _job(self) -> None:
        await self._claim_lease()
        await self._point("claim")
        self._total = 1
        await self._work(self._draw(self._ctx.scenario.work_of(self.spec)))
        self._done = 1
        self._release()

    async def _acquire(self) -> None:
        if self._approach.uses_leases:
            await self._claim_lease()
        elif self._approach is Approach.OWNER_FIELD:
            await self._claim_owner_field()

    async def _claim_lease(self) -> None:
        ctx = self._ctx
        locks = ctx.scenario.locks
        try:
            lease = await ctx.locks.claim(
                self.resource, self.spec.id, locks.ttl, timeout=locks.claim_timeout
            )
            if self._lost_reply:
                # The grant happened; the agent never heard of it.
                self._lost_reply = False
                ctx.trace.record(
                    "fault.lost_reply",
                    agent=self.spec.id,
                    resource=self.resource,
                    token=lease.token,
                )
                await self._pause(self._draw(ctx.scenario.writes.retry))
                ctx.trace.record(
                    "agent.retry", agent=self.spec.id, reason="no reply to its claim"
                )
                lease = await ctx.locks.claim(
                    self.resource, self.spec.id, locks.ttl, timeout=locks.claim_timeout
                )
        except ClaimTimeout as exc:
            raise _Stop("timed_out", str(exc)) from None
        self._hold(lease)
        self._held_from = lease.acquired_at

    async def _claim_owner_field(self) -> None:
        ctx, task = self._ctx, self._task_letter()
        timeout = ctx.scenario.locks.claim_timeout
        began = ctx.clock.time()
        note = (
            f"Claimed Task {task} through its Owner field; "
            f"starting work on the {self.spec.role}"
        )
        for attempt in range(_MAX_WRITE_TRIES):
            try:
                await self._write(self._take_owner_field, note)
            except _Taken as taken:
                if taken.complete:
                    raise _Stop("skipped", f"Task {task} is already complete") from None
                waited = ctx.clock.time() - began
                if timeout is not None and waited >= timeout:
                    raise _Stop(
                        "timed_out",
                        f"Task {task} stayed owned by {taken.owner} for "
                        f"{format_duration(waited)}",
                    ) from None
                ctx.trace.record(
                    "agent.retry",
                    agent=self.spec.id,
                    reason=f"Task {task} is owned by {taken.owner}",
                )
                await self._pause(self._backoff(attempt))
                continue
            self._owns_field = True
            self._held_from = ctx.clock.time()
            ctx.trace.record(
                "owner.claimed", agent=self.spec.id, resource=self.resource, task=task
            )
            return
        raise _Stop("timed_out", f"Task {task} stayed owned by someone else")

    def _take_owner_field(self, doc: AgencyDocument) -> AgencyDocument:
        # Check, then set: the check sees the document this write is based
        # on, which a naive writer read some time ago.
        task = self._task_letter()
        progress = doc.progress_of(task)
        if progress.status is TaskStatus.COMPLETE:
            raise _Taken(progress.owner, complete=True)
        if progress.owner not in (None, "null", self.spec.id):
            raise _Taken(progress.owner)
        items = doc.task(task).items
        return _started(doc, self.spec, sum(i.done for i in items), len(items))

    async def _start(self) -> None:
        task = self._task_letter()
        if self._lease is not None:
            ttl = format_duration(self._ctx.scenario.locks.ttl)
            note = (
                f"Claimed {self.resource} (token {self._lease.token}, TTL {ttl}); "
                f"starting work on the {self.spec.role}"
            )
        else:
            note = f"Claiming Task {task}; starting work on the {self.spec.role}"
        done, total = self._done, self._total
        await self._write(lambda doc: _started(doc, self.spec, done, total), note)

    async def _subtask(self, index: int, title: str, *, ticked: bool) -> None:
        ctx = self._ctx
        module = self.spec.module
        assert module is not None, "a task agent builds a module"
        seconds = 0.0 if ticked else self._draw(ctx.scenario.work_of(self.spec))
        await self._work(seconds)
        failures = []
        probes = [
            probe
            for probe in ctx.scenario.probes.get(module, [])
            if probe.subtask == index + 1
        ]
        for probe in probes:
            outcome = run_probe(module, probe)
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
        task = self._task_letter()
        await self._write(lambda doc: _ticked(doc, task, index, done, total), None)

    async def _finish(self) -> None:
        note = (
            f"Completed {self.spec.module}.py: {self._done}/{self._total} subtasks, "
            f"{self._passed} probes passing"
        )
        if self._lease is not None:
            note += f"; releasing {self.resource}"
        task, disown = self._task_letter(), self._owns_field
        await self._write(
            lambda doc: _disowned(_completed(doc, task), task, disown), note
        )
        self._release()

    async def _block(self, title: str, detail: str) -> None:
        reason = f"{self._label} ({self.spec.id}) blocked on '{title}': {detail}"
        task, disown = self._task_letter(), self._owns_field
        await self._write(
            lambda doc: _disowned(_blocked(doc, task, reason), task, disown),
            f"Blocked on '{title}': {detail}",
        )
        self._release()
        raise _Stop("blocked", reason)

    # -- time and the lease ----------------------------------------------

    async def _work(self, seconds: float) -> None:
        """Spend ``seconds`` of work, renewing the lease when it believes due."""
        margin = self._ctx.scenario.locks.renew_margin
        remaining = seconds
        while remaining > 0:
            step = remaining
            if self._lease is not None:
                renew_at = self._deadline - margin
                ahead = (renew_at - self._believed()) / (1 + self._drift)
                if ahead <= 0:
                    self._renew()
                    continue
                step = min(remaining, ahead)
                if self._timed:
                    # A timed fault (a clock skew above all) changes the
                    # plan: work up to it, let it strike, then plan again.
                    due = self._timed[0].at or 0.0
                    step = min(step, max(0.0, due - self._ctx.clock.time()))
            await self._pause(step)
            remaining -= step

    def _renew(self) -> None:
        ctx, locks = self._ctx, self._ctx.scenario.locks
        try:
            self._hold(ctx.locks.renew(self.resource, self.spec.id, locks.ttl))
        except (LeaseExpired, NotHolder) as exc:
            raise _Stop("lost_lease", str(exc)) from None

    def _hold(self, lease: Lease) -> None:
        # A reply says how long the lease lasts; the agent counts that on
        # its own clock, so a clock that later jumps or runs slow makes it
        # renew too late.
        self._lease = lease
        self._deadline = self._believed() + lease.remaining(self._ctx.clock.time())

    def _release(self) -> None:
        ctx = self._ctx
        if self._lease is not None:
            # In loose mode the manager releases whoever holds the resource
            # (the seed server's DELETE /release/{id}); the caller's name
            # only goes into the trace.
            try:
                ctx.locks.release(self.resource, self.spec.id)
            except (LeaseExpired, NotHolder) as exc:
                raise _Stop("lost_lease", str(exc)) from None
            self._lease = None
            self._held_to = ctx.clock.time()
        elif self._owns_field:
            # The Owner field was cleared by the last write (_disowned).
            ctx.trace.record(
                "owner.released",
                agent=self.spec.id,
                resource=self.resource,
                task=self.spec.task,
            )
            self._owns_field = False
            self._held_to = ctx.clock.time()

    def _believed(self) -> float:
        """The agent's own idea of the clock time now."""
        return self._base + (self._ctx.clock.time() - self._since) * (1 + self._drift)

    # -- faults ----------------------------------------------------------

    async def _pause(self, seconds: float) -> None:
        """Let ``seconds`` pass, firing the timed faults that fall in them.

        A stall lengthens the pause by its duration: the agent was frozen,
        and what it was doing still takes as long.
        """
        clock = self._ctx.clock
        end = clock.time() + seconds
        while self._timed and (due := self._timed[0].at or 0.0) <= end:
            fault = self._timed.pop(0)
            if due > clock.time():
                await anyio.sleep(due - clock.time())
            end += await self._fire(fault)
        await anyio.sleep(max(0.0, end - clock.time()))

    async def _point(self, point: str) -> None:
        """Fire the faults set off by reaching ``point`` of the work."""
        for fault in [f for f in self._on_point if f.after == point]:
            self._on_point.remove(fault)
            await self._fire(fault)

    async def _fire(self, fault: Fault) -> float:
        """Apply ``fault``; return how long it froze the agent."""
        ctx, me = self._ctx, self.spec.id
        when = f"after {fault.after}" if fault.after else f"at t={fault.at:g}s"
        match fault.kind:
            case FaultKind.CRASH:
                ctx.trace.record("fault.crash", agent=me, resource=self.resource)
                raise _Stop("crashed", f"crashed ({when})")
            case FaultKind.STALL:
                duration = fault.duration or 0.0
                ctx.trace.record(
                    "fault.stall", agent=me, resource=self.resource, duration=duration
                )
                believed = self._believed()
                await anyio.sleep(duration)
                # Frozen, it saw no time pass: its clock resumes where it was.
                self._since, self._base = ctx.clock.time(), believed
                ctx.trace.record("fault.stall_end", agent=me, resource=self.resource)
                return duration
            case FaultKind.SLOW_WRITE:
                delay = fault.duration or 0.0
                self._slow_writes.extend([delay] * fault.count)
                ctx.trace.record(
                    "fault.slow_write", agent=me, delay=delay, count=fault.count
                )
            case FaultKind.CLOCK_SKEW:
                believed = self._believed() + fault.offset
                self._since, self._base = ctx.clock.time(), believed
                self._drift = fault.drift
                ctx.trace.record(
                    "fault.clock_skew",
                    agent=me,
                    offset=fault.offset,
                    drift=fault.drift,
                )
            case FaultKind.LOST_REPLY:
                self._lost_reply = True
                ctx.trace.record("fault.lost_reply_armed", agent=me)
        return 0.0

    # -- the document ----------------------------------------------------

    async def _write(
        self, change: Callable[[AgencyDocument], AgencyDocument], note: str | None
    ) -> None:
        """Write ``change`` (and ``note``) to AGENCY.md in the scenario's mode.

        The edit (its note, ``last_updated``) is stamped with the time of
        the read it is based on; an optimistic retry reads again and so
        stamps again, and notes stay in time order.

        Under the ``lease`` approach ``note`` is dropped: that approach
        keeps progress in the document and its coordination in the lock
        manager, and writes no notes.

        Raises:
            _Stop: the store refused the write as stale, or an optimistic
                writer lost the race too often.
            _Taken: from ``change``, passed on.
        """
        ctx = self._ctx
        if self._approach is Approach.LEASE:
            note = None
        settings = ctx.scenario.writes
        lease = self._lease
        fence = Fence(self.resource, lease.token) if lease is not None else None
        delay = self._draw(settings.edit_time)
        if self._slow_writes:
            delay += self._slow_writes.pop(0)

        def apply(doc: AgencyDocument, read_at: datetime) -> AgencyDocument:
            return _stamped(change(doc), self.spec, read_at, note)

        try:
            for attempt in range(_MAX_WRITE_TRIES):
                if settings.mode is WriteMode.ATOMIC:
                    await self._pause(delay)
                    await ctx.store.edit(
                        lambda doc: apply(doc, ctx.clock.now()),
                        writer=self.spec.id,
                        fence=fence,
                    )
                    break
                read, read_at = ctx.store.read(), ctx.clock.now()
                await self._pause(delay)
                expected = (
                    read.revision if settings.mode is WriteMode.OPTIMISTIC else None
                )
                try:
                    await ctx.store.write(
                        apply(read.document, read_at),
                        writer=self.spec.id,
                        fence=fence,
                        expected_revision=expected,
                        based_on=read.revision,
                    )
                    break
                except RevisionConflict as exc:
                    ctx.trace.record(
                        "agent.retry",
                        agent=self.spec.id,
                        reason=f"AGENCY.md moved on to revision {exc.actual}",
                    )
                    await self._pause(self._backoff(attempt))
                    delay = self._draw(settings.edit_time)
            else:
                raise _Stop("timed_out", "AGENCY.md kept changing under its writes")
        except StaleToken as exc:
            raise _Stop("lost_lease", str(exc)) from None
        if note is not None:
            self._notes += 1
            ctx.trace.record("agent.note", agent=self.spec.id, text=note)

    def _task_letter(self) -> str:
        assert self.spec.task is not None, "a job agent has no task"
        return self.spec.task

    # -- helpers ---------------------------------------------------------

    def _draw(self, span: Range) -> float:
        # Whole seconds keep timestamps and the trace readable.
        if span.min == span.max:
            return span.min
        return float(round(self._rng.uniform(span.min, span.max)))

    def _backoff(self, attempt: int) -> float:
        base = self._draw(self._ctx.scenario.writes.retry)
        return min(
            base * float(2 ** min(attempt, _MAX_BACKOFF_DOUBLINGS)), _MAX_BACKOFF
        )

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
    assert spec.task is not None, "a job agent edits nothing"
    doc = doc.set_progress(
        spec.task, status=TaskStatus.IN_PROGRESS, owner=spec.id, done=done, total=total
    )
    if doc.status == "pending":
        doc = doc.set_field("status", "in_progress")
    return doc


def _ticked(
    doc: AgencyDocument, task: str, index: int, done: int, total: int
) -> AgencyDocument:
    doc = doc.tick(task, index)
    return doc.set_progress(task, done=done, total=total)


def _completed(doc: AgencyDocument, task: str) -> AgencyDocument:
    doc = doc.set_progress(task, status=TaskStatus.COMPLETE)
    finished = all(p.status is TaskStatus.COMPLETE for p in doc.progress)
    if finished and not doc.blocked:
        doc = doc.set_field("status", "completed")
    return doc


def _blocked(doc: AgencyDocument, task: str, reason: str) -> AgencyDocument:
    doc = doc.set_progress(task, status=TaskStatus.BLOCKED)
    return doc.set_fields(status="blocked", blocked=True, blocking_reason=reason)


def _disowned(doc: AgencyDocument, task: str, disown: bool) -> AgencyDocument:
    # Releasing an Owner-field claim writes the field back to `null`.
    return doc.set_progress(task, owner=None) if disown else doc


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
    is refused up front instead of failing half-way. A job agent makes no
    edits.

    Raises:
        DocumentError, ValueError: an edit does not apply, or leaves a
            document that does not parse.
    """
    task = spec.task
    if task is None:
        return
    total = len(document.task(task).items)
    doc = _stamped(_started(document, spec, 0, total), spec, at, "rehearsal")
    for index in range(total):
        doc = _stamped(_ticked(doc, task, index, index + 1, total), spec, at, None)
    for end in (_completed(doc, task), _blocked(doc, task, "rehearsal")):
        end = _disowned(end, task, True)
        AgencyDocument.parse(_stamped(end, spec, at, "rehearsal").text)
