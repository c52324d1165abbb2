"""Shrinking: cut a failing run down to a small scenario that still fails.

Given a scenario, its seed and an invariant the run breaks, :func:`shrink`
tries smaller versions (a swarm turned into its agents and faults, then
fewer agents, fewer faults, no probes, shorter and fixed durations) and keeps
each change under which the same invariant still breaks. Changes are tried
greedily, big ones first (half the agents at once, then a quarter, down to
one), until a whole pass changes nothing.

Every candidate is a full run, so the result needs no trust in the
shrinker: :func:`write_scenario` saves it as YAML that replays the failure
on its own (``python -m agency.simulate FILE``), its ``expect:`` naming the
violations it shows.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from agency.engine import LockManagerFactory, RunResult, run_scenario
from agency.errors import AgencyError, InvalidArgument
from agency.scenario import Expectations, Fault, Range, Scenario

__all__ = [
    "ShrinkResult",
    "shrink",
    "shrink_header",
    "shrink_json",
    "shrink_text",
    "write_scenario",
]

# Durations are not cut below this: a second keeps the lock settings valid
# and the trace readable.
_SHORTEST = 1.0


@dataclass(frozen=True, slots=True)
class ShrinkResult:
    """What shrinking found.

    Attributes:
        scenario: the smallest failing scenario found (no swarm, no
            variants; ``expect`` names the violations it shows).
        result: its run.
        invariant: the invariant it breaks.
        runs: how many runs shrinking took, the first and last included.
        original_agents, original_faults: sizes before shrinking.
    """

    scenario: Scenario
    result: RunResult
    invariant: str
    runs: int
    original_agents: int
    original_faults: int


def shrink(
    scenario: Scenario,
    invariant: str | None = None,
    *,
    lock_manager: LockManagerFactory | None = None,
    max_runs: int = 400,
    progress: Callable[[int, Scenario], None] | None = None,
) -> ShrinkResult:
    """Reduce ``scenario`` while its run still breaks ``invariant``.

    Args:
        scenario: a scenario whose run (at its seed) breaks an invariant.
        invariant: the invariant to keep broken; None takes the first
            violation of the run.
        lock_manager: as for :func:`~agency.engine.run_scenario`, so a
            custom (or broken) lock manager can be shrunk against.
        max_runs: stop trying cuts after this many runs (one more then
            runs the result under its new name).
        progress: called after each accepted step with the run count and
            the scenario so far.

    Returns:
        The smallest failing scenario found, and its run.

    Raises:
        InvalidArgument: the run breaks no invariant (or not ``invariant``).
        ScenarioError, SimulationError: the original scenario cannot run.
    """
    if max_runs < 1:
        raise InvalidArgument(f"max_runs must be at least 1, got {max_runs}")
    start = _plain(scenario.population())
    first = run_scenario(start, lock_manager=lock_manager)
    broken = [v.invariant for v in first.violations]
    if invariant is None:
        if not broken:
            raise InvalidArgument(
                f"{scenario.name} (seed {scenario.seed}) breaks no invariant; "
                "there is nothing to shrink"
            )
        invariant = broken[0]
    elif invariant not in broken:
        found = ", ".join(sorted(set(broken))) or "none"
        raise InvalidArgument(
            f"{scenario.name} (seed {scenario.seed}) does not break {invariant} "
            f"(it breaks: {found})"
        )

    state = _Search(start, first, invariant, lock_manager, max_runs, progress)
    state.run()
    best = state.best.model_copy(
        update={
            # Its own name, so that replaying it writes to a folder of its own
            # rather than over the original run's.
            "name": f"{scenario.name}-shrunk",
            "description": (
                f"{scenario.name} at seed {scenario.seed}, shrunk from "
                f"{_sizes(len(start.agents), len(start.faults))} to "
                f"{_sizes(len(state.best.agents), len(state.best.faults))}; "
                f"it still breaks {invariant}."
            ),
            "expect": Expectations(
                status=None,
                violations=sorted({v.invariant for v in state.best_result.violations}),
            ),
        }
    )
    # The name is in the trace, so the renamed scenario's own run is the one
    # that replays from its file.
    result = run_scenario(best, lock_manager=lock_manager)
    return ShrinkResult(
        scenario=best,
        result=result,
        invariant=invariant,
        runs=state.runs + 1,
        original_agents=len(start.agents),
        original_faults=len(start.faults),
    )


class _Search:
    """The greedy search, with its budget and its best scenario so far."""

    def __init__(
        self,
        start: Scenario,
        result: RunResult,
        invariant: str,
        lock_manager: LockManagerFactory | None,
        max_runs: int,
        progress: Callable[[int, Scenario], None] | None,
    ):
        self.best = start
        self.best_result = result
        self.invariant = invariant
        self.runs = 1
        self._lock_manager = lock_manager
        self._max_runs = max_runs
        self._progress = progress

    def run(self) -> None:
        changed = True
        while changed and self.runs < self._max_runs:
            changed = False
            for step in (
                self._drop_agents,
                self._drop_liveness,
                self._drop_faults,
                self._drop_probes,
                self._fix_durations,
                self._halve_durations,
            ):
                changed |= step()

    def _try(self, candidate: Scenario | None) -> bool:
        """Run ``candidate``; keep it if it still breaks the invariant."""
        if candidate is None or self.runs >= self._max_runs:
            return False
        self.runs += 1
        try:
            candidate = candidate.validated()
            result = run_scenario(candidate, lock_manager=self._lock_manager)
        except AgencyError:
            return False  # a cut that leaves no valid scenario is no cut
        if all(v.invariant != self.invariant for v in result.violations):
            return False
        self.best, self.best_result = candidate, result
        if self._progress is not None:
            self._progress(self.runs, candidate)
        return True

    def _drop_agents(self) -> bool:
        changed = False
        size = len(self.best.agents) // 2
        while size >= 1:
            start = 0
            while start < len(self.best.agents) and len(self.best.agents) > 1:
                agents = self.best.agents
                cut = {a.id for a in agents[start : start + size]}
                if self._try(_without_agents(self.best, cut)):
                    changed = True  # the same start now holds the next chunk
                else:
                    start += size
                if self.runs >= self._max_runs:
                    return changed
            size //= 2
        return changed

    def _drop_liveness(self) -> bool:
        # With fewer agents the project may never complete, which breaks
        # liveness too: noise, unless liveness is what is being shrunk.
        if self.best.liveness is None or self.invariant == "liveness":
            return False
        return self._try(self.best.model_copy(update={"liveness": None}))

    def _drop_faults(self) -> bool:
        changed = False
        index = 0
        while index < len(self.best.faults):
            faults = list(self.best.faults)
            del faults[index]
            if self._try(self.best.model_copy(update={"faults": faults})):
                changed = True
            else:
                index += 1
        return changed

    def _drop_probes(self) -> bool:
        if not self.best.probes:
            return False
        return self._try(self.best.model_copy(update={"probes": {}}))

    def _fix_durations(self) -> bool:
        """Make every range a single value (its minimum): fewer draws."""
        return self._try(_map_ranges(self.best, lambda r: Range(min=r.min, max=r.min)))

    def _halve_durations(self) -> bool:
        return self._try(_map_ranges(self.best, _halved, faults=True))


def _sizes(agents: int, faults: int) -> str:
    return (
        f"{agents:,} agent{'s' * (agents != 1)} and "
        f"{faults:,} fault{'s' * (faults != 1)}"
    )


def _plain(scenario: Scenario) -> Scenario:
    # Variants are other runs, and expectations are replaced at the end.
    return scenario.model_copy(
        update={"variants": [], "expect": Expectations(status=None)}
    )


def _without_agents(scenario: Scenario, cut: set[str]) -> Scenario | None:
    agents = [a for a in scenario.agents if a.id not in cut]
    if not agents or len(agents) == len(scenario.agents):
        return None
    modules = {a.module for a in agents}
    return scenario.model_copy(
        update={
            "agents": agents,
            "faults": [f for f in scenario.faults if f.agent not in cut],
            # Probes of a module nobody builds are refused by the checks.
            "probes": {m: p for m, p in scenario.probes.items() if m in modules},
        }
    )


def _halved(span: Range) -> Range:
    low = max(_SHORTEST, span.min / 2) if span.min > 0 else 0.0
    high = max(low, span.max / 2) if span.max > 0 else 0.0
    return Range(min=float(round(low)), max=float(round(high)))


def _map_ranges(
    scenario: Scenario, change: Callable[[Range], Range], *, faults: bool = False
) -> Scenario | None:
    agents = [
        spec.model_copy(
            update={
                "start_after": change(spec.start_after),
                "work": change(spec.work) if spec.work is not None else None,
            }
        )
        for spec in scenario.agents
    ]
    update: dict[str, Any] = {"agents": agents, "work": change(scenario.work)}
    writes = scenario.writes
    update["writes"] = writes.model_copy(update={"edit_time": change(writes.edit_time)})
    if faults:
        update["faults"] = [_shorter_fault(f) for f in scenario.faults]
    candidate = scenario.model_copy(update=update)
    return None if candidate == scenario else candidate


def _shorter_fault(fault: Fault) -> Fault:
    update: dict[str, float] = {}
    if fault.duration is not None and fault.duration > _SHORTEST:
        update["duration"] = float(max(_SHORTEST, round(fault.duration / 2)))
    if fault.at is not None and fault.at > 0:
        update["at"] = float(round(fault.at / 2))
    return fault.model_copy(update=update)


def write_scenario(
    scenario: Scenario, path: Path, *, header: Sequence[str] = ()
) -> None:
    """Save ``scenario`` as a YAML file that replays it on its own.

    The document path is written relative to the file's folder when both
    lie under the current folder (a project moved as a whole still replays),
    and absolute otherwise; durations are written in seconds.

    Args:
        scenario: what to save.
        path: the YAML file to write (its folder must exist).
        header: comment lines for the top of the file.
    """
    data = scenario.model_dump(mode="json", exclude_defaults=True)
    data["name"] = scenario.name
    data["seed"] = scenario.seed
    data["start"] = scenario.start.isoformat().replace("+00:00", "Z")
    data["document"] = _document_path(scenario.document, path.parent.resolve())
    data["expect"] = scenario.expect.model_dump(mode="json", exclude_defaults=True)
    order = ["name", "description", "seed", "start", "document"]
    ordered = {key: data[key] for key in order if key in data}
    ordered |= {key: value for key, value in data.items() if key not in ordered}
    yaml = YAML()
    yaml.default_flow_style = None
    yaml.width = 88
    text = io.StringIO()
    yaml.dump(ordered, text)
    # ruamel leaves a space where it folds a long plain scalar; YAML drops
    # white space at the end of a folded line, so removing it changes no value.
    body = "".join(line.rstrip() + "\n" for line in text.getvalue().splitlines())
    lines = [f"# {line}\n" if line else "#\n" for line in header]
    path.write_text("".join(lines) + body, encoding="utf-8")


def _document_path(document: Path, folder: Path) -> str:
    here = Path.cwd().resolve()
    if document.is_relative_to(here) and folder.is_relative_to(here):
        return Path(os.path.relpath(document, folder)).as_posix()
    return document.as_posix()


def shrink_header(found: ShrinkResult, command: str) -> list[str]:
    """Comment lines that say where a shrunk scenario came from.

    Args:
        found: what shrinking found.
        command: the command line that shrank it.
    """
    return [
        f"Shrunk by {command}",
        f"from {_sizes(found.original_agents, found.original_faults)} to "
        f"{_sizes(len(found.scenario.agents), len(found.scenario.faults))}, in "
        f"{found.runs} runs; it still breaks {found.invariant}.",
    ]


def shrink_text(found: ShrinkResult, *, path: Path, replay: str) -> str:
    """What shrinking found, for people: sizes, the violation, the replay."""
    scenario, result = found.scenario, found.result
    first = next(v for v in result.violations if v.invariant == found.invariant)
    return "\n".join(
        [
            f"{scenario.name} (seed {scenario.seed}) breaks {found.invariant}",
            f"shrunk in {found.runs} runs: agents "
            f"{found.original_agents:,} -> {len(scenario.agents):,}, faults "
            f"{found.original_faults:,} -> {len(scenario.faults):,}, "
            f"{len(result.trace):,} events",
            f"  {first.message}",
            f"written: {path}",
            f"replay it: {replay}",
        ]
    )


def shrink_json(found: ShrinkResult, *, path: Path, replay: str) -> dict[str, Any]:
    """The same as data, for ``--json``."""
    scenario, result = found.scenario, found.result
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "invariant": found.invariant,
        "runs": found.runs,
        "agents": {"before": found.original_agents, "after": len(scenario.agents)},
        "faults": {"before": found.original_faults, "after": len(scenario.faults)},
        "events": len(result.trace),
        "violations": [v.invariant for v in result.violations],
        "digest": result.digest,
        "file": str(path),
        "replay": replay,
    }
