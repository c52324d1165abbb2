"""The shipped scenarios: each run meets its expectations and replays its golden trace.

Every file in ``scenarios/`` runs as written and once per variant. The trace
of each run is compared byte for byte with ``tests/golden/RUN.jsonl``. When
a change to the simulator changes traces on purpose, regenerate them with

    python -m pytest tests/test_scenarios.py --update-golden

and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agency.engine import RunResult, run_scenario
from agency.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
FILES = sorted((ROOT / "scenarios").glob("*.yaml"))
RUNS: list[Scenario] = [run for path in FILES for run in load_scenario(path).runs()]

# What each run is there to show: the invariants it must break. The unsafe
# designs are caught by the rule that names their failure; the safe ones
# break nothing.
SHOWS = {
    "contention": set(),
    "crash": set(),
    "expiry": set(),
    "expiry-loose": {"stale_write"},
    "git-only-race": {"lost_note"},
    "git-only-race-optimistic": set(),
    # Agent A's stale release frees Agent A2's lease; its late write lands.
    "loose-release": {"foreign_release", "stale_write"},
    "loose-release-safe": set(),
    # Both claim Task A; their naive writes also overwrite each other's notes.
    "owner-field-race": {"lost_note", "single_holder"},
    "owner-field-race-compare-and-set": set(),
    "parallel": set(),
    "swarm": set(),
}

_results: dict[str, RunResult] = {}


def result_of(run: Scenario) -> RunResult:
    # Each run once per session: the swarm alone is a thousand agents.
    if run.name not in _results:
        _results[run.name] = run_scenario(run)
    return _results[run.name]


def test_every_shipped_run_is_listed_with_what_it_shows() -> None:
    assert sorted(run.name for run in RUNS) == sorted(SHOWS)


@pytest.mark.parametrize("run", RUNS, ids=lambda run: run.name)
def test_run_meets_its_expectations(run: Scenario) -> None:
    result = result_of(run)

    unmet = [check for check in result.expectations if not check.met]
    assert unmet == []
    assert {v.invariant for v in result.violations} == SHOWS[run.name]


@pytest.mark.parametrize("run", RUNS, ids=lambda run: run.name)
def test_run_replays_its_golden_trace(
    run: Scenario, request: pytest.FixtureRequest
) -> None:
    trace = result_of(run).trace.jsonl()
    golden = GOLDEN / f"{run.name}.jsonl"
    if request.config.getoption("update_golden"):
        GOLDEN.mkdir(exist_ok=True)
        golden.write_bytes(trace)

    assert golden.is_file(), f"no golden trace for {run.name}; see this module"
    expected = golden.read_bytes()
    if trace != expected:
        # The first differing event says more than a byte offset.
        pairs = zip(trace.splitlines(), expected.splitlines(), strict=False)
        first = next(
            ((n, got, want) for n, (got, want) in enumerate(pairs) if got != want),
            None,
        )
        pytest.fail(f"{run.name}: the trace differs from {golden.name}; {first}")


def test_no_golden_trace_is_left_over() -> None:
    names = {path.stem for path in GOLDEN.glob("*.jsonl")}

    assert names == {run.name for run in RUNS}


def test_a_second_run_in_this_process_gives_the_same_bytes() -> None:
    for run in RUNS:
        if run.swarm is None:
            assert run_scenario(run).trace.jsonl() == result_of(run).trace.jsonl()


_FRESH = """
import json, sys
from agency.engine import run_scenario
from agency.scenario import load_scenario
digests = {}
for path in sys.argv[1:]:
    for run in load_scenario(path).runs():
        digests[run.name] = run_scenario(run).digest
print(json.dumps(digests))
"""


def test_a_fresh_process_gives_the_same_digests() -> None:
    # Another hash seed: set and dict orders that leak would show here.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}

    finished = subprocess.run(
        [sys.executable, "-c", _FRESH, *map(str, FILES)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    )

    fresh = json.loads(finished.stdout)
    assert fresh == {run.name: result_of(run).digest for run in RUNS}
