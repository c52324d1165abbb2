"""Leases with a time to live, on the run's clock.

A lease gives one owner a named resource until ``expires_at``. Its fencing
token is a per-manager counter that only grows, so a store that remembers
the newest token it has seen can refuse writes from a holder whose lease
has since passed to someone else (Kleppmann's fencing argument, as in
Chubby's sequencers).

Time is half-open: a lease is live on ``[acquired_at, expires_at)``. At
``expires_at`` exactly it is gone, whatever order the loop runs callbacks
due at that instant in, because every operation first expires what is due
(in order of expiry time, then of the lease's token) before it looks.

Two modes:

- ``safe``: only the holder renews or releases. A claim (``try_claim`` or
  ``claim``) by the live holder is idempotent: it returns the holder's
  lease unchanged (same token, same expiry) and records ``lease.reclaimed``.
  Clients of a real claim server retry a claim whose reply was lost; the
  retry must neither fail nor queue the holder behind its own lease. It
  does not extend the lease either: that is what ``renew`` is for.
- ``loose``: the seed coordinator's semantics; anyone may release a
  resource by name (``release(resource)`` with no owner), so scenarios can
  show what that allows. The seed server does not recognise its own client
  either: ``try_claim`` by the holder raises :class:`LeaseConflict` naming
  the holder itself, and ``claim`` by the holder waits in the queue behind
  its own lease, to be granted a new lease with a new token once the old
  one expires or is released.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections import deque
from dataclasses import dataclass, fields, replace
from enum import StrEnum

import anyio

from agency.clock import Clock
from agency.errors import (
    ClaimTimeout,
    InvalidArgument,
    LeaseConflict,
    LeaseExpired,
    NotHolder,
)
from agency.trace import Trace

__all__ = ["Lease", "LockManager", "LockMode", "LockStatistics"]


class LockMode(StrEnum):
    """Who may renew and release a lease."""

    SAFE = "safe"
    LOOSE = "loose"


@dataclass(frozen=True, slots=True)
class Lease:
    """A grant of ``resource`` to ``owner``.

    Attributes:
        resource: the resource name.
        owner: who holds it.
        token: the fencing token, unique and increasing per manager.
        acquired_at: clock time of the grant.
        expires_at: clock time at which it is no longer live.
    """

    resource: str
    owner: str
    token: int
    acquired_at: float
    expires_at: float

    def remaining(self, now: float) -> float:
        """Seconds of life left at clock time ``now`` (0 once expired)."""
        return max(0.0, self.expires_at - now)


@dataclass(frozen=True, slots=True)
class LockStatistics:
    """A snapshot of the manager's counters.

    Attributes:
        held: live leases now.
        waiting: claims queued now.
        claims: leases granted (each with a new token).
        reclaims: claims by the live holder answered with its own lease
            (safe mode only); not in ``claims``, since no lease was granted.
        conflicts: try-claims refused because the resource was held.
        renewals: renewals and extensions.
        releases: leases released.
        expiries: leases that ran out.
        timeouts: claims that gave up waiting.
    """

    held: int
    waiting: int
    claims: int
    reclaims: int
    conflicts: int
    renewals: int
    releases: int
    expiries: int
    timeouts: int


@dataclass(slots=True)
class _Waiter:
    owner: str
    ttl: float
    since: float
    granted: anyio.Event
    lease: Lease | None = None


# The counters of LockStatistics; held and waiting are read off the state.
_COUNTERS = tuple(
    field.name
    for field in fields(LockStatistics)
    if field.name not in ("held", "waiting")
)


class LockManager:
    """Hands out leases on named resources.

    Args:
        clock: the run's clock; expiry happens on it.
        mode: ``safe`` (holder-only renew and release) or ``loose``.
        trace: where to record ``lease.*`` events, if anywhere.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        mode: LockMode | str = LockMode.SAFE,
        trace: Trace | None = None,
    ):
        self._clock = clock
        self.mode = LockMode(mode)
        self._trace = trace
        self._leases: dict[str, Lease] = {}
        self._queues: dict[str, deque[_Waiter]] = {}
        # (expires_at, token, resource): entries go stale when a lease is
        # renewed or released; _expire_due skips those.
        self._expiries: list[tuple[float, int, str]] = []
        self._timer: tuple[float, asyncio.TimerHandle] | None = None
        # Who held what until when, so a late renew can say "expired"
        # rather than "not held".
        self._last_expired: dict[tuple[str, str], float] = {}
        self._next_token = 1
        self._counts = dict.fromkeys(_COUNTERS, 0)

    # -- queries ---------------------------------------------------------

    def status(self, resource: str) -> Lease | None:
        """The live lease on ``resource``, or None."""
        self._expire_due()
        return self._leases.get(_check_name("resource", resource))

    def reservations(self) -> list[Lease]:
        """Every live lease, sorted by resource name."""
        self._expire_due()
        return [self._leases[name] for name in sorted(self._leases)]

    def statistics(self) -> LockStatistics:
        """Counters since the manager was made, plus what is held now."""
        self._expire_due()
        return LockStatistics(
            held=len(self._leases),
            waiting=sum(len(q) for q in self._queues.values()),
            **self._counts,
        )

    # -- claiming --------------------------------------------------------

    def try_claim(self, resource: str, owner: str, ttl: float) -> Lease:
        """Claim ``resource`` now or fail.

        In safe mode a claim by the live holder returns its lease unchanged
        (``ttl`` is ignored; see :meth:`renew`) and records
        ``lease.reclaimed``. In loose mode the holder gets a conflict, like
        anyone else.

        Raises:
            LeaseConflict: someone else holds it (in loose mode: anyone,
                the caller included).
            InvalidArgument: empty names or a TTL that is not positive.
        """
        _check_name("resource", resource)
        _check_name("owner", owner)
        _check_ttl(ttl)
        self._expire_due()
        held = self._leases.get(resource)
        if held is not None and self._is_reclaim(held, owner):
            return self._reclaim(held)
        if held is not None:
            self._counts["conflicts"] += 1
            self._record(
                "lease.conflict",
                owner,
                resource,
                holder=held.owner,
                expires_at=held.expires_at,
            )
            raise LeaseConflict(resource, held.owner, held.expires_at)
        # A release or expiry hands the lease to the first waiter at once, so
        # a free resource has no queue for a newcomer to jump.
        assert not self._queues.get(resource), resource
        return self._grant(resource, owner, ttl, waited=None)

    async def claim(
        self,
        resource: str,
        owner: str,
        ttl: float,
        *,
        timeout: float | None = None,
    ) -> Lease:
        """Claim ``resource``, waiting in a FIFO queue while it is held.

        In safe mode a claim by the live holder returns its lease at once,
        unchanged, as :meth:`try_claim` does. In loose mode the holder
        queues behind its own lease like anyone else, and is granted a new
        lease (new token) when the old one expires or is released.

        Args:
            resource: what to claim.
            owner: who claims it.
            ttl: lease length in seconds.
            timeout: give up after this many seconds; None waits forever.

        Raises:
            ClaimTimeout: the timeout ran out first.
            InvalidArgument: empty names, a TTL or timeout out of range.
        """
        _check_name("resource", resource)
        _check_name("owner", owner)
        _check_ttl(ttl)
        if timeout is not None and timeout < 0:
            raise InvalidArgument(f"timeout must not be negative, got {timeout!r}")
        self._expire_due()
        held = self._leases.get(resource)
        if held is None:
            assert not self._queues.get(resource), resource
            return self._grant(resource, owner, ttl, waited=None)
        if self._is_reclaim(held, owner):
            return self._reclaim(held)

        waiter = _Waiter(owner, ttl, self._clock.time(), anyio.Event())
        self._queues.setdefault(resource, deque()).append(waiter)
        self._record(
            "lease.waiting",
            owner,
            resource,
            holder=held.owner,
            position=len(self._queues[resource]),
        )
        try:
            with anyio.fail_after(timeout):
                await waiter.granted.wait()
        except TimeoutError:
            self._leave(resource, waiter)
            if waiter.lease is None:
                self._counts["timeouts"] += 1
                self._record("lease.timeout", owner, resource, waited=timeout)
                raise ClaimTimeout(resource, owner, timeout or 0.0) from None
        except BaseException:
            # Cancelled while queued: leave the queue, or hand back a lease
            # granted in the same instant, so it is never stranded.
            self._leave(resource, waiter)
            if waiter.lease is not None:
                self.release(resource, owner)
            raise
        assert waiter.lease is not None
        return waiter.lease

    def _is_reclaim(self, held: Lease, owner: str) -> bool:
        # Only safe mode knows its clients; loose mode keeps the seed
        # server's behaviour, where the holder is just another claimant.
        return self.mode is LockMode.SAFE and held.owner == owner

    def _reclaim(self, held: Lease) -> Lease:
        # A retried claim must not change the tenure: same token (so writes
        # fenced by it stay valid) and same expiry (a retry is not a renew).
        self._counts["reclaims"] += 1
        self._record(
            "lease.reclaimed",
            held.owner,
            held.resource,
            token=held.token,
            expires_at=held.expires_at,
        )
        return held

    def _grant(
        self, resource: str, owner: str, ttl: float, *, waited: float | None
    ) -> Lease:
        now = self._clock.time()
        lease = Lease(resource, owner, self._next_token, now, now + ttl)
        self._next_token += 1
        self._leases[resource] = lease
        self._schedule_expiry(lease)
        self._counts["claims"] += 1
        self._record(
            "lease.claimed",
            owner,
            resource,
            token=lease.token,
            expires_at=lease.expires_at,
            **({"waited": waited} if waited is not None else {}),
        )
        return lease

    # -- renewing and releasing -----------------------------------------

    def renew(self, resource: str, owner: str, ttl: float) -> Lease:
        """Extend the holder's lease to ``ttl`` seconds from now.

        The token stays the same: a renewal continues the same tenure.

        Raises:
            LeaseExpired: ``owner`` held it, but the lease has run out.
            NotHolder: ``owner`` does not hold it.
            InvalidArgument: a TTL that is not positive.
        """
        _check_ttl(ttl)
        lease = self._held_by(resource, owner)
        renewed = replace(lease, expires_at=self._clock.time() + ttl)
        self._leases[resource] = renewed
        self._schedule_expiry(renewed)
        self._counts["renewals"] += 1
        self._record(
            "lease.renewed",
            owner,
            resource,
            token=renewed.token,
            expires_at=renewed.expires_at,
        )
        return renewed

    def extend(self, resource: str, owner: str, by: float) -> Lease:
        """Push the holder's expiry ``by`` seconds later than it stands.

        Raises:
            LeaseExpired, NotHolder, InvalidArgument: as for :meth:`renew`.
        """
        _check_ttl(by, name="by")
        lease = self._held_by(resource, owner)
        return self.renew(resource, owner, lease.remaining(self._clock.time()) + by)

    def release(self, resource: str, owner: str | None = None) -> Lease:
        """Give ``resource`` up and hand it to the first waiter, if any.

        Args:
            resource: what to release.
            owner: who releases it. Required in safe mode; in loose mode,
                ``None`` releases whoever holds it (the seed server's
                ``DELETE /release/{id}``).

        Returns:
            The lease that ended.

        Raises:
            NotHolder: ``owner`` does not hold it (or, in loose mode with no
                owner, nobody does).
            LeaseExpired: ``owner`` held it, but the lease has run out.
        """
        if owner is None and self.mode is LockMode.SAFE:
            raise InvalidArgument("safe mode releases need the owner's name")
        if owner is None:
            self._expire_due()
            lease = self._leases.get(_check_name("resource", resource))
            if lease is None:
                raise NotHolder(resource, "(anyone)", None)
        else:
            lease = self._held_by(resource, owner, anyone=self.mode is LockMode.LOOSE)
        del self._leases[resource]
        self._counts["releases"] += 1
        self._record(
            "lease.released",
            owner if owner is not None else lease.owner,
            resource,
            token=lease.token,
            holder=lease.owner,
        )
        self._hand_over(resource)
        return lease

    def _held_by(self, resource: str, owner: str, *, anyone: bool = False) -> Lease:
        _check_name("resource", resource)
        _check_name("owner", owner)
        self._expire_due()
        lease = self._leases.get(resource)
        if lease is not None and lease.owner == owner:
            return lease
        if anyone and lease is not None:
            return lease
        expired = self._last_expired.get((resource, owner))
        if lease is None and expired is not None:
            raise LeaseExpired(resource, owner, expired)
        raise NotHolder(resource, owner, lease.owner if lease else None)

    # -- expiry ----------------------------------------------------------

    def _schedule_expiry(self, lease: Lease) -> None:
        heapq.heappush(self._expiries, (lease.expires_at, lease.token, lease.resource))
        self._arm_timer()

    def _arm_timer(self) -> None:
        # One loop timer for the earliest expiry; it only wakes the loop at
        # that instant. Order among leases is decided by _expire_due.
        while self._expiries and not self._is_current(self._expiries[0]):
            heapq.heappop(self._expiries)
        if not self._expiries:
            return
        due = self._expiries[0][0]
        if self._timer is not None:
            if self._timer[0] <= due:
                return
            self._timer[1].cancel()
        handle = self._clock.call_at(due, self._on_timer)
        self._timer = (due, handle)

    def _on_timer(self) -> None:
        self._timer = None
        self._expire_due()
        self._arm_timer()

    def _is_current(self, entry: tuple[float, int, str]) -> bool:
        expires_at, token, resource = entry
        lease = self._leases.get(resource)
        return (
            lease is not None
            and lease.token == token
            and lease.expires_at == expires_at
        )

    def _expire_due(self) -> None:
        now = self._clock.time()
        while self._expiries and self._expiries[0][0] <= now:
            entry = heapq.heappop(self._expiries)
            if not self._is_current(entry):
                continue
            lease = self._leases.pop(entry[2])
            self._last_expired[(lease.resource, lease.owner)] = lease.expires_at
            self._counts["expiries"] += 1
            self._record(
                "lease.expired",
                lease.owner,
                lease.resource,
                token=lease.token,
                expires_at=lease.expires_at,
            )
            self._hand_over(lease.resource)

    def _leave(self, resource: str, waiter: _Waiter) -> None:
        queue = self._queues.get(resource)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self._queues[resource]

    def _hand_over(self, resource: str) -> None:
        queue = self._queues.get(resource)
        if queue:
            waiter = queue.popleft()
            waited = self._clock.time() - waiter.since
            waiter.lease = self._grant(
                resource, waiter.owner, waiter.ttl, waited=waited
            )
            waiter.granted.set()
        if queue is not None and not queue:
            del self._queues[resource]

    def _record(
        self, kind: str, agent: str, resource: str, **data: float | int | str | None
    ) -> None:
        if self._trace is not None:
            self._trace.record(kind, agent=agent, resource=resource, **data)


def _check_name(what: str, name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgument(f"{what} name must be a non-empty string, got {name!r}")
    return name


def _check_ttl(ttl: float, *, name: str = "ttl") -> None:
    if (
        isinstance(ttl, bool)
        or not isinstance(ttl, int | float)
        or not math.isfinite(ttl)
        or ttl <= 0
    ):
        raise InvalidArgument(
            f"{name} must be a positive number of seconds, got {ttl!r}"
        )
