"""Seed sweeps: the --seeds syntax, serial and parallel runs, the table, the CLI."""

from __future__ import annotations

import json
import multiprocessing
import pickle
from pathlib import Path

import pytest

import agency.simulate
import agency.sweep
from agency.errors import LeaseConflict
from agency.scenario import Expectations, Scenario, load_scenario
from agency.simulate import main
from agency.sweep import (
    MAX_SEEDS,
    InvariantTally,
    SeedOutcome,
    SweepResult,
    format_seeds,
    parse_seeds,
    sweep,
    sweep_text,
)

ROOT = Path(__file__).resolve().parents[1]
PARALLEL = ROOT / "scenarios" / "parallel.yaml"


@pytest.fixture(scope="module")
def parallel() -> Scenario:
    return load_scenario(PARALLEL)


def write_scenario(folder: Path, extra: str) -> Path:
    """parallel.yaml with its document made absolute and ``extra`` appended."""
    text = PARALLEL.read_text(encoding="utf-8").replace(
        "document: ../AGENCY.md", f"document: {ROOT / 'AGENCY.md'}"
    )
    path = folder / "scenario.yaml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def outcome(seed: int, *violations: str, ok: bool = True) -> SeedOutcome:
    return SeedOutcome(
        seed=seed,
        ok=ok,
        violations=violations,
        digest=f"digest-{seed}",
        status="completed",
        error=None,
        first_message=f"{violations[0]} broke" if violations else None,
    )


# --seeds syntax


@pytest.mark.parametrize(
    ("spec", "seeds"),
    [
        ("7", (7,)),
        ("0", (0,)),
        ("1-3", (1, 2, 3)),
        ("5-5", (5,)),
        ("1,5,10-12", (1, 5, 10, 11, 12)),
        ("10-12,1", (1, 10, 11, 12)),
        ("007", (7,)),
    ],
)
def test_a_seed_spec_names_seeds_in_order(spec: str, seeds: tuple[int, ...]) -> None:
    assert parse_seeds(spec) == seeds


def test_a_seed_spec_may_name_a_million_seeds() -> None:
    seeds = parse_seeds(f"1-{MAX_SEEDS}")

    assert (len(seeds), seeds[0], seeds[-1]) == (MAX_SEEDS, 1, MAX_SEEDS)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("", "an empty item is neither a seed"),
        ("1,,2", "an empty item"),
        ("seven", "'seven' is neither a seed"),
        ("-1", "'-1' is neither a seed"),
        ("1-", "'1-' is neither"),
        ("1-2-3", "'1-2-3' is neither"),
        (" 1", "' 1' is neither"),
        ("1.5", "'1.5' is neither"),
        ("\u0663", "is neither a seed"),
        ("3-1", "the range '3-1' runs backwards"),
        ("1,1", "seed 1 is named more than once"),
        ("1-5,3", "seed 3 is named more than once"),
        ("1-5,5-9", "seed 5 is named more than once"),
        (f"0-{MAX_SEEDS}", "more than 1,000,000 seeds"),
        ("1-999999999999999999", "more than 1,000,000 seeds"),
        ("9" * 5000, "is too long for a seed"),
    ],
)
def test_a_bad_seed_spec_is_refused_naming_it(spec: str, reason: str) -> None:
    with pytest.raises(ValueError, match=r"\(in ") as caught:
        parse_seeds(spec)

    assert reason in str(caught.value)
    assert len(spec) > 100 or repr(spec) in str(caught.value)


def test_seeds_are_formatted_back_as_ranges() -> None:
    assert format_seeds([12, 1, 10, 11, 5]) == "1,5,10-12"
    assert format_seeds(parse_seeds("1-1000")) == "1-1000"


# sweep()


def test_a_parallel_sweep_equals_a_serial_one(parallel: Scenario) -> None:
    seeds = range(1, 7)

    serial = sweep(parallel, seeds, workers=1)
    pooled = sweep(parallel, reversed(seeds), workers=2)

    assert pooled == serial
    assert serial.seeds == tuple(seeds)
    assert serial.ok and serial.met == 6
    assert len({o.digest for o in serial.outcomes}) == 6
    assert multiprocessing.active_children() == []


def test_an_outcome_matches_the_single_run_of_its_seed(
    parallel: Scenario, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (only,) = sweep(parallel, [3]).outcomes
    main([str(PARALLEL), "--json", "--seed", "3", "--out", str(tmp_path)])
    single = json.loads(capsys.readouterr().out)

    assert only.digest == single["digest"]
    assert only.status == single["status"] == "completed"


def test_a_run_that_cannot_finish_is_an_outcome_not_a_crash(
    parallel: Scenario,
) -> None:
    limited = parallel.model_copy(update={"max_events": 10})

    serial = sweep(limited, [1, 2, 3], workers=1)
    pooled = sweep(limited, [1, 2, 3], workers=2)

    assert pooled == serial
    assert (serial.errors, serial.failed, serial.met) == (3, 0, 0)
    assert serial.first_failing_seed == 1
    first = serial.outcomes[0]
    assert first.error is not None and "passed its limit" in first.error
    assert (first.ok, first.digest, first.status) == (False, None, None)


def test_a_scenario_survives_the_trip_to_a_spawned_worker(
    parallel: Scenario,
) -> None:
    # Where fork is unsafe (macOS, Windows) workers are spawned and get the
    # scenario pickled; spawning them here would take seconds of imports.
    assert pickle.loads(pickle.dumps(parallel)) == parallel


def test_a_bug_in_a_worker_names_the_seed(
    parallel: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(scenario: Scenario, seed: int) -> SeedOutcome:
        raise LeaseConflict("res", "agent-x", 1.0)  # takes 3 args: no pickle

    monkeypatch.setattr(agency.sweep, "_outcome", broken)  # forked workers see it

    with pytest.raises(RuntimeError, match=r"the run of seed [12] failed") as caught:
        sweep(parallel, [1, 2], workers=2)

    assert "LeaseConflict" in str(caught.value)
    assert multiprocessing.active_children() == []


def test_progress_reports_seeds_done_and_failing(parallel: Scenario) -> None:
    blocked = parallel.model_copy(update={"expect": Expectations(status="blocked")})
    calls: list[tuple[int, int]] = []

    sweep(blocked, [1, 2], workers=2, progress=lambda d, f: calls.append((d, f)))

    assert calls[0] == (0, 0)
    assert calls[-1] == (2, 2)


def test_ctrl_c_stops_the_pool_and_leaves_no_worker(parallel: Scenario) -> None:
    def interrupt(done: int, failing: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(parallel, range(40), workers=2, progress=interrupt)

    assert multiprocessing.active_children() == []


@pytest.mark.parametrize(
    ("seeds", "workers", "message"),
    [
        ([1, 1], 1, "distinct"),
        ([-1], 1, "0 or more"),
        ([1], 0, "workers must be 1 or more"),
    ],
)
def test_sweep_refuses_bad_arguments(
    parallel: Scenario, seeds: list[int], workers: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        sweep(parallel, seeds, workers=workers)


# the table


def test_the_result_sums_up_invariants_by_seed() -> None:
    result = SweepResult.from_outcomes(
        "demo",
        [
            outcome(4, "lease_leaked", ok=False),
            outcome(2, "single_holder", "token_order", "single_holder", ok=False),
            outcome(1),
            outcome(3, "single_holder"),
        ],
    )

    assert result.seeds == (1, 2, 3, 4)
    assert (result.met, result.failed, result.errors) == (2, 2, 0)
    assert result.invariants == (
        InvariantTally("single_holder", 2, 2),
        InvariantTally("token_order", 1, 2),
        InvariantTally("lease_leaked", 1, 4),
    )
    assert result.first_failing_seed == 2


def test_the_table_names_each_broken_invariant_and_the_replay_command() -> None:
    result = SweepResult.from_outcomes(
        "demo",
        [
            outcome(1),
            outcome(2, "single_holder", "token_order", ok=False),
            outcome(3, "single_holder", ok=False),
            outcome(5),
        ],
    )

    assert sweep_text(result, source="my scenarios/demo.yaml") == "\n".join(
        [
            "demo: 4 seeds (1-3,5)",
            "",
            "expectations held            2",
            "expectations failed          2",
            "run errored                  0",
            "",
            "invariant         seeds  first seed",
            "single_holder         2  2",
            "token_order           1  2",
            "",
            "first failing seed: 2 (single_holder: single_holder broke)",
            "replay it: python -m agency.simulate 'my scenarios/demo.yaml' --seed 2",
        ]
    )


def test_an_expected_break_still_gets_a_replay_command() -> None:
    result = SweepResult.from_outcomes(
        "demo", [outcome(3, "lost_note"), outcome(4, "lost_note")]
    )

    assert sweep_text(result, source="demo.yaml").endswith(
        "\ninvariant     seeds  first seed\n"
        "lost_note         2  3\n"
        "\n"
        "every seed met expectations; to see lost_note break: "
        "python -m agency.simulate demo.yaml --seed 3"
    )


# the command line


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_passing_sweep_prints_the_table_and_exits_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    code, out, err = run_cli(capsys, str(PARALLEL), "--seeds", "1-3")

    assert (code, err) == (0, "")  # stderr is no terminal here: no bar
    assert out.startswith("parallel: 3 seeds (1-3)\n")
    assert "expectations held            3" in out
    assert "violations: none" in out
    assert "replay" not in out
    assert list(tmp_path.iterdir()) == []  # a sweep writes nothing


def test_a_failing_sweep_exits_1_naming_the_seed_to_replay(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario = write_scenario(tmp_path, "").read_text(encoding="utf-8")
    path = tmp_path / "blocked.yaml"
    path.write_text(scenario.replace("  status: completed", "  status: blocked"))

    code, out, _ = run_cli(capsys, str(path), "--seeds", "4,2", "--workers", "2")

    assert code == 1
    assert "expectations failed          2" in out
    assert (
        "first failing seed: 2 (expectations not met; project status completed)" in out
    )
    assert f"replay it: python -m agency.simulate {path} --seed 2" in out


def test_json_prints_the_summary_and_every_outcome(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    limited = write_scenario(tmp_path, "max_events: 10\n")

    code, out, err = run_cli(
        capsys, str(limited), "--seeds", "1,2", "--json", "--workers", "1"
    )

    report = json.loads(out)
    assert (code, err) == (1, "")
    assert {k: v for k, v in report.items() if k != "outcomes"} == {
        "scenario": "parallel",
        "file": str(limited),
        "seeds": 2,
        "seed_spec": "1-2",
        "ok": False,
        "met": 0,
        "failed": 0,
        "errors": 2,
        "invariants": [],
        "first_failing_seed": 1,
        "replay": f"python -m agency.simulate {limited} --seed 1",
    }
    assert [o["seed"] for o in report["outcomes"]] == [1, 2]
    assert set(report["outcomes"][0]) == {
        "seed",
        "ok",
        "violations",
        "digest",
        "status",
        "error",
        "first_message",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds", "3-1"], "argument --seeds: the range '3-1' runs backwards"),
        (["--seeds", "x"], "'x' is neither a seed"),
        (["--seeds", "1-3", "--seed", "2"], "not allowed with argument"),
        (["--seeds", "1-3", "--out", "r"], "--out cannot be used with --seeds"),
        (["--seeds", "1-3", "--workers", "0"], "argument --workers"),
        (["--workers", "2"], "--workers only applies to a sweep"),
    ],
)
def test_bad_sweep_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        main([str(PARALLEL), *args])

    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_a_missing_scenario_in_a_sweep_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_cli(capsys, "no/such.yaml", "--seeds", "1-3")

    assert (code, out) == (2, "")
    assert err == "error: no/such.yaml: no such file\n"


def test_ctrl_c_during_a_sweep_exits_130_without_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> SweepResult:
        raise KeyboardInterrupt

    monkeypatch.setattr(agency.sweep, "sweep", interrupted)

    code, out, err = run_cli(capsys, str(PARALLEL), "--seeds", "1-3")

    assert (code, out) == (130, "")
    assert err == "interrupted: the sweep was stopped\n"
