"""The lock manager: leases, fencing tokens, expiry, queues and misuse."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import anyio
import pytest

from agency.clock import Clock, run
from agency.errors import (
    ClaimTimeout,
    InvalidArgument,
    LeaseConflict,
    LeaseExpired,
    NotHolder,
)
from agency.locks import Lease, LockManager, LockMode, LockStatistics
from agency.trace import JSONValue, Trace

T = TypeVar("T")
EPOCH = datetime(2025, 11, 23, 10, 0, tzinfo=UTC)
VALIDATORS = "parallel-tasks-validators"
FORMATTERS = "parallel-tasks-formatters"


def simulate(body: Callable[[LockManager, Trace], Awaitable[T]], **options: str) -> T:
    """Run ``body`` on a fresh virtual loop with a traced lock manager."""

    async def main() -> T:
        clock = Clock(EPOCH)
        trace = Trace(clock)
        return await body(LockManager(clock, trace=trace, **options), trace)

    return run(main)


def kinds(trace: Trace) -> list[tuple[float, str, str | None]]:
    return [(e.t, e.kind, e.agent) for e in trace if e.kind.startswith("lease.")]


def test_try_claim_grants_a_lease_with_the_ttl() -> None:
    async def body(locks: LockManager, trace: Trace) -> Lease:
        await anyio.sleep(10)
        return locks.try_claim(VALIDATORS, "agent-a", 1800)

    lease = simulate(body)

    assert (lease.owner, lease.token, lease.acquired_at, lease.expires_at) == (
        "agent-a",
        1,
        10.0,
        1810.0,
    )


def test_a_conflict_names_the_holder_and_its_expiry() -> None:
    async def body(locks: LockManager, trace: Trace) -> None:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        locks.try_claim(VALIDATORS, "agent-b", 1800)

    with pytest.raises(LeaseConflict) as caught:
        simulate(body)

    assert str(caught.value) == (
        "'parallel-tasks-validators' is held by 'agent-a' until t=1800s"
    )
    assert (caught.value.holder, caught.value.expires_at) == ("agent-a", 1800.0)


def test_fencing_tokens_only_grow_across_resources_and_claims() -> None:
    async def body(locks: LockManager, trace: Trace) -> list[int]:
        first = locks.try_claim(VALIDATORS, "agent-a", 60)
        second = locks.try_claim(FORMATTERS, "agent-b", 60)
        locks.release(VALIDATORS, "agent-a")
        third = locks.try_claim(VALIDATORS, "agent-c", 60)
        await anyio.sleep(60)
        fourth = locks.try_claim(FORMATTERS, "agent-b", 60)
        return [first.token, second.token, third.token, fourth.token]

    assert simulate(body) == [1, 2, 3, 4]


def test_a_lease_expires_at_exactly_its_ttl() -> None:
    """Live one millisecond before the TTL; gone, with an event, at it."""

    async def body(locks: LockManager, trace: Trace) -> tuple[object, object]:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        await anyio.sleep(1799.999)
        before = locks.status(VALIDATORS)
        await anyio.sleep(0.001)
        return before, locks.status(VALIDATORS)

    before, after = simulate(body)

    assert before is not None
    assert after is None


def test_expiry_is_an_event_recorded_at_its_instant() -> None:
    async def body(locks: LockManager, trace: Trace) -> Trace:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        await anyio.sleep(5000)
        return trace

    trace = simulate(body)

    assert kinds(trace) == [
        (0.0, "lease.claimed", "agent-a"),
        (1800.0, "lease.expired", "agent-a"),
    ]


def test_a_claim_at_the_expiry_instant_succeeds() -> None:
    async def body(locks: LockManager, trace: Trace) -> Lease:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        await anyio.sleep(1800)
        return locks.try_claim(VALIDATORS, "agent-b", 1800)

    lease = simulate(body)

    assert (lease.owner, lease.token, lease.acquired_at) == ("agent-b", 2, 1800.0)


def test_two_leases_expiring_together_expire_in_token_order() -> None:
    async def body(locks: LockManager, trace: Trace) -> Trace:
        locks.try_claim(FORMATTERS, "agent-b", 100)
        locks.try_claim(VALIDATORS, "agent-a", 100)
        await anyio.sleep(100)
        return trace

    expired = [e.resource for e in simulate(body) if e.kind == "lease.expired"]

    assert expired == [FORMATTERS, VALIDATORS]


def test_waiters_are_served_first_in_first_out() -> None:
    async def body(locks: LockManager, trace: Trace) -> list[tuple[str, float]]:
        order: list[tuple[str, float]] = []
        locks.try_claim(VALIDATORS, "agent-a", 600)

        async def wait_for(owner: str) -> None:
            lease = await locks.claim(VALIDATORS, owner, 600)
            order.append((owner, lease.acquired_at))
            await anyio.sleep(100)
            locks.release(VALIDATORS, owner)

        async with anyio.create_task_group() as group:
            for owner in ("agent-c", "agent-b", "agent-d"):
                group.start_soon(wait_for, owner)
                await anyio.sleep(1)
            await anyio.sleep(50)
            locks.release(VALIDATORS, "agent-a")
        return order

    assert simulate(body) == [
        ("agent-c", 53.0),
        ("agent-b", 153.0),
        ("agent-d", 253.0),
    ]


def test_a_newcomer_cannot_jump_the_queue() -> None:
    async def body(locks: LockManager, trace: Trace) -> None:
        locks.try_claim(VALIDATORS, "agent-a", 60)
        async with anyio.create_task_group() as group:
            group.start_soon(locks.claim, VALIDATORS, "agent-b", 60)
            await anyio.sleep(0)
            locks.release(VALIDATORS, "agent-a")
            locks.try_claim(VALIDATORS, "agent-c", 60)

    with pytest.raises(BaseException) as caught:
        simulate(body)

    assert caught.group_contains(LeaseConflict)  # type: ignore[attr-defined]


def test_a_waiter_gets_the_lease_when_the_holder_expires() -> None:
    async def body(locks: LockManager, trace: Trace) -> tuple[str, float, int]:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        lease = await locks.claim(VALIDATORS, "agent-b", 1800)
        return lease.owner, lease.acquired_at, lease.token

    assert simulate(body) == ("agent-b", 1800.0, 2)


def test_claim_with_wait_times_out_and_leaves_the_queue() -> None:
    async def body(locks: LockManager, trace: Trace) -> tuple[float, int]:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        with pytest.raises(ClaimTimeout, match=r"^'agent-b' waited 60s for"):
            await locks.claim(VALIDATORS, "agent-b", 1800, timeout=60)
        return anyio.current_time(), locks.statistics().waiting

    assert simulate(body) == (60.0, 0)


def test_a_cancelled_waiter_leaves_the_queue() -> None:
    async def body(locks: LockManager, trace: Trace) -> str:
        locks.try_claim(VALIDATORS, "agent-a", 100)
        with anyio.move_on_after(10):
            await locks.claim(VALIDATORS, "agent-b", 100)
        lease = await locks.claim(VALIDATORS, "agent-c", 100)
        return lease.owner

    assert simulate(body) == "agent-c"


def test_renew_extends_the_holders_lease_and_keeps_its_token() -> None:
    async def body(locks: LockManager, trace: Trace) -> tuple[int, float, object]:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        await anyio.sleep(1500)
        lease = locks.renew(VALIDATORS, "agent-a", 1800)
        await anyio.sleep(1000)  # past the first expiry at 1800
        return lease.token, lease.expires_at, locks.status(VALIDATORS)

    token, expires_at, status = simulate(body)

    assert (token, expires_at) == (1, 3300.0)
    assert status is not None


def test_extend_adds_to_the_current_expiry() -> None:
    async def body(locks: LockManager, trace: Trace) -> float:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        await anyio.sleep(100)
        return locks.extend(VALIDATORS, "agent-a", 600).expires_at

    assert simulate(body) == 2400.0


LeaseEvent = tuple[float, str, dict[str, JSONValue]]


def lease_events(trace: Trace) -> list[LeaseEvent]:
    return [(e.t, e.kind, dict(e.data)) for e in trace if e.kind.startswith("lease.")]


def test_safe_try_claim_by_the_holder_returns_its_lease_unchanged() -> None:
    """A retried claim keeps the tenure: same token, same expiry, no grant."""

    async def body(
        locks: LockManager, trace: Trace
    ) -> tuple[Lease, Lease, LockStatistics, list[LeaseEvent]]:
        first = locks.try_claim(VALIDATORS, "agent-a", 1800)
        await anyio.sleep(600)
        again = locks.try_claim(VALIDATORS, "agent-a", 60)  # ttl is ignored
        return first, again, locks.statistics(), lease_events(trace)

    first, again, stats, events = simulate(body)

    assert again == first
    assert events == [
        (0.0, "lease.claimed", {"token": 1, "expires_at": 1800.0}),
        (600.0, "lease.reclaimed", {"token": 1, "expires_at": 1800.0}),
    ]
    assert (stats.claims, stats.reclaims, stats.conflicts) == (1, 1, 0)


def test_safe_claim_by_the_holder_returns_at_once_without_queueing() -> None:
    async def body(
        locks: LockManager, trace: Trace
    ) -> tuple[Lease, Lease, float, LockStatistics]:
        first = locks.try_claim(VALIDATORS, "agent-a", 1800)
        await anyio.sleep(100)
        again = await locks.claim(VALIDATORS, "agent-a", 1800, timeout=0)
        return first, again, anyio.current_time(), locks.statistics()

    first, again, now, stats = simulate(body)

    assert again == first
    assert now == 100.0
    assert (stats.waiting, stats.claims, stats.reclaims) == (0, 1, 1)


def test_safe_reclaim_is_recorded_for_the_holder() -> None:
    async def body(locks: LockManager, trace: Trace) -> Trace:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        await locks.claim(VALIDATORS, "agent-a", 1800)
        return trace

    assert kinds(simulate(body)) == [
        (0.0, "lease.claimed", "agent-a"),
        (0.0, "lease.reclaimed", "agent-a"),
    ]


def test_safe_reclaim_does_not_disturb_the_queue() -> None:
    """The holder's retry neither jumps nor joins the queue of waiters."""

    async def body(locks: LockManager, trace: Trace) -> tuple[str, float, int]:
        locks.try_claim(VALIDATORS, "agent-a", 100)
        async with anyio.create_task_group() as group:
            group.start_soon(locks.claim, VALIDATORS, "agent-b", 100)
            await anyio.sleep(10)
            locks.try_claim(VALIDATORS, "agent-a", 100)
            assert locks.statistics().waiting == 1
            await anyio.sleep(90)
        lease = locks.status(VALIDATORS)
        assert lease is not None
        return lease.owner, lease.acquired_at, lease.token

    assert simulate(body) == ("agent-b", 100.0, 2)


def test_safe_claim_by_a_former_holder_is_a_new_grant() -> None:
    """Only a live lease is reclaimed: after expiry the claim gets a new token."""

    async def body(locks: LockManager, trace: Trace) -> tuple[int, float, int]:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        await anyio.sleep(1800)
        lease = locks.try_claim(VALIDATORS, "agent-a", 1800)
        return lease.token, lease.acquired_at, locks.statistics().reclaims

    assert simulate(body) == (2, 1800.0, 0)


def test_loose_try_claim_by_the_holder_conflicts_with_itself() -> None:
    """The seed server does not recognise its own client."""

    async def body(
        locks: LockManager, trace: Trace
    ) -> tuple[str, float, LockStatistics]:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        with pytest.raises(LeaseConflict) as caught:
            locks.try_claim(VALIDATORS, "agent-a", 1800)
        return caught.value.holder, caught.value.expires_at, locks.statistics()

    holder, expires_at, stats = simulate(body, mode="loose")

    assert (holder, expires_at) == ("agent-a", 1800.0)
    assert (stats.claims, stats.reclaims, stats.conflicts) == (1, 0, 1)


def test_loose_claim_by_the_holder_waits_behind_its_own_lease() -> None:
    async def body(
        locks: LockManager, trace: Trace
    ) -> tuple[int, float, float, list[tuple[float, str, str | None]]]:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        await anyio.sleep(100)
        lease = await locks.claim(VALIDATORS, "agent-a", 600)
        return lease.token, lease.acquired_at, lease.expires_at, kinds(trace)

    token, acquired_at, expires_at, events = simulate(body, mode="loose")

    assert (token, acquired_at, expires_at) == (2, 1800.0, 2400.0)
    assert events == [
        (0.0, "lease.claimed", "agent-a"),
        (100.0, "lease.waiting", "agent-a"),
        (1800.0, "lease.expired", "agent-a"),
        (1800.0, "lease.claimed", "agent-a"),
    ]


def test_only_the_holder_may_renew() -> None:
    async def body(locks: LockManager, trace: Trace) -> None:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        locks.renew(VALIDATORS, "agent-b", 1800)

    with pytest.raises(
        NotHolder, match=r"^'agent-b' does not hold .* held by 'agent-a'"
    ):
        simulate(body)


def test_renewing_after_expiry_says_the_lease_expired() -> None:
    async def body(locks: LockManager, trace: Trace) -> None:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        await anyio.sleep(1800)
        locks.renew(VALIDATORS, "agent-a", 1800)

    with pytest.raises(LeaseExpired, match=r"expired at t=1800s$"):
        simulate(body)


def test_releasing_a_lease_you_do_not_hold_is_refused() -> None:
    async def body(locks: LockManager, trace: Trace) -> None:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        locks.release(VALIDATORS, "agent-b")

    with pytest.raises(NotHolder):
        simulate(body)


def test_releasing_a_free_resource_is_refused() -> None:
    async def body(locks: LockManager, trace: Trace) -> None:
        locks.release(VALIDATORS, "agent-a")

    with pytest.raises(NotHolder, match=r"\(it is not held\)$"):
        simulate(body)


def test_loose_mode_lets_anyone_release_by_name() -> None:
    async def body(locks: LockManager, trace: Trace) -> tuple[str, object]:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        ended = locks.release(VALIDATORS)
        return ended.owner, locks.status(VALIDATORS)

    assert simulate(body, mode="loose") == ("agent-a", None)


def test_safe_mode_needs_the_owner_to_release() -> None:
    async def body(locks: LockManager, trace: Trace) -> None:
        locks.try_claim(VALIDATORS, "agent-a", 1800)
        locks.release(VALIDATORS)

    with pytest.raises(InvalidArgument, match=r"^safe mode releases need"):
        simulate(body)


@pytest.mark.parametrize("ttl", [0, -5, float("nan"), float("inf"), True, "60"])
def test_a_ttl_must_be_a_positive_number(ttl: object) -> None:
    async def body(locks: LockManager, trace: Trace) -> None:
        locks.try_claim(VALIDATORS, "agent-a", ttl)  # type: ignore[arg-type]

    with pytest.raises(InvalidArgument, match=r"^ttl must be a positive number"):
        simulate(body)


@pytest.mark.parametrize(("resource", "owner"), [("", "agent-a"), (VALIDATORS, "  ")])
def test_names_must_not_be_empty(resource: str, owner: str) -> None:
    async def body(locks: LockManager, trace: Trace) -> None:
        locks.try_claim(resource, owner, 60)

    with pytest.raises(InvalidArgument, match=r"name must be a non-empty string"):
        simulate(body)


def test_reservations_and_statistics_are_snapshots() -> None:
    async def body(
        locks: LockManager, trace: Trace
    ) -> tuple[list[str], LockStatistics]:
        locks.try_claim(VALIDATORS, "agent-a", 60)
        locks.try_claim(FORMATTERS, "agent-b", 600)
        with pytest.raises(LeaseConflict):
            locks.try_claim(FORMATTERS, "agent-c", 60)
        await anyio.sleep(60)
        return [lease.resource for lease in locks.reservations()], locks.statistics()

    names, stats = simulate(body)

    assert names == [FORMATTERS]
    assert stats == LockStatistics(
        held=1,
        waiting=0,
        claims=2,
        reclaims=0,
        conflicts=1,
        renewals=0,
        releases=0,
        expiries=1,
        timeouts=0,
    )


def test_mode_names_are_checked() -> None:
    async def body(locks: LockManager, trace: Trace) -> None:
        return None

    with pytest.raises(ValueError, match=r"'sloppy' is not a valid LockMode"):
        simulate(body, mode="sloppy")
    assert LockMode("loose") is LockMode.LOOSE
