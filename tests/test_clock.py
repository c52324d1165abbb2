"""The virtual-time event loop and the clock that reads it."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiofiles
import aiofiles.os
import anyio
import pytest

from agency.clock import Clock, VirtualEventLoop, run
from agency.errors import InvalidArgument, SimulationError

EPOCH = datetime(2025, 11, 23, 10, 0, tzinfo=UTC)


def test_a_sleep_jumps_the_clock_instead_of_waiting() -> None:
    """Thirty virtual minutes pass at once, to the exact second."""

    async def main() -> float:
        await anyio.sleep(1800)
        return asyncio.get_running_loop().time()

    wall = time.monotonic()
    virtual = run(main)

    assert virtual == 1800.0
    assert time.monotonic() - wall < 60  # not a benchmark: it must not sleep


def test_a_deadline_fires_at_its_exact_virtual_instant() -> None:
    async def main() -> tuple[bool, float]:
        with anyio.move_on_after(1800) as scope:
            await anyio.sleep(10_000)
        return scope.cancelled_caught, asyncio.get_running_loop().time()

    assert run(main) == (True, 1800.0)


def test_timers_fire_in_time_order_whatever_order_they_were_set() -> None:
    fired: list[tuple[float, str]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for delay, name in [(30.0, "c"), (10.0, "a"), (20.0, "b")]:
            loop.call_later(delay, lambda n=name: fired.append((loop.time(), n)))
        await anyio.sleep(40)

    run(main)

    assert fired == [(10.0, "a"), (20.0, "b"), (30.0, "c")]


def test_aiofiles_io_runs_inline_and_does_not_move_the_clock(tmp_path: Path) -> None:
    target = tmp_path / "AGENCY.md"
    seen: dict[str, object] = {}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await anyio.sleep(5)
        before = loop.time()
        async with aiofiles.open(target, "w") as handle:
            await handle.write("hello")
        await aiofiles.os.replace(target, tmp_path / "moved.md")
        async with aiofiles.open(tmp_path / "moved.md") as handle:
            seen["text"] = await handle.read()
        seen["elapsed"] = loop.time() - before
        seen["thread"] = await loop.run_in_executor(None, threading.get_ident)

    run(main)

    assert seen == {
        "text": "hello",
        "elapsed": 0.0,
        "thread": threading.get_ident(),
    }


def test_executor_errors_reach_the_awaiting_task() -> None:
    def fail() -> None:
        raise OSError("disk full")

    async def main() -> None:
        await asyncio.get_running_loop().run_in_executor(None, fail)

    with pytest.raises(OSError, match=r"^disk full$"):
        run(main)


def test_waiting_with_no_timer_and_nothing_ready_is_a_deadlock() -> None:
    async def main() -> None:
        await anyio.sleep(60)
        await anyio.Event().wait()

    with pytest.raises(SimulationError, match=r"^deadlock at t=60s"):
        run(main)


def test_clock_reads_loop_time_as_datetimes_from_the_epoch() -> None:
    async def main() -> tuple[float, datetime, datetime]:
        clock = Clock(EPOCH)
        await anyio.sleep(90)
        return clock.time(), clock.now(), clock.at(3600)

    assert run(main) == (
        90.0,
        EPOCH + timedelta(seconds=90),
        EPOCH + timedelta(hours=1),
    )


def test_clock_schedules_callbacks_on_its_own_time() -> None:
    async def main() -> float:
        clock = Clock(EPOCH)
        done = anyio.Event()
        fired: list[float] = []
        clock.call_at(42.5, lambda: (fired.append(clock.time()), done.set()))
        await done.wait()
        return fired[0]

    assert run(main) == 42.5


def test_clock_refuses_a_naive_epoch() -> None:
    async def main() -> None:
        Clock(datetime(2025, 11, 23, 10, 0))

    with pytest.raises(InvalidArgument, match=r"^epoch must be timezone-aware"):
        run(main)


def test_real_time_mode_runs_threads_and_scales_time() -> None:
    """At speed 10,000 a 60-second sleep takes a few real milliseconds."""

    async def main() -> tuple[float, bool]:
        loop = asyncio.get_running_loop()
        other = await loop.run_in_executor(None, threading.get_ident)
        await asyncio.sleep(60)
        return loop.time(), other != threading.get_ident()

    virtual, threaded = run(main, speed=10_000)

    assert virtual >= 60
    assert threaded


def test_speed_must_be_positive() -> None:
    with pytest.raises(InvalidArgument, match=r"^speed must be positive, got 0"):
        VirtualEventLoop(speed=0)


def test_timers_still_fire_when_virtual_time_is_a_year_on() -> None:
    """Past 2**24 s a float cannot add asyncio's clock resolution any more."""

    async def main() -> float:
        await anyio.sleep(400 * 86_400)
        await anyio.sleep(1)
        return asyncio.get_running_loop().time()

    assert run(main) >= 400 * 86_400 + 1


def test_the_module_examples_run() -> None:
    import doctest

    import agency.clock

    assert doctest.testmod(agency.clock).failed == 0


def test_a_callback_that_keeps_rescheduling_itself_now_stops_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("agency.clock.MAX_STEPS_AT_ONE_INSTANT", 1_000)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await anyio.sleep(5)

        def again() -> None:
            loop.call_at(loop.time(), again)

        again()
        await asyncio.Event().wait()

    with pytest.raises(
        SimulationError, match=r"^no progress at t=5s: the loop ran 1,000 "
    ):
        run(main)


def test_many_steps_at_one_instant_are_fine_while_time_moves_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("agency.clock.MAX_STEPS_AT_ONE_INSTANT", 50)

    async def main() -> float:
        for _ in range(40):
            await asyncio.sleep(0)
        for _ in range(200):
            await anyio.sleep(1)
        return asyncio.get_running_loop().time()

    assert run(main) == 200
