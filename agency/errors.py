"""Exceptions raised by the simulator core.

Conditions a caller must be ready for are named here; plain misuse (a TTL
that is not positive, an empty resource name) raises a subclass of the
matching built-in error, so it is caught by the usual ``except ValueError``.
The hierarchy::

    AgencyError
    ├── LockError
    │   ├── LeaseConflict        try-claim of a resource someone else holds
    │   ├── NotHolder            renew or release by someone who holds nothing
    │   ├── LeaseExpired         renew or write after the lease ran out
    │   └── ClaimTimeout         claim-with-wait gave up (also a TimeoutError)
    ├── DocumentError
    │   ├── DocumentFormatError  AGENCY.md text that cannot be parsed
    │   ├── DocumentEditError    an edit that names a task or field not there
    │   ├── StaleToken           a write fenced by an older token than seen
    │   └── RevisionConflict     an optimistic write lost the race
    ├── ScenarioError            a scenario file that cannot be used
    ├── TraceFormatError         a trace.jsonl line that is not an event
    └── SimulationError          the run itself cannot go on (e.g. deadlock)

    ValueError
    └── InvalidArgument          misuse: bad TTL, empty name, bad duration
"""

from __future__ import annotations

__all__ = [
    "AgencyError",
    "ClaimTimeout",
    "DocumentEditError",
    "DocumentError",
    "DocumentFormatError",
    "InvalidArgument",
    "LeaseConflict",
    "LeaseExpired",
    "LockError",
    "NotHolder",
    "RevisionConflict",
    "ScenarioError",
    "SimulationError",
    "StaleToken",
    "TraceFormatError",
]


class AgencyError(Exception):
    """Base class of every condition the simulator reports."""


class _Located(Exception):
    """A problem at a line of a file: ``source:line: reason``."""

    def __init__(self, source: str, reason: str, *, line: int | None = None):
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


class InvalidArgument(ValueError):
    """An argument outside its documented range (a misuse, not a condition)."""


class LockError(AgencyError):
    """Base class of lock manager conditions."""


class LeaseConflict(LockError):
    """The resource is held by someone else.

    Attributes:
        resource: the resource asked for.
        holder: who holds it now.
        expires_at: virtual time (seconds since the epoch of the run) at
            which the holder's lease runs out unless renewed.
    """

    def __init__(self, resource: str, holder: str, expires_at: float):
        super().__init__(f"{resource!r} is held by {holder!r} until t={expires_at:g}s")
        self.resource = resource
        self.holder = holder
        self.expires_at = expires_at


class NotHolder(LockError):
    """A renew or release by an owner that does not hold the lease."""

    def __init__(self, resource: str, owner: str, holder: str | None):
        held = f"held by {holder!r}" if holder is not None else "not held"
        super().__init__(f"{owner!r} does not hold {resource!r} (it is {held})")
        self.resource = resource
        self.owner = owner
        self.holder = holder


class LeaseExpired(LockError):
    """The lease ran out before the operation that needed it."""

    def __init__(self, resource: str, owner: str, expired_at: float):
        super().__init__(
            f"lease of {owner!r} on {resource!r} expired at t={expired_at:g}s"
        )
        self.resource = resource
        self.owner = owner
        self.expired_at = expired_at


class ClaimTimeout(LockError, TimeoutError):
    """A claim-with-wait reached its timeout before the resource was free."""

    def __init__(self, resource: str, owner: str, timeout: float):
        super().__init__(f"{owner!r} waited {timeout:g}s for {resource!r} and gave up")
        self.resource = resource
        self.owner = owner
        self.timeout = timeout


class DocumentError(AgencyError):
    """Base class of AGENCY.md conditions."""


class DocumentFormatError(_Located, DocumentError):
    """AGENCY.md text that cannot be parsed.

    Attributes:
        source: the file name (or ``<memory>``).
        line: 1-based line of the problem, if known.
        reason: what is wrong.
    """


class DocumentEditError(DocumentError, LookupError):
    """An edit names a task, checklist item or section the document lacks."""


class StaleToken(DocumentError):
    """A write fenced by a token older than one already seen.

    Attributes:
        resource: the resource whose lease fenced the write.
        token: the token the writer presented.
        newest: the newest token the store has seen for that resource.
    """

    def __init__(self, resource: str, token: int, newest: int):
        super().__init__(
            f"write fenced by token {token} of {resource!r} refused: "
            f"token {newest} was already seen"
        )
        self.resource = resource
        self.token = token
        self.newest = newest


class RevisionConflict(DocumentError):
    """An optimistic write expected a revision the document has moved past."""

    def __init__(self, expected: int, actual: int):
        super().__init__(
            f"write expected revision {expected}, but the document is at {actual}"
        )
        self.expected = expected
        self.actual = actual


class ScenarioError(AgencyError):
    """A scenario file that cannot be loaded or validated.

    Attributes:
        source: the scenario file.
        line: 1-based line of the offending value, if known.
        field: dotted path of the offending field, if known.
        reason: what is wrong.
    """

    def __init__(
        self,
        source: str,
        reason: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ):
        where = f"{source}:{line}" if line is not None else source
        what = f" {field}:" if field else ""
        super().__init__(f"{where}:{what} {reason}")
        self.source = source
        self.line = line
        self.field = field
        self.reason = reason


class TraceFormatError(_Located, AgencyError, ValueError):
    """A trace file that cannot be read back as events.

    Attributes:
        source: the trace file.
        line: 1-based line of the offending event, if known.
        reason: what is wrong.
    """


class SimulationError(AgencyError):
    """The run cannot go on, for example because every task waits forever.

    Attributes:
        partial_trace: the trace so far as JSONL, when the engine had one,
            to see what led up to the stop.
    """

    partial_trace: bytes | None = None
