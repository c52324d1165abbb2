"""Invariants over a trace: each rule catches the run that breaks it."""

from __future__ import annotations

from pathlib import Path

from agency.engine import run_scenario
from agency.invariants import check, check_saved_run
from agency.scenario import load_scenario
from agency.trace import Event, JSONValue

ROOT = Path(__file__).resolve().parents[1]
SEED = (ROOT / "AGENCY.md").read_text(encoding="utf-8")
R = "parallel-tasks-validators"


class Recorder:
    """Builds a hand-written trace, one event at a time."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(
        self,
        t: float,
        kind: str,
        agent: str,
        resource: str | None = R,
        **data: JSONValue,
    ) -> None:
        self.events.append(
            Event(len(self.events), t, f"t={t}", kind, agent, resource, data)
        )


def names(events: list[Event], text: str = SEED) -> list[str]:
    return [violation.invariant for violation in check(events, text)]


def test_a_clean_claim_and_release_breaks_nothing() -> None:
    trace = Recorder()
    trace.add(0, "lease.claimed", "agent-a", token=1, expires_at=1800)
    trace.add(100, "lease.released", "agent-a", token=1)

    assert names(trace.events) == []


def test_two_live_holders_of_one_resource_are_caught() -> None:
    trace = Recorder()
    trace.add(0, "lease.claimed", "agent-a", token=1, expires_at=1800)
    trace.add(60, "lease.claimed", "agent-b", token=2, expires_at=1860)
    trace.add(100, "lease.released", "agent-b", token=2)

    violations = check(trace.events, SEED)

    assert [v.invariant for v in violations] == ["single_holder"]
    assert violations[0].agents == ("agent-a", "agent-b")
    assert violations[0].events == (0, 1)
    assert "agent-b was granted parallel-tasks-validators while agent-a" in (
        violations[0].message
    )


def test_a_claim_after_the_previous_lease_expired_is_fine() -> None:
    trace = Recorder()
    trace.add(0, "lease.claimed", "agent-a", token=1, expires_at=1800)
    trace.add(1800, "lease.claimed", "agent-b", token=2, expires_at=3600)
    trace.add(1900, "lease.released", "agent-b", token=2)

    assert names(trace.events) == []


def test_a_renewal_keeps_the_holder_live() -> None:
    trace = Recorder()
    trace.add(0, "lease.claimed", "agent-a", token=1, expires_at=1800)
    trace.add(1500, "lease.renewed", "agent-a", token=1, expires_at=3300)
    trace.add(2000, "lease.claimed", "agent-b", token=2, expires_at=3800)

    assert names(trace.events)[0] == "single_holder"


def test_a_token_that_does_not_grow_is_caught() -> None:
    trace = Recorder()
    trace.add(0, "lease.claimed", "agent-a", token=5, expires_at=60)
    trace.add(10, "lease.released", "agent-a", token=5)
    trace.add(20, "lease.claimed", "agent-b", token=5, expires_at=80)
    trace.add(30, "lease.released", "agent-b", token=5)

    assert names(trace.events) == ["token_order"]


def test_a_write_accepted_under_an_older_token_is_caught() -> None:
    trace = Recorder()
    trace.add(0, "doc.write", "agent-b", fence_resource=R, fence_token=2)
    trace.add(5, "doc.write", "agent-a", fence_resource=R, fence_token=1)

    violations = check(trace.events, SEED)

    assert [v.invariant for v in violations] == ["stale_write"]
    assert violations[0].agents == ("agent-a",)


def test_a_note_missing_from_the_final_document_is_caught() -> None:
    trace = Recorder()
    trace.add(0, "agent.note", "agent-a", None, text="Starting work")

    violations = check(trace.events, SEED)

    assert [v.invariant for v in violations] == ["lost_note"]
    assert "'Starting work'" in violations[0].message


def test_the_same_words_written_twice_must_be_kept_twice() -> None:
    note = "- **2025-11-23 10:00 - Claude Haiku (Agent A)**: Done\n"
    text = SEED.replace(
        "<!-- Add timestamped notes as you work -->\n",
        "<!-- Add timestamped notes as you work -->\n" + note,
    )
    trace = Recorder()
    trace.add(0, "agent.note", "agent-a", None, text="Done")
    trace.add(1, "agent.note", "agent-b", None, text="Done")

    assert names(trace.events, text) == ["lost_note"]


def test_a_lease_still_held_at_the_end_is_leaked() -> None:
    trace = Recorder()
    trace.add(0, "lease.claimed", "agent-a", token=1, expires_at=1800)
    trace.add(100, "run.finished", "engine", None)

    assert names(trace.events) == ["lease_leaked"]


def test_a_final_document_that_does_not_parse_is_caught() -> None:
    assert names([], "no frontmatter\n") == ["document_parses"]


def test_a_saved_run_checks_to_the_violations_of_the_run_itself(tmp_path: Path) -> None:
    run = load_scenario(ROOT / "scenarios" / "loose-release.yaml")
    result = run_scenario(run, workdir=tmp_path)

    saved = check_saved_run(tmp_path)

    assert saved.digest == result.digest
    assert saved.events == tuple(result.events)
    assert saved.start == result.start
    assert saved.violations == tuple(
        v for v in result.violations if v.invariant != "liveness"
    )
    assert {v.invariant for v in saved.violations} == {"foreign_release", "stale_write"}
