"""Virtual time on a real asyncio event loop.

:class:`VirtualEventLoop` is an ordinary selector event loop whose ``time()``
is virtual: when no callback is ready it jumps straight to the next timer
instead of sleeping, so ``asyncio.sleep``, ``anyio.sleep``, ``fail_after``
and lease TTLs cost no wall time. Everything else (tasks, futures, anyio's
primitives) is the standard library's own code.

Thread-pool work is the one thing a jumping clock cannot wait for: a thread
finishes at a moment that varies from run to run, and that order would leak
into the trace. In virtual mode the loop therefore runs every
``run_in_executor`` call inline, on the loop thread, before returning an
already-finished future. aiofiles goes through ``run_in_executor``, so file
I/O neither lets the clock run ahead nor reorders tasks. (``anyio.to_thread``
and ``anyio.open_file`` use anyio's own worker threads and bypass this; keep
them out of simulated code.)

With ``speed`` set, the loop runs in real time instead, scaled by that
factor, with real worker threads: for demos and for driving real services.

:class:`Clock` maps loop time to datetimes from the scenario's epoch::

    >>> from datetime import datetime, timezone
    >>> async def main() -> str:
    ...     clock = Clock(datetime(2025, 11, 23, 10, tzinfo=timezone.utc))
    ...     await asyncio.sleep(1800)
    ...     return clock.now().isoformat()
    >>> run(main)
    '2025-11-23T10:30:00+00:00'
"""

from __future__ import annotations

import asyncio
import math
import selectors
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, TypeVarTuple

from agency.errors import InvalidArgument, SimulationError

__all__ = ["Clock", "VirtualEventLoop", "run"]

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


class _JumpingSelector(selectors.BaseSelector):
    """Selector wrapper that turns "wait up to N seconds" into a clock jump.

    It delegates registration to a real selector, so the loop's own
    self-pipe (and any real socket a test opens) keeps working.
    """

    def __init__(self, loop: VirtualEventLoop, real: selectors.BaseSelector):
        self._loop = loop
        self._real = real

    def register(
        self, fileobj: Any, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(
        self, fileobj: Any, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(
        self, timeout: float | None = None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self._loop
        if loop.speed is not None:
            if timeout is not None:
                timeout /= loop.speed
            return self._real.select(timeout)

        if timeout is None:
            # Nothing is ready and no timer is set. With executor work inline
            # nothing else can wake the loop: every task waits for something
            # that cannot happen.
            if len(self._real.get_map()) <= 1:
                raise SimulationError(
                    f"deadlock at t={loop.time():g}s: no task can run and "
                    "no timer is pending"
                )
            return self._real.select(None)

        if timeout > 0:
            loop._jump()
        loop._count_step()
        # Only the loop's self-pipe registered: nothing real can be pending,
        # so skip the system call (it dominated the cost of an iteration).
        if len(self._real.get_map()) <= 1:
            return []
        return self._real.select(0)


#: Loop iterations allowed at one virtual instant before a run is stopped.
MAX_STEPS_AT_ONE_INSTANT = 1_000_000


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop on virtual time (or on scaled real time).

    Args:
        speed: ``None`` (the default) for virtual time, which starts at 0.0
            and jumps to the next timer whenever nothing is ready; otherwise
            a positive factor for real time, e.g. ``60`` runs a simulated
            minute per wall second.

    Raises:
        InvalidArgument: ``speed`` is not positive.
    """

    def __init__(self, *, speed: float | None = None):
        self.speed = speed
        self._virtual_now = 0.0
        self._step_time, self._steps = 0.0, 0
        self._real_origin = time.monotonic()
        super().__init__(_JumpingSelector(self, selectors.DefaultSelector()))
        if speed is not None and not speed > 0:
            self.close()
            raise InvalidArgument(f"speed must be positive, got {speed!r}")

    def _count_step(self) -> None:
        # A callback that keeps rescheduling itself at the current instant
        # (a timer re-armed for a deadline already reached, say) would spin
        # the loop forever with virtual time standing still. Real work at one
        # instant is a short chain of wake-ups, however many tasks take part,
        # because each loop iteration runs every callback that is ready.
        if self._virtual_now != self._step_time:
            self._step_time, self._steps = self._virtual_now, 0
            return
        self._steps += 1
        if self._steps > MAX_STEPS_AT_ONE_INSTANT:
            raise SimulationError(
                f"no progress at t={self._virtual_now:g}s: the loop ran "
                f"{MAX_STEPS_AT_ONE_INSTANT:,} iterations without virtual time "
                "moving (a callback rescheduling itself at the same instant?)"
            )

    def time(self) -> float:
        if self.speed is None:
            return self._virtual_now
        return (time.monotonic() - self._real_origin) * self.speed

    def _jump(self) -> None:
        # Set the clock to the deadline itself rather than adding the
        # selector's timeout, so a timer due at t fires at exactly t with no
        # rounding residue. _scheduled is asyncio's timer heap; the loop has
        # just dropped cancelled handles from its head.
        heap: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]
        if not heap:
            return
        due = heap[0].when()
        # asyncio fires a timer when due < now + clock resolution. Past about
        # 2**24 s the addition no longer changes a float, so at now == due
        # nothing would fire and the loop would spin: step one ulp past it.
        resolution: float = self._clock_resolution  # type: ignore[attr-defined]
        if due + resolution <= due:
            due = math.nextafter(due, math.inf)
        self._virtual_now = max(self._virtual_now, due)

    def run_in_executor(
        self,
        executor: Executor | None,
        func: Callable[[*_Ts], _T],
        *args: *_Ts,
    ) -> asyncio.Future[_T]:
        """Run ``func`` inline in virtual mode; in a thread pool otherwise.

        Inline execution is what keeps a virtual run deterministic (see the
        module docstring). The call blocks the loop for its real duration,
        which is what file I/O on a simulated repository costs anyway.
        """
        if self.speed is not None:
            return super().run_in_executor(executor, func, *args)
        self._check_closed()  # type: ignore[attr-defined]
        future: asyncio.Future[_T] = self.create_future()
        try:
            future.set_result(func(*args))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            future.set_exception(exc)
        return future


class Clock:
    """Loop time read as datetimes, from an epoch.

    Create it inside the running loop; ``time()`` is 0.0 at that moment.

    Args:
        epoch: the datetime that ``time() == 0.0`` stands for; must be aware.
        loop: the loop to read; by default the running one.

    Raises:
        InvalidArgument: ``epoch`` is naive.
    """

    def __init__(self, epoch: datetime, loop: asyncio.AbstractEventLoop | None = None):
        if epoch.tzinfo is None or epoch.utcoffset() is None:
            raise InvalidArgument(f"epoch must be timezone-aware, got {epoch!r}")
        self.epoch = epoch.astimezone(UTC)
        self._loop = loop or asyncio.get_running_loop()
        self._origin = self._loop.time()

    def time(self) -> float:
        """Seconds since the epoch, on the loop's clock."""
        return self._loop.time() - self._origin

    def now(self) -> datetime:
        """The current instant as an aware UTC datetime."""
        return self.at(self.time())

    def at(self, t: float) -> datetime:
        """The aware UTC datetime of clock time ``t``."""
        return self.epoch + timedelta(seconds=t)

    def call_at(self, t: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        """Schedule ``callback`` at clock time ``t``."""
        return self._loop.call_at(self._origin + t, callback)


def run(main: Callable[[], Awaitable[_T]], *, speed: float | None = None) -> _T:
    """Run ``main()`` to completion on a fresh :class:`VirtualEventLoop`.

    Args:
        main: an async function taking no arguments.
        speed: as for :class:`VirtualEventLoop`.

    Returns:
        What ``main()`` returned.

    Raises:
        SimulationError: every task waited with no timer pending (deadlock).
    """

    # The result travels outside the task: when the Runner restores its
    # SIGINT handler, signal.getsignal() builds an error message holding
    # repr() of the finished task, result included, which for a large run
    # costs a tenth of a second.
    result: list[_T] = []

    async def _main() -> None:
        result.append(await main())

    with asyncio.Runner(loop_factory=lambda: VirtualEventLoop(speed=speed)) as runner:
        runner.run(_main())
    return result[0]
