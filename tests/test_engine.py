"""Whole runs of the main scenario: the final AGENCY.md, determinism, blocking."""

from __future__ import annotations

import asyncio
import difflib
import json
import re
import subprocess
import sys
import warnings
from datetime import timedelta
from pathlib import Path

import pytest

from agency.document import AgencyDocument, TaskStatus
from agency.engine import RunResult, run_scenario
from agency.errors import ScenarioError, SimulationError
from agency.scenario import Scenario, load_scenario
from utils.formatters import format_date

ROOT = Path(__file__).resolve().parents[1]
PARALLEL = ROOT / "scenarios" / "parallel.yaml"
SEED_TEXT = (ROOT / "AGENCY.md").read_text(encoding="utf-8")
NOTE = re.compile(
    r"^- \*\*(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) - (.+) \((Agent [A-Z])\)\*\*: "
)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(PARALLEL)


@pytest.fixture(scope="module")
def result(scenario: Scenario) -> RunResult:
    return run_scenario(scenario)


def test_the_main_scenario_completes_and_meets_its_expectations(
    result: RunResult,
) -> None:
    assert result.ok
    assert result.violations == ()
    assert [a.outcome for a in result.agents] == ["completed"] * 4
    assert [a.subtasks_done for a in result.agents] == [4, 4, 4, 4]


def test_the_final_frontmatter_is_completed_and_stamped_with_the_end(
    result: RunResult,
) -> None:
    document = result.document

    assert document.status == "completed"
    assert document.owner is None
    assert document.blocked is False
    stamp = format_date(result.end, "iso")
    assert stamp.endswith("Z") and "+00:00" not in stamp
    assert f"\nlast_updated: {stamp}\n" in document.text


def test_every_box_is_ticked_and_every_progress_section_complete(
    result: RunResult,
) -> None:
    document = result.document

    assert sum(item.done for task in document.tasks for item in task.items) == 16
    assert [(p.status, p.done, p.total) for p in document.progress] == [
        (TaskStatus.COMPLETE, 4, 4)
    ] * 4


def test_each_agent_writes_at_least_two_notes_in_time_order(result: RunResult) -> None:
    notes = result.document.notes

    stamps = [note.stamp for note in notes]
    assert stamps == sorted(stamps)
    for letter in "ABCD":
        assert sum(note.agent == f"Agent {letter}" for note in notes) >= 2
    text = result.document.text
    section = text[text.index("## Agent Notes") : text.index("## Coordination")]
    lines = [line for line in section.splitlines() if NOTE.match(line)]
    assert len(lines) == len(notes)


def test_every_other_byte_is_as_in_the_seed(result: RunResult) -> None:
    """Only status lines, boxes, progress blocks and new notes differ."""
    seed = SEED_TEXT.splitlines(keepends=True)
    final = result.document.text.splitlines(keepends=True)
    allowed_changes = re.compile(
        r"^(status: |last_updated: |- \[[ x]\] |### Agent [A-D] .* - Status: "
        r"|- Owner: `|- Progress: \d+/4 tasks)"
    )

    matcher = difflib.SequenceMatcher(a=seed, b=final, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        assert op in ("replace", "insert"), (op, seed[a0:a1])
        if op == "replace":
            assert a1 - a0 == b1 - b0
            for old, new in zip(seed[a0:a1], final[b0:b1], strict=True):
                assert allowed_changes.match(old) and allowed_changes.match(new)
        else:
            assert seed[a0 - 1] == "<!-- Add timestamped notes as you work -->\n"
            assert all(NOTE.match(line) for line in final[b0:b1])


def test_five_runs_in_one_process_are_byte_identical(
    scenario: Scenario, tmp_path: Path
) -> None:
    outputs = set()
    for index in range(5):
        out = tmp_path / f"run{index}"
        run = run_scenario(scenario, workdir=out)
        document = (out / "AGENCY.md").read_bytes()
        assert document == run.document.text.encode()
        outputs.add((run.digest, run.trace.jsonl(), document))

    assert len(outputs) == 1


def test_a_run_on_disk_and_one_in_memory_have_the_same_trace(
    scenario: Scenario, result: RunResult, tmp_path: Path
) -> None:
    on_disk = run_scenario(scenario, workdir=tmp_path)

    assert on_disk.digest == result.digest
    assert on_disk.document.text == result.document.text


def test_fresh_processes_give_the_same_digest_and_bytes(
    result: RunResult, tmp_path: Path
) -> None:
    outputs = []
    for name in ("first", "second"):
        out = tmp_path / name
        finished = subprocess.run(
            [
                sys.executable,
                "-m",
                "agency.simulate",
                str(PARALLEL),
                "--json",
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        assert finished.returncode == 0, finished.stderr
        digest = json.loads(finished.stdout)["digest"]
        outputs.append(
            (
                digest,
                (out / "trace.jsonl").read_bytes(),
                (out / "AGENCY.md").read_bytes(),
            )
        )

    assert outputs[0] == outputs[1]
    assert outputs[0][0] == result.digest
    assert outputs[0][1] == result.trace.jsonl()
    assert outputs[0][2] == result.document.text.encode()


def test_another_seed_gives_another_trace_and_still_completes(
    scenario: Scenario, result: RunResult
) -> None:
    other = run_scenario(scenario.with_seed(7))

    assert other.digest != result.digest
    assert other.ok
    assert other.document.status == "completed"


def test_the_trace_shows_claims_renewals_and_releases_in_time_order(
    result: RunResult,
) -> None:
    times = [event.t for event in result.events]
    kinds = [event.kind for event in result.events]

    assert times == sorted(times)
    assert kinds.count("lease.claimed") == 4
    assert kinds.count("lease.released") == 4
    assert "lease.renewed" in kinds
    assert "lease.expired" not in kinds
    assert result.end == result.start + timedelta(seconds=result.events[-1].t)


def test_the_root_agency_md_is_never_edited(scenario: Scenario, tmp_path: Path) -> None:
    before = (ROOT / "AGENCY.md").read_bytes()

    run_scenario(scenario, workdir=tmp_path)

    assert (ROOT / "AGENCY.md").read_bytes() == before


def test_a_failing_probe_blocks_the_task_with_its_reason(scenario: Scenario) -> None:
    probes = dict(scenario.probes)
    broken = probes["strings"][0].model_copy(update={"expect": "not-what-slugify-says"})
    probes["strings"] = [broken, *probes["strings"][1:]]

    run = run_scenario(scenario.model_copy(update={"probes": probes}))

    document = run.document
    assert not run.ok
    assert document.status == "blocked"
    assert document.blocked is True
    assert document.blocking_reason is not None
    assert document.blocking_reason.startswith(
        "Agent D (agent-d) blocked on 'Implement common string operations"
    )
    assert "expected 'not-what-slugify-says'" in document.blocking_reason
    assert document.progress_of("D").status is TaskStatus.BLOCKED
    assert [a.outcome for a in run.agents] == ["completed"] * 3 + ["blocked"]
    released = [e.agent for e in run.events if e.kind == "lease.released"]
    assert sorted(released) == ["agent-a", "agent-b", "agent-c", "agent-d"]


def test_an_agent_whose_task_is_not_in_the_document_is_bad_input(
    scenario: Scenario,
) -> None:
    lonely = scenario.agents[0].model_copy(update={"id": "agent-e", "task": "E"})
    odd = scenario.model_copy(update={"agents": [*scenario.agents, lonely]})

    with pytest.raises(
        ScenarioError, match=r"agents\.4\.task: AGENCY\.md has no 'Task E'"
    ):
        run_scenario(odd)


def test_a_document_that_does_not_parse_is_bad_input(
    scenario: Scenario, tmp_path: Path
) -> None:
    broken = tmp_path / "AGENCY.md"
    broken.write_text("no frontmatter here\n")

    with pytest.raises(ScenarioError, match=r"AGENCY\.md:1: "):
        run_scenario(scenario.model_copy(update={"document": broken}))


def test_the_final_document_parses_to_the_same_state(result: RunResult) -> None:
    again = AgencyDocument.parse(result.document.text)

    assert again.notes == result.document.notes
    assert again.progress == result.document.progress


def test_the_package_exposes_the_public_surface() -> None:
    import agency

    assert agency.run_scenario is run_scenario
    assert agency.load_scenario is load_scenario
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        agency.nothing  # noqa: B018


def test_a_probe_failing_with_a_multi_line_error_blocks_the_task(
    scenario: Scenario,
) -> None:
    """JSONParseError's message carries a caret line; notes stay one line."""
    probes = dict(scenario.probes)
    wrong = probes["parsers"][1].model_copy(update={"match": "line 9"})
    probes["parsers"] = [probes["parsers"][0], wrong, *probes["parsers"][2:]]

    run = run_scenario(scenario.model_copy(update={"probes": probes}))

    assert run.agents[2].outcome == "blocked"
    reason = run.document.blocking_reason
    assert reason is not None and "\n" not in reason
    assert "raised JSONParseError: " in reason
    assert "expected a message matching 'line 9'" in reason


def test_a_probe_with_huge_arguments_leaves_a_short_note(
    scenario: Scenario, result: RunResult
) -> None:
    probes = dict(scenario.probes)
    huge = probes["strings"][0].model_copy(update={"args": ["x" * 1_000_000]})
    probes["strings"] = [huge, *probes["strings"][1:]]

    run = run_scenario(scenario.model_copy(update={"probes": probes}))

    assert run.agents[3].outcome == "blocked"
    assert len(run.document.text) < len(result.document.text) + 1_000


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("## Agent Notes\n", "## Notes\n", "no '## Agent Notes' section"),
        ("status: pending\n", "status: &s pending\nalias: *s\n", "alias"),
        ("blocked: false\n", "blocked: [false]\n", "blocked"),
    ],
)
def test_a_document_the_agents_cannot_edit_is_refused_before_the_run(
    scenario: Scenario, tmp_path: Path, old: str, new: str, reason: str
) -> None:
    document = tmp_path / "AGENCY.md"
    document.write_text(SEED_TEXT.replace(old, new, 1), encoding="utf-8")
    workdir = tmp_path / "out"

    with pytest.raises(ScenarioError, match=reason):
        run_scenario(
            scenario.model_copy(update={"document": document}), workdir=workdir
        )

    assert not workdir.exists()


def test_a_run_past_its_event_limit_stops_with_a_clear_error(
    scenario: Scenario,
) -> None:
    small = scenario.model_copy(update={"max_events": 20})

    with pytest.raises(SimulationError, match=r"passed its limit of 20 events"):
        run_scenario(small)


def test_run_scenario_inside_a_running_loop_runs_in_a_thread_of_its_own(
    scenario: Scenario, result: RunResult
) -> None:
    async def inside() -> str:
        # As from a Jupyter cell, whose code runs inside the kernel's loop.
        return run_scenario(scenario).digest

    assert asyncio.run(inside()) == result.digest


def test_a_result_without_a_stable_repr_does_not_break_replay(
    scenario: Scenario,
) -> None:
    """A generator's repr carries its address, which differs per process."""
    probe = scenario.probes["parsers"][0].model_copy(
        update={"call": "iter_json_items", "args": ["[1, 2]"], "expect": [1, 2]}
    )
    probes = {**scenario.probes, "parsers": [probe]}

    run = run_scenario(scenario.model_copy(update={"probes": probes}))

    assert run.agents[2].outcome == "blocked"
    assert " at 0x" not in run.trace.jsonl().decode()
    assert "returned <generator object iter_json_items>" in run.trace.jsonl().decode()


def test_boxes_ticked_before_the_run_count_and_keep_their_probes(
    scenario: Scenario, tmp_path: Path
) -> None:
    document = tmp_path / "AGENCY.md"
    document.write_text(
        SEED_TEXT.replace("- [ ] Include tests", "- [x] Include tests"),
        encoding="utf-8",
    )

    run = run_scenario(scenario.model_copy(update={"document": document}))

    assert run.ok
    assert run.document.progress_of("A").done == 4
    probes = [e for e in run.events if e.kind == "agent.probe" and e.agent == "agent-a"]
    assert len(probes) == len(scenario.probes["validators"])


def test_a_checklist_longer_than_its_progress_total_is_fine(
    scenario: Scenario, tmp_path: Path
) -> None:
    extra = "- [ ] Document in `src/strings.py`\n- [ ] Benchmark it\n"
    document = tmp_path / "AGENCY.md"
    document.write_text(
        SEED_TEXT.replace("- [ ] Document in `src/strings.py`\n", extra),
        encoding="utf-8",
    )

    run = run_scenario(scenario.model_copy(update={"document": document}))

    assert run.ok
    assert (
        run.document.progress_of("D").done,
        run.document.progress_of("D").total,
    ) == (
        5,
        5,
    )


def test_the_api_never_overwrites_the_original_document(
    scenario: Scenario, tmp_path: Path
) -> None:
    document = tmp_path / "AGENCY.md"
    document.write_text(SEED_TEXT, encoding="utf-8")

    with pytest.raises(ScenarioError, match="never overwrites the original"):
        run_scenario(
            scenario.model_copy(update={"document": document}), workdir=tmp_path
        )

    assert document.read_text(encoding="utf-8") == SEED_TEXT


def test_a_scenario_changed_through_model_copy_is_validated_again(
    scenario: Scenario,
) -> None:
    locks = scenario.locks.model_copy(update={"ttl": -5})

    with pytest.raises(
        ScenarioError, match=r"locks\.ttl: a duration must not be negative"
    ):
        run_scenario(scenario.model_copy(update={"locks": locks}))


def test_run_scenario_wants_a_scenario() -> None:
    with pytest.raises(
        TypeError, match=r"takes a Scenario \(see load_scenario\), got str"
    ):
        run_scenario("scenarios/parallel.yaml")  # type: ignore[arg-type]


def test_the_api_refuses_a_folder_holding_a_users_files(
    scenario: Scenario, tmp_path: Path
) -> None:
    mine = tmp_path / "AGENCY.md"
    mine.write_text("my own notes\n", encoding="utf-8")

    with pytest.raises(ScenarioError, match="holds files not written by a run"):
        run_scenario(scenario, workdir=tmp_path)

    assert mine.read_text(encoding="utf-8") == "my own notes\n"


def test_a_run_on_disk_writes_its_trace_and_may_write_there_again(
    scenario: Scenario, tmp_path: Path
) -> None:
    first = run_scenario(scenario, workdir=tmp_path)

    second = run_scenario(scenario, workdir=tmp_path)

    assert (tmp_path / "trace.jsonl").read_bytes() == first.trace.jsonl()
    assert second.digest == first.digest
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".agency-run",
        "AGENCY.md",
        "trace.jsonl",
    ]


def test_a_trace_that_cannot_be_written_is_a_clear_error_and_leaves_nothing(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_bytes = Path.write_bytes

    def full_disk(path: Path, data: bytes) -> int:
        if path.name == ".trace.jsonl.partial":
            write_bytes(path, data[:10])
            raise OSError(28, "No space left on device")
        return write_bytes(path, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)

    with pytest.raises(
        ScenarioError, match=r"trace\.jsonl: cannot write it: No space left on device$"
    ):
        run_scenario(scenario, workdir=tmp_path)

    assert not (tmp_path / "trace.jsonl").exists()
    assert not (tmp_path / ".trace.jsonl.partial").exists()


def test_a_setting_changed_through_model_copy_runs_without_warnings(
    scenario: Scenario,
) -> None:
    locks = scenario.locks.model_copy(update={"mode": "loose"})
    loose = scenario.model_copy(update={"locks": locks})

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run_scenario(loose)

    assert result.events[0].data["mode"] == "loose"


def test_a_later_run_replaces_only_the_files_the_earlier_one_wrote(
    scenario: Scenario, tmp_path: Path
) -> None:
    run_scenario(scenario, workdir=tmp_path)
    (tmp_path / "scenario.yaml").write_text("mine\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("also mine\n", encoding="utf-8")

    run_scenario(scenario, workdir=tmp_path)

    assert (tmp_path / "scenario.yaml").read_text(encoding="utf-8") == "mine\n"
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "also mine\n"
    listed = (tmp_path / ".agency-run").read_text(encoding="utf-8").splitlines()
    assert [line for line in listed if not line.startswith("#")] == [
        "AGENCY.md",
        "trace.jsonl",
    ]


def test_workdir_may_be_given_as_a_string(scenario: Scenario, tmp_path: Path) -> None:
    result = run_scenario(scenario, workdir=str(tmp_path / "out"))

    assert (tmp_path / "out" / "trace.jsonl").read_bytes() == result.trace.jsonl()
