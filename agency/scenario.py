"""Scenario files: what a run simulates, validated by pydantic models.

A scenario is YAML. :func:`load_scenario` reads it with ruamel.yaml, keeping
each value's line, validates it against :class:`Scenario`, and turns every
problem into a :class:`~agency.errors.ScenarioError` that names the file,
the line and the field, e.g.::

    scenarios/parallel.yaml:31: agents.2.task: String should match pattern
    '^[A-Z]$' (got 'c')

Durations are seconds, or strings with units: ``90``, ``"90s"``, ``"5m"``,
``"1h30m"``. Relative paths are relative to the scenario file.
"""

from __future__ import annotations

import builtins
import difflib
import hashlib
import importlib
import inspect
import math
import random
import re
import reprlib
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from agency._yaml import MAX_FILE_BYTES, line_of, load_tree, read_text
from agency.document import AgencyDocument
from agency.errors import DocumentFormatError, ScenarioError
from agency.invariants import INVARIANTS
from agency.locks import LockMode

__all__ = [
    "AGENT_STATUSES",
    "EVENT_KINDS",
    "MAX_DURATION",
    "MAX_FILE_BYTES",
    "MODULES",
    "AgentSpec",
    "Approach",
    "Duration",
    "Expectations",
    "Fault",
    "FaultKind",
    "LockSettings",
    "Outcome",
    "Probe",
    "RandomFaults",
    "Range",
    "Scenario",
    "Swarm",
    "Variant",
    "WriteMode",
    "WriteSettings",
    "check_scenario",
    "load_scenario",
    "parse_duration",
    "parse_offset",
    "parse_scenario",
    "resolve_exception",
    "scenario_from_mapping",
]

#: The utils modules an agent can build, by the name scenarios use.
MODULES = ("validators", "formatters", "parsers", "strings")
#: How an agent's run can end.
Outcome = Literal[
    "completed",
    "skipped",
    "blocked",
    "timed_out",
    "lost_lease",
    "crashed",
    "stopped",
]

#: The project statuses agents write into AGENCY.md's ``status`` field; a
#: run ends in one of them or in the status its document started with.
AGENT_STATUSES = ("in_progress", "completed", "blocked")
#: Every kind of event a run can record, for ``expect.events`` to name. An
#: agent's run ends with an ``agent.OUTCOME`` event.
EVENT_KINDS: tuple[str, ...] = (
    "run.started",
    "run.horizon",
    "run.finished",
    "lease.claimed",
    "lease.conflict",
    "lease.waiting",
    "lease.timeout",
    "lease.renewed",
    "lease.released",
    "lease.expired",
    "lease.reclaimed",
    "doc.write",
    "doc.refused",
    "project.status",
    "owner.claimed",
    "owner.released",
    "agent.started",
    "agent.retry",
    "agent.subtask",
    "agent.probe",
    "agent.note",
    *(f"agent.{outcome}" for outcome in get_args(Outcome)),
    "fault.crash",
    "fault.stall",
    "fault.stall_end",
    "fault.slow_write",
    "fault.clock_skew",
    "fault.lost_reply_armed",
    "fault.lost_reply",
)

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)(ms|h|m|s))", re.ASCII)
#: The longest duration a scenario may give: ten years, far beyond any
#: sensible run, and small enough that virtual datetimes cannot overflow.
MAX_DURATION = 10 * 365 * 86_400.0


class _AsWritten(reprlib.Repr):
    """Values quoted as a scenario's author wrote them.

    A timestamp reads ``2025-01-01T10:00:00Z``, not ``datetime.datetime(...)``.
    """

    def repr_datetime(self, value: datetime, level: int) -> str:
        if value.utcoffset() == timedelta(0):
            return value.replace(tzinfo=None).isoformat() + "Z"
        return value.isoformat()

    def repr_date(self, value: date, level: int) -> str:
        return value.isoformat()

    def repr_bytes(self, value: bytes, level: int) -> str:
        size = len(value)
        return f"binary data ({size} byte{'' if size == 1 else 's'})"


# Error messages quote offending values, shortened.
_SHORT = _AsWritten()
_SHORT.maxstring = _SHORT.maxother = 60


def parse_duration(value: object) -> float:
    """Seconds from a number or a string such as ``"1h30m"`` or ``"90s"``.

    Raises:
        ValueError: negative, not finite, over :data:`MAX_DURATION`, or not
            in that form.
    """
    shown = _SHORT.repr(value)
    if isinstance(value, str) and value.strip().startswith("-"):
        raise ValueError(f"a duration must not be negative, got {shown}")
    if isinstance(value, date):
        raise ValueError(
            f"a duration is a number of seconds or '5m', not a timestamp (got {shown})"
        )
    if isinstance(value, bool):
        raise ValueError(f"a duration is a number of seconds or '5m', got {shown}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        parts = _DURATION.findall(text)
        if not text or "".join(n + u for n, u in parts) != text:
            raise ValueError(
                f"a duration looks like 90, '90s', '5m' or '1h30m', got {shown}"
            )
        scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
        seconds = sum(float(n) * scale[u] for n, u in parts)
    else:
        raise ValueError(f"a duration is a number of seconds or '5m', got {shown}")
    if seconds < 0:
        raise ValueError(f"a duration must not be negative, got {shown}")
    if not math.isfinite(seconds) or seconds > MAX_DURATION:
        raise ValueError(f"a duration must be at most 10 years, got {shown}")
    return seconds


def parse_offset(value: object) -> float:
    """Signed seconds: a duration, or one with a leading ``-`` (``"-10m"``).

    Raises:
        ValueError: not a duration once the sign is removed.
    """
    if isinstance(value, str) and value.strip().startswith("-"):
        return -parse_duration(value.strip()[1:])
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        return -parse_duration(-value)
    return parse_duration(value)


_DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": MAX_DURATION},
        {"type": "string", "pattern": r"^(\d+(\.\d+)?(ms|h|m|s))+$"},
    ],
    "description": "seconds, or a string such as '90s', '5m' or '1h30m'",
}

Duration = Annotated[
    float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)
]
PositiveDuration = Annotated[Duration, Field(gt=0)]
Offset = Annotated[
    float,
    BeforeValidator(parse_offset),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": -MAX_DURATION, "maximum": MAX_DURATION},
                {"type": "string", "pattern": r"^-?(\d+(\.\d+)?(ms|h|m|s))+$"},
            ],
            "description": "signed seconds, or a string such as '-10m'",
        }
    ),
]


def _one_line(text: str) -> str:
    # Names and roles go into AGENCY.md notes, which are one line each.
    for index, char in enumerate(text):
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            raise ValueError(
                f"must be one line of printable text; {char!r} at index {index}"
            )
    return text


OneLine = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_one_line)]


class _FieldError(ValueError):
    """A model's own check that knows which field below the model broke it.

    pydantic places a validator's error at the model; the loader adds
    ``loc`` to that path, so the message names the field and its line.
    """

    def __init__(self, loc: tuple[str | int, ...], reason: str) -> None:
        super().__init__(reason)
        self.loc = loc


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Model):
    """A closed range of durations; a seeded draw picks one in it.

    A single duration in the file stands for a range of one value.
    """

    min: Duration
    max: Duration

    @model_validator(mode="before")
    @classmethod
    def _from_scalar(cls, data: object) -> object:
        if isinstance(data, int | float | str | date) and not isinstance(data, bool):
            return {"min": data, "max": data}
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [_DURATION_SCHEMA, handler(core_schema)]}

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min > self.max:
            raise ValueError(f"min ({self.min:g}s) is above max ({self.max:g}s)")
        return self


class Probe(_Model):
    """An acceptance check: call a function of the module, compare the result.

    Exactly one of ``expect`` (the value, or the value of ``attr`` on it) and
    ``raises`` (an exception class name, optionally with a ``match`` regex
    searched in its message) must be given.
    """

    call: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    attr: str | None = Field(
        default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$"
    )
    expect: Any = None
    raises: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    match: str | None = None
    subtask: int = Field(default=1, ge=1)

    @field_validator("attr", mode="before")
    @classmethod
    def _public_attr(cls, attr: object) -> object:
        # '__class__.__init__.__globals__' would read module internals into
        # the report; a probe looks at what the result offers its users.
        if isinstance(attr, str):
            for name in attr.split("."):
                if name.startswith("_"):
                    raise ValueError(
                        f"'attr' names public attributes only, got {name!r}"
                    )
        return attr

    @model_validator(mode="after")
    def _one_outcome(self) -> Probe:
        # 'expect: null' is a real expectation, so "given" means "set";
        # but a dumped probe carries expect=None beside its 'raises'.
        has_expect = "expect" in self.model_fields_set and not (
            self.expect is None and self.raises is not None
        )
        if has_expect == (self.raises is not None):
            raise ValueError("give exactly one of 'expect' and 'raises'")
        if self.match is not None:
            if self.raises is None:
                raise ValueError("'match' goes with 'raises'")
            try:
                re.compile(self.match)
            except re.error as exc:
                raise ValueError(
                    f"'match' is not a regular expression: {exc}"
                ) from None
        return self


class AgentSpec(_Model):
    """One simulated agent, as in the seed's assignment table.

    An agent with a ``task`` builds that task's module and keeps AGENCY.md
    current. An agent without one is a job agent (as in a swarm): it claims
    its ``resource``, holds it for one draw of work, and releases it,
    without touching the document.
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)
    name: OneLine
    role: OneLine
    task: str | None = Field(default=None, pattern=r"^[A-Z]$")
    module: Literal["validators", "formatters", "parsers", "strings"] | None = None
    model: OneLine | None = None
    work: Range | None = None
    start_after: Range = Range(min=0, max=0)
    resource: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$", max_length=128
    )

    @model_validator(mode="after")
    def _task_or_job(self) -> AgentSpec:
        if (self.task is None) != (self.module is None):
            raise ValueError("give both 'task' and 'module', or neither (a job)")
        if self.task is None and self.resource is None:
            raise ValueError("a job agent (no task) needs a 'resource' to claim")
        return self


class LockSettings(_Model):
    """How agents use the lock manager."""

    ttl: Annotated[Duration, Field(ge=1)] = 1800.0
    mode: LockMode = LockMode.SAFE
    renew_margin: PositiveDuration = 300.0
    claim_timeout: PositiveDuration | None = None
    prefix: str = Field(default="parallel-tasks", pattern=r"^[a-z0-9][a-z0-9-]*$")

    @model_validator(mode="after")
    def _margin_fits(self) -> LockSettings:
        # Agents renew every ttl - renew_margin seconds; under a second
        # apart, a long subtask turns into millions of renewals.
        if self.ttl - self.renew_margin < 1:
            raise ValueError(
                f"renew_margin ({self.renew_margin:g}s) must be at least a second "
                f"below the ttl ({self.ttl:g}s)"
            )
        return self


class Approach(StrEnum):
    """How the agents coordinate (the seed's approaches A to D).

    - ``git-only``: no locks; an agent claims its task with a note and
      everyone edits AGENCY.md directly.
    - ``owner-field``: an agent reads its task's ``Owner`` field and, if it
      is empty, writes its own name there (check, then set).
    - ``lease``: a lease per task from the lock manager; the document gets
      progress but no notes.
    - ``combined``: a lease per task plus progress and notes in AGENCY.md.
    """

    GIT_ONLY = "git-only"
    OWNER_FIELD = "owner-field"
    LEASE = "lease"
    COMBINED = "combined"

    @property
    def uses_leases(self) -> bool:
        """Whether agents claim leases from the lock manager."""
        return self in (Approach.LEASE, Approach.COMBINED)


class WriteMode(StrEnum):
    """How an agent writes AGENCY.md back after reading it.

    - ``atomic``: read and write as one step of the store (no window).
    - ``naive``: read, spend the edit time, write the result back whatever
      happened meanwhile (later writers overwrite earlier ones).
    - ``optimistic``: as naive, but the write names the revision it read;
      when someone wrote in between it is refused, and the agent reads
      again and redoes its edit, like a rejected ``git push``.
    """

    ATOMIC = "atomic"
    NAIVE = "naive"
    OPTIMISTIC = "optimistic"


class WriteSettings(_Model):
    """How agents write AGENCY.md."""

    mode: WriteMode = WriteMode.ATOMIC
    edit_time: Range = Range(min=0, max=0)
    retry: Range = Range(min=5, max=30)


class FaultKind(StrEnum):
    """What can go wrong with an agent."""

    CRASH = "crash"
    STALL = "stall"
    SLOW_WRITE = "slow_write"
    CLOCK_SKEW = "clock_skew"
    LOST_REPLY = "lost_reply"


_TRIGGER = re.compile(r"^(start|claim|subtask [1-9][0-9]{0,3})$")


class Fault(_Model):
    """One fault, scheduled for one agent.

    It fires at a virtual time (``at``, from the run's start) or when the
    agent reaches a point of its work (``after``: ``start``, ``claim`` or
    ``subtask N``). A fault timed for a moment when the agent waits in a
    lock queue fires when that wait ends.

    - ``crash``: the agent stops for good; its lease is never released.
    - ``stall``: it freezes for ``duration``, then goes on as if no time had
      passed, still believing in its lease.
    - ``slow_write``: its next ``count`` document writes each spend
      ``duration`` between reading AGENCY.md and writing it back.
    - ``clock_skew``: its own clock jumps by ``offset`` and runs ``drift``
      fast (0.1 = 10% fast, -0.1 = 10% slow); only the lock manager's clock
      decides expiry, so the agent renews early or too late.
    - ``lost_reply``: its next claim succeeds but it never hears so; it
      waits a retry interval and claims again.
    """

    agent: str
    kind: FaultKind
    at: Duration | None = None
    after: str | None = None
    duration: PositiveDuration | None = None
    count: int = Field(default=1, ge=1, le=10_000)
    offset: Offset = 0.0
    drift: float = Field(default=0.0, gt=-0.9, le=9.0)

    @field_validator("at", mode="before")
    @classmethod
    def _not_a_timestamp(cls, value: object) -> object:
        # YAML reads 'at: 2025-11-23T10:05:00Z' as a datetime, a natural slip.
        if isinstance(value, date):
            raise ValueError(
                "'at' is an offset from the run's start such as '5m' or 300, "
                f"not a timestamp (got {_SHORT.repr(value)})"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Fault:
        if (self.at is None) == (self.after is None):
            raise ValueError("give exactly one of 'at' (a time) and 'after'")
        if self.after is not None and not _TRIGGER.match(self.after):
            raise ValueError(
                "'after' is 'start', 'claim' or 'subtask N', "
                f"got {_SHORT.repr(self.after)}"
            )
        timed = self.kind in (FaultKind.STALL, FaultKind.SLOW_WRITE)
        if timed and self.duration is None:
            raise ValueError(f"a {self.kind} fault needs a 'duration'")
        if not timed and self.duration is not None:
            raise ValueError(f"a {self.kind} fault takes no 'duration'")
        skewed = self.kind is FaultKind.CLOCK_SKEW
        if not skewed and (self.offset or self.drift):
            raise ValueError("'offset' and 'drift' go with clock_skew faults")
        if skewed and not (self.offset or self.drift):
            raise ValueError("a clock_skew fault needs an 'offset' or a 'drift'")
        if abs(self.offset) > MAX_DURATION:
            raise ValueError("'offset' must be at most 10 years either way")
        return self

    @property
    def subtask(self) -> int | None:
        """N of ``after: subtask N``, else None."""
        if self.after is None or not self.after.startswith("subtask "):
            return None
        return int(self.after.split()[1])


class RandomFaults(_Model):
    """Faults drawn per seed for a swarm's agents."""

    rate: float = Field(default=0.0, ge=0, le=1)
    kinds: list[FaultKind] = [FaultKind.CRASH, FaultKind.STALL]
    stall: Range = Range(min=60, max=3600)
    skew: Range = Range(min=60, max=1800)

    @field_validator("kinds")
    @classmethod
    def _job_faults(cls, kinds: list[FaultKind]) -> list[FaultKind]:
        if not kinds:
            raise ValueError("name at least one fault kind")
        if FaultKind.SLOW_WRITE in kinds:
            raise ValueError("swarm agents do not write AGENCY.md: no slow_write")
        return kinds


class Swarm(_Model):
    """Many job agents, generated from the seed.

    Agent ``worker-N`` starts after a draw of ``arrivals``, claims one of
    ``resources`` resources (``PREFIX-swarm-K``), chosen by the seed, holds
    it for a draw of ``work`` and releases it. ``faults`` picks which agents
    misbehave, and how: a crash or stall strikes on arrival or right after
    the claim (half and half); a lost reply is armed on arrival, so that it
    strikes the one claim a job makes; a clock skew strikes right after the
    claim, since a job counts its lease on its own clock from the claim's
    reply and a skew before it would change nothing.
    """

    agents: int = Field(ge=1, le=100_000)
    resources: int = Field(ge=1, le=10_000)
    arrivals: Range = Range(min=0, max=3600)
    work: Range = Range(min=60, max=1200)
    faults: RandomFaults = RandomFaults()


def _known_invariants(names: list[str]) -> list[str]:
    for name in names:
        if name not in INVARIANTS:
            raise ValueError(
                f"no invariant is named {name!r}; the invariants are "
                + ", ".join(INVARIANTS)
            )
    return names


def _known_event_kind(kind: str) -> str:
    if kind in EVENT_KINDS:
        return kind
    close = difflib.get_close_matches(kind, EVENT_KINDS, n=1)
    if close:
        hint = f"did you mean {close[0]!r}?"
    else:
        families = sorted({known.split(".")[0] + ".*" for known in EVENT_KINDS})
        hint = f"the kinds are {', '.join(families[:-1])} and {families[-1]}"
    raise ValueError(f"no event kind is named {_SHORT.repr(kind)}; {hint}")


EventKind = Annotated[
    str,
    AfterValidator(_known_event_kind),
    WithJsonSchema({"type": "string", "enum": list(EVENT_KINDS)}),
]

_COUNT = re.compile(r"^(>=|<=|>|<)?\s*(\d{1,9})$")


def _count_text(value: object) -> str:
    # A count is a number, or a bound such as ">= 1".
    text = str(value).strip() if not isinstance(value, bool) else ""
    if not _COUNT.match(text):
        raise ValueError(
            f"a count is a number or a bound like '>= 1', got {_SHORT.repr(value)}"
        )
    return text


Count = Annotated[
    str,
    BeforeValidator(_count_text),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": r"^(>=|<=|>|<)?\s*\d+$"},
            ]
        }
    ),
]


def count_holds(bound: str, actual: int) -> bool:
    """Whether ``actual`` satisfies a count such as ``"3"`` or ``">= 1"``."""
    match = _COUNT.match(bound)
    assert match is not None, bound
    op, number = match.group(1) or "==", int(match.group(2))
    return {
        "==": actual == number,
        ">=": actual >= number,
        "<=": actual <= number,
        ">": actual > number,
        "<": actual < number,
    }[op]


class Expectations(_Model):
    """What must hold at the end of the run for it to pass.

    Attributes:
        status: the project status in the final AGENCY.md (None: any): one
            agents write (``AGENT_STATUSES``) or the one the document starts
            with, checked against the document when the scenario loads.
        violations: exactly these invariants are broken (by name).
        blocked: the final ``blocked`` field (None: any).
        outcomes: how named agents end (``agent-a: lost_lease``).
        events: how many events of a kind the trace holds, e.g.
            ``lease.expired: 1`` or ``doc.refused: ">= 1"``; the kinds are
            those a run records (``EVENT_KINDS``).
    """

    status: Annotated[str, Field(min_length=1, max_length=200)] | None = "completed"
    violations: Annotated[list[str], AfterValidator(_known_invariants)] = []
    blocked: bool | None = None
    outcomes: dict[str, Outcome] = {}
    events: dict[EventKind, Count] = {}


class Variant(_Model):
    """The same scenario with a few settings changed and its own expectations.

    A scenario file runs once as written and once per variant; each run is
    named ``NAME-VARIANT``. A variant may change the coordination approach,
    the write and lock settings, the faults and the liveness bound.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=40)
    description: str = ""
    coordination: Approach | None = None
    writes: dict[str, Any] | None = None
    locks: dict[str, Any] | None = None
    faults: list[dict[str, Any]] | None = None
    liveness: Any = None
    expect: Expectations = Expectations()


class Scenario(_Model):
    """A whole scenario file.

    Attributes:
        name: a short name, used for the default output folder.
        seed: the seed of the run's random streams.
        start: the virtual epoch (aware datetime).
        document: the AGENCY.md the run copies and works on.
        coordination: the approach the agents use.
        locks: lease settings (lease and combined approaches).
        writes: how agents write AGENCY.md.
        work: the default range of a subtask's duration.
        agents: the agents, in the order they are started.
        swarm: many job agents generated from the seed, after ``agents``.
        faults: what goes wrong, for which agent, and when.
        probes: per module, the acceptance checks its agent runs.
        liveness: once the last fault has passed, the work must be done
            within this long (None: not checked).
        horizon: the run stops here, stopping agents still at work.
        expect: what must hold when the run ends.
        variants: the same scenario with other settings, run after it.
        max_events: the run stops with an error past this many events.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    seed: int = Field(ge=0, strict=True)
    start: AwareDatetime
    document: Path
    coordination: Approach = Approach.COMBINED
    locks: LockSettings = LockSettings()
    writes: WriteSettings = WriteSettings()
    work: Range = Range(min=300, max=900)
    agents: list[AgentSpec] = []
    swarm: Swarm | None = None
    faults: list[Fault] = []
    probes: dict[
        Literal["validators", "formatters", "parsers", "strings"], list[Probe]
    ] = {}
    liveness: PositiveDuration | None = None
    horizon: PositiveDuration = 7 * 86_400.0
    expect: Expectations = Expectations()
    variants: list[Variant] = []
    max_events: int = Field(default=1_000_000, gt=0, strict=True)

    @field_validator("start")
    @classmethod
    def _start_in_range(cls, start: datetime) -> datetime:
        if not 1900 <= start.year <= 9000:
            raise ValueError(f"start must fall in the years 1900 to 9000, got {start}")
        return start

    @field_validator("agents")
    @classmethod
    def _unique(cls, agents: list[AgentSpec]) -> list[AgentSpec]:
        seen: dict[str, int] = {}
        for index, agent in enumerate(agents):
            if agent.id in seen:
                raise _FieldError(
                    (index, "id"),
                    f"agents {seen[agent.id]} and {index} share the id {agent.id!r}",
                )
            seen[agent.id] = index
        return agents

    @model_validator(mode="after")
    def _fits_together(self) -> Scenario:
        if not self.agents and self.swarm is None:
            raise ValueError("a scenario needs 'agents', a 'swarm', or both")
        ids = {agent.id for agent in self.agents}
        for index, fault in enumerate(self.faults):
            if fault.agent not in ids:
                raise _FieldError(
                    ("faults", index, "agent"),
                    f"no agent has the id {fault.agent!r}",
                )
        if self.swarm is not None:
            for index, agent in enumerate(self.agents):
                if agent.id.startswith("worker-"):
                    raise _FieldError(
                        ("agents", index, "id"),
                        f"with a swarm, ids 'worker-N' are taken, got {agent.id!r}",
                    )
        if self.expect.outcomes:
            known = ids | self._worker_ids()
            for agent_id in self.expect.outcomes:
                if agent_id not in known:
                    raise _FieldError(
                        ("expect", "outcomes", agent_id),
                        f"no agent has the id {agent_id!r}",
                    )
        names: dict[str, int] = {}
        for index, variant in enumerate(self.variants):
            if variant.name in names:
                raise _FieldError(
                    ("variants", index, "name"),
                    f"variants {names[variant.name]} and {index} share the name "
                    f"{variant.name!r}",
                )
            names[variant.name] = index
        return self

    def _worker_ids(self) -> set[str]:
        count = self.swarm.agents if self.swarm is not None else 0
        return {f"worker-{n}" for n in range(1, count + 1)}

    def resource_of(self, agent: AgentSpec) -> str:
        """The lease resource an agent claims: its own, or prefix-module."""
        return agent.resource or f"{self.locks.prefix}-{agent.module}"

    def work_of(self, agent: AgentSpec) -> Range:
        """The duration range of the agent's subtasks."""
        return agent.work or self.work

    def with_seed(self, seed: int) -> Scenario:
        """The same scenario with another seed.

        Raises:
            ScenarioError: ``seed`` is not a whole number, 0 or more.
        """
        return self.model_copy(update={"seed": seed}).validated()

    def validated(self) -> Scenario:
        """This scenario checked against the models again.

        ``model_copy(update=...)`` validates nothing, so a scenario built
        that way may hold values a file could not.

        Raises:
            ScenarioError: a field breaks the model; the message names it.
        """
        try:
            # warnings=False: a field set to a plain value (mode="loose" for
            # an enum) is what this is here to check, not to warn about.
            return Scenario.model_validate(self.model_dump(warnings=False))
        except ValidationError as exc:
            raise _scenario_error("<scenario>", None, exc) from None

    def runs(self) -> list[Scenario]:
        """The scenario as written, then each variant, as scenarios of their own.

        Raises:
            ScenarioError: a variant's changes break the model.
        """
        base = self.model_copy(update={"variants": []})
        return [base] + [self.variant(v.name) for v in self.variants]

    def variant(self, name: str) -> Scenario:
        """The scenario with variant ``name`` applied (named ``NAME-VARIANT``).

        Raises:
            KeyError: no variant has that name.
            ScenarioError: the variant's changes break the model.
        """
        names = [variant.name for variant in self.variants]
        if name not in names:
            known = ", ".join(names) or "none"
            raise KeyError(f"no variant {name!r} (variants: {known})")
        index = names.index(name)
        variant = self.variants[index]
        data = self.model_dump()
        changes = variant.model_dump(exclude={"name", "description"})
        for key, value in changes.items():
            if key == "expect":
                data[key] = value
            elif isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            elif value is not None:
                data[key] = value
        data.update(
            name=f"{self.name}-{variant.name}",
            description=variant.description or self.description,
            variants=[],
        )
        try:
            return Scenario.model_validate(data)
        except ValidationError as exc:
            error = _scenario_error(f"variant {name!r}", None, exc)
            field = ".".join(
                part for part in (f"variants.{index}", error.field) if part
            )
            raise ScenarioError(error.source, error.reason, field=field) from None

    def population(self) -> Scenario:
        """This scenario with its swarm turned into agents and faults.

        The swarm's draws (who arrives when, claims what, and which faults
        strike) depend on the seed only, so the result replays the same run
        and can be cut down agent by agent.
        """
        if self.swarm is None:
            return self
        agents, faults = _expand_swarm(self)
        return self.model_copy(
            update={
                "agents": [*self.agents, *agents],
                "faults": [*self.faults, *faults],
                "swarm": None,
            }
        )


def _expand_swarm(scenario: Scenario) -> tuple[list[AgentSpec], list[Fault]]:
    swarm = scenario.swarm
    assert swarm is not None
    material = hashlib.sha256(f"agency/{scenario.seed}/swarm".encode()).digest()
    rng = random.Random(int.from_bytes(material[:16], "big"))
    width = len(str(swarm.resources))
    agents: list[AgentSpec] = []
    faults: list[Fault] = []
    for number in range(1, swarm.agents + 1):
        agent_id = f"worker-{number}"
        resource = rng.randrange(1, swarm.resources + 1)
        arrival = _whole(rng, swarm.arrivals)
        agents.append(
            AgentSpec(
                id=agent_id,
                name=f"Worker {number}",
                role="swarm job",
                resource=f"{scenario.locks.prefix}-swarm-{resource:0{width}d}",
                work=swarm.work,
                start_after=Range(min=arrival, max=arrival),
            )
        )
        if rng.random() >= swarm.faults.rate:
            continue
        kind = swarm.faults.kinds[rng.randrange(len(swarm.faults.kinds))]
        fault: dict[str, Any] = {"agent": agent_id, "kind": kind}
        fault["after"] = "claim" if rng.random() < 0.5 else "start"
        if kind is FaultKind.LOST_REPLY:
            fault["after"] = "start"  # it strikes the claim, so before it
        elif kind is FaultKind.CLOCK_SKEW:
            fault["after"] = "claim"  # a skew before the claim changes nothing
        if kind is FaultKind.STALL:
            fault["duration"] = _whole(rng, swarm.faults.stall)
        elif kind is FaultKind.CLOCK_SKEW:
            fault["offset"] = _whole(rng, swarm.faults.skew) * rng.choice((-1, 1))
        faults.append(Fault.model_validate(fault))
    return agents, faults


def _whole(rng: random.Random, span: Range) -> float:
    return float(round(rng.uniform(span.min, span.max)))


def scenario_from_mapping(
    data: Mapping[str, Any], *, base: str | Path = ".", source: str = "<inline>"
) -> Scenario:
    """A scenario from a mapping, as a scenario file would give it.

    For tests and tools that build scenarios in code. Relative paths are
    relative to ``base``.

    Raises:
        ScenarioError: the mapping breaks the model or does not fit its
            document; the message names the field.
    """
    try:
        scenario = Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise _scenario_error(source, None, exc) from None
    return _finish(scenario, Path(base), source, None)


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate a scenario file.

    Besides the model, it checks the scenario against its AGENCY.md: every
    agent's task has a checklist and a progress section, and every probe
    names a subtask that exists and a function and exception that do.

    Args:
        path: the YAML file.

    Returns:
        The validated scenario, with ``document`` made absolute.

    Raises:
        ScenarioError: the file is missing, unreadable, not YAML, breaks the
            model, or does not fit its document; the message names file,
            line and field.
    """
    path = Path(path)
    source = str(path)
    return parse_scenario(read_text(path, source), source=source, base=path.parent)


def parse_scenario(
    text: str, *, source: str = "<inline>", base: str | Path = "."
) -> Scenario:
    """Parse and validate a scenario given as YAML text.

    The same checks as :func:`load_scenario`, for scenarios that live in a
    string (a test, a tool) rather than a file.

    Args:
        text: the scenario's YAML.
        source: the name its errors give it, in place of a file name.
        base: the folder a relative ``document`` is relative to.

    Returns:
        The validated scenario, with ``document`` made absolute.

    Raises:
        ScenarioError: the text is not YAML, breaks the model, or does not
            fit its document; the message names source, line and field.
    """
    tree, plain = load_tree(text, source)
    try:
        scenario = Scenario.model_validate(plain)
    except ValidationError as exc:
        raise _scenario_error(source, tree, exc) from None

    return _finish(scenario, Path(base), source, tree)


def _finish(scenario: Scenario, base: Path, source: str, tree: object) -> Scenario:
    """Make the document path absolute and check what the model cannot."""
    document = scenario.document
    if not document.is_absolute():
        document = (base / document).resolve()
    scenario = scenario.model_copy(update={"document": document})
    problems = check_scenario(scenario)
    if not problems:
        for index, variant in enumerate(scenario.variants):
            try:
                scenario.variant(variant.name)
            except ScenarioError as exc:
                own = f"variants.{index}"
                where = (exc.field or own).removeprefix(own).removeprefix(".")
                what = f"its change of {where}" if where else "it"
                # The line of the variant's own change, where it has one.
                inside: list[str | int] = [
                    int(part) if part.isdigit() else part
                    for part in where.split(".")
                    if part
                ]
                raise ScenarioError(
                    source,
                    f"{what} breaks it: {exc.reason}",
                    line=line_of(tree, ["variants", index, *inside]),
                    field=f"variants.{index}",
                ) from None
    for loc, reason in problems:
        raise ScenarioError(
            source,
            reason,
            line=line_of(tree, loc),
            field=".".join(map(str, loc)),
        )
    return scenario


def check_scenario(scenario: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """What in ``scenario`` cannot work, field by field, beyond its model.

    Every probe must call a public function of its module (one in its
    ``__all__``) and name an exception that exists; every agent's task must
    have a checklist and a progress section in the AGENCY.md; every probe's
    subtask must exist.

    Returns:
        ``(field path, reason)`` pairs; empty when everything fits.
    """
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for module_name, probes in scenario.probes.items():
        module = importlib.import_module(f"utils.{module_name}")
        public = set(getattr(module, "__all__", ()))
        for index, probe in enumerate(probes):
            loc: tuple[str | int, ...] = ("probes", module_name, index)
            if probe.call not in public or not callable(getattr(module, probe.call)):
                problems.append(
                    (
                        (*loc, "call"),
                        f"utils.{module_name} has no public function {probe.call!r}",
                    )
                )
            else:
                problems.extend(_check_arguments(module_name, module, probe, loc))
            if (
                probe.raises is not None
                and resolve_exception(module, probe.raises) is None
            ):
                problems.append(
                    (
                        (*loc, "raises"),
                        f"no exception class {probe.raises!r} in utils.{module_name} "
                        "or the built-ins",
                    )
                )
    return problems + _check_document(scenario)


def _check_arguments(
    module_name: str, module: object, probe: Probe, loc: tuple[str | int, ...]
) -> list[tuple[tuple[str | int, ...], str]]:
    """A problem when the probe's arguments do not fit its function's signature.

    Refused here, a wrong keyword is bad input; at run time it would only
    make the probe fail, and the agent blocked.
    """
    function = getattr(module, probe.call)
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return []  # a C function without a signature: the call will tell
    try:
        signature.bind(*probe.args, **probe.kwargs)
    except TypeError as exc:
        reason = str(exc)
        where: tuple[str | int, ...] = (*loc, "args")
        for name in probe.kwargs:
            # "unexpected keyword argument 'x'", "multiple values for
            # argument 'x'", "'x' parameter is positional only, ..."
            if f"argument {name!r}" in reason or reason.startswith(f"{name!r} "):
                where = (*loc, "kwargs", name)
        return [(where, f"utils.{module_name}.{probe.call}() {reason}")]
    return []


def _check_document(scenario: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    path = scenario.document
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES // 2**20
            return [(("document",), f"{path} is larger than {limit} MiB")]
        document = AgencyDocument.parse(raw.decode("utf-8"), source=str(path))
    except OSError as exc:
        return [(("document",), f"cannot read {path}: {exc.strerror}")]
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return [(("document",), f"{path}:{line}: not UTF-8 text")]
    except DocumentFormatError as exc:
        return [(("document",), str(exc))]

    problems: list[tuple[tuple[str | int, ...], str]] = []
    wanted = scenario.expect.status
    if wanted is not None and wanted not in (*AGENT_STATUSES, str(document.status)):
        problems.append(
            (
                ("expect", "status"),
                f"no run can end {wanted!r}: agents write "
                f"{', '.join(AGENT_STATUSES)}, and {path.name} starts "
                f"{document.status!s}",
            )
        )
    tasks = {task.letter: task for task in document.tasks}
    progress = {entry.letter for entry in document.progress}
    items: dict[str, int] = {}
    for index, agent in enumerate(scenario.agents):
        if agent.task is None:
            continue
        task = tasks.get(agent.task)
        if task is None or agent.task not in progress:
            problems.append(
                (
                    ("agents", index, "task"),
                    f"{path.name} has no 'Task {agent.task}' checklist and "
                    f"progress section for {agent.id}",
                )
            )
        else:
            assert agent.module is not None
            items[agent.module] = len(task.items)
            for number, fault in enumerate(scenario.faults):
                step = fault.subtask
                if (
                    fault.agent == agent.id
                    and step is not None
                    and step > len(task.items)
                ):
                    problems.append(
                        (
                            ("faults", number, "after"),
                            f"Task {agent.task} has {len(task.items)} subtasks, so "
                            f"subtask {step} never comes",
                        )
                    )
    jobs = {agent.id for agent in scenario.agents if agent.task is None}
    for number, fault in enumerate(scenario.faults):
        if fault.agent in jobs and fault.kind is FaultKind.SLOW_WRITE:
            problems.append(
                (
                    ("faults", number, "kind"),
                    f"{fault.agent} is a job agent and writes nothing",
                )
            )
        if fault.agent in jobs and fault.subtask is not None:
            problems.append(
                (
                    ("faults", number, "after"),
                    f"{fault.agent} is a job agent: no subtasks",
                )
            )
    for module, probes in scenario.probes.items():
        if module not in {agent.module for agent in scenario.agents}:
            problems.append(
                (("probes", module), f"no agent builds {module}, so these never run")
            )
            continue
        for index, probe in enumerate(probes):
            count = items.get(module)
            if count is not None and probe.subtask > count:
                problems.append(
                    (
                        ("probes", module, index, "subtask"),
                        f"the task has {count} subtasks, so subtask "
                        f"{probe.subtask} never comes",
                    )
                )
    return problems


def _scenario_error(source: str, tree: object, exc: ValidationError) -> ScenarioError:
    problems = []
    for error in exc.errors(include_url=False):
        # A dict key's own error ends in '[key]': the key names the field.
        loc = [
            step
            for step in error["loc"]
            if isinstance(step, int | str) and step != "[key]"
        ]
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, _FieldError):
            loc.extend(cause.loc)
        field = ".".join(str(step) for step in loc) or None
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] not in ("missing", "value_error") and "input" in error:
            # Our own validators name the value; pydantic's do not.
            message += f" (got {_SHORT.repr(error['input'])})"
        problems.append((line_of(tree, loc), field, message))
    line, field, message = problems[0]
    more = "".join(
        f"\n  {_where(source, ln, fl)} {msg}" for ln, fl, msg in problems[1:]
    )
    return ScenarioError(source, message + more, line=line, field=field)


def _where(source: str, line: int | None, field: str | None) -> str:
    """``source:line: field:`` as :class:`ScenarioError` begins, parts known."""
    where = f"{source}:{line}:" if line is not None else f"{source}:"
    return f"{where} {field}:" if field else where


def resolve_exception(module: object, name: str) -> type[BaseException] | None:
    """The exception class ``name`` from ``module`` or the built-ins."""
    found = getattr(module, name, None) or getattr(builtins, name, None)
    if isinstance(found, type) and issubclass(found, BaseException):
        return found
    return None
