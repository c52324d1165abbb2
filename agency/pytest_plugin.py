"""A pytest plugin for testing coordination protocols on agency's simulator.

Installed with the package, it is loaded by pytest through the ``pytest11``
entry point (disable it with ``-p no:agency``). It offers:

- the fixture ``agency_run``: runs a scenario (a file, YAML text or a dict)
  and returns the :class:`~agency.engine.RunResult`;
- the fixture ``agency_seed``: the seed the current test runs with;
- :func:`assert_expectations`: fails a test with the scenario's unmet
  expectations and the story of each broken invariant;
- the options ``--agency-seed N`` (every agency test runs with seed N) and
  ``--agency-seeds SPEC`` (every test that uses ``agency_seed``, or carries
  ``@pytest.mark.agency_sweep``, runs once per seed, ids ``seed=N``);
- the marker ``@pytest.mark.agency_virtual``: runs an ``async def`` test on
  a :class:`~agency.clock.VirtualEventLoop`, so ``await asyncio.sleep(3600)``
  costs no wall time, and the fixture ``virtual_clock``, the
  :class:`~agency.clock.Clock` of that loop.

Only what this module imports at the top is loaded for every pytest run in
an environment where agency is installed; the simulator itself is imported
when a test first asks for it.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    from agency.clock import Clock, VirtualEventLoop
    from agency.engine import LockManagerFactory, RunResult
    from agency.scenario import Scenario

__all__ = [
    "DEFAULT_EPOCH",
    "AgencyRun",
    "agency_run",
    "agency_seed",
    "assert_expectations",
    "virtual_clock",
]

#: The instant ``virtual_clock`` reads at the start of a test, unless the
#: marker gives another: ``@pytest.mark.agency_virtual(start=...)``.
DEFAULT_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)

# Broken invariants told in full in an assertion message; the rest get a
# line each, so a run with hundreds of lost notes stays readable.
_STORIES_IN_FULL = 5


@dataclass(frozen=True, slots=True)
class _Settings:
    seed: int | None
    seeds: tuple[int, ...] | None


_SETTINGS = pytest.StashKey[_Settings]()
_LOOP = pytest.StashKey["VirtualEventLoop"]()


class AgencyRun(Protocol):
    """The type of the ``agency_run`` fixture."""

    def __call__(
        self,
        scenario: str | Path | Mapping[str, Any],
        *,
        seed: int | None = None,
        variant: str | None = None,
        lock_manager: LockManagerFactory | None = None,
        workdir: Path | None = None,
    ) -> RunResult:
        """Run ``scenario`` and return the finished run."""
        ...


def _seed_option(text: str) -> int:
    # ASCII digits only: int() would also take ' 3', '3_0' and '٣'.
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(
            f"expected a seed (a whole number, 0 or more), got {text!r}"
        )
    return int(text)


def _seeds_option(text: str) -> tuple[int, ...]:
    # Imported here: agency.sweep brings in the engine, which a pytest run
    # that never touches agency should not pay for.
    from agency.sweep import parse_seeds

    try:
        return parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``agency`` group of options."""
    group = parser.getgroup("agency", "agency simulator")
    group.addoption(
        "--agency-seed",
        type=_seed_option,
        default=None,
        metavar="N",
        help="run every agency test with seed N instead of the scenario's own",
    )
    group.addoption(
        "--agency-seeds",
        type=_seeds_option,
        default=None,
        metavar="SPEC",
        help=(
            "run every test that uses agency_seed (or agency_run), or is marked "
            "agency_sweep, once per seed, e.g. 1-20 or 1,5,10-12"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers and check the options go together."""
    config.addinivalue_line(
        "markers",
        "agency_virtual(start=None): run this async def test on agency's "
        "virtual-time event loop; start is the virtual_clock's epoch",
    )
    config.addinivalue_line(
        "markers",
        "agency_sweep(seeds=None): run this test once per seed (a spec such as "
        "'1-5' or a list of seeds); --agency-seeds overrides the seeds",
    )
    seed: int | None = config.getoption("agency_seed", None)
    seeds: tuple[int, ...] | None = config.getoption("agency_seeds", None)
    if seed is not None and seeds is not None:
        raise pytest.UsageError(
            f"--agency-seed {seed} and --agency-seeds do not go together: "
            "give one seed or a sweep"
        )
    config.stash[_SETTINGS] = _Settings(seed=seed, seeds=seeds)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> None:
    """Make a test marked ``agency_sweep`` use ``agency_seed``.

    pytest can only parametrize a fixture the test uses, and it works out
    which ones before any hook sees the test's parameters; so the marker is
    turned into ``usefixtures("agency_seed")`` while the test is collected.
    """
    if not collector.istestfunction(obj, name):
        return
    marks = _own_marks(obj)
    if collector.get_closest_marker("agency_sweep") is None and not any(
        mark.name == "agency_sweep" for mark in marks
    ):
        return
    # A function collected twice (imported into another test module) keeps
    # the one mark it got the first time.
    if not any(
        mark.name == "usefixtures" and "agency_seed" in mark.args for mark in marks
    ):
        pytest.mark.usefixtures("agency_seed")(obj)


def _own_marks(obj: object) -> list[pytest.Mark]:
    marks = getattr(obj, "pytestmark", [])
    if isinstance(marks, pytest.Mark):
        return [marks]
    return [mark for mark in marks if isinstance(mark, pytest.Mark)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize the tests that use ``agency_seed`` over the sweep's seeds."""
    if "agency_seed" not in metafunc.fixturenames:
        return
    settings = metafunc.config.stash[_SETTINGS]
    if settings.seed is not None or _parametrized_by_user(metafunc):
        return
    seeds = settings.seeds
    marker = metafunc.definition.get_closest_marker("agency_sweep")
    if seeds is None and marker is not None:
        seeds = _marker_seeds(marker, metafunc.definition.nodeid)
    if seeds:
        metafunc.parametrize(
            "agency_seed",
            seeds,
            indirect=True,
            ids=[f"seed={seed}" for seed in seeds],
        )


def _parametrized_by_user(metafunc: pytest.Metafunc) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",")]
        if "agency_seed" in names:
            return True
    return False


def _marker_seeds(marker: pytest.Mark, nodeid: str) -> tuple[int, ...] | None:
    """The seeds ``@pytest.mark.agency_sweep(...)`` names, or None."""
    if len(marker.args) > 1 or set(marker.kwargs) - {"seeds"}:
        pytest.fail(f"{nodeid}: agency_sweep takes one argument, seeds", pytrace=False)
    value = marker.args[0] if marker.args else marker.kwargs.get("seeds")
    if value is None:
        return None
    if isinstance(value, str):
        from agency.sweep import parse_seeds

        try:
            return parse_seeds(value)
        except ValueError as exc:
            pytest.fail(f"{nodeid}: agency_sweep: {exc}", pytrace=False)
    seeds = tuple(value) if isinstance(value, Sequence) else (value,)
    for seed in seeds:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            pytest.fail(
                f"{nodeid}: agency_sweep: a seed is a whole number, 0 or more, "
                f"got {seed!r}",
                pytrace=False,
            )
    if len(set(seeds)) != len(seeds):
        pytest.fail(f"{nodeid}: agency_sweep names a seed twice", pytrace=False)
    return seeds


@pytest.fixture
def agency_seed(request: pytest.FixtureRequest) -> int | None:
    """The seed the current test runs with.

    Returns:
        The sweep's seed when ``--agency-seeds`` (or the ``agency_sweep``
        marker) parametrizes the test, else ``--agency-seed``, else None,
        which means each scenario's own seed.
    """
    param: int | None = getattr(request, "param", None)
    if param is not None:
        return param
    return request.config.stash[_SETTINGS].seed


@pytest.fixture
def agency_run(request: pytest.FixtureRequest, agency_seed: int | None) -> AgencyRun:
    """A function that runs a scenario and returns the finished run.

    It takes a scenario file (a :class:`~pathlib.Path`, or a string without
    a line break), YAML text (a string with a line break, or starting with
    ``{``), or a mapping as a scenario file would give it. Relative paths,
    of the file or of an in-line scenario's ``document``, are relative to
    the test file's folder. Keywords: ``seed`` (else the test's
    ``agency_seed``, else the scenario's own), ``variant`` (run that
    variant), ``lock_manager`` and ``workdir`` as for
    :func:`~agency.engine.run_scenario` (by default the run stays in
    memory).

    Raises (from the function):
        ScenarioError: the scenario cannot be loaded; the message names the
            field.
        KeyError: the scenario has no such variant.
        SimulationError: the run deadlocked or passed its event limit.
    """
    folder = request.path.parent

    def run(
        scenario: str | Path | Mapping[str, Any],
        *,
        seed: int | None = None,
        variant: str | None = None,
        lock_manager: LockManagerFactory | None = None,
        workdir: Path | None = None,
    ) -> RunResult:
        __tracebackhide__ = True
        from agency.engine import run_scenario
        from agency.errors import ScenarioError

        if seed is None:
            seed = agency_seed
        try:
            loaded = _load(scenario, folder)
            if variant is not None:
                loaded = loaded.variant(variant)
            if seed is not None:
                loaded = loaded.with_seed(seed)
        except ScenarioError as exc:
            # Raised afresh from here, so the report ends at the test's own
            # call rather than deep in the loader.
            raise ScenarioError(
                exc.source, exc.reason, line=exc.line, field=exc.field
            ) from None
        return run_scenario(loaded, workdir=workdir, lock_manager=lock_manager)

    return run


def _load(scenario: str | Path | Mapping[str, Any], folder: Path) -> Scenario:
    __tracebackhide__ = True
    from agency.scenario import load_scenario, parse_scenario, scenario_from_mapping

    source = "<inline scenario>"
    if isinstance(scenario, Mapping):
        return scenario_from_mapping(scenario, base=folder, source=source)
    if isinstance(scenario, str) and (
        "\n" in scenario or scenario.lstrip().startswith("{")
    ):
        return parse_scenario(scenario, source=source, base=folder)
    if isinstance(scenario, str | Path):
        return load_scenario(folder / scenario)
    raise TypeError(
        "agency_run() takes a scenario file, YAML text or a mapping, "
        f"got {type(scenario).__name__}"
    )


def assert_expectations(result: RunResult) -> None:
    """Fail unless the run met every line of its scenario's ``expect:`` block.

    Raises:
        AssertionError: some expectation was not met; the message lists
            them and tells the story of each broken invariant.
    """
    __tracebackhide__ = True
    if result.ok:
        return
    from agency.report import violation_story

    scenario = result.scenario
    failed = [check for check in result.expectations if not check.met]
    lines = [
        f"{scenario.name} (seed {scenario.seed}): {len(failed)} of "
        f"{len(result.expectations)} expectations not met"
    ]
    lines.extend(
        f"  expect {check.name}: {check.expected} (got {check.actual})"
        for check in failed
    )
    violations = result.violations
    lines.append(f"violations: {len(violations) or 'none'}")
    events = result.trace.events
    for violation in violations[:_STORIES_IN_FULL]:
        story = violation_story(violation, events, result.start)
        lines.extend(f"  {line}" for line in story.splitlines())
    for violation in violations[_STORIES_IN_FULL:]:
        lines.append(
            f"  {violation.invariant} at t={violation.t:g}s: {violation.message}"
        )
    lines.append(f"trace digest: {result.digest}")
    raise AssertionError("\n".join(lines))


@pytest.fixture
def virtual_clock(request: pytest.FixtureRequest) -> Iterator[Clock]:
    """The clock of the virtual-time loop an ``agency_virtual`` test runs on.

    It reads 0.0 seconds, :data:`DEFAULT_EPOCH` (or the marker's ``start``),
    when the test begins, and moves only as the test's tasks wait.

    Raises:
        pytest.fail: the test is not marked ``agency_virtual``.
    """
    from agency.clock import Clock

    marker = request.node.get_closest_marker("agency_virtual")
    if marker is None:
        pytest.fail(
            "virtual_clock reads the loop of an @pytest.mark.agency_virtual test; "
            f"{request.node.name} is not marked so",
            pytrace=False,
        )
    epoch = _epoch(marker)
    loop = _loop_of(request.node)
    try:
        yield Clock(epoch, loop=loop)
    finally:
        if not loop.is_closed():
            loop.close()


def _loop_of(item: pytest.Item) -> VirtualEventLoop:
    from agency.clock import VirtualEventLoop

    loop = item.stash.get(_LOOP, None)
    if loop is None or loop.is_closed():
        loop = item.stash[_LOOP] = VirtualEventLoop()
    return loop


def _epoch(marker: pytest.Mark) -> datetime:
    start = marker.kwargs.get("start", marker.args[0] if marker.args else None)
    if start is None:
        return DEFAULT_EPOCH
    if isinstance(start, str):
        text = start
        try:
            start = datetime.fromisoformat(text)
        except ValueError:
            start = None
        if start is None:
            pytest.fail(
                f"agency_virtual: start is an ISO 8601 instant, got {text!r}",
                pytrace=False,
            )
    if not isinstance(start, datetime) or start.utcoffset() is None:
        pytest.fail(
            f"agency_virtual: start must be a timezone-aware datetime, got {start!r}",
            pytrace=False,
        )
    return start


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run a test marked ``agency_virtual`` on a virtual-time loop.

    Tests without the marker are left to pytest and to other plugins
    (pytest-asyncio, anyio), which in turn never see ours: this hook runs
    first and reports them handled.
    """
    if pyfuncitem.get_closest_marker("agency_virtual") is None:
        return None
    __tracebackhide__ = True
    function = _coroutine_function(pyfuncitem)
    names = pyfuncitem._fixtureinfo.argnames
    coro = function(**{name: pyfuncitem.funcargs[name] for name in names})
    loop = _loop_of(pyfuncitem)
    _drive(coro, loop, pyfuncitem.name)
    return True


def _coroutine_function(item: pytest.Function) -> Any:
    function = item.obj
    if inspect.iscoroutinefunction(function):
        return function
    # An async plugin in an automatic mode may have wrapped the test in a
    # synchronous runner of its own (keeping the original as __wrapped__);
    # our marker says this loop runs it.
    inner = inspect.unwrap(function)
    if inspect.iscoroutinefunction(inner):
        return inner
    pytest.fail(
        f"agency_virtual runs async def tests; {item.name} is not one",
        pytrace=False,
    )


def _drive(
    coro: Coroutine[Any, Any, object], loop: VirtualEventLoop, name: str
) -> None:
    """Run the test's coroutine on ``loop`` to its end, then close the loop.

    Raises:
        SimulationError: the test deadlocked, or returned with tasks of its
            own still unfinished.
    """
    __tracebackhide__ = True
    from agency.errors import SimulationError

    left: list[str] = []

    async def main() -> None:
        await coro
        current = asyncio.current_task()
        # all_tasks() is a weak set: sorted by name, the message is the same
        # every run.
        pending = sorted(
            (task for task in asyncio.all_tasks() if task is not current),
            key=lambda task: task.get_name(),
        )
        left.extend(_task_text(task) for task in pending)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    with asyncio.Runner(loop_factory=lambda: loop) as runner:
        try:
            runner.run(main())
        except SimulationError as exc:
            where = _suspended_at(coro)
            suffix = "" if where is None else f"; {name} waits at {where}"
            # Raised afresh so the report shows the message, not the loop's
            # internals.
            raise SimulationError(f"{exc}{suffix}") from None
    if left:
        raise SimulationError(
            f"{name} returned with {len(left)} task"
            f"{'' if len(left) == 1 else 's'} unfinished: {', '.join(left)}; "
            "await or cancel every task a test starts"
        )


def _task_text(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    what = getattr(coro, "__qualname__", None) or type(coro).__name__
    return f"{task.get_name()} ({what})"


def _suspended_at(coro: Coroutine[Any, Any, object]) -> str | None:
    """Where the test's own code waits: its file and line, or None."""
    frame = getattr(coro, "cr_frame", None)
    if frame is None:
        return None
    return f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno}"
