"""Seed sweeps: one scenario run once per seed, summed up in a table.

:func:`sweep` runs ``run_scenario(scenario.with_seed(seed))`` for every
seed, in worker processes when more than one is asked for, and keeps only a
small :class:`SeedOutcome` per seed (never the trace), so a million seeds fit
in memory. The :class:`SweepResult` is the same, field for field, whatever
the number of workers: outcomes are put in seed order and every sum is
computed from them.

:func:`parse_seeds` reads the ``--seeds`` syntax (``1-1000``, ``7``,
``1,5,10-20``); :func:`sweep_text` and :func:`sweep_json` present a result
to people and programs.
"""

from __future__ import annotations

import math
import os
import shlex
import signal
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from agency.engine import run_scenario
from agency.errors import ScenarioError, SimulationError
from agency.scenario import Scenario

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor
    from multiprocessing.synchronize import Event

__all__ = [
    "MAX_SEEDS",
    "InvariantTally",
    "ProgressBar",
    "SeedOutcome",
    "SweepResult",
    "format_seeds",
    "parse_seeds",
    "sweep",
    "sweep_json",
    "sweep_text",
]

#: The most seeds one sweep may run.
MAX_SEEDS = 1_000_000
# Seeds per task sent to a worker: enough to make the cost of sending a
# task and its answer between processes small next to the runs (tens of
# milliseconds each), few enough that the workers finish together and the
# progress bar moves.
_MAX_CHUNK = 16
# Chunks per worker the pool holds at once: keeps every worker busy
# without queueing a million futures up front, and leaves little to cancel
# on Ctrl-C.
_IN_FLIGHT = 4


@dataclass(frozen=True, slots=True)
class SeedOutcome:
    """What one seed's run came to, small enough to send between processes.

    Attributes:
        seed: the seed.
        ok: whether the scenario's expectations held (False when the run
            could not finish).
        violations: names of the broken invariants, in order of time (a
            name appears once per violation).
        digest: the trace digest; None when the run could not finish.
        status: the project status at the end; None when the run could not
            finish.
        error: the SimulationError message when the run could not finish.
        first_message: the message of the first violation, if any.
    """

    seed: int
    ok: bool
    violations: tuple[str, ...]
    digest: str | None
    status: str | None
    error: str | None
    first_message: str | None


@dataclass(frozen=True, slots=True)
class InvariantTally:
    """How often one invariant broke over a sweep.

    Attributes:
        invariant: the invariant's name.
        seeds: how many seeds broke it at least once.
        first_seed: the lowest seed that broke it.
    """

    invariant: str
    seeds: int
    first_seed: int


@dataclass(frozen=True, slots=True)
class SweepResult:
    """A finished sweep; build it with :meth:`from_outcomes`.

    Attributes:
        scenario: the scenario's name.
        outcomes: one per seed, in seed order.
        met: seeds whose expectations held.
        failed: seeds whose run finished but whose expectations did not hold.
        errors: seeds whose run could not finish (a SimulationError).
        invariants: one tally per invariant broken by any seed, in the order
            they first broke (by seed, then by time in that seed's run).
        first_failing_seed: the lowest seed that did not meet expectations
            (failed or errored), or None.
    """

    scenario: str
    outcomes: tuple[SeedOutcome, ...]
    met: int
    failed: int
    errors: int
    invariants: tuple[InvariantTally, ...]
    first_failing_seed: int | None

    @classmethod
    def from_outcomes(
        cls, scenario: str, outcomes: Iterable[SeedOutcome]
    ) -> SweepResult:
        """Sum up ``outcomes`` (in any order) of the scenario named ``scenario``."""
        ordered = tuple(sorted(outcomes, key=lambda outcome: outcome.seed))
        counts: dict[str, int] = {}
        first: dict[str, int] = {}
        for outcome in ordered:
            # dict.fromkeys: each invariant once per seed, in order of time.
            for name in dict.fromkeys(outcome.violations):
                counts[name] = counts.get(name, 0) + 1
                first.setdefault(name, outcome.seed)
        failing = [outcome.seed for outcome in ordered if not outcome.ok]
        errors = sum(1 for outcome in ordered if outcome.error is not None)
        met = len(ordered) - len(failing)
        return cls(
            scenario=scenario,
            outcomes=ordered,
            met=met,
            failed=len(failing) - errors,
            errors=errors,
            invariants=tuple(
                InvariantTally(name, counts[name], first[name]) for name in counts
            ),
            first_failing_seed=failing[0] if failing else None,
        )

    @property
    def ok(self) -> bool:
        """Whether every seed met the scenario's expectations."""
        return self.first_failing_seed is None

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seeds run, in order."""
        return tuple(outcome.seed for outcome in self.outcomes)


def parse_seeds(spec: str) -> tuple[int, ...]:
    """The seeds a ``--seeds`` value names, in ascending order.

    ``spec`` is a comma-separated list of seeds (``7``) and inclusive ranges
    (``10-20``) in ASCII digits, naming each seed at most once and at most
    :data:`MAX_SEEDS` in all, e.g. ``1-1000`` or ``1,5,10-20``.

    Raises:
        ValueError: ``spec`` is not of that form; the message quotes it.
    """

    def bad(reason: str) -> ValueError:
        return ValueError(f"{reason} (in {spec!r})")

    ranges: list[tuple[int, int]] = []
    for part in spec.split(","):
        first, dash, last = part.partition("-")
        bounds = (first, last) if dash else (first,)
        # isdigit() alone would take '٣' or '²'; int() would take ' 3_0 '.
        if not all(text.isascii() and text.isdigit() for text in bounds):
            what = repr(part) if part else "an empty item"
            raise bad(f"{what} is neither a seed (digits) nor a range (low-high)")
        try:
            low, high = int(first), int(last or first)
        except ValueError:  # more digits than int() converts
            raise bad(f"{part[:20]!r}... is too long for a seed") from None
        if low > high:
            raise bad(f"the range {part!r} runs backwards")
        ranges.append((low, high))
    ranges.sort()
    total = 0
    for index, (low, high) in enumerate(ranges):
        if index and low <= ranges[index - 1][1]:
            raise bad(f"seed {low} is named more than once")
        total += high - low + 1
        # Checked before expanding anything, so '0-999999999999' is refused
        # at once rather than after filling the memory.
        if total > MAX_SEEDS:
            raise bad(f"more than {MAX_SEEDS:,} seeds")
    return tuple(seed for low, high in ranges for seed in range(low, high + 1))


def format_seeds(seeds: Iterable[int]) -> str:
    """``seeds`` in the ``--seeds`` syntax, runs of seeds as ranges."""
    ordered = sorted(seeds)
    parts: list[str] = []
    index = 0
    while index < len(ordered):
        end = index
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        low, high = ordered[index], ordered[end]
        parts.append(str(low) if low == high else f"{low}-{high}")
        index = end + 1
    return ",".join(parts)


def sweep(
    scenario: Scenario,
    seeds: Iterable[int],
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run ``scenario`` once per seed, in memory, and sum up the outcomes.

    Args:
        scenario: the validated scenario; its own seed is not used.
        seeds: distinct seeds, 0 or more, in any order.
        workers: processes to run in (default: the number of CPUs); with 1,
            or a single seed, the runs happen in this process, one by one.
        progress: called as ``progress(done, failing)`` with the number of
            seeds finished and of those that did not meet expectations,
            after each batch of runs (and once with ``(0, 0)`` when the
            workers have started).

    Returns:
        The same result, whatever ``workers`` is.

    Raises:
        ValueError: a seed is negative, repeated, or not an int; ``workers``
            is below 1.
        ScenarioError: the scenario's document cannot be used any more.
        KeyboardInterrupt: on Ctrl-C, once the workers have stopped.
    """
    ordered = sorted(seeds)
    for seed in ordered:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"a seed is a whole number, 0 or more, got {seed!r}")
    if len(set(ordered)) != len(ordered):
        raise ValueError("every seed of a sweep must be distinct")
    count = (os.cpu_count() or 1) if workers is None else workers
    if count < 1:
        raise ValueError(f"workers must be 1 or more, got {count}")
    if count == 1 or len(ordered) <= 1:
        outcomes = _sweep_here(scenario, ordered, progress)
    else:
        outcomes = _sweep_in_pool(scenario, ordered, count, progress)
    return SweepResult.from_outcomes(scenario.name, outcomes)


def _outcome(scenario: Scenario, seed: int) -> SeedOutcome:
    try:
        result = run_scenario(scenario.with_seed(seed))
    except SimulationError as exc:
        return SeedOutcome(
            seed=seed,
            ok=False,
            violations=(),
            digest=None,
            status=None,
            error=str(exc),
            first_message=None,
        )
    violations = result.violations
    return SeedOutcome(
        seed=seed,
        ok=result.ok,
        violations=tuple(violation.invariant for violation in violations),
        digest=result.digest,
        status=str(result.document.status),
        error=None,
        first_message=violations[0].message if violations else None,
    )


def _sweep_here(
    scenario: Scenario,
    seeds: Sequence[int],
    progress: Callable[[int, int], None] | None,
) -> list[SeedOutcome]:
    outcomes: list[SeedOutcome] = []
    failing = 0
    if progress is not None:
        progress(0, 0)
    for seed in seeds:
        outcome = _outcome(scenario, seed)
        outcomes.append(outcome)
        failing += not outcome.ok
        if progress is not None:
            progress(len(outcomes), failing)
    return outcomes


# The scenario of this worker process and the parent's signal to stop, set
# once by _start_worker so that each task carries only its seeds.
_worker_scenario: Scenario | None = None
_worker_stop: Event | None = None


def _start_worker(scenario: Scenario, stop: Event) -> None:
    global _worker_scenario, _worker_stop
    _worker_scenario, _worker_stop = scenario, stop
    # Ctrl-C reaches the whole process group; the parent alone handles it
    # (it sets ``stop`` and shuts the pool down), so workers do not each
    # print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Refused(Exception):
    """A ScenarioError in a worker, in a form that survives pickling.

    ScenarioError's constructor takes other arguments than its ``args``,
    so pickle cannot rebuild it in the parent.
    """

    def error(self) -> ScenarioError:
        source, reason, line, field = self.args
        return ScenarioError(source, reason, line=line, field=field)


class _Crashed(RuntimeError):
    """An unexpected error in a worker, carried back as its traceback text."""


def _run_chunk(seeds: tuple[int, ...]) -> list[SeedOutcome]:
    assert _worker_scenario is not None and _worker_stop is not None, "set at start"
    outcomes: list[SeedOutcome] = []
    for seed in seeds:
        # A chunk already handed to a worker cannot be cancelled; this
        # makes it end after the run in progress once the sweep is stopped.
        if _worker_stop.is_set():
            break
        try:
            outcomes.append(_outcome(_worker_scenario, seed))
        except ScenarioError as exc:
            raise _Refused(exc.source, exc.reason, exc.line, exc.field) from None
        except Exception:
            # A bug in a run. Its exception may not survive pickling (many
            # take other constructor arguments than their args), which the
            # pool would report as a broken pool; the text always does.
            raise _Crashed(
                f"the run of seed {seed} failed in a worker:\n{traceback.format_exc()}"
            ) from None
    return outcomes


def _sweep_in_pool(
    scenario: Scenario,
    seeds: Sequence[int],
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> list[SeedOutcome]:
    size = max(1, min(_MAX_CHUNK, math.ceil(len(seeds) / (workers * _IN_FLIGHT))))
    chunks = (tuple(seeds[i : i + size]) for i in range(0, len(seeds), size))
    # Imported here: a single run through the CLI should not pay for them.
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context(_start_method())
    stop = context.Event()
    pool = ProcessPoolExecutor(
        max_workers=min(workers, math.ceil(len(seeds) / size)),
        mp_context=context,
        initializer=_start_worker,
        initargs=(scenario, stop),
    )
    outcomes: list[SeedOutcome] = []
    failing = 0
    try:
        pending = _submit(pool, chunks, workers * _IN_FLIGHT, set())
        # Only now, with the workers forked, may the caller start threads
        # (a progress bar's monitor): forking a threaded process is unsafe.
        if progress is not None:
            progress(0, 0)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    batch = future.result()
                except _Refused as exc:
                    raise exc.error() from None
                outcomes.extend(batch)
                failing += sum(not outcome.ok for outcome in batch)
            pending = _submit(pool, chunks, len(done), pending)
            if progress is not None:
                progress(len(outcomes), failing)
    except BaseException:
        # Ctrl-C or a failure: drop the chunks not started, have the running
        # ones end after their current run (workers ignore SIGINT), and
        # leave no process behind.
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return outcomes


def _submit(
    pool: ProcessPoolExecutor,
    chunks: Iterator[tuple[int, ...]],
    count: int,
    pending: set[Future[list[SeedOutcome]]],
) -> set[Future[list[SeedOutcome]]]:
    for _, chunk in zip(range(count), chunks, strict=False):
        pending.add(pool.submit(_run_chunk, chunk))
    return pending


def _start_method() -> str:
    import multiprocessing

    # fork starts a worker in milliseconds with everything imported; it is
    # safe on Linux only (macOS frameworks break after fork), and absent on
    # Windows.
    if sys.platform.startswith("linux") and "fork" in (
        multiprocessing.get_all_start_methods()
    ):
        return "fork"
    return "spawn"


def sweep_text(result: SweepResult, *, source: str, variant: str | None = None) -> str:
    """The end-of-sweep table for people.

    It holds no wall time or worker count, so the same sweep prints the same
    text however it was run.

    Args:
        result: the sweep.
        source: the scenario file as given, for the replay command.
        variant: the variant swept, if not the file as written.
    """
    outcomes = result.outcomes
    lines = [
        f"{result.scenario}: {len(outcomes):,} seeds ({format_seeds(result.seeds)})",
        "",
        f"{'expectations held':<20} {result.met:>9,}",
        f"{'expectations failed':<20} {result.failed:>9,}",
        f"{'run errored':<20} {result.errors:>9,}",
    ]
    if result.invariants:
        width = max(len("invariant"), *(len(t.invariant) for t in result.invariants))
        # "first seed", not "first failing": a scenario may expect the break.
        lines += ["", f"{'invariant':<{width}} {'seeds':>9}  first seed"]
        lines += [
            f"{t.invariant:<{width}} {t.seeds:>9,}  {t.first_seed}"
            for t in result.invariants
        ]
    else:
        lines += ["", "violations: none"]
    first = _first_failing(result)
    if first is not None:
        lines += [
            "",
            f"first failing seed: {first.seed} ({_why(first)})",
            f"replay it: {_replay(source, first.seed, variant)}",
        ]
    elif result.invariants:
        tally = result.invariants[0]
        lines += [
            "",
            f"every seed met expectations; to see {tally.invariant} break: "
            f"{_replay(source, tally.first_seed, variant)}",
        ]
    return "\n".join(lines)


def sweep_json(
    result: SweepResult, *, source: str, variant: str | None = None
) -> dict[str, Any]:
    """The same summary as data, for ``--json``, with every seed's outcome."""
    first = result.first_failing_seed
    return {
        "scenario": result.scenario,
        "file": source,
        "seeds": len(result.outcomes),
        "seed_spec": format_seeds(result.seeds),
        "ok": result.ok,
        "met": result.met,
        "failed": result.failed,
        "errors": result.errors,
        "invariants": [
            {"invariant": t.invariant, "seeds": t.seeds, "first_seed": t.first_seed}
            for t in result.invariants
        ],
        "first_failing_seed": first,
        "replay": _replay(source, first, variant) if first is not None else None,
        "outcomes": [
            {
                "seed": o.seed,
                "ok": o.ok,
                "violations": list(o.violations),
                "digest": o.digest,
                "status": o.status,
                "error": o.error,
                "first_message": o.first_message,
            }
            for o in result.outcomes
        ],
    }


def _first_failing(result: SweepResult) -> SeedOutcome | None:
    return next((o for o in result.outcomes if not o.ok), None)


def _why(outcome: SeedOutcome) -> str:
    if outcome.error is not None:
        return f"the run could not finish: {outcome.error}"
    if outcome.violations:
        return f"{outcome.violations[0]}: {outcome.first_message}"
    return f"expectations not met; project status {outcome.status}"


def _replay(source: str, seed: int, variant: str | None) -> str:
    which = f" --variant {shlex.quote(variant)}" if variant else ""
    return f"python -m agency.simulate {shlex.quote(source)}{which} --seed {seed}"


class ProgressBar:
    """A tqdm bar for :func:`sweep`'s ``progress``: seeds done and failing.

    The bar is made on the first call, after sweep has started its workers,
    because tqdm starts a monitor thread and forking a threaded process is
    unsafe. Use it as a context manager so the bar is closed on any exit.
    """

    def __init__(self, total: int, *, file: IO[str], label: str | None = None) -> None:
        self._total = total
        self._file = file
        self._label = label
        self._done = 0
        self._bar: Any = None  # a tqdm, whose module has no type information

    def __call__(self, done: int, failing: int) -> None:
        """Move the bar to ``done`` seeds, ``failing`` of them failing."""
        if self._bar is None:
            from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

            self._bar = tqdm(
                total=self._total,
                desc=self._label,
                unit="seed",
                file=self._file,
                dynamic_ncols=True,
            )
        self._bar.set_postfix(failing=failing, refresh=False)
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        """Take the bar off the screen's live line (it stays as printed)."""
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
