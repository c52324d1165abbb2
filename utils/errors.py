"""Exceptions raised by the utility library.

Every error a caller can cause with bad input is a ``ValueError`` (a
``TypeError`` for input of the wrong type), so code that only wants to
reject bad data can catch the built-in class. The hierarchy::

    ValueError
    ├── InvalidEmailError        utils.validators: not a usable mailbox
    ├── DateParseError           utils.formatters: text is not a date
    ├── TimezoneError            utils.formatters: unknown zone, naive value,
    │                            a wall time in a DST gap or fold, or a
    │                            conversion that leaves years 1 to 9999
    ├── JSONParseError           utils.parsers: not well-formed JSON
    └── SchemaValidationError    utils.parsers: JSON that breaks a schema
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DateParseError",
    "InvalidEmailError",
    "JSONParseError",
    "SchemaValidationError",
    "SchemaViolation",
    "TimezoneError",
]


class InvalidEmailError(ValueError):
    """An email address that cannot receive mail under the chosen options.

    Attributes:
        code: a stable, machine-readable reason such as ``no_at``,
            ``too_long``, ``bad_local_char``, ``bad_domain``, ``unsafe_char``
            or ``special_use_domain``.
        position: index in the input of the offending character, if any.
    """

    def __init__(self, code: str, message: str, *, position: int | None = None):
        super().__init__(message)
        self.code = code
        self.position = position


class DateParseError(ValueError):
    """Text that is not a date or time in the requested style.

    Attributes:
        text: the input that was refused.
        position: index in ``text`` where parsing stopped, if known.
    """

    def __init__(self, text: str, reason: str, *, position: int | None = None):
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"cannot parse {text!r} as a date{where}: {reason}")
        self.text = text
        self.reason = reason
        self.position = position


class TimezoneError(ValueError):
    """A zone that does not exist, a naive value where a zone is required,
    a wall time that a DST transition skips or repeats under a policy that
    refuses it, or a value whose time in the zone falls outside years 1 to
    9999, the range of :class:`datetime.datetime`."""


class JSONParseError(ValueError):
    """Input that is not well-formed JSON, or breaks a parser limit.

    Attributes:
        reason: a short description of what is wrong.
        line, column: 1-based position of the problem.
        offset: 0-based character offset (byte offset for byte input).
        snippet: the offending line, for the caret display in ``str()``.
    """

    def __init__(
        self,
        reason: str,
        *,
        line: int,
        column: int,
        offset: int,
        snippet: str = "",
    ):
        self.reason = reason
        self.line = line
        self.column = column
        self.offset = offset
        self.snippet = snippet
        super().__init__(reason)

    def __str__(self) -> str:
        head = f"{self.reason} (line {self.line}, column {self.column})"
        if not self.snippet:
            return head
        caret = " " * (self.column - 1) + "^"
        return f"{head}\n  {self.snippet}\n  {caret}"


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """One way a document breaks a schema.

    Attributes:
        pointer: JSON Pointer (RFC 6901) of the offending value, ``""`` for
            the root.
        message: what is wrong with it.
    """

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class SchemaValidationError(ValueError):
    """A well-formed JSON document that breaks its schema.

    Attributes:
        violations: every violation found, in document order.
    """

    def __init__(self, violations: Sequence[SchemaViolation]):
        self.violations = tuple(violations)
        count = len(self.violations)
        lines = "\n".join(f"  {v}" for v in self.violations)
        noun = "violation" if count == 1 else "violations"
        super().__init__(f"{count} schema {noun}:\n{lines}")
