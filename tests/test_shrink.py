"""Shrinking: a failing run cut down to a small scenario that still fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agency.clock import Clock
from agency.engine import run_scenario
from agency.errors import InvalidArgument
from agency.locks import LockManager, LockMode
from agency.scenario import Scenario, load_scenario
from agency.shrink import shrink, write_scenario
from agency.simulate import main
from agency.trace import Trace

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


class _NoExpiry(LockManager):
    """A lock manager with its expiry turned off: leases outlive their TTL."""

    def _expire_due(self) -> None:
        pass

    def _arm_timer(self) -> None:
        pass


def no_expiry(clock: Clock, mode: LockMode, trace: Trace) -> LockManager:
    return _NoExpiry(clock, mode=mode, trace=trace)


def test_a_lock_manager_without_expiry_is_caught_by_the_invariants() -> None:
    scenario = load_scenario(SCENARIOS / "crash.yaml")

    result = run_scenario(scenario, lock_manager=no_expiry)

    broken = {violation.invariant for violation in result.violations}
    assert broken == {"lease_leaked", "liveness"}
    assert not result.ok
    assert run_scenario(scenario).ok


def test_the_broken_manager_in_a_swarm_shrinks_to_a_crash_and_a_waiter() -> None:
    scenario = load_scenario(SCENARIOS / "swarm.yaml")

    found = shrink(scenario, "lease_leaked", lock_manager=no_expiry)

    shrunk = found.scenario
    assert found.original_agents == 1000
    assert found.original_faults > 10
    assert len(shrunk.agents) <= 2
    assert [fault.kind for fault in shrunk.faults] == ["crash"]
    assert "lease_leaked" in {v.invariant for v in found.result.violations}
    assert shrunk.swarm is None
    # The correct manager passes the same small scenario.
    assert not run_scenario(shrunk).violations


def test_the_shrunk_scenario_replays_from_its_file(tmp_path: Path) -> None:
    found = shrink(load_scenario(SCENARIOS / "git-only-race.yaml"))
    path = tmp_path / "shrunk.yaml"

    write_scenario(found.scenario, path, header=["a header line"])

    replayed = load_scenario(path)
    assert path.read_text().startswith("# a header line\n")
    assert run_scenario(replayed).digest == found.result.digest
    assert replayed.expect.violations == ["lost_note"]
    assert len(replayed.agents) < 4
    assert replayed.document == (ROOT / "AGENCY.md").resolve()


def test_shrinking_keeps_the_invariant_asked_for() -> None:
    scenario = load_scenario(SCENARIOS / "git-only-race.yaml")

    found = shrink(scenario, "lost_note", max_runs=5)

    assert found.invariant == "lost_note"
    # Five to search, one to run the result under its new name.
    assert found.runs <= 6
    assert "lost_note" in {v.invariant for v in found.result.violations}


def test_a_run_that_breaks_nothing_cannot_be_shrunk() -> None:
    scenario = load_scenario(SCENARIOS / "contention.yaml")

    with pytest.raises(InvalidArgument, match=r"^contention \(seed \d+\) breaks no"):
        shrink(scenario)
    with pytest.raises(InvalidArgument, match=r"does not break lost_note"):
        shrink(load_scenario(SCENARIOS / "expiry.yaml").variant("loose"), "lost_note")


def test_shrinking_the_same_scenario_twice_gives_the_same_result() -> None:
    scenario: Scenario = load_scenario(SCENARIOS / "owner-field-race.yaml")
    first = shrink(scenario)

    second = shrink(scenario)

    assert second.scenario == first.scenario
    assert second.result.digest == first.result.digest


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_shrink_writes_a_scenario_that_replays_the_failure(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "shrunk"

    code, text, err = run_cli(
        capsys, str(SCENARIOS / "git-only-race.yaml"), "--shrink", "--out", str(out)
    )

    assert (code, err) == (0, "")
    assert text.startswith("git-only-race-shrunk (seed 5) breaks lost_note\n")
    assert (
        (out / "scenario.yaml")
        .read_text()
        .startswith(
            f"# Shrunk by python -m agency.simulate {SCENARIOS / 'git-only-race.yaml'} "
            f"--shrink --out {out}\n"
        )
    )
    assert f"replay it: python -m agency.simulate {out / 'scenario.yaml'}" in text
    assert sorted(p.name for p in out.iterdir()) == [
        ".agency-run",
        "AGENCY.md",
        "scenario.yaml",
        "trace.jsonl",
    ]
    replay = str(tmp_path / "replay")
    code, text, _ = run_cli(
        capsys, str(out / "scenario.yaml"), "--quiet", "--json", "--out", replay
    )
    report = json.loads(text)
    assert code == 0
    assert [v["invariant"] for v in report["violations"]][:1] == ["lost_note"]


def test_cli_shrink_takes_the_first_failing_seed_of_a_sweep(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario = SCENARIOS / "owner-field-race.yaml"

    code, text, _ = run_cli(
        capsys,
        str(scenario),
        "--no-variants",
        "--seeds",
        "1-3",
        "--workers",
        "1",
        "--shrink",
        "--json",
        "--out",
        str(tmp_path / "s"),
    )

    report = json.loads(text)
    assert code == 0
    assert report["seed"] == 1
    assert report["agents"]["after"] <= report["agents"]["before"]
    assert report["invariant"] in report["violations"]


def test_cli_shrink_with_nothing_broken_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, text, err = run_cli(
        capsys,
        str(SCENARIOS / "contention.yaml"),
        "--shrink",
        "--out",
        str(tmp_path / "s"),
    )

    assert (code, text) == (1, "")
    assert err.startswith("nothing to shrink: ")
    assert err.rstrip().endswith("breaks no invariant at its seed (7)")
    assert not (tmp_path / "s").exists()


def test_cli_invariant_needs_shrink(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([str(SCENARIOS / "contention.yaml"), "--invariant", "lost_note"])

    assert exited.value.code == 2
    assert "--invariant only applies to --shrink" in capsys.readouterr().err


def test_a_saved_scenario_has_no_trailing_blanks_and_an_absolute_document_outside(
    tmp_path: Path,
) -> None:
    scenario = load_scenario(SCENARIOS / "git-only-race.yaml")
    path = tmp_path / "saved.yaml"

    write_scenario(scenario, path)

    text = path.read_text(encoding="utf-8")
    assert all(line == line.rstrip() for line in text.splitlines())
    assert f"document: {(ROOT / 'AGENCY.md').as_posix()}\n" in text
    assert load_scenario(path).description == scenario.description


def test_a_saved_scenario_inside_the_current_folder_points_up_to_its_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "runs" / "x").mkdir(parents=True)
    (project / "AGENCY.md").write_bytes((ROOT / "AGENCY.md").read_bytes())
    scenario = load_scenario(SCENARIOS / "git-only-race.yaml").model_copy(
        update={"document": project / "AGENCY.md"}
    )
    monkeypatch.chdir(project)

    write_scenario(scenario, project / "runs" / "x" / "scenario.yaml")

    text = (project / "runs" / "x" / "scenario.yaml").read_text(encoding="utf-8")
    assert "document: ../../AGENCY.md\n" in text


def test_cli_shrink_never_overwrites_a_scenario_of_yours(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "shrunk"
    args = [str(SCENARIOS / "git-only-race.yaml"), "--shrink", "--out", str(out)]
    assert run_cli(capsys, *args)[0] == 0
    assert run_cli(capsys, *args)[0] == 0  # its own scenario.yaml is replaced
    (out / "scenario.yaml").unlink()
    run_cli(
        capsys,
        str(SCENARIOS / "git-only-race.yaml"),
        "--no-variants",
        "--out",
        str(out),
    )
    (out / "scenario.yaml").write_text("mine\n", encoding="utf-8")

    code, text, err = run_cli(capsys, *args)

    assert (code, text) == (2, "")
    assert (
        err
        == f"error: {out / 'scenario.yaml'}: is there already, not written by a run\n"
    )
    assert (out / "scenario.yaml").read_text(encoding="utf-8") == "mine\n"
