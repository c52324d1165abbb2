"""The lock manager against a reference model, driven by Hypothesis.

A :class:`~hypothesis.stateful.RuleBasedStateMachine` makes random calls on
a real :class:`LockManager` (try-claim, claim-with-wait, renew, extend,
release, cancelling a waiter, letting virtual time pass) and makes the same
moves on :class:`ReferenceLocks`, a few dicts and lists that say what the
manager should do. After every step the two must agree on the live leases,
the statistics, the outcome of every call, and the ``lease.*`` events in
the trace, timestamps included; and the trace must show at most one live
lease per resource and fencing tokens that only grow.

The manager runs on the project's virtual loop, kept open for the whole
example: letting time pass is an ``asyncio.sleep`` on that loop, so expiry
timers and claim timeouts fire at their exact instants, as in a run.

Times are multiples of half a second and TTLs whole seconds, so every sum
the manager and the model compute is exact in binary floating point and
they can be compared with ``==``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from agency.clock import Clock, VirtualEventLoop
from agency.errors import (
    ClaimTimeout,
    InvalidArgument,
    LeaseConflict,
    LeaseExpired,
    LockError,
    NotHolder,
)
from agency.locks import Lease, LockManager, LockMode, LockStatistics
from agency.trace import JSONValue, Trace

T = TypeVar("T")
EPOCH = datetime(2025, 11, 23, 10, 0, tzinfo=UTC)
# Few names, so that steps collide on the same resource and owner often.
RESOURCES = ("r1", "r2")
OWNERS = ("agent-a", "agent-b", "agent-c")
COUNTERS = (
    "claims",
    "reclaims",
    "conflicts",
    "renewals",
    "releases",
    "expiries",
    "timeouts",
)
# Loop iterations to let woken claim tasks finish at the same virtual
# instant: a claim with a zero timeout needs two to queue and give up, so
# four leave a margin. sleep(0) never moves the virtual clock: the sleeping
# task itself is ready, so the loop does not jump.
SETTLE_ROUNDS = 4
# A step takes a handful of loop iterations. One that takes this many is
# stuck: a timer re-armed for an instant already past keeps the virtual
# clock from moving. Stop it as a failure rather than hang the suite.
STEP_ITERATIONS = 10_000

resources = st.sampled_from(RESOURCES)
owners = st.sampled_from(OWNERS)
ttls = st.integers(min_value=1, max_value=60)
# Shorter than most TTLs, so that waiters do give up as well as get served.
timeouts = st.none() | st.integers(min_value=0, max_value=20)
durations = st.integers(min_value=0, max_value=120).map(lambda n: n / 2)
# Most calls succeed only for the holder, which a random owner would rarely
# be: HOLDER stands for whoever holds the resource at that step (agent-a if
# nobody does). One draw rather than an owner and a flag: drawing dominates
# the cost of a step.
HOLDER = "holder"
callers = st.sampled_from((HOLDER, *OWNERS))

# What a call should come to: a lease, or the error it should raise
# (compared by type and message). CancelledError stands for a waiter the
# test cancelled.
Outcome = Lease | BaseException
EventKey = tuple[float, str, str | None, str | None, dict[str, JSONValue]]


class Held(NamedTuple):
    """The model's record of a live lease."""

    owner: str
    token: int
    acquired_at: float
    expires_at: float


@dataclass(eq=False)
class Waiter:
    """One claim-with-wait: the task running it and what it should return."""

    resource: str
    owner: str
    ttl: float
    timeout: int | None
    since: float
    task: asyncio.Task[Lease]
    expected: Outcome | None = None

    @property
    def deadline(self) -> float:
        return math.inf if self.timeout is None else self.since + self.timeout


class ReferenceLocks:
    """What the lock manager should do, written as plainly as possible.

    Every method mirrors one manager operation at the model's current time
    and returns what the manager should return or raise, recording the
    events it should record and counting what it should count.
    """

    def __init__(self, mode: LockMode):
        self.mode = mode
        self.now = 0.0
        self.leases: dict[str, Held] = {}
        self.queues: dict[str, list[Waiter]] = {name: [] for name in RESOURCES}
        self.last_expired: dict[tuple[str, str], float] = {}
        self.next_token = 1
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.events: list[EventKey] = []

    # -- what the manager's queries should say ---------------------------

    def lease(self, resource: str) -> Lease | None:
        held = self.leases.get(resource)
        return None if held is None else Lease(resource, *held)

    def reservations(self) -> list[Lease]:
        return [Lease(name, *self.leases[name]) for name in sorted(self.leases)]

    def statistics(self) -> LockStatistics:
        return LockStatistics(
            held=len(self.leases),
            waiting=sum(len(queue) for queue in self.queues.values()),
            **self.counts,
        )

    def instants(self) -> list[float]:
        """The coming instants at which something is due: the edge cases."""
        due = {held.expires_at for held in self.leases.values()}
        due.update(
            waiter.deadline
            for queue in self.queues.values()
            for waiter in queue
            if waiter.timeout is not None
        )
        return sorted(due)

    # -- operations ------------------------------------------------------

    def try_claim(self, resource: str, owner: str, ttl: float) -> Outcome:
        held = self.leases.get(resource)
        if held is None:
            return self._grant(resource, owner, ttl, waited=None)
        if self.mode is LockMode.SAFE and held.owner == owner:
            return self._reclaim(resource, held)
        self.counts["conflicts"] += 1
        self._event(
            "lease.conflict",
            owner,
            resource,
            holder=held.owner,
            expires_at=held.expires_at,
        )
        return LeaseConflict(resource, held.owner, held.expires_at)

    def claim(self, waiter: Waiter) -> None:
        """Grant, reclaim or queue; a zero timeout gives up at once."""
        resource, owner = waiter.resource, waiter.owner
        held = self.leases.get(resource)
        if held is None:
            waiter.expected = self._grant(resource, owner, waiter.ttl, waited=None)
        elif self.mode is LockMode.SAFE and held.owner == owner:
            waiter.expected = self._reclaim(resource, held)
        else:
            queue = self.queues[resource]
            queue.append(waiter)
            self._event(
                "lease.waiting",
                owner,
                resource,
                holder=held.owner,
                position=len(queue),
            )
            self.advance_to(self.now)

    def renew(self, resource: str, owner: str, ttl: float) -> Outcome:
        held = self.leases.get(resource)
        if held is None or held.owner != owner:
            return self._not_holder(resource, owner, held)
        return self._renewed(resource, held, self.now + ttl)

    def extend(self, resource: str, owner: str, by: float) -> Outcome:
        held = self.leases.get(resource)
        if held is None or held.owner != owner:
            return self._not_holder(resource, owner, held)
        return self._renewed(resource, held, held.expires_at + by)

    def release(self, resource: str, owner: str | None) -> Outcome:
        held = self.leases.get(resource)
        if owner is None:
            if self.mode is LockMode.SAFE:
                return InvalidArgument("safe mode releases need the owner's name")
            if held is None:
                return NotHolder(resource, "(anyone)", None)
        elif held is None or (self.mode is LockMode.SAFE and held.owner != owner):
            return self._not_holder(resource, owner, held)
        assert held is not None
        del self.leases[resource]
        self.counts["releases"] += 1
        self._event(
            "lease.released",
            held.owner if owner is None else owner,
            resource,
            token=held.token,
            holder=held.owner,
        )
        self._hand_over(resource)
        return Lease(resource, *held)

    def cancel(self, waiter: Waiter) -> None:
        self.queues[waiter.resource].remove(waiter)
        waiter.expected = asyncio.CancelledError()

    def advance_to(self, until: float) -> None:
        """Let time pass to ``until``, firing what falls due on the way.

        At one instant, expiries go first, in token order, each handing the
        resource to its first waiter; then waiters whose timeout ends there
        give up. So a waiter whose deadline is the holder's expiry instant
        gets the lease.
        """
        while True:
            expiring = [
                (held.expires_at, held.token, name)
                for name, held in self.leases.items()
                if held.expires_at <= until
            ]
            giving_up = [
                waiter
                for queue in self.queues.values()
                for waiter in queue
                if waiter.deadline <= until
            ]
            deadline = min((w.deadline for w in giving_up), default=math.inf)
            if expiring and min(expiring)[0] <= deadline:
                expires_at, _, name = min(expiring)
                self.now = expires_at
                self._expire(name)
            elif giving_up:
                self.now = deadline
                for waiter in giving_up:
                    if waiter.deadline == deadline:
                        self._time_out(waiter)
            else:
                break
        self.now = until

    # -- internals -------------------------------------------------------

    def _grant(
        self, resource: str, owner: str, ttl: float, *, waited: float | None
    ) -> Lease:
        held = Held(owner, self.next_token, self.now, self.now + ttl)
        self.next_token += 1
        self.leases[resource] = held
        self.counts["claims"] += 1
        extra: dict[str, JSONValue] = {} if waited is None else {"waited": waited}
        self._event(
            "lease.claimed",
            owner,
            resource,
            token=held.token,
            expires_at=held.expires_at,
            **extra,
        )
        return Lease(resource, *held)

    def _reclaim(self, resource: str, held: Held) -> Lease:
        self.counts["reclaims"] += 1
        self._event(
            "lease.reclaimed",
            held.owner,
            resource,
            token=held.token,
            expires_at=held.expires_at,
        )
        return Lease(resource, *held)

    def _renewed(self, resource: str, held: Held, expires_at: float) -> Lease:
        renewed = held._replace(expires_at=expires_at)
        self.leases[resource] = renewed
        self.counts["renewals"] += 1
        self._event(
            "lease.renewed",
            held.owner,
            resource,
            token=held.token,
            expires_at=expires_at,
        )
        return Lease(resource, *renewed)

    def _not_holder(self, resource: str, owner: str, held: Held | None) -> Outcome:
        # A former holder of a now free resource hears "expired", so a late
        # renew can tell "too late" from "never had it".
        expired = self.last_expired.get((resource, owner))
        if held is None and expired is not None:
            return LeaseExpired(resource, owner, expired)
        return NotHolder(resource, owner, None if held is None else held.owner)

    def _expire(self, resource: str) -> None:
        held = self.leases.pop(resource)
        self.last_expired[(resource, held.owner)] = held.expires_at
        self.counts["expiries"] += 1
        self._event(
            "lease.expired",
            held.owner,
            resource,
            token=held.token,
            expires_at=held.expires_at,
        )
        self._hand_over(resource)

    def _hand_over(self, resource: str) -> None:
        queue = self.queues[resource]
        if queue:
            waiter = queue.pop(0)
            waiter.expected = self._grant(
                resource, waiter.owner, waiter.ttl, waited=self.now - waiter.since
            )

    def _time_out(self, waiter: Waiter) -> None:
        self.queues[waiter.resource].remove(waiter)
        self.counts["timeouts"] += 1
        self._event(
            "lease.timeout", waiter.owner, waiter.resource, waited=waiter.timeout
        )
        waiter.expected = ClaimTimeout(
            waiter.resource, waiter.owner, float(waiter.timeout or 0)
        )

    def _event(self, kind: str, agent: str, resource: str, **data: JSONValue) -> None:
        self.events.append((self.now, kind, agent, resource, data))


class BudgetedLoop(VirtualEventLoop):
    """The virtual loop, stopped once a step has used up its iterations.

    A watchdog callback would not do: a callback always ready keeps the
    loop from jumping the clock. Counting iterations changes nothing else.
    """

    budget: int | None = None

    def _run_once(self) -> None:
        if self.budget is not None:
            self.budget -= 1
            if self.budget <= 0:
                self.stop()  # ends the loop after this iteration
        super()._run_once()  # type: ignore[misc]


def canonical(events: list[EventKey]) -> list[EventKey]:
    """Events in order, except timeouts at one instant, sorted among themselves.

    Claim deadlines due at the same instant fire in the order of asyncio's
    timer heap, which compares deadlines only; the model does not pin that
    order down, and nothing about a run depends on it.
    """

    def key(event: EventKey) -> tuple[float, bool, str]:
        timeout = event[1] == "lease.timeout"
        return event[0], timeout, repr(event) if timeout else ""

    return sorted(events, key=key)


def same(got: object, want: Outcome) -> bool:
    if isinstance(want, Lease):
        return got == want
    return type(got) is type(want) and str(got) == str(want)


class LockMachine(RuleBasedStateMachine):
    """Random steps on a manager and the model; both must agree after each."""

    mode = LockMode.SAFE

    def __init__(self) -> None:
        super().__init__()
        # One loop for the whole example, driven with run_until_complete
        # (asyncio.Runner.run would reinstall its SIGINT handler per step,
        # which cost as much as the steps themselves).
        self.loop = BudgetedLoop()
        self.clock = Clock(EPOCH, loop=self.loop)
        self.trace = Trace(self.clock)
        self.locks = LockManager(self.clock, mode=self.mode, trace=self.trace)
        self.model = ReferenceLocks(self.mode)
        self.waiters: list[Waiter] = []
        # Trace events already compared with the model's.
        self.checked = 0

    def teardown(self) -> None:
        # Waiters still queued are cancelled and run to their end, so the
        # loop closes with no task pending. Outcomes not compared yet (a
        # step failed) are read, or asyncio would log them as unretrieved.
        for waiter in self.waiters:
            if waiter.task.done() and not waiter.task.cancelled():
                waiter.task.exception()
        pending = [w.task for w in self.waiters if not w.task.done()]
        for task in pending:
            task.cancel()
        if pending:
            gathered = asyncio.gather(*pending, return_exceptions=True)
            self.loop.run_until_complete(gathered)
        self.loop.close()

    # -- driving the loop ------------------------------------------------

    async def _settle(self) -> None:
        for _ in range(SETTLE_ROUNDS):
            await asyncio.sleep(0)

    def _on_loop(self, step: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``step`` on the virtual loop, then let woken tasks finish."""

        async def main() -> T:
            result = await step()
            await self._settle()
            return result

        task = self.loop.create_task(main())
        self.loop.budget = STEP_ITERATIONS
        try:
            return self.loop.run_until_complete(task)
        except RuntimeError:
            if self.loop.budget is None or self.loop.budget > 0:
                raise  # not the budget: the loop stopped for another reason
            # Cancel the stuck step; the cancellation needs no clock jump.
            task.cancel()
            self.loop.run_until_complete(asyncio.sleep(0))
            raise AssertionError(
                f"livelock: a step was still running after {STEP_ITERATIONS:,} "
                f"loop iterations at t={self.clock.time():g}s"
            ) from None
        finally:
            self.loop.budget = None

    def _call(self, operation: Callable[[], Lease], expected: Outcome) -> None:
        """Make one synchronous call on the loop and compare its outcome."""

        async def step() -> Lease | Exception:
            try:
                return operation()
            except (LockError, InvalidArgument) as exc:
                return exc

        got = self._on_loop(step)
        assert same(got, expected), f"got {got!r}, expected {expected!r}"

    # -- rules -----------------------------------------------------------

    def _who(self, resource: str, caller: str) -> str:
        """The owner that ``caller`` (one of ``callers``) stands for."""
        if caller != HOLDER:
            return caller
        held = self.model.leases.get(resource)
        return OWNERS[0] if held is None else held.owner

    @rule(resource=resources, caller=callers, ttl=ttls)
    def try_claim(self, resource: str, caller: str, ttl: int) -> None:
        owner = self._who(resource, caller)
        expected = self.model.try_claim(resource, owner, ttl)
        self._call(lambda: self.locks.try_claim(resource, owner, ttl), expected)

    @rule(resource=resources, caller=callers, ttl=ttls, timeout=timeouts)
    def claim(self, resource: str, caller: str, ttl: int, timeout: int | None) -> None:
        owner = self._who(resource, caller)

        async def start() -> asyncio.Task[Lease]:
            return asyncio.get_running_loop().create_task(
                self.locks.claim(resource, owner, ttl, timeout=timeout)
            )

        task = self._on_loop(start)
        waiter = Waiter(resource, owner, ttl, timeout, self.model.now, task)
        self.waiters.append(waiter)
        self.model.claim(waiter)

    @rule(resource=resources, caller=callers, ttl=ttls)
    def renew(self, resource: str, caller: str, ttl: int) -> None:
        owner = self._who(resource, caller)
        expected = self.model.renew(resource, owner, ttl)
        self._call(lambda: self.locks.renew(resource, owner, ttl), expected)

    @rule(resource=resources, caller=callers, by=ttls)
    def extend(self, resource: str, caller: str, by: int) -> None:
        owner = self._who(resource, caller)
        expected = self.model.extend(resource, owner, by)
        self._call(lambda: self.locks.extend(resource, owner, by), expected)

    @rule(resource=resources, caller=callers)
    def release(self, resource: str, caller: str) -> None:
        self._release(resource, self._who(resource, caller))

    @rule(resource=resources)
    def release_by_name(self, resource: str) -> None:
        # Loose mode releases whoever holds it; safe mode refuses to.
        self._release(resource, None)

    def _release(self, resource: str, owner: str | None) -> None:
        expected = self.model.release(resource, owner)
        self._call(lambda: self.locks.release(resource, owner), expected)

    @precondition(lambda self: any(self.model.queues.values()))
    @rule(data=st.data())
    def cancel_waiter(self, data: st.DataObject) -> None:
        queued = [w for name in RESOURCES for w in self.model.queues[name]]
        waiter = data.draw(st.sampled_from(queued))

        async def cancel() -> None:
            waiter.task.cancel()

        self._on_loop(cancel)
        self.model.cancel(waiter)

    @rule(dt=durations)
    def advance(self, dt: float) -> None:
        self._advance(self.model.now + dt)

    @precondition(lambda self: bool(self.model.instants()))
    @rule(data=st.data(), offset=st.sampled_from([0.0, -0.5, 0.5]))
    def advance_to_a_due_instant(self, data: st.DataObject, offset: float) -> None:
        # Leases are live on [acquired_at, expires_at): the instants around
        # an expiry or a claim deadline are where off-by-one bugs live.
        instant = data.draw(st.sampled_from(self.model.instants()))
        self._advance(max(self.model.now, instant + offset))

    def _advance(self, until: float) -> None:
        async def sleep() -> None:
            await asyncio.sleep(until - self.model.now)

        self._on_loop(sleep)
        self.model.advance_to(until)

    # -- invariants ------------------------------------------------------

    @invariant()
    def agrees_with_the_model(self) -> None:
        """The model's view, and one live lease and growing tokens."""
        # The trace first: the queries below expire what is due, and would
        # record a late expiry as if it were on time.
        # The lock manager is the trace's only writer here, so every event is
        # a lease event. Each step's new events are compared as a block.
        got: list[EventKey] = [
            (e.t, e.kind, e.agent, e.resource, dict(e.data))
            for e in self.trace.events[self.checked :]
        ]
        want = self.model.events[self.checked :]
        assert canonical(got) == canonical(want)
        self.checked += len(got)
        assert self.clock.time() == self.model.now

        for waiter in self.waiters:
            if waiter.expected is None:
                assert not waiter.task.done(), waiter
            elif isinstance(waiter.expected, asyncio.CancelledError):
                assert waiter.task.cancelled(), waiter
            else:
                assert waiter.task.done(), waiter
                failure = waiter.task.exception()
                result = failure or waiter.task.result()
                assert same(result, waiter.expected), (result, waiter)
        self.waiters = [w for w in self.waiters if w.expected is None]

        assert self.locks.reservations() == self.model.reservations()
        for name in RESOURCES:
            assert self.locks.status(name) == self.model.lease(name)
        assert self.locks.statistics() == self.model.statistics()

        # The safety properties, checked on the manager's own output so they
        # hold even where the model and the manager might be wrong together.
        now = self.clock.time()
        live = self.locks.reservations()
        assert len({lease.resource for lease in live}) == len(live)
        for lease in live:
            assert lease.acquired_at <= now < lease.expires_at, lease
        newest: dict[str | None, int] = {}
        for event in self.trace:
            if event.kind == "lease.claimed":
                token = event.data["token"]
                assert isinstance(token, int)
                assert token > newest.get(event.resource, 0), event
                newest[event.resource] = token


# derandomize: the same examples on every run, so the suite stays
# deterministic; deadline=None: the steps are cheap, but the first one of a
# run pays for imports and would trip a wall-clock deadline.
model_settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
)


@model_settings
class SafeLockMachine(LockMachine):
    mode = LockMode.SAFE


@model_settings
class LooseLockMachine(LockMachine):
    mode = LockMode.LOOSE


TestSafeLocks = SafeLockMachine.TestCase
TestLooseLocks = LooseLockMachine.TestCase
