"""The command line: output for people and programs, exit codes, bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agency import simulate
from agency.simulate import main

ROOT = Path(__file__).resolve().parents[1]
PARALLEL = ROOT / "scenarios" / "parallel.yaml"


def scenario_file(
    folder: Path,
    *changes: tuple[str, str],
    document: Path = ROOT / "AGENCY.md",
    extra: str = "",
) -> Path:
    """parallel.yaml with text replaced, pointing at ``document``, in ``folder``."""
    text = PARALLEL.read_text(encoding="utf-8")
    text = text.replace("document: ../AGENCY.md", f"document: {document}")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "scenario.yaml"
    path.write_text(text + extra, encoding="utf-8")
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_run_prints_a_timeline_then_a_summary(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(capsys, str(PARALLEL), "--out", str(tmp_path / "r"))

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("10:00:00")
    assert "claims parallel-tasks-validators (token " in out
    assert "agent-a    note: Claimed parallel-tasks-validators" in out
    assert "project status: completed" in out
    assert "violations: none" in out
    assert f"output: {tmp_path / 'r'} (AGENCY.md, trace.jsonl)" in out
    assert (tmp_path / "r" / "AGENCY.md").is_file()
    assert (tmp_path / "r" / "trace.jsonl").is_file()


def test_quiet_leaves_out_the_timeline(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run_cli(capsys, str(PARALLEL), "--quiet", "--out", str(tmp_path))

    assert code == 0
    assert "claims parallel-tasks" not in out
    assert "trace digest: " in out


def test_json_prints_one_object_for_programs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run_cli(capsys, str(PARALLEL), "--json", "--out", str(tmp_path))

    report = json.loads(out)
    assert code == 0
    assert report["scenario"] == "parallel"
    assert report["seed"] == 42
    assert report["start"] == "2025-11-23T10:00:00Z"
    assert report["end"].endswith("Z")
    assert report["status"] == "completed"
    assert report["violations"] == []
    assert report["expectations"]["met"] is True
    assert [agent["id"] for agent in report["agents"]] == [
        "agent-a",
        "agent-b",
        "agent-c",
        "agent-d",
    ]
    assert all(agent["subtasks_done"] == 4 for agent in report["agents"])
    events = (tmp_path / "trace.jsonl").read_text().splitlines()
    assert report["events"] == len(events)


def test_seed_overrides_the_scenarios_own(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, first, _ = run_cli(capsys, str(PARALLEL), "--json", "--out", str(tmp_path / "a"))
    _, second, _ = run_cli(
        capsys, str(PARALLEL), "--json", "--seed", "7", "--out", str(tmp_path / "b")
    )

    assert json.loads(second)["seed"] == 7
    assert json.loads(second)["digest"] != json.loads(first)["digest"]


def test_the_default_output_folder_is_named_after_scenario_and_seed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    code, out, _ = run_cli(capsys, str(PARALLEL), "--quiet", "--seed", "3")

    assert code == 0
    assert (tmp_path / "runs" / "parallel-seed3" / "AGENCY.md").is_file()
    assert "output: runs/parallel-seed3 (AGENCY.md, trace.jsonl)" in out


def test_a_rerun_may_overwrite_its_own_output_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = run_cli(capsys, str(PARALLEL), "--quiet", "--out", str(tmp_path / "r"))
    second = run_cli(capsys, str(PARALLEL), "--quiet", "--out", str(tmp_path / "r"))

    assert first == second


def test_a_malformed_scenario_exits_2_naming_file_line_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = scenario_file(tmp_path, ("  ttl: 30m", "  ttl: -5"))

    code, out, err = run_cli(capsys, str(bad))

    assert (code, out) == (2, "")
    assert err.startswith(f"error: {bad}:")
    assert "locks.ttl:" in err
    assert "Traceback" not in err


def test_a_missing_scenario_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "no/such/scenario.yaml")

    assert code == 2
    assert err == "error: no/such/scenario.yaml: no such file\n"


@pytest.mark.parametrize("seed", ["-1", "seven"])
def test_a_bad_seed_exits_2(capsys: pytest.CaptureFixture[str], seed: str) -> None:
    with pytest.raises(SystemExit) as caught:
        main([str(PARALLEL), "--seed", seed])

    assert caught.value.code == 2
    assert "--seed" in capsys.readouterr().err


def test_out_may_not_be_the_folder_of_the_original_agency_md(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = (ROOT / "AGENCY.md").read_bytes()

    code, _, err = run_cli(capsys, str(PARALLEL), "--out", str(ROOT))

    assert code == 2
    assert "never overwrites the original" in err
    assert (ROOT / "AGENCY.md").read_bytes() == before


def test_out_may_not_be_a_folder_holding_a_users_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    mine = tmp_path / "AGENCY.md"
    mine.write_text("my own notes\n")

    code, _, err = run_cli(capsys, str(PARALLEL), "--out", str(tmp_path))

    assert code == 2
    assert "already holds files not written by a run" in err
    assert mine.read_text() == "my own notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["AGENCY.md"]


def test_a_blocked_run_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario = scenario_file(
        tmp_path, ("expect: parallel-tasks-agent-d", "expect: something-else")
    )

    code, out, _ = run_cli(
        capsys, str(scenario), "--quiet", "--out", str(tmp_path / "r")
    )

    assert code == 1
    assert "project status: blocked" in out
    assert "expect status: completed (got blocked) NOT MET" in out


def test_a_seed_in_other_digits_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([str(PARALLEL), "--seed", "\u0663"])

    assert caught.value.code == 2
    assert "a seed is a whole number" in capsys.readouterr().err


def test_a_seed_of_thousands_of_digits_is_refused_shortened(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        main([str(PARALLEL), "--seed", "9" * 5000])

    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert err.endswith(
        "argument --seed: a seed is a whole number, 0 or more, of at most 30 "
        f"digits, got {'9' * 20!r}... (5000 chars)\n"
    )


def test_a_rerun_removes_links_instead_of_following_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "r"
    run_cli(capsys, str(PARALLEL), "--quiet", "--out", str(out))
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    (out / "trace.jsonl").unlink()
    (out / "trace.jsonl").symlink_to(precious)

    code, _, _ = run_cli(capsys, str(PARALLEL), "--quiet", "--out", str(out))

    assert code == 0
    assert precious.read_text() == "keep me\n"
    assert not (out / "trace.jsonl").is_symlink()


def test_a_refused_document_leaves_no_output_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    document = tmp_path / "AGENCY.md"
    document.write_text(
        (ROOT / "AGENCY.md")
        .read_text(encoding="utf-8")
        .replace("## Agent Notes", "## Notes")
    )
    scenario = scenario_file(tmp_path, document=document)

    code, _, err = run_cli(capsys, str(scenario), "--out", str(tmp_path / "out"))

    assert code == 2
    assert "no '## Agent Notes' section" in err
    assert not (tmp_path / "out").exists()


def test_an_output_path_that_cannot_exist_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run_cli(capsys, str(PARALLEL), "--out", str(tmp_path / ("x" * 300)))

    assert code == 2
    assert "cannot use it for output: File name too long" in err


def test_an_event_limit_exits_1_with_the_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario = scenario_file(tmp_path, extra="max_events: 10\n")

    code, _, err = run_cli(
        capsys, str(scenario), "--quiet", "--out", str(tmp_path / "r")
    )

    assert code == 1
    assert err.startswith("error: the run cannot go on: the run passed its limit")
    partial = (tmp_path / "r" / "trace.jsonl").read_text().splitlines()
    assert len(partial) == 10
    assert f"the trace up to that point: {tmp_path / 'r' / 'trace.jsonl'}" in err


def test_help_states_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])

    assert "exit codes: 0" in capsys.readouterr().out


EXPIRY = ROOT / "scenarios" / "expiry.yaml"
SWARM = ROOT / "scenarios" / "swarm.yaml"


def test_a_file_runs_as_written_then_each_variant(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(capsys, str(EXPIRY), "--quiet", "--out", str(tmp_path))

    assert (code, err) == (0, "")
    assert out.startswith("=== run 1 of 2: expiry (as written) ===\n")
    assert "\n=== run 2 of 2: expiry-loose (variant) ===\n" in out
    assert out.endswith(
        f"2 runs of {EXPIRY}:\n"
        "  expiry                           expectations held\n"
        "  expiry-loose                     expectations held\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "expiry-loose-seed11",
        "expiry-seed11",
    ]
    assert (tmp_path / "expiry-loose-seed11" / "trace.jsonl").is_file()


def test_variant_runs_that_variant_alone_into_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run_cli(
        capsys, str(EXPIRY), "--variant", "loose", "--json", "--out", str(tmp_path)
    )

    report = json.loads(out)
    assert code == 0
    assert report["scenario"] == "expiry-loose"
    assert [v["invariant"] for v in report["violations"]] == ["stale_write"]
    assert (tmp_path / "trace.jsonl").is_file()


def test_no_variants_runs_the_file_as_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run_cli(
        capsys, str(EXPIRY), "--no-variants", "--json", "--out", str(tmp_path)
    )

    assert code == 0
    assert json.loads(out)["scenario"] == "expiry"


def test_json_of_several_runs_lists_each(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run_cli(capsys, str(EXPIRY), "--json", "--out", str(tmp_path))

    report = json.loads(out)
    assert code == 0
    assert (report["file"], report["ok"]) == (str(EXPIRY), True)
    assert [run["scenario"] for run in report["runs"]] == ["expiry", "expiry-loose"]
    assert [run["out"] for run in report["runs"]] == [
        str(tmp_path / "expiry-seed11"),
        str(tmp_path / "expiry-loose-seed11"),
    ]


def test_an_unknown_variant_exits_2_naming_the_known_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(
        capsys, str(EXPIRY), "--variant", "nope", "--out", str(tmp_path)
    )

    assert (code, out) == (2, "")
    assert err == (f"error: {EXPIRY}: --variant: no variant 'nope' (variants: loose)\n")


def test_a_sweep_covers_every_run_of_the_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_cli(
        capsys, str(EXPIRY), "--seeds", "1-2", "--workers", "1", "--json"
    )

    report = json.loads(out)
    assert code == 0
    assert [run["scenario"] for run in report["runs"]] == ["expiry", "expiry-loose"]
    assert [run["seeds"] for run in report["runs"]] == [2, 2]


def test_check_reads_a_finished_run_back_and_tells_its_violations(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_cli(capsys, str(EXPIRY), "--variant", "loose", "--out", str(tmp_path))

    code, out, err = run_cli(capsys, "--check", str(tmp_path))

    assert (code, err) == (1, "")
    assert out.startswith(f"{tmp_path / 'trace.jsonl'}: 85 events, final document ")
    assert "  stale_write at 10:52:00 \N{EM DASH} a write by agent-a" in out


def test_check_of_a_clean_run_exits_0_and_gives_the_run_digest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, out, _ = run_cli(capsys, str(PARALLEL), "--json", "--out", str(tmp_path))
    digest = json.loads(out)["digest"]

    code, out, _ = run_cli(capsys, "--check", str(tmp_path / "trace.jsonl"), "--json")

    report = json.loads(out)
    assert code == 0
    assert (report["ok"], report["violations"], report["digest"]) == (True, [], digest)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, r"trace\.jsonl: cannot read it: No such file or directory"),
        ({"trace.jsonl": ""}, r"trace\.jsonl: the trace holds no events"),
        ({"trace.jsonl": "{oops\n"}, r"trace\.jsonl:1: not JSON: "),
        (
            {
                "trace.jsonl": '{"seq":0,"t":0,"at":"2025-11-23T10:00:00Z",'
                '"kind":"run.started"}\n'
            },
            r"AGENCY\.md: cannot read it: No such file or directory",
        ),
        (
            {"trace.jsonl": '{"seq":0,"t":0,"at":"soon","kind":"x"}\n'},
            r"trace\.jsonl:1: the first event is at t=0 and 'at' is a UTC",
        ),
    ],
)
def test_check_of_a_bad_run_exits_2_naming_the_file(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    files: dict[str, str],
    message: str,
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")

    code, out, err = run_cli(capsys, "--check", str(tmp_path))

    assert (code, out) == (2, "")
    assert re.match(rf"^error: {re.escape(str(tmp_path))}/{message}", err)


def test_check_takes_no_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([str(PARALLEL), "--check", "runs"])

    assert exited.value.code == 2
    assert "--check reads a finished run; give no scenario file" in (
        capsys.readouterr().err
    )


def test_a_reader_that_leaves_early_does_not_cut_the_run_short(tmp_path: Path) -> None:
    out = tmp_path / "r"
    command = [sys.executable, "-m", "agency.simulate", str(SWARM), "--out", str(out)]

    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        first = child.stdout.readline()
        child.stdout.close()  # as '| head -1' does
        err = child.stderr.read()

    assert first.startswith(b"08:00:00 ")
    assert (child.returncode, err) == (0, b"")
    trace = (out / "trace.jsonl").read_bytes()
    assert trace.endswith(
        b'"kind":"run.finished","agent":null,"resource":null,'
        b'"revision":0,"status":"pending"}\n'
    )


def test_a_run_cut_off_at_its_horizon_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario = scenario_file(tmp_path, extra="horizon: 10m\n")

    code, out, _ = run_cli(
        capsys, str(scenario), "--quiet", "--out", str(tmp_path / "r")
    )

    assert code == 1
    assert (
        "horizon: the run stopped at 10:10:00 (scenario field horizon), "
        "4 agents still at work\n"
    ) in out


def test_check_of_an_event_with_a_field_of_the_wrong_type_exits_2_naming_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_cli(capsys, str(PARALLEL), "--quiet", "--out", str(tmp_path))
    trace = tmp_path / "trace.jsonl"
    lines = trace.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(n for n, line in enumerate(lines) if '"lease.claimed"' in line)
    lines[number] = lines[number].replace('"token":1', '"token":"1"')
    trace.write_text("".join(lines), encoding="utf-8")

    code, out, err = run_cli(capsys, "--check", str(tmp_path))

    assert (code, out) == (2, "")
    assert err == (
        f"error: {trace}:{number + 1}: a lease.claimed event needs a whole number "
        "in 'token', got '1'\n"
    )


def test_check_refuses_a_document_the_trace_did_not_write(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_cli(capsys, str(PARALLEL), "--quiet", "--out", str(tmp_path))
    (tmp_path / "AGENCY.md").write_bytes((ROOT / "AGENCY.md").read_bytes())

    code, out, err = run_cli(capsys, "--check", str(tmp_path))

    assert (code, out) == (2, "")
    assert err.startswith(
        f"error: {tmp_path / 'AGENCY.md'}: not the document this trace wrote last"
    )


def test_ctrl_c_during_a_run_exits_130_without_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted() -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(simulate, "main", interrupted)

    assert simulate._entry() == 130
    assert capsys.readouterr().err == "interrupted: the run was stopped\n"


def test_a_sweep_of_a_variant_replays_with_that_variant(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_cli(
        capsys, str(EXPIRY), "--variant", "loose", "--seeds", "1-2", "--workers", "1"
    )

    assert code == 0
    assert out.rstrip().endswith(
        f"to see stale_write break: python -m agency.simulate {EXPIRY} "
        "--variant loose --seed 1"
    )
