"""Agents under each coordination approach, write mode and fault, run by run.

Scenarios are built in code on the root AGENCY.md (see ``inline.py``) with
fixed durations, so the virtual times asserted here are exact: every subtask
takes 4 minutes, a lease lasts 30 (renewed 5 before it runs out), and a
write takes no time unless a test says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from inline import (
    FOUR,
    A,
    after,
    agent,
    events,
    invariants,
    outcomes,
    scenario,
    second_a,
    times,
    token,
)

from agency.document import TaskStatus
from agency.engine import RunResult, run_scenario
from agency.scenario import FaultKind, Scenario

MODULES = ("validators", "formatters", "parsers", "strings")
IDS = [spec["id"] for spec in FOUR]


def crash(agent_id: str = "agent-a", **when: Any) -> dict[str, Any]:
    return {"agent": agent_id, "kind": "crash", **when}


def stall(duration: str, agent_id: str = "agent-a", **when: Any) -> dict[str, Any]:
    return {"agent": agent_id, "kind": "stall", "duration": duration, **when}


def skew(**fields: Any) -> dict[str, Any]:
    return {"agent": "agent-a", "kind": "clock_skew", "after": "claim", **fields}


# -- coordination approaches ---------------------------------------------


@pytest.mark.parametrize("approach", ["git-only", "owner-field", "lease", "combined"])
def test_each_approach_completes_the_parallel_project_in_its_safe_form(
    approach: str,
) -> None:
    run = run_scenario(scenario(coordination=approach))

    assert run.document.status == "completed"
    assert outcomes(run) == dict.fromkeys(IDS, "completed")
    assert run.violations == ()
    assert [(p.status, p.done, p.total) for p in run.document.progress] == [
        (TaskStatus.COMPLETE, 4, 4)
    ] * 4


def test_git_only_writes_a_claim_and_a_finish_note_per_agent_and_takes_no_lease() -> (
    None
):
    run = run_scenario(scenario(coordination="git-only"))

    assert [e for e in run.events if e.kind.startswith("lease.")] == []
    assert all(e.data["fence_token"] is None for e in events(run, "doc.write"))
    for letter, module in zip("ABCD", MODULES, strict=True):
        texts = [n.text for n in run.document.notes if n.agent == f"Agent {letter}"]
        assert len(texts) == 2
        assert texts[0].startswith(f"Claiming Task {letter}; starting work")
        assert texts[1].startswith(f"Completed {module}.py: 4/4 subtasks")


def test_owner_field_names_each_agent_as_owner_then_clears_the_field_on_release() -> (
    None
):
    run = run_scenario(scenario(coordination="owner-field"))

    assert sorted(e.agent or "" for e in events(run, "owner.claimed")) == IDS
    assert sorted(e.agent or "" for e in events(run, "owner.released")) == IDS
    assert [p.owner for p in run.document.progress] == [None] * 4
    assert "- Owner: `agent-" not in run.document.text
    assert [e for e in run.events if e.kind.startswith("lease.")] == []
    assert len(run.document.notes) == 8


def test_an_owner_field_claim_stays_in_the_document_when_its_owner_crashes() -> None:
    run = run_scenario(
        scenario(coordination="owner-field", faults=[crash(after="claim")])
    )

    task_a = run.document.progress_of("A")
    assert (task_a.owner, task_a.status) == ("agent-a", TaskStatus.IN_PROGRESS)
    assert events(run, "owner.released", "agent-a") == []
    assert [p.owner for p in run.document.progress[1:]] == [None] * 3


def test_lease_takes_a_lease_per_task_and_writes_no_notes() -> None:
    run = run_scenario(scenario(coordination="lease"))

    resources = sorted(f"parallel-tasks-{module}" for module in MODULES)
    assert sorted(e.resource or "" for e in events(run, "lease.claimed")) == resources
    assert sorted(e.resource or "" for e in events(run, "lease.released")) == resources
    assert events(run, "agent.note") == []
    assert run.document.notes == ()
    assert [result.notes_written for result in run.agents] == [0] * 4
    assert all(e.data["fence_token"] is not None for e in events(run, "doc.write"))


def test_combined_takes_a_lease_per_task_and_notes_the_token_it_works_under() -> None:
    run = run_scenario(scenario(coordination="combined"))

    claims = {e.resource: e.data["token"] for e in events(run, "lease.claimed")}
    assert len(claims) == 4 and len(events(run, "lease.released")) == 4
    assert len(run.document.notes) == 8
    first = next(n.text for n in run.document.notes if n.agent == "Agent A")
    assert first.startswith(f"Claimed {A} (token {claims[A]}, TTL 30 min)")


# -- write modes -----------------------------------------------------------

# The git-only race: four agents spend 20 s to 3 min between reading AGENCY.md
# and writing it back.
RACE: dict[str, Any] = {
    "seed": 5,
    "coordination": "git-only",
    "work": {"min": "2m", "max": "6m"},
}


def race(mode: str) -> Scenario:
    writes = {"mode": mode, "edit_time": {"min": "20s", "max": "3m"}, "retry": "10s"}
    return scenario(**RACE, writes=writes)


def test_naive_read_modify_write_by_concurrent_agents_loses_notes() -> None:
    run = run_scenario(race("naive"))

    assert "lost_note" in invariants(run)
    assert len(run.document.notes) < len(events(run, "agent.note"))
    assert events(run, "doc.refused") == []


def test_optimistic_writes_are_refused_and_redone_and_lose_no_note() -> None:
    run = run_scenario(race("optimistic"))

    assert run.violations == ()
    refused = events(run, "doc.refused")
    assert refused and all(
        "expected revision" in str(e.data["reason"]) for e in refused
    )
    retries = [e for e in events(run, "agent.retry") if "moved on" in str(e.data)]
    assert len(retries) == len(refused)
    assert Counter(n.text for n in run.document.notes) == Counter(
        str(e.data["text"]) for e in events(run, "agent.note")
    )
    assert run.document.status == "completed"


def test_atomic_writes_by_concurrent_agents_lose_no_note_and_never_conflict() -> None:
    run = run_scenario(race("atomic"))

    assert run.violations == ()
    assert events(run, "doc.refused") == [] and events(run, "agent.retry") == []
    assert len(run.document.notes) == len(events(run, "agent.note")) == 8


def test_an_optimistic_retry_stamps_its_note_with_the_time_it_was_redone() -> None:
    run = run_scenario(
        scenario(
            coordination="git-only",
            agents=[agent(0), agent(1, start_after="2m")],
            writes={"mode": "optimistic", "retry": "5s"},
            faults=[
                {"agent": "agent-a", "kind": "slow_write", "after": "start"}
                | {"duration": "10m"}
            ],
        )
    )

    assert times(run, "doc.refused", "agent-a") == [600.0]
    assert [(n.stamp[-5:], n.agent) for n in run.document.notes] == [
        ("10:02", "Agent B"),
        ("10:10", "Agent A"),
        ("10:18", "Agent B"),
        ("10:26", "Agent A"),
    ]


# -- owner field: check then set -------------------------------------------


def owner_race(mode: str) -> Scenario:
    return scenario(
        seed=9,
        coordination="owner-field",
        writes={"mode": mode, "edit_time": "30s"},
        agents=[agent(0), second_a(start_after="10s")],
    )


def test_a_naive_owner_field_check_then_set_lets_two_agents_claim_one_task() -> None:
    run = run_scenario(owner_race("naive"))

    claims = events(run, "owner.claimed", resource=A)
    assert [e.agent for e in claims] == ["agent-a", "agent-a2"]
    holders = [v for v in run.violations if v.invariant == "single_holder"]
    assert [(v.agents, v.t) for v in holders] == [(("agent-a", "agent-a2"), 40.0)]


@pytest.mark.parametrize("mode", ["optimistic", "atomic"])
def test_a_compare_and_set_owner_field_claim_lets_only_one_agent_in(mode: str) -> None:
    run = run_scenario(owner_race(mode))

    assert [e.agent for e in events(run, "owner.claimed")] == ["agent-a"]
    assert outcomes(run) == {"agent-a": "completed", "agent-a2": "skipped"}
    assert any(
        "owned by agent-a" in str(e.data["reason"])
        for e in events(run, "agent.retry", "agent-a2")
    )
    assert run.violations == ()


# -- crash -----------------------------------------------------------------


def test_a_crashed_agent_stops_and_its_lease_expires_at_acquired_at_plus_ttl() -> None:
    run = run_scenario(
        scenario(
            agents=[agent(0), second_a(), *FOUR[1:]],
            faults=[crash(after="subtask 2")],
        )
    )

    (claim,) = events(run, "lease.claimed", "agent-a")
    (crashed,) = events(run, "agent.crashed", "agent-a")
    assert crashed.t == 480.0
    assert [e for e in after(run, crashed) if e.agent == "agent-a"] == [
        e for e in events(run, "lease.expired") if e.agent == "agent-a"
    ]
    assert events(run, "lease.released", "agent-a") == []
    (expired,) = events(run, "lease.expired", "agent-a")
    assert expired.t == claim.t + 1800.0 == 1800.0
    assert expired.data["token"] == claim.data["token"] == 1
    (takeover,) = events(run, "lease.claimed", "agent-a2")
    assert takeover.t == 1800.0 and token(takeover) > token(claim)
    assert outcomes(run)["agent-a2"] == "completed"
    assert run.document.status == "completed"
    assert "lease_leaked" not in invariants(run)
    assert run.violations == ()


def test_a_crashed_agents_renewed_lease_expires_a_ttl_after_its_last_renewal() -> None:
    run = run_scenario(
        scenario(agents=[agent(0, work="10m")], faults=[crash(after="subtask 3")])
    )

    assert times(run, "lease.renewed", "agent-a") == [1500.0]
    assert times(run, "fault.crash") == [1800.0]
    assert times(run, "lease.expired", "agent-a") == [3300.0]
    assert run.violations == ()


def test_a_crash_at_a_virtual_time_strikes_at_exactly_that_time() -> None:
    run = run_scenario(scenario(agents=[agent(0)], faults=[crash(at="5m")]))

    assert times(run, "fault.crash") == [300.0]
    assert times(run, "agent.subtask", "agent-a") == [240.0]
    assert outcomes(run) == {"agent-a": "crashed"}


# -- triggers --------------------------------------------------------------


def test_a_fault_after_subtask_2_strikes_right_after_its_box_is_ticked() -> None:
    run = run_scenario(scenario(agents=[agent(0)], faults=[crash(after="subtask 2")]))

    (fault,) = events(run, "fault.crash")
    before = run.events[fault.seq - 1]
    assert (before.kind, before.agent, before.t) == ("doc.write", "agent-a", 480.0)
    assert [item.done for item in run.document.task("A").items] == [
        True,
        True,
        False,
        False,
    ]
    assert run.document.progress_of("A").done == 2


def test_a_fault_after_claim_strikes_right_after_the_lease_is_granted() -> None:
    run = run_scenario(scenario(agents=[agent(0)], faults=[crash(after="claim")]))

    (fault,) = events(run, "fault.crash")
    assert run.events[fault.seq - 1].kind == "lease.claimed"
    assert events(run, "doc.write") == []
    assert times(run, "lease.expired") == [1800.0]


def test_a_fault_after_start_strikes_before_the_claim() -> None:
    run = run_scenario(scenario(agents=[agent(0)], faults=[crash(after="start")]))

    (fault,) = events(run, "fault.crash")
    assert run.events[fault.seq - 1].kind == "agent.started"
    assert events(run, "lease.claimed") == []


# -- stall -----------------------------------------------------------------


def stalled(mode: str) -> RunResult:
    return run_scenario(
        scenario(
            locks={"mode": mode},
            agents=[agent(0), second_a()],
            faults=[stall("40m", after="subtask 2")],
        )
    )


def test_a_stall_past_the_ttl_in_safe_mode_gets_the_late_write_refused() -> None:
    run = stalled("safe")

    assert times(run, "fault.stall") == [480.0]
    assert times(run, "lease.expired", "agent-a") == [1800.0]
    assert times(run, "fault.stall_end") == [2880.0]
    (refused,) = events(run, "doc.refused")
    assert (refused.agent, refused.t, refused.data["fence_token"]) == (
        "agent-a",
        3120.0,
        1,
    )
    assert "stale token 1" in str(refused.data["reason"])
    assert outcomes(run) == {"agent-a": "lost_lease", "agent-a2": "completed"}
    assert run.document.progress_of("A").done == 4
    assert run.violations == ()


def test_a_stall_past_the_ttl_in_loose_mode_gets_the_late_write_in_as_stale() -> None:
    run = stalled("loose")

    assert events(run, "doc.refused") == []
    late = [e for e in events(run, "doc.write", "agent-a") if e.t > 2880.0]
    assert late[0].t == 3120.0 and late[0].data["fence_token"] == 1
    (stale,) = [v for v in run.violations if v.invariant == "stale_write"]
    assert (stale.t, stale.agents) == (3120.0, ("agent-a",))
    assert outcomes(run)["agent-a2"] == "completed"


def test_a_stall_at_a_virtual_time_lengthens_the_work_it_interrupts() -> None:
    run = run_scenario(scenario(agents=[agent(0)], faults=[stall("5m", at="100s")]))

    assert times(run, "fault.stall") == [100.0]
    assert times(run, "fault.stall_end") == [400.0]
    assert times(run, "agent.subtask", "agent-a") == [540.0, 780.0, 1020.0, 1260.0]


# -- slow writes -------------------------------------------------------------


@pytest.mark.parametrize("mode", ["atomic", "naive", "optimistic"])
def test_a_slow_write_delays_each_of_its_count_writes_by_its_duration(
    mode: str,
) -> None:
    slow = {"agent": "agent-a", "kind": "slow_write", "after": "subtask 1"}
    run = run_scenario(
        scenario(
            agents=[agent(0)],
            writes={"mode": mode},
            faults=[slow | {"duration": "90s", "count": 2}],
        )
    )

    delays = []
    for subtask in events(run, "agent.subtask", "agent-a"):
        write = next(e for e in after(run, subtask) if e.kind == "doc.write")
        delays.append(write.t - subtask.t)
    assert delays == [0.0, 90.0, 90.0, 0.0]
    assert times(run, "agent.subtask", "agent-a") == [240.0, 480.0, 810.0, 1140.0]


# -- clock skew --------------------------------------------------------------


def test_an_agent_whose_clock_runs_slow_renews_too_late_and_loses_its_lease() -> None:
    run = run_scenario(
        scenario(agents=[agent(0, work="20m")], faults=[skew(drift=-0.5)])
    )

    assert events(run, "lease.renewed") == []
    (claim,) = events(run, "lease.claimed")
    assert times(run, "lease.expired") == [claim.data["expires_at"]] == [1800.0]
    # It believes 1500 s have passed (renew time) only at t=3000.
    assert times(run, "agent.lost_lease") == [3000.0]
    assert outcomes(run) == {"agent-a": "lost_lease"}


def test_an_agent_whose_clock_runs_fast_renews_early() -> None:
    run = run_scenario(scenario(agents=[agent(0, work="10m")], faults=[skew(drift=1)]))

    assert times(run, "lease.renewed") == [750.0, 1500.0, 2250.0]
    assert [e.data["expires_at"] for e in events(run, "lease.renewed")] == [
        2550.0,
        3300.0,
        4050.0,
    ]
    assert outcomes(run) == {"agent-a": "completed"}


def test_a_clock_that_jumps_ahead_renews_early_by_the_jump() -> None:
    run = run_scenario(
        scenario(agents=[agent(0, work="10m")], faults=[skew(offset="10m")])
    )

    assert times(run, "lease.renewed") == [900.0]
    assert outcomes(run) == {"agent-a": "completed"}


def test_a_clock_that_jumps_back_renews_after_the_lease_has_expired() -> None:
    run = run_scenario(
        scenario(agents=[agent(0, work="10m")], faults=[skew(offset="-10m")])
    )

    assert times(run, "lease.expired") == [1800.0]
    assert times(run, "agent.lost_lease") == [2100.0]


@pytest.mark.parametrize(
    ("change", "renewed"),
    [({"offset": "10m"}, 900.0), ({"drift": 1.0}, 800.0)],
    ids=["jump", "drift"],
)
def test_a_clock_skew_in_the_middle_of_a_subtask_moves_the_next_renewal(
    change: dict[str, Any], renewed: float
) -> None:
    fault = {"agent": "agent-a", "kind": "clock_skew", "at": "100s", **change}
    run = run_scenario(scenario(agents=[agent(0, work="20m")], faults=[fault]))

    assert times(run, "lease.renewed")[0] == renewed


# -- lost reply --------------------------------------------------------------


def lost_reply(mode: str) -> RunResult:
    return run_scenario(
        scenario(
            agents=[agent(0)],
            locks={"mode": mode},
            writes={"retry": "10s"},
            faults=[{"agent": "agent-a", "kind": "lost_reply", "after": "start"}],
        )
    )


def test_a_lost_reply_in_safe_mode_gets_the_same_lease_back_on_retry() -> None:
    run = lost_reply("safe")

    (claim,) = events(run, "lease.claimed")
    (lost,) = events(run, "fault.lost_reply")
    (again,) = events(run, "lease.reclaimed")
    assert (claim.t, lost.t, again.t) == (0.0, 0.0, 10.0)
    assert times(run, "agent.retry") == [10.0]
    assert claim.data["token"] == lost.data["token"] == again.data["token"] == 1
    assert again.data["expires_at"] == claim.data["expires_at"] == 1800.0
    assert run.agents[0].held_from == 0.0
    assert outcomes(run) == {"agent-a": "completed"}
    assert run.violations == ()


def test_a_lost_reply_in_loose_mode_queues_the_agent_behind_its_own_lease() -> None:
    run = lost_reply("loose")

    (waiting,) = events(run, "lease.waiting")
    assert (waiting.t, waiting.data["holder"]) == (10.0, "agent-a")
    assert [(e.t, e.data["token"]) for e in events(run, "lease.expired")] == [
        (1800.0, 1)
    ]
    second = events(run, "lease.claimed")[1]
    assert (second.t, second.data["token"], second.data["waited"]) == (
        1800.0,
        2,
        1790.0,
    )
    assert run.agents[0].held_from == 1800.0
    assert outcomes(run) == {"agent-a": "completed"}
    assert run.violations == ()


# -- swarms ------------------------------------------------------------------

SWARM: dict[str, Any] = {
    "agents": [],
    "coordination": "lease",
    "locks": {"ttl": "10m", "renew_margin": "2m", "prefix": "swarm"},
    "liveness": "48h",
    "expect": {"status": "pending"},
}


def swarm(seed: int = 1, agents: int = 300, rate: float = 0.1) -> Scenario:
    kinds = ["crash", "stall", "clock_skew", "lost_reply"]
    return scenario(
        **SWARM,
        seed=seed,
        swarm={
            "agents": agents,
            "resources": 10,
            "arrivals": {"min": 0, "max": "2h"},
            "work": {"min": "1m", "max": "15m"},
            "faults": {
                "rate": rate,
                "kinds": kinds,
                "stall": {"min": "1m", "max": "30m"},
                "skew": {"min": "1m", "max": "20m"},
            },
        },
    )


def test_a_swarms_agents_and_faults_are_drawn_from_the_seed() -> None:
    first, again = swarm(1).population(), swarm(1).population()
    other = swarm(2).population()

    assert (first.agents, first.faults) == (again.agents, again.faults)
    assert [a.id for a in first.agents] == [f"worker-{n}" for n in range(1, 301)]
    assert other.agents != first.agents and other.faults != first.faults
    assert run_scenario(swarm(1)).digest != run_scenario(swarm(2)).digest


def test_a_swarm_honours_its_fault_rate_roughly() -> None:
    population = swarm(agents=4000, rate=0.1).population()

    assert 340 <= len(population.faults) <= 460
    assert {f.kind for f in population.faults} == {
        FaultKind.CRASH,
        FaultKind.STALL,
        FaultKind.CLOCK_SKEW,
        FaultKind.LOST_REPLY,
    }


def test_every_lease_of_a_swarm_is_released_or_expires_and_none_is_double_held() -> (
    None
):
    run = run_scenario(swarm())

    granted = {token(e) for e in events(run, "lease.claimed")}
    ended = [
        token(e) for e in run.events if e.kind in ("lease.released", "lease.expired")
    ]
    assert sorted(ended) == sorted(granted)
    assert run.violations == ()
    assert set(outcomes(run).values()) <= {"completed", "crashed", "lost_lease"}


def test_every_fault_drawn_for_a_swarm_strikes() -> None:
    drawn = swarm().population().faults
    run = run_scenario(swarm())

    faults = Counter(f.kind for f in drawn)
    assert len(events(run, "fault.lost_reply")) == faults[FaultKind.LOST_REPLY] > 0
    assert len(events(run, "lease.reclaimed")) == faults[FaultKind.LOST_REPLY]
    skews = [f for f in drawn if f.kind is FaultKind.CLOCK_SKEW]
    assert skews and all(f.after == "claim" for f in skews)
    assert len(events(run, "fault.crash")) == faults[FaultKind.CRASH]


# -- variants ------------------------------------------------------------------


def with_variants() -> Scenario:
    return scenario(
        coordination="git-only",
        writes={"mode": "naive", "edit_time": "30s"},
        locks={"ttl": "20m", "renew_margin": "2m"},
        faults=[crash(after="subtask 1")],
        expect={"status": None, "violations": ["lost_note"]},
        variants=[
            {
                "name": "optimistic",
                "writes": {"mode": "optimistic"},
                "expect": {"status": "in_progress", "violations": []},
            },
            {
                "name": "leased",
                "coordination": "combined",
                "writes": {"mode": "atomic"},
                "locks": {"mode": "loose"},
                "faults": [],
                "liveness": "2h",
                "expect": {"status": "completed"},
            },
        ],
    )


def test_runs_yields_the_base_then_each_variant_with_its_own_expectations() -> None:
    base, optimistic, leased = with_variants().runs()

    assert [base.name, optimistic.name, leased.name] == [
        "inline",
        "inline-optimistic",
        "inline-leased",
    ]
    assert base.variants == [] and optimistic.variants == []
    assert base.expect.violations == ["lost_note"]
    assert (optimistic.expect.status, optimistic.expect.violations) == (
        "in_progress",
        [],
    )
    assert leased.expect.status == "completed"


def test_a_variants_changes_apply_and_everything_else_is_kept() -> None:
    base, optimistic, leased = with_variants().runs()

    assert optimistic.writes.mode == "optimistic"
    assert optimistic.writes.edit_time == base.writes.edit_time
    assert optimistic.faults == base.faults and optimistic.coordination == "git-only"
    assert (leased.coordination, leased.writes.mode) == ("combined", "atomic")
    assert leased.writes.edit_time == base.writes.edit_time
    assert (leased.locks.mode, leased.locks.ttl) == ("loose", 1200.0)
    assert leased.faults == [] and leased.liveness == 7200.0
    assert base.liveness is None


def test_each_run_of_a_scenario_with_variants_meets_its_own_expectations() -> None:
    runs = [run_scenario(each) for each in with_variants().runs()]

    assert [run.ok for run in runs] == [True, True, True]
    assert [run.scenario.coordination for run in runs] == [
        "git-only",
        "git-only",
        "combined",
    ]
    assert events(runs[2], "fault.crash") == [] and events(runs[0], "fault.crash")


# -- determinism ---------------------------------------------------------------

CASES: dict[str, Callable[[], Scenario]] = {
    "git-only": lambda: scenario(coordination="git-only"),
    "owner-field": lambda: scenario(coordination="owner-field"),
    "lease": lambda: scenario(coordination="lease"),
    "combined": lambda: scenario(coordination="combined"),
    "naive race": lambda: race("naive"),
    "optimistic race": lambda: race("optimistic"),
    "owner-field race": lambda: owner_race("naive"),
    "crash": lambda: scenario(
        agents=[agent(0), second_a()], faults=[crash(after="subtask 2")]
    ),
    "stall, loose": lambda: scenario(
        locks={"mode": "loose"},
        agents=[agent(0), second_a()],
        faults=[stall("40m", after="subtask 2")],
    ),
    "clock skew": lambda: scenario(faults=[skew(drift=-0.5)]),
    "lost reply": lambda: scenario(
        faults=[{"agent": "agent-a", "kind": "lost_reply", "after": "start"}]
    ),
    "swarm": lambda: swarm(agents=100),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_case_run_twice_gives_the_same_digest(case: str) -> None:
    first, second = run_scenario(CASES[case]()), run_scenario(CASES[case]())

    assert first.digest == second.digest
    assert first.document.text == second.document.text
