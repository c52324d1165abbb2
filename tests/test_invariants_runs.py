"""Each invariant caught on a whole run that breaks it, and quiet on a safe one.

Scenarios are built in code (see ``inline.py``); where only a broken lock
manager can break a rule, the run gets one through ``lock_manager``.
"""

from __future__ import annotations

from typing import Any

import pytest
from inline import (
    FOUR,
    A,
    agent,
    events,
    invariants,
    job,
    outcomes,
    scenario,
    second_a,
    times,
    token,
)

from agency.clock import Clock
from agency.engine import LockManagerFactory, RunResult, run_scenario
from agency.invariants import check
from agency.locks import Lease, LockManager, LockMode
from agency.trace import Trace


class DoubleGrant(LockManager):
    """Grants every claim at once, held or not."""

    async def claim(
        self, resource: str, owner: str, ttl: float, *, timeout: float | None = None
    ) -> Lease:
        return self._grant(resource, owner, ttl, waited=None)


class RestartingTokens(LockManager):
    """Starts its fencing tokens again from 1 for every grant."""

    def _grant(
        self, resource: str, owner: str, ttl: float, *, waited: float | None
    ) -> Lease:
        self._next_token = 1
        return super()._grant(resource, owner, ttl, waited=waited)


class NeverExpiring(LockManager):
    """Keeps every lease until it is released, whatever its expiry says."""

    def _expire_due(self) -> None:
        pass


class Endless(LockManager):
    """Grants leases that last a thousand years, whatever TTL was asked."""

    async def claim(
        self, resource: str, owner: str, ttl: float, *, timeout: float | None = None
    ) -> Lease:
        return await super().claim(resource, owner, 3.2e10, timeout=timeout)


def factory(kind: type[LockManager]) -> LockManagerFactory:
    def build(clock: Clock, mode: LockMode, trace: Trace) -> LockManager:
        return kind(clock, mode=mode, trace=trace)

    return build


def crash(agent_id: str = "agent-a", after: str = "subtask 2") -> dict[str, Any]:
    return {"agent": agent_id, "kind": "crash", "after": after}


TAKEOVER: dict[str, Any] = {
    "agents": [agent(0), second_a(), *FOUR[1:]],
    "faults": [crash()],
}


# -- single_holder -----------------------------------------------------------


def test_a_manager_that_grants_a_held_lease_breaks_single_holder() -> None:
    run = run_scenario(scenario(**TAKEOVER), lock_manager=factory(DoubleGrant))

    (violation,) = [v for v in run.violations if v.invariant == "single_holder"]
    assert (violation.t, violation.agents, violation.resources) == (
        60.0,
        ("agent-a", "agent-a2"),
        (A,),
    )


def test_a_takeover_after_expiry_keeps_single_holder() -> None:
    run = run_scenario(scenario(**TAKEOVER))

    assert [e.agent for e in events(run, "lease.claimed", resource=A)] == [
        "agent-a",
        "agent-a2",
    ]
    assert run.violations == ()


@pytest.mark.parametrize(("mode", "broken"), [("naive", True), ("optimistic", False)])
def test_single_holder_catches_two_agents_passing_one_owner_check(
    mode: str, broken: bool
) -> None:
    run = run_scenario(
        scenario(
            seed=9,
            coordination="owner-field",
            writes={"mode": mode, "edit_time": "30s"},
            agents=[agent(0), second_a(start_after="10s")],
        )
    )

    assert ("single_holder" in invariants(run)) is broken
    assert len(events(run, "owner.claimed", resource=A)) == (2 if broken else 1)


# -- token_order ---------------------------------------------------------------


def test_a_manager_that_reuses_tokens_breaks_token_order() -> None:
    run = run_scenario(scenario(**TAKEOVER), lock_manager=factory(RestartingTokens))

    (violation,) = [v for v in run.violations if v.invariant == "token_order"]
    assert (violation.t, violation.resources) == (1800.0, (A,))
    assert "got token 1 after token 1" in violation.message


def test_the_lock_manager_hands_out_ever_larger_tokens() -> None:
    run = run_scenario(scenario(**TAKEOVER))

    tokens = [token(e) for e in events(run, "lease.claimed")]
    assert tokens == sorted(set(tokens))
    assert "token_order" not in invariants(run)


# -- stale_write and foreign_release -------------------------------------------


def stalled(mode: str) -> RunResult:
    return run_scenario(
        scenario(
            locks={"mode": mode},
            agents=[agent(0), second_a()],
            faults=[
                {"agent": "agent-a", "kind": "stall", "duration": "40m"}
                | {"after": "subtask 2"}
            ],
        )
    )


def test_a_late_write_accepted_in_loose_mode_breaks_stale_write() -> None:
    run = stalled("loose")

    (violation,) = run.violations
    assert (violation.invariant, violation.t, violation.agents) == (
        "stale_write",
        3120.0,
        ("agent-a",),
    )


def test_a_late_write_refused_in_safe_mode_keeps_stale_write() -> None:
    run = stalled("safe")

    assert times(run, "doc.refused", "agent-a") == [3120.0]
    assert run.violations == ()


def overtaken(mode: str) -> RunResult:
    # job-1 stalls 15 minutes under a 10-minute lease; job-2 takes it over.
    return run_scenario(
        scenario(
            coordination="lease",
            locks={"mode": mode, "ttl": "10m", "renew_margin": "2m"},
            agents=[
                job("job-1", work="5m"),
                job("job-2", work="20m", start_after="1m"),
            ],
            faults=[
                {"agent": "job-1", "kind": "stall", "duration": "15m", "after": "claim"}
            ],
        )
    )


def test_a_stale_holder_releasing_in_loose_mode_frees_the_new_holders_lease() -> None:
    run = overtaken("loose")

    (release,) = events(run, "lease.released", "job-1")
    assert (release.t, release.data["holder"], release.data["token"]) == (
        1200.0,
        "job-2",
        2,
    )
    (violation,) = run.violations
    assert (violation.invariant, violation.agents) == (
        "foreign_release",
        ("job-1", "job-2"),
    )
    assert outcomes(run) == {"job-1": "completed", "job-2": "lost_lease"}


def test_a_stale_holder_releasing_in_safe_mode_is_refused_as_not_the_holder() -> None:
    run = overtaken("safe")

    assert events(run, "lease.released", "job-1") == []
    assert outcomes(run) == {"job-1": "lost_lease", "job-2": "completed"}
    assert "does not hold 'shared'" in str(run.agents[0].reason)
    assert times(run, "agent.lost_lease", "job-1") == [1200.0]
    assert run.violations == ()


# -- lost_note -------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "lost"), [("naive", True), ("optimistic", False)])
def test_lost_note_fires_exactly_when_a_write_overwrote_a_note(
    mode: str, lost: bool
) -> None:
    run = run_scenario(
        scenario(
            seed=5,
            coordination="git-only",
            work={"min": "2m", "max": "6m"},
            writes={"mode": mode, "edit_time": {"min": "20s", "max": "3m"}},
        )
    )

    missing = len(events(run, "agent.note")) - len(run.document.notes)
    assert invariants(run).count("lost_note") == missing
    assert (missing > 0) is lost


def test_a_lost_note_names_the_write_made_from_a_revision_before_it() -> None:
    run = run_scenario(
        scenario(
            seed=5,
            coordination="git-only",
            work={"min": "2m", "max": "6m"},
            writes={"mode": "naive", "edit_time": {"min": "20s", "max": "3m"}},
        )
    )
    by_seq = {event.seq: event for event in run.events}

    lost = [v for v in run.violations if v.invariant == "lost_note"]

    assert lost
    for violation in lost:
        note, dropping = (by_seq[seq] for seq in violation.events)
        carried = max(
            e.data["revision"]
            for e in run.events
            if e.kind == "doc.write" and e.agent == note.agent and e.seq < note.seq
        )
        assert dropping.kind == "doc.write" and dropping.seq > note.seq
        assert dropping.data["based_on"] < carried  # type: ignore[operator]
        assert violation.agents[-1] == dropping.agent
        assert violation.message.endswith(
            f"; {dropping.agent} wrote revision {dropping.data['revision']} from "
            f"revision {dropping.data['based_on']}, read before the note's "
            f"revision {carried}"
        )


# -- document_parses -------------------------------------------------------------


def test_document_parses_judges_the_final_text_of_a_run() -> None:
    run = run_scenario(scenario())

    assert "document_parses" not in invariants(run)
    broken = run.document.text.split("---\n", 2)[2]  # no frontmatter left
    assert [v.invariant for v in check(run.events, broken)] == ["document_parses"]


# -- lease_leaked ----------------------------------------------------------------


def test_a_lease_that_expired_after_a_crash_is_not_leaked() -> None:
    run = run_scenario(scenario(agents=[agent(0)], faults=[crash()]))

    assert times(run, "lease.expired") == [1800.0]
    assert run.violations == ()


def test_a_crashed_agents_lease_still_live_at_the_horizon_is_leaked() -> None:
    run = run_scenario(scenario(agents=[agent(0)], faults=[crash()], horizon="20m"))

    (violation,) = run.violations
    assert (violation.invariant, violation.t, violation.agents) == (
        "lease_leaked",
        1200.0,
        ("agent-a",),
    )


def test_a_manager_that_never_expires_a_lease_leaks_it_and_the_run_ends() -> None:
    run = run_scenario(
        scenario(agents=[agent(0)], faults=[crash()]),
        lock_manager=factory(NeverExpiring),
    )

    assert events(run, "lease.expired") == []
    assert times(run, "run.finished") == [1800.0]
    (violation,) = run.violations
    assert violation.invariant == "lease_leaked"
    assert "never recorded" in violation.message


def test_a_manager_that_grants_endless_leases_leaks_them_at_the_horizon() -> None:
    run = run_scenario(
        scenario(agents=[agent(0)], faults=[crash()], horizon="3h"),
        lock_manager=factory(Endless),
    )

    assert times(run, "run.finished") == [10800.0]
    assert invariants(run) == ["lease_leaked"]


# -- liveness ----------------------------------------------------------------------


@pytest.mark.parametrize(("bound", "late"), [("10m", True), ("1h", False)])
def test_liveness_fires_when_the_work_ends_later_than_the_bound_after_the_fault(
    bound: str, late: bool
) -> None:
    # The crash at t=480 holds Task A until its lease expires at 1800; the
    # takeover finishes the project at t=2280, 1800 s after the fault.
    run = run_scenario(scenario(**TAKEOVER, liveness=bound))

    assert times(run, "project.status")[-1] == 2280.0
    assert ("liveness" in invariants(run)) is late
    if late:
        (violation,) = run.violations
        assert violation.t == 480.0 + 600.0
        assert "done only at t=2280s" in violation.message


@pytest.mark.parametrize(("bound", "late"), [("5m", True), ("1h", False)])
def test_liveness_for_jobs_waits_for_every_job_to_end(bound: str, late: bool) -> None:
    run = run_scenario(
        scenario(
            coordination="lease",
            locks={"ttl": "10m", "renew_margin": "2m"},
            agents=[job("job-1", work="5m"), job("job-2", work="5m", start_after="1m")],
            faults=[{"agent": "job-1", "kind": "crash", "after": "claim"}],
            liveness=bound,
        )
    )

    assert times(run, "agent.completed", "job-2") == [900.0]
    assert invariants(run) == (["liveness"] if late else [])


def test_liveness_fires_for_a_job_still_waiting_at_the_horizon() -> None:
    run = run_scenario(
        scenario(
            coordination="lease",
            locks={"ttl": "10m", "renew_margin": "2m"},
            agents=[job("job-1", work="5h"), job("job-2", work="5m", start_after="1m")],
            liveness="1h",
            horizon="2h",
        )
    )

    assert outcomes(run) == {"job-1": "stopped", "job-2": "stopped"}
    assert "liveness" in invariants(run)
