"""The pytest plugin, driven through pytester: fixtures, options, markers.

Every inner session runs in this process (``runpytest_inprocess``), which
keeps the whole module to a few seconds; the plugin reaches those sessions
through its entry point, as it reaches a user's.
"""

from __future__ import annotations

import importlib.metadata
import textwrap
from pathlib import Path

import pytest

# The plugin imports the simulator lazily, and pytester unloads after each
# inner session what that session imported; importing these here, once,
# keeps every inner session from loading them again.
from agency.errors import ScenarioError
from agency.report import RULES
from agency.scenario import load_scenario, parse_scenario
from agency.sweep import parse_seeds

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "AGENCY.md"
EXPIRY = ROOT / "scenarios" / "expiry.yaml"

# One agent building Task A: a run of a few dozen events. The other tasks
# stay open, so the project ends in progress.
TINY = f"""\
name: tiny
seed: 3
start: 2025-11-23T10:00:00Z
document: {DOC}
work: 2m
agents:
  - {{id: agent-a, name: Claude Haiku, role: email validator, task: A,
     module: validators}}
expect:
  status: in_progress
  outcomes: {{agent-a: completed}}
"""


def _module(*bodies: str) -> str:
    """An inner test module: the imports its tests share, then ``bodies``."""
    head = f"""\
        from __future__ import annotations

        import asyncio
        from datetime import UTC, datetime
        from pathlib import Path

        import pytest

        from agency.pytest_plugin import assert_expectations

        DOC = {str(DOC)!r}
        EXPIRY = {str(EXPIRY)!r}
        """
    return "".join(textwrap.dedent(part) for part in (head, *bodies))


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # Hypothesis' plugin imports hypothesis at the end of every session, and
    # pytester unloads it after each: a second a run, for tests that never
    # use it.
    return pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args
    )


# The entry point.


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    (entry,) = [
        entry
        for entry in importlib.metadata.entry_points(group="pytest11")
        if entry.name == "agency"
    ]
    assert entry.value == "agency.pytest_plugin"


def test_pytest_loads_it_unasked_and_p_no_agency_turns_it_off(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_seed(agency_seed):\n    assert agency_seed is None\n")

    _run(pytester).assert_outcomes(passed=1)
    _run(pytester, "-p", "no:agency").assert_outcomes(errors=1)


# agency_run and assert_expectations.


def test_a_scenario_file_next_to_the_test_passes_and_a_broken_one_fails(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".yaml", tiny=TINY)
    pytester.makefile(
        ".yaml", wrong=TINY.replace("status: in_progress", "status: completed")
    )
    pytester.makepyfile(
        _module(
            """
            def test_tiny(agency_run):
                result = agency_run("tiny.yaml")
                assert result.scenario.seed == 3
                assert_expectations(result)

            def test_wrong(agency_run):
                assert_expectations(agency_run(Path("wrong.yaml")))
            """
        )
    )

    result = _run(pytester)

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E*AssertionError: tiny (seed 3): 1 of 3 expectations not met",
            "E*  expect status: completed (got in_progress)",
            "E*violations: none",
            "E*trace digest: *",
        ]
    )


def test_the_message_tells_the_story_of_each_broken_invariant(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _module(
            """
            def test_loose_locks_let_a_stale_write_through(agency_run):
                text = Path(EXPIRY).read_text()
                text = text.replace("mode: safe", "mode: loose")
                text = text.replace("../AGENCY.md", DOC)
                assert_expectations(agency_run(text))
            """
        )
    )

    result = _run(pytester)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E*AssertionError: expiry (seed 11): 2 of 6 expectations not met",
            "E*  expect violations: none (got stale_write)",
            "E*  expect doc.refused events: 1 (got 0)",
            "E*violations: 1",
            "E*  stale_write at 10:52:00 * a write by agent-a under token 1 *",
            f"E*    rule: {RULES['stale_write']}",
        ]
    )


def test_in_line_scenarios_as_yaml_or_a_dict_resolve_the_document_locally(
    pytester: pytest.Pytester,
) -> None:
    # The repository's AGENCY.md, copied beside the inner test, so that a
    # relative 'document:' has something to find there.
    pytester.makefile(".md", AGENCY=DOC.read_text(encoding="utf-8"))
    local = TINY.replace(str(DOC), "AGENCY.md")
    pytester.makepyfile(
        _module(
            f"""
            LOCAL = {local!r}

            def test_yaml(agency_run):
                result = agency_run(LOCAL)
                assert result.scenario.document == Path(__file__).parent / "AGENCY.md"
                assert_expectations(result)

            def test_one_line_flow_yaml(agency_run):
                flow = (
                    "{{name: flow, seed: 1, start: 2025-11-23T10:00:00Z, "
                    "document: AGENCY.md, expect: {{status: in_progress}}, "
                    "agents: [{{id: agent-b, name: B, role: dates, task: B, "
                    "module: formatters}}]}}"
                )
                assert_expectations(agency_run(flow))

            def test_dict(agency_run):
                scenario = {{
                    "name": "dict",
                    "seed": 5,
                    "start": "2025-11-23T10:00:00Z",
                    "document": "AGENCY.md",
                    "agents": [
                        {{"id": "agent-d", "name": "D", "role": "strings",
                          "task": "D", "module": "strings"}}
                    ],
                    "expect": {{"status": "in_progress"}},
                }}
                result = agency_run(scenario)
                assert [agent.outcome for agent in result.agents] == ["completed"]

            def test_bad_field(agency_run):
                agency_run(LOCAL.replace("task: A", "task: a"))

            def test_bad_dict_field(agency_run):
                agency_run({{"name": "x", "seed": -1, "start": "2025-11-23T10:00:00Z",
                            "document": "AGENCY.md", "agents": []}})
            """
        )
    )

    result = _run(pytester)

    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "E*agency.errors.ScenarioError: <inline scenario>:7: agents.0.task: "
            "String should match pattern *",
            "E*agency.errors.ScenarioError: <inline scenario>: seed: "
            "Input should be greater than or equal to 0 *",
        ],
        consecutive=False,
    )


def test_every_line_of_a_dict_scenarios_errors_names_source_and_field(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _module(
            """
            from agency.errors import ScenarioError

            def test_missing_fields(agency_run):
                with pytest.raises(ScenarioError) as caught:
                    agency_run({"name": "x", "document": DOC, "agents": []})
                assert str(caught.value) == (
                    "<inline scenario>: seed: Field required\\n"
                    "  <inline scenario>: start: Field required"
                )
            """
        )
    )

    _run(pytester).assert_outcomes(passed=1)


def test_variant_workdir_and_lock_manager_reach_the_run(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _module(
            """
            from agency.locks import LockManager

            def test_loose(agency_run, tmp_path):
                made = []

                def locks(clock, mode, trace):
                    made.append(mode.value)
                    return LockManager(clock, mode=mode, trace=trace)

                result = agency_run(
                    EXPIRY, variant="loose", workdir=tmp_path, lock_manager=locks
                )
                assert result.scenario.name == "expiry-loose"
                assert made == ["loose"]
                assert (tmp_path / "AGENCY.md").read_text() == result.document.text
                assert_expectations(result)

            def test_no_such_variant(agency_run):
                with pytest.raises(KeyError, match="no variant 'tight'"):
                    agency_run(EXPIRY, variant="tight")
            """
        )
    )

    _run(pytester).assert_outcomes(passed=2)


def test_parse_scenario_reads_text_as_load_scenario_reads_a_file() -> None:
    text = EXPIRY.read_text(encoding="utf-8")

    parsed = parse_scenario(text, source="expiry", base=EXPIRY.parent)

    assert parsed == load_scenario(EXPIRY)
    line = text.splitlines().index("seed: 11") + 1
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text.replace("seed: 11", "seed: eleven"), source="here")
    assert (caught.value.source, caught.value.field) == ("here", "seed")
    assert str(caught.value).startswith(f"here:{line}: seed: ")


# Seeds: --agency-seed, --agency-seeds and the agency_sweep marker.

SEEDED = """
    def test_run(agency_run, agency_seed):
        result = agency_run(EXPIRY)
        assert result.scenario.seed == (11 if agency_seed is None else agency_seed)

    def test_explicit_seed_wins(agency_run):
        assert agency_run(EXPIRY, seed=7).scenario.seed == 7

    def test_plain():
        pass
    """


def test_agency_seed_overrides_the_scenarios_seed(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _module(
            SEEDED,
            """
            def test_the_option_reached_the_fixture(agency_seed):
                assert agency_seed == 42
            """,
        )
    )

    result = _run(pytester, "--agency-seed", "42", "-v")

    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*::test_run PASSED*"])


def test_a_three_seed_sweep_runs_each_seeded_test_three_times(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _module(
            SEEDED,
            """
            @pytest.mark.agency_sweep
            def test_marked_without_the_fixture(request):
                assert request.getfixturevalue("agency_seed") in (4, 5, 6)
            """,
        )
    )

    result = _run(pytester, "--agency-seeds", "4-6", "-v", "--strict-markers")

    result.assert_outcomes(passed=10)
    seeds = parse_seeds("4-6")
    result.stdout.fnmatch_lines(
        [
            *(f"*::test_run[[]seed={seed}[]] PASSED*" for seed in seeds),
            *(f"*::test_explicit_seed_wins[[]seed={seed}[]] PASSED*" for seed in seeds),
            "*::test_plain PASSED*",
            *(
                f"*::test_marked_without_the_fixture[[]seed={s}[]] PASSED*"
                for s in seeds
            ),
        ],
        consecutive=False,
    )


def test_the_marker_carries_seeds_of_its_own_and_the_option_overrides_them(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _module(
            """
            @pytest.mark.agency_sweep("1,3")
            def test_spec(agency_seed):
                assert agency_seed in (1, 3)

            @pytest.mark.agency_sweep(seeds=[8, 9])
            def test_list(agency_seed):
                assert agency_seed in (8, 9)

            @pytest.mark.parametrize("agency_seed", [100])
            def test_own_parametrization(agency_seed):
                assert agency_seed == 100
            """
        )
    )

    own = _run(pytester, "--collect-only", "-q")
    swept = _run(pytester, "--agency-seeds", "2", "--collect-only", "-q")

    own.stdout.fnmatch_lines(
        [
            "*::test_spec[[]seed=1[]]",
            "*::test_spec[[]seed=3[]]",
            "*::test_list[[]seed=8[]]",
            "*::test_list[[]seed=9[]]",
            "*::test_own_parametrization[[]100[]]",
        ]
    )
    swept.stdout.fnmatch_lines(["*::test_spec[[]seed=2[]]", "*::test_list[[]seed=2[]]"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--agency-seed", "x"],
            "*argument --agency-seed: expected a seed (a whole number, 0 or more), "
            "got 'x'",
        ),
        (["--agency-seed", "-1"], "*argument --agency-seed: expected*"),
        (
            ["--agency-seeds", "3-1"],
            "*argument --agency-seeds: the range '3-1' runs backwards (in '3-1')",
        ),
        (
            ["--agency-seeds", "1,,2"],
            "*argument --agency-seeds: an empty item is neither a seed *",
        ),
        (
            ["--agency-seed", "1", "--agency-seeds", "1-3"],
            "*--agency-seed 1 and --agency-seeds do not go together*",
        ),
    ],
)
def test_bad_option_values_are_usage_errors_naming_option_and_value(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")

    result = _run(pytester, *args)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_a_bad_marker_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _module(
            """
            @pytest.mark.agency_sweep("5-1")
            def test_backwards(agency_seed):
                pass
            """
        )
    )

    result = _run(pytester)

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*agency_sweep: the range '5-1' runs backwards*"])


# Async tests on the virtual clock.


def test_an_hour_of_virtual_sleep_passes_on_the_virtual_clock(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _module(
            """
            import anyio

            @pytest.mark.agency_virtual
            async def test_an_hour(virtual_clock):
                assert virtual_clock.now() == datetime(2025, 1, 1, tzinfo=UTC)
                await asyncio.sleep(3600)
                await anyio.sleep(60)
                assert virtual_clock.time() == 3660
                assert virtual_clock.now() == datetime(2025, 1, 1, 1, 1, tzinfo=UTC)

            @pytest.mark.agency_virtual(start="2025-11-23T10:00:00+00:00")
            async def test_with_an_epoch(virtual_clock):
                async with asyncio.timeout(7200):
                    await asyncio.gather(asyncio.sleep(1800), asyncio.sleep(900))
                assert virtual_clock.now().isoformat() == "2025-11-23T10:30:00+00:00"

            @pytest.mark.agency_virtual
            async def test_without_the_clock():
                loop = asyncio.get_running_loop()
                await asyncio.sleep(86_400)
                assert loop.time() == 86_400
            """
        )
    )

    result = _run(pytester, "--strict-markers")

    result.assert_outcomes(passed=3)


def test_a_failing_assertion_inside_fails_with_the_usual_message(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _module(
            """
            @pytest.mark.agency_virtual
            async def test_late(virtual_clock):
                await asyncio.sleep(3600)
                assert virtual_clock.time() == 60
            """
        )
    )

    result = _run(pytester)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [">       assert virtual_clock.time() == 60", "E       assert 3600.0 == 60*"]
    )


def test_a_deadlock_or_an_unfinished_task_is_a_simulation_error(
    pytester: pytest.Pytester,
) -> None:
    source = _module(
        """
        @pytest.mark.agency_virtual
        async def test_stuck():
            await asyncio.sleep(5)
            await asyncio.Event().wait()

        @pytest.mark.agency_virtual
        async def test_forgets_a_task():
            asyncio.create_task(asyncio.sleep(10), name="sleeper")
        """
    )
    line = source.splitlines().index("    await asyncio.Event().wait()") + 1
    pytester.makepyfile(source)

    result = _run(pytester)

    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "E   agency.errors.SimulationError: deadlock at t=5s: no task can run "
            f"and no timer is pending; test_stuck waits at test_*.py:{line}",
            "E   agency.errors.SimulationError: test_forgets_a_task returned with 1 "
            "task unfinished: sleeper (sleep); await or cancel every task a test "
            "starts",
        ],
        consecutive=False,
    )


def test_misuse_of_the_marker_or_the_clock_fails_the_test_plainly(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _module(
            """
            @pytest.mark.agency_virtual
            def test_sync():
                pass

            def test_clock_unmarked(virtual_clock):
                pass

            @pytest.mark.agency_virtual(start="noon")
            async def test_bad_start(virtual_clock):
                pass
            """
        )
    )

    result = _run(pytester)

    result.assert_outcomes(failed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*virtual_clock reads the loop of an @pytest.mark.agency_virtual test; "
            "test_clock_unmarked is not marked so",
            "*agency_virtual: start is an ISO 8601 instant, got 'noon'",
            "*agency_virtual runs async def tests; test_sync is not one",
        ],
        consecutive=False,
    )


def test_other_async_plugins_keep_their_tests_and_never_get_ours(
    pytester: pytest.Pytester,
) -> None:
    # A greedy plugin that claims every coroutine test, as pytest-asyncio's
    # auto mode does, and one that wraps the test in a synchronous runner
    # (keeping __wrapped__) before it is called.
    pytester.makeconftest(
        """
        import functools
        import inspect

        import pytest

        def pytest_pyfunc_call(pyfuncitem):
            if inspect.iscoroutinefunction(inspect.unwrap(pyfuncitem.obj)):
                raise AssertionError(f"the greedy plugin ran {pyfuncitem.name}")

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtest_call(item):
            if "wrapped" in item.name:
                inner = item.obj

                @functools.wraps(inner)
                def run_in_sync(**kwargs):
                    raise AssertionError("the wrapper ran")

                item.obj = run_in_sync
        """
    )
    pytester.makepyfile(
        _module(
            """
            @pytest.mark.agency_virtual
            async def test_ours(virtual_clock):
                await asyncio.sleep(3600)
                assert virtual_clock.time() == 3600

            @pytest.mark.agency_virtual
            async def test_ours_wrapped(virtual_clock):
                await asyncio.sleep(60)
                assert virtual_clock.time() == 60

            async def test_theirs():
                pass

            @pytest.mark.anyio
            @pytest.mark.parametrize("anyio_backend", ["asyncio"])
            async def test_anyio_still_works():
                await asyncio.sleep(0)
            """
        )
    )

    result = _run(pytester)

    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*the greedy plugin ran test_theirs"])
