"""Reports for people and programs: event words and violation stories."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agency.engine import RunResult, run_scenario
from agency.invariants import INVARIANTS, Violation, check
from agency.report import (
    RULES,
    describe_event,
    story_events,
    summary_json,
    summary_text,
    timeline_line,
    violation_data,
    violation_story,
)
from agency.scenario import load_scenario
from agency.trace import Event, JSONValue

ROOT = Path(__file__).resolve().parents[1]
SEED = (ROOT / "AGENCY.md").read_text(encoding="utf-8")
START = datetime(2025, 11, 23, 10, 0, tzinfo=UTC)
R = "parallel-tasks-validators"
OTHER = "parallel-tasks-parsers"
NAME = "single_holder"


class Recorder:
    """Builds a hand-written trace, one event at a time."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(
        self,
        t: float,
        kind: str,
        agent: str | None = None,
        resource: str | None = None,
        **data: JSONValue,
    ) -> int:
        seq = len(self.events)
        self.events.append(Event(seq, t, f"t={t}", kind, agent, resource, data))
        return seq


def event(kind: str, resource: str | None = R, **data: JSONValue) -> Event:
    return Event(0, 0.0, "2025-11-23T10:00:00Z", kind, "agent-a", resource, data)


def event_lines(story: str) -> list[str]:
    """The story's event lines, without their marks."""
    return [line[4:] for line in story.splitlines() if line[:4] in ("  > ", "    ")]


def two_holders() -> tuple[Recorder, Violation]:
    """agent-a stalls past its lease's end; agent-b is granted it early."""
    trace = Recorder()
    trace.add(0, "run.started", agents=2, ttl=1800, mode="safe")
    trace.add(5, "agent.started", "agent-a", task="1.1")
    trace.add(5, "lease.claimed", "agent-a", R, token=1, expires_at=1805)
    trace.add(300, "fault.stall", "agent-a", duration=2400)
    trace.add(1700, "agent.started", "agent-b", task="1.2")
    trace.add(1721, "lease.claimed", "agent-b", R, token=2, expires_at=3521)
    [violation] = [v for v in check(trace.events, SEED) if v.invariant == NAME]
    return trace, violation


# -- describe_event --------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "resource", "data", "text"),
    [
        (
            "lease.reclaimed",
            R,
            {"token": 3, "expires_at": 1800},
            f"re-claims {R}, which it already holds (token 3, until 10:30:00)",
        ),
        ("fault.crash", None, {}, "fault: crashes"),
        ("fault.stall", None, {"duration": 600}, "fault: stalls for 10 min"),
        ("fault.stall_end", None, {}, "fault: stall ends, carries on"),
        (
            "fault.slow_write",
            None,
            {"delay": 90},
            "fault: slow write, delayed 1 min 30 s",
        ),
        (
            "fault.clock_skew",
            None,
            {"offset": -90, "drift": 0.5},
            "fault: its clock runs 1 min 30 s behind (drift 0.5)",
        ),
        ("fault.clock_skew", None, {"offset": 30}, "fault: its clock runs 30 s ahead"),
        (
            "fault.lost_reply",
            R,
            {"token": 4},
            f"fault: a reply about {R} is lost (token 4)",
        ),
        (
            "owner.claimed",
            None,
            {"task": "1.2"},
            "sets itself as Owner of Task 1.2 in AGENCY.md",
        ),
        (
            "owner.released",
            None,
            {"task": "1.2"},
            "clears the Owner of Task 1.2 in AGENCY.md",
        ),
        (
            "doc.conflict",
            None,
            {"expected": 4, "actual": 5},
            "write conflict: AGENCY.md changed since it was read "
            "(expected revision 4, found 5)",
        ),
        ("agent.retry", None, {"reason": "revision moved"}, "retries: revision moved"),
        ("agent.skipped", None, {"reason": "task taken"}, "skipped: task taken"),
        ("agent.crashed", None, {"reason": "fault"}, "crashed: fault"),
        ("run.horizon", None, {"t": 7200}, "run stops at its time bound (12:00:00)"),
        (
            "run.horizon",
            None,
            {"reason": "2 h passed"},
            "run stops at its time bound: 2 h passed",
        ),
    ],
)
def test_new_event_kinds_are_told_in_plain_words(
    kind: str, resource: str | None, data: dict[str, JSONValue], text: str
) -> None:
    assert describe_event(event(kind, resource, **data), START) == text


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("lease.reclaimed", f"re-claims {R}, which it already holds"),
        ("fault.stall", "fault: stalls"),
        ("fault.slow_write", "fault: slow write"),
        ("fault.clock_skew", "fault: its clock is skewed"),
        ("fault.lost_reply", f"fault: a reply about {R} is lost"),
        ("owner.claimed", "sets itself as Owner of its task in AGENCY.md"),
        ("owner.released", "clears the Owner of its task in AGENCY.md"),
        ("doc.conflict", "write conflict: AGENCY.md changed since it was read"),
        ("agent.retry", "retries"),
        ("agent.skipped", "skipped"),
        ("agent.crashed", "crashed"),
        ("run.horizon", "run stops at its time bound"),
    ],
)
def test_new_event_kinds_without_their_fields_still_get_words(
    kind: str, text: str
) -> None:
    assert describe_event(event(kind), START) == text


def test_nonsense_fields_do_not_break_the_words() -> None:
    stall = event("fault.stall", duration=-5)
    skew = event("fault.clock_skew", offset="soon", drift=True)

    assert describe_event(stall, START) == "fault: stalls"
    assert describe_event(skew, START) == "fault: its clock is skewed"


def test_unknown_kinds_are_still_not_shown() -> None:
    assert describe_event(event("lease.teleported"), START) is None
    assert timeline_line(event("lease.teleported"), START) is None


def test_a_timeline_line_may_carry_the_date() -> None:
    crash = Event(0, 86400 + 61, "", "fault.crash", "agent-a")

    assert timeline_line(crash, START) == "10:01:01  agent-a    fault: crashes"
    assert timeline_line(crash, START, days=True) == (
        "2025-11-24 10:01:01  agent-a    fault: crashes"
    )


# -- rules -------------------------------------------------------------------


def test_every_invariant_has_a_rule_in_one_line() -> None:
    assert set(INVARIANTS) | {"liveness"} <= set(RULES)
    assert RULES["single_holder"] == (
        "at most one agent may hold a resource at any instant"
    )
    assert RULES["liveness"] == (
        "once faults stop, the project completes within the scenario's bound"
    )
    assert all("\n" not in rule and len(rule) < 80 for rule in RULES.values())


# -- stories -----------------------------------------------------------------


def test_a_single_holder_story_reads_from_claim_to_claim() -> None:
    trace, violation = two_holders()

    story = violation_story(violation, trace.events, START)

    assert story == "\n".join(
        [
            f"single_holder at 10:28:41 \N{EM DASH} {violation.message}",
            "  rule: at most one agent may hold a resource at any instant",
            f"  agents: agent-a, agent-b; resources: {R}",
            "    10:00:05  agent-a    starts on Task 1.1",
            f"  > 10:00:05  agent-a    claims {R} (token 1, until 10:30:05)",
            "    10:05:00  agent-a    fault: stalls for 40 min",
            "    10:28:20  agent-b    starts on Task 1.2",
            f"  > 10:28:41  agent-b    claims {R} (token 2, until 10:58:41)",
        ]
    )


def test_story_data_holds_the_same_events_as_trace_objects() -> None:
    trace, violation = two_holders()

    data = violation_data(violation, trace.events, START)

    assert data["invariant"] == "single_holder"
    assert data["rule"] == RULES["single_holder"]
    assert (data["t"], data["at"]) == (1721, "2025-11-23T10:28:41Z")
    assert data["message"] == violation.message
    assert (data["agents"], data["resources"]) == (["agent-a", "agent-b"], [R])
    assert [e["seq"] for e in data["events"]] == [1, 2, 3, 4, 5]
    assert data["events"][1] == json.loads(trace.events[2].to_json())
    assert data["events"][1]["token"] == 1
    json.dumps(data)  # programs get plain JSON


def test_context_stays_short_and_relevant_among_many_unrelated_events() -> None:
    trace = Recorder()
    trace.add(0, "run.started", agents=4, ttl=1800, mode="safe")
    first = trace.add(5, "lease.claimed", "agent-a", R, token=1, expires_at=1805)
    for minute in range(1, 29):
        t = minute * 60.0
        # Two other agents busy on another resource, and engine bookkeeping.
        trace.add(t, "lease.renewed", "agent-c", OTHER, token=2, expires_at=t + 1800)
        trace.add(t, "agent.note", "agent-d", text=f"minute {minute}")
        trace.add(t, "doc.write", "agent-c", OTHER, revision=minute)
        trace.add(t + 1, "run.tick")
        if minute % 7 == 0:
            part = minute // 7
            trace.add(t + 2, "agent.subtask", "agent-a", index=part,
                      title=f"part {part}", worked=420, probes=1)  # fmt: skip
            trace.add(t + 3, "agent.probe", "agent-a", call="f()", passed=True)
    trace.add(1740, "fault.clock_skew", "agent-b", offset=120)
    second = trace.add(1750, "lease.claimed", "agent-b", R, token=3, expires_at=3550)
    trace.add(1750, "agent.note", "agent-b", text="after the fact")
    [violation] = [v for v in check(trace.events, SEED) if v.invariant == NAME]

    shown = story_events(violation, trace.events)
    lines = event_lines(violation_story(violation, trace.events, START))

    assert len(trace.events) > 120
    assert {first, second} <= {e.seq for e in shown}
    assert len(shown) == len(lines) == 6  # two named and four of context
    assert [e.seq for e in shown] == sorted(e.seq for e in shown)
    assert all(e.agent in ("agent-a", "agent-b") for e in shown)
    assert shown[-1].seq == second  # nothing after the violation
    assert [line[21:] for line in lines[1:5]] == [
        "done 2: part 2 (7 min, 1 probe)",
        "done 3: part 3 (7 min, 1 probe)",
        "done 4: part 4 (7 min, 1 probe)",
        "fault: its clock runs 2 min ahead",
    ]


def test_a_leaked_lease_shows_what_happened_after_the_claim() -> None:
    trace = Recorder()
    trace.add(0, "lease.claimed", "agent-a", R, token=1, expires_at=1800)
    trace.add(60, "lease.claimed", "agent-b", OTHER, token=2, expires_at=1860)
    trace.add(90, "fault.crash", "agent-a")
    trace.add(90, "agent.crashed", "agent-a", reason="injected crash")
    trace.add(100, "lease.released", "agent-b", OTHER, token=2)
    trace.add(100, "run.finished", status="in_progress", revision=1)
    [violation] = check(trace.events, SEED)

    lines = event_lines(violation_story(violation, trace.events, START))

    assert violation.invariant == "lease_leaked"
    assert lines == [
        f"10:00:00  agent-a    claims {R} (token 1, until 10:30:00)",
        "10:01:30  agent-a    fault: crashes",
        "10:01:30  agent-a    crashed: injected crash",
    ]


def test_a_stale_write_shows_both_writes_even_though_the_timeline_hides_them() -> None:
    trace = Recorder()
    trace.add(0, "doc.write", "agent-b", R, revision=2, fence_resource=R, fence_token=2)
    trace.add(3, "fault.stall_end", "agent-a")
    trace.add(5, "doc.write", "agent-a", R, revision=3, fence_resource=R, fence_token=1)
    [violation] = check(trace.events, SEED)

    story = violation_story(violation, trace.events, START)

    assert story.splitlines()[1:] == [
        f"  rule: {RULES['stale_write']}",
        f"  agents: agent-a; resources: {R}",
        f"  > 10:00:00  agent-b    writes AGENCY.md (revision 2, token 2 of {R})",
        "    10:00:03  agent-a    fault: stall ends, carries on",
        f"  > 10:00:05  agent-a    writes AGENCY.md (revision 3, token 1 of {R})",
    ]


def test_named_events_without_words_are_still_shown() -> None:
    trace = Recorder()
    trace.add(0, "lease.teleported", "agent-a", R, to="mars")
    violation = Violation("liveness", 3600, "never completed", ("agent-a",), (), (0,))

    story = violation_story(violation, trace.events, START)

    assert story.splitlines() == [
        "liveness at 11:00:00 \N{EM DASH} never completed",
        f"  rule: {RULES['liveness']}",
        "  agents: agent-a",
        "  > 10:00:00  agent-a    lease.teleported (to=mars)",
    ]


def test_too_many_named_events_are_cut_to_the_latest() -> None:
    trace = Recorder()
    for minute in range(12):
        trace.add(minute * 60, "agent.retry", "agent-a", reason=f"try {minute}")
    violation = Violation(
        "liveness", 720, "kept retrying", ("agent-a",), (), tuple(range(12))
    )

    story = violation_story(violation, trace.events, START)
    lines = event_lines(story)

    assert "  (4 earlier events named by the check not shown)" in story.splitlines()
    assert len(lines) == 8
    assert lines[0].endswith("retries: try 4")
    assert lines[-1].endswith("retries: try 11")


def test_a_violation_without_events_is_its_heading_and_rule() -> None:
    violation = Violation("document_parses", 50, "the final document: no frontmatter")

    story = violation_story(violation, [], START)
    data = violation_data(violation, [], START)

    assert story.splitlines() == [
        "document_parses at 10:00:50 \N{EM DASH} the final document: no frontmatter",
        f"  rule: {RULES['document_parses']}",
    ]
    assert (data["events"], data["agents"], data["resources"]) == ([], [], [])


def test_an_invariant_without_words_has_no_rule_line() -> None:
    violation = Violation("brand_new", 0, "something broke", ("agent-a",))

    assert violation_story(violation, [], START).splitlines() == [
        "brand_new at 10:00:00 \N{EM DASH} something broke",
        "  agents: agent-a",
    ]
    assert violation_data(violation, [], START)["rule"] is None


def test_a_story_past_midnight_carries_dates() -> None:
    trace = Recorder()
    trace.add(50000, "lease.claimed", "agent-a", R, token=1, expires_at=51800)
    violation = Violation("lease_leaked", 60000, "leaked", ("agent-a",), (R,), (0,))

    story = violation_story(violation, trace.events, START)

    assert story.startswith("lease_leaked at 2025-11-24 02:40:00 \N{EM DASH}")
    assert "  > 2025-11-23 23:53:20  agent-a    claims" in story
    assert violation_story(violation, trace.events, START, days=False).startswith(
        "lease_leaked at 02:40:00"
    )


# -- summaries -----------------------------------------------------------------


@pytest.fixture(scope="module")
def broken_run() -> RunResult:
    """A real run, with a leak pinned on the first claim, as a check might."""
    result = run_scenario(load_scenario(ROOT / "scenarios" / "parallel.yaml"))
    claim = next(e for e in result.trace if e.kind == "lease.claimed")
    assert claim.agent is not None and claim.resource is not None
    leak = Violation(
        "lease_leaked",
        claim.t + 1,
        f"{claim.agent} still held {claim.resource}",
        (claim.agent,),
        (claim.resource,),
        (claim.seq,),
    )
    return dataclasses.replace(result, violations=(leak,) * 7)


def test_the_text_summary_tells_the_first_stories_in_full(
    broken_run: RunResult,
) -> None:
    text = summary_text(broken_run, source="parallel.yaml", out=None)
    lines = text.splitlines()

    assert "violations: 7" in lines
    assert text.count("  lease_leaked at 10:") == 7
    assert text.count(f"    rule: {RULES['lease_leaked']}") == 5
    assert "    > 10:" in text
    assert "  and 2 more (all told in --json):" in lines


def test_the_json_summary_keeps_its_keys_and_adds_the_story(
    broken_run: RunResult,
) -> None:
    report = summary_json(broken_run, source="parallel.yaml", out=None)
    entry = report["violations"][0]
    claim = broken_run.violations[0].events[0]

    assert len(report["violations"]) == 7
    assert list(entry) == [
        "invariant",
        "rule",
        "t",
        "at",
        "message",
        "agents",
        "resources",
        "events",
        "story_events",
    ]
    assert entry["events"] == [claim]
    assert entry["rule"] == RULES["lease_leaked"]
    assert entry["at"].startswith("2025-11-23T10:")
    assert claim in [e["seq"] for e in entry["story_events"]]
    assert json.loads(json.dumps(report)) == report


def test_named_events_the_timeline_hides_or_cannot_read_are_shown_bare() -> None:
    trace = Recorder()
    trace.add(0, "agent.probe", "agent-a", call="f()", passed=True)
    trace.add(1, "lease.claimed", "agent-a", R, token=1)  # no expires_at
    violation = Violation("liveness", 2, "stuck", ("agent-a",), (R,), (0, 1))

    lines = event_lines(violation_story(violation, trace.events, START))

    assert lines == [
        "10:00:00  agent-a    agent.probe (call=f(), passed=True)",
        "10:00:01  agent-a    lease.claimed (token=1)",
    ]
