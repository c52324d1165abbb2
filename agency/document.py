"""AGENCY.md as an immutable value: parse it, read it, edit it surgically.

An AGENCY.md file is YAML frontmatter between two ``---`` lines followed by a
Markdown body. The body holds the sections this module understands:

- ``## Tasks``: ``### Task A: Title (Agent A)`` headings, each with a
  ``- [ ]`` / ``- [x]`` checklist;
- ``## Progress Tracking``: ``### Agent A (Area) - Status: ⏳ Waiting``
  blocks, each with a ``- Owner:`` and a ``- Progress: 0/4 tasks`` line;
- ``## Agent Notes``: ``- **YYYY-MM-DD HH:MM - Author (Agent)**: text``.

Everything else is kept as it is. The text is held as a tuple of lines, each
with its own terminator, so rendering an untouched document gives back the
exact input, a UTF-8 byte order mark and CRLF line endings included. Every
edit returns a new document that differs from the old one only in the lines
the edit is about; lines it inserts use the file's own newline style.

Lines inside fenced code blocks (```` ``` ```` or ``~~~``) are never read as
headings, checklist items or notes: the seed file shows example notes in a
fence, and those are not notes.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import enum
import functools
import math
import re
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Final, Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode
from ruamel.yaml.reader import ReaderError

from agency.errors import DocumentEditError, DocumentFormatError
from utils.formatters import format_date

__all__ = [
    "AgencyDocument",
    "ChecklistItem",
    "Note",
    "Progress",
    "Task",
    "TaskStatus",
]

_BOM: Final = "\ufeff"
_REQUIRED_KEYS: Final = ("project_id", "status")

# Section titles, compared case-insensitively.
_TASKS: Final = "tasks"
_PROGRESS: Final = "progress tracking"
_NOTES: Final = "agent notes"

# CommonMark: a fence is three or more backticks or tildes, indented by at
# most three spaces; a backtick fence's info string holds no backtick.
_FENCE_OPEN: Final = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_FENCE_CLOSE: Final = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*$")
_HEADING: Final = re.compile(
    r"^ {0,3}(?P<hashes>#{1,6})(?:[ \t]+(?P<title>.*?))?[ \t]*$"
)

_TASK_HEADING: Final = re.compile(
    r"^ {0,3}### +Task (?P<letter>[^\s:]+): +(?P<title>.+?)"
    r" +\((?P<agent>[^()]+)\)[ \t]*$"
)
_TASK_HEADING_LIKE: Final = re.compile(r"^ {0,3}### +Task +[^\s:]+:")
_CHECKBOX: Final = re.compile(
    r"^(?P<bullet>[-*+]) \[(?P<mark>[ xX])\] +(?P<text>\S.*?)[ \t]*$"
)
# Looks like a checkbox, so a mistake in it is an error rather than prose.
# ``- [text](url)`` is a link and ``- [abcd]`` a reference, not checkboxes.
_CHECKBOX_LIKE: Final = re.compile(r"^[-*+][ \t]*\[[^\]]{0,3}\](?!\()")

_PROGRESS_HEADING: Final = re.compile(
    r"^ {0,3}### +Agent (?P<letter>\S+) +\((?P<area>[^()]*)\)"
    r" +- +Status: *(?P<status>.*?)[ \t]*$"
)
_PROGRESS_HEADING_LIKE: Final = re.compile(r"^ {0,3}### +Agent\b")
_OWNER_LINE: Final = re.compile(
    r"^- Owner: *(?:`(?P<quoted>[^`]*)`|(?P<bare>[^`\s][^`]*?))[ \t]*$"
)
_OWNER_LINE_LIKE: Final = re.compile(r"^[-*+] +Owner:")
_COUNT_LINE: Final = re.compile(r"^- Progress: *(?P<done>\d+)/(?P<total>\d+)")
_COUNT_LINE_LIKE: Final = re.compile(r"^[-*+] +Progress:")

_NOTE: Final = re.compile(
    r"^- \*\*(?P<stamp>\d{4}-\d{2}-\d{2} \d{2}:\d{2}) - (?P<author>.+?)"
    r" \((?P<agent>[^()]+)\)\*\*: ?(?P<text>.*)$"
)
_STAMP: Final = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")

# Everything str.splitlines() breaks on: none of it may enter a one-line value.
_LINE_BREAKS: Final = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


class TaskStatus(enum.Enum):
    """Status of one agent's task, as shown in its progress heading."""

    WAITING = "⏳ Waiting"
    IN_PROGRESS = "🔄 In Progress"
    COMPLETE = "✅ Complete"
    BLOCKED = "🚫 Blocked"

    @property
    def label(self) -> str:
        """The text written after ``Status:`` in the heading, e.g. ``⏳ Waiting``."""
        return self.value

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True, slots=True)
class ChecklistItem:
    """One ``- [ ]`` line of a task."""

    text: str
    done: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Task:
    """A ``### Task A: Title (Agent A)`` section and its checklist."""

    letter: str
    title: str
    agent: str
    items: tuple[ChecklistItem, ...]

    @property
    def done(self) -> int:
        """How many checklist items are ticked."""
        return sum(item.done for item in self.items)


@dataclasses.dataclass(frozen=True, slots=True)
class Progress:
    """A ``### Agent A (Area) - Status: ...`` block of the progress section.

    ``status`` is a TaskStatus when the heading shows a known status, else
    the raw text of the heading after ``Status:``.
    """

    letter: str
    area: str
    status: TaskStatus | str
    owner: str | None
    done: int
    total: int


@dataclasses.dataclass(frozen=True, slots=True)
class Note:
    """One timestamped line of the ``## Agent Notes`` section."""

    stamp: str
    author: str
    agent: str
    text: str


class _Unset(enum.Enum):
    """Marks an argument that was not given (``None`` is a real owner value)."""

    UNSET = enum.auto()


_UNSET: Final = _Unset.UNSET

# What set_field accepts.
_Scalar = bool | int | float | str | datetime | None


# --------------------------------------------------------------------------
# Frontmatter


_FieldKind = Literal["scalar", "empty", "collection", "alias", "complex"]


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    """Where one top-level frontmatter key and its value sit in the file.

    Lines are 0-based indexes into the document's lines; columns index into
    those lines. ``end_line``/``end_col`` point just past the value.
    """

    key: str
    key_line: int
    colon_col: int
    value_line: int
    value_col: int
    end_line: int
    end_col: int
    kind: _FieldKind

    def shifted(self, by: int) -> _Field:
        return _Field(
            self.key,
            self.key_line + by,
            self.colon_col,
            self.value_line + by,
            self.value_col,
            self.end_line + by,
            self.end_col,
            self.kind,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class _Frontmatter:
    """Parsed frontmatter: values, key positions and the closing line."""

    values: dict[str, object]  # never mutated once built
    fields: tuple[_Field, ...]
    close: int  # index of the closing ``---`` line
    indent: int  # column of the top-level keys
    block: bool  # False for a flow mapping (``{a: 1}``), which edits refuse


_cache = threading.local()


@contextlib.contextmanager
def _safe_yaml(*, pure: bool = False) -> Iterator[YAML]:
    """Lend this thread's YAML loader (libyaml's C parser unless ``pure``).

    Building a YAML object looks for plug-ins on disk, which costs more than
    loading a short value, so each thread keeps one of each kind. A loader
    that raised may hold half-built state: it is dropped, not put back.
    """
    slot = "pure" if pure else "fast"
    yaml: YAML | None = getattr(_cache, slot, None)
    setattr(_cache, slot, None)  # lent out: a nested use builds its own
    if yaml is None:
        yaml = YAML(typ="safe", pure=pure)
    yield yaml
    setattr(_cache, slot, yaml)


def _compose(text: str) -> tuple[Node | None, object]:
    """The frontmatter's node tree (for positions) and its plain value.

    libyaml parses five times faster, but it follows YAML 1.1 and refuses a
    few things 1.2 allows (a ':' inside a plain scalar in a flow list, as in
    ``[2025-11-23T10:00:00Z]``); those fall back to the pure-Python parser,
    whose error, if it fails too, is the one reported.
    """
    try:
        with _safe_yaml() as yaml:
            node = yaml.compose(text)
            return node, None if node is None else yaml.constructor.construct_document(
                node
            )
    except YAMLError:
        pass
    with _safe_yaml(pure=True) as yaml:
        node = yaml.compose(text)
        return node, None if node is None else yaml.constructor.construct_document(node)


def _plain(value: object) -> object:
    """Turn constructed YAML into plain values with aware UTC datetimes."""
    if isinstance(value, datetime):
        # YAML 1.1 timestamps without a zone are UTC by definition.
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _yaml_error(exc: YAMLError, text: str, source: str) -> DocumentFormatError:
    """Turn a ruamel error into one naming the file line (the YAML starts on 2)."""
    if isinstance(exc, MarkedYAMLError) and exc.problem_mark is not None:
        line = int(exc.problem_mark.line) + 2
        reason = ", ".join(part for part in (exc.context, exc.problem) if part)
        start = exc.context_mark
        if start is not None and int(start.line) + 2 != line:
            # 'found unexpected end of stream' is clearer with its start.
            reason += f" (opened on line {int(start.line) + 2})"
        return DocumentFormatError(source, f"YAML error: {reason}", line=line)
    if isinstance(exc, ReaderError) and isinstance(exc.character, int):
        line = text.count("\n", 0, exc.position) + 2
        reason = f"YAML error: character U+{exc.character:04X} is not allowed"
        return DocumentFormatError(source, reason, line=line)
    return DocumentFormatError(source, f"YAML error: {exc}")


def _parse_frontmatter(lines: tuple[str, ...], source: str) -> _Frontmatter:
    if not lines or lines[0].rstrip() != "---":
        raise DocumentFormatError(
            source, "no frontmatter: the first line must be '---'", line=1
        )
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)
    if close is None:
        raise DocumentFormatError(
            source, "unterminated frontmatter: no closing '---' line", line=1
        )

    # Line j of this text is file line j + 2 (1-based): line 1 is the '---'.
    text = "\n".join(lines[1:close]) + "\n"
    try:
        node, raw = _compose(text)
    except YAMLError as exc:
        raise _yaml_error(exc, text, source) from exc
    except (ValueError, OverflowError) as exc:
        # The constructor builds dates with datetime(), which refuses
        # 2025-02-30 or an offset past 24 hours with a bare ValueError.
        raise DocumentFormatError(
            source, f"YAML error: a value that cannot exist: {exc}"
        ) from exc

    if not isinstance(node, MappingNode) or not isinstance(raw, dict):
        line = close + 1 if node is None else int(node.start_mark.line) + 2
        raise DocumentFormatError(source, "frontmatter is not a mapping", line=line)

    fields = tuple(_locate_field(key, value, lines) for key, value in node.value)
    values: dict[str, object] = {}
    for position, (key, value) in enumerate(raw.items()):
        if not isinstance(key, str):
            # Keys and nodes pair up unless a merge key ('<<') folded some in.
            same = len(raw) == len(fields)
            line = fields[position].key_line + 1 if same else 2
            raise DocumentFormatError(
                source, f"frontmatter key {key!r} is not a string", line=line
            )
        values[key] = _plain(value)

    for key in _REQUIRED_KEYS:
        if key not in values:
            raise DocumentFormatError(
                source, f"frontmatter lacks required key {key!r}", line=close + 1
            )
        if values[key] is None or isinstance(values[key], list | dict):
            line = next((f.key_line for f in fields if f.key == key), close) + 1
            raise DocumentFormatError(
                source, f"frontmatter key {key!r} must be a non-null scalar", line=line
            )

    return _Frontmatter(
        values=values,
        fields=fields,
        close=close,
        indent=int(node.start_mark.column),
        block=not node.flow_style,
    )


def _locate_field(key_node: Node, value_node: Node, lines: tuple[str, ...]) -> _Field:
    """Record where a top-level key's value starts and ends in the file."""
    key_line = int(key_node.start_mark.line) + 1
    key_end_line = int(key_node.end_mark.line) + 1
    value_line = int(value_node.start_mark.line) + 1
    end_line = int(value_node.end_mark.line) + 1
    value_col = int(value_node.start_mark.column)
    end_col = int(value_node.end_mark.column)

    kind: _FieldKind
    colon_col = lines[key_end_line].find(":", int(key_node.end_mark.column))
    if key_end_line != key_line or colon_col < 0:
        kind = "complex"  # an explicit '? key' or a key over several lines
    elif value_node.start_mark.index < key_node.end_mark.index:
        # An alias resolves to the anchored node, whose marks lie earlier.
        kind = "alias"
    elif not isinstance(value_node, ScalarNode):
        kind = "collection"
    elif value_node.value == "" and not value_node.style:
        # 'key:' alone. The pure-Python parser marks the empty value on a
        # later line and gives it style None; the C parser marks it right
        # after the colon with style ''.
        kind = "empty"
    else:
        kind = "scalar"

    if end_col == 0 and end_line > value_line:
        # Block scalars end at column 0 of the line after their last line.
        end_line -= 1
        end_col = len(lines[end_line])
    return _Field(
        str(key_node.value),
        key_line,
        colon_col,
        value_line,
        value_col,
        end_line,
        end_col,
        kind,
    )


# YAML 1.1 readers (PyYAML among them) take these for booleans and base-60
# numbers; quoting them keeps the file meaning the same to every reader.
_YAML11_BOOLS: Final = frozenset(["y", "yes", "n", "no", "on", "off", "true", "false"])
_YAML11_SEXAGESIMAL: Final = re.compile(
    r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$"
)
_DOUBLE_QUOTE_ESCAPES: Final = {
    "\\": "\\\\",
    '"': '\\"',
    "\0": "\\0",
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}
# Characters written as escapes: controls, C1 controls, line and paragraph
# separators, surrogates, the BOM and the two non-characters. None of them
# may stand in a plain scalar; a double-quoted one also escapes \\ and ".
_UNPRINTABLE: Final = "\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff"
_NOT_PLAIN: Final = re.compile(f"[{_UNPRINTABLE}]")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_NEEDS_ESCAPE: Final = re.compile(f'[\\\\"{_UNPRINTABLE}]')


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char in _DOUBLE_QUOTE_ESCAPES:
        return _DOUBLE_QUOTE_ESCAPES[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02X}"
    return f"\\u{code:04X}"


def _double_quoted(text: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, text) + '"'


def _reads_back(rendered: str, expected: object) -> bool:
    """Whether ``key: rendered`` loads as exactly ``expected``."""
    try:
        with _safe_yaml() as yaml:
            loaded = yaml.load(f"k: {rendered}\n")
    except YAMLError:
        return False
    if not isinstance(loaded, dict) or "k" not in loaded:
        return False
    value = _plain(loaded["k"])
    return type(value) is type(expected) and value == expected


@functools.lru_cache(maxsize=1024)
def _render_str(text: str) -> str:
    """Render a string as a YAML scalar: plain when safe, else double-quoted."""
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:
        # A lone surrogate has no UTF-8 form, so the file could not hold it.
        raise ValueError(
            f"a value cannot hold the lone surrogate U+{ord(surrogate.group()):04X} "
            f"(at index {surrogate.start()}): it has no UTF-8 encoding"
        )
    if (
        text
        and text == text.strip()
        and not _NOT_PLAIN.search(text)
        and text.lower() not in _YAML11_BOOLS
        and not _YAML11_SEXAGESIMAL.match(text)
        and _reads_back(text, text)
    ):
        return text
    return _double_quoted(text)


def _render_value(value: object) -> tuple[str, object]:
    """Render a scalar for the frontmatter; return the text and the value read back.

    Raises:
        TypeError: the value is not a supported scalar.
        ValueError: a naive datetime.
    """
    if value is None:
        return "null", None
    if isinstance(value, bool):
        return ("true" if value else "false"), value
    if isinstance(value, int):
        return int.__repr__(value), int(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan", value
        if math.isinf(value):
            return (".inf" if value > 0 else "-.inf"), value
        rendered = float.__repr__(value)
        # repr() may give '1e+16', which YAML 1.2 reads as a float; a plain
        # '1e16' would too, but check rather than trust the regex by heart.
        assert _reads_back(rendered, float(value)), rendered
        return rendered, float(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"datetime {value.isoformat()} is naive; give a timezone")
        utc = value.astimezone(UTC)
        return format_date(utc, "iso"), utc
    if isinstance(value, date):
        raise TypeError("dates are not supported; pass an aware datetime")
    if isinstance(value, str):
        text = str.__str__(value)  # drops str subclasses such as StrEnum
        return _render_str(text), text
    raise TypeError(f"cannot write {type(value).__name__} as a frontmatter scalar")


# --------------------------------------------------------------------------
# Body


@dataclasses.dataclass(frozen=True, slots=True)
class _Body:
    """What the body scan found, with the line indexes that edits need."""

    tasks: tuple[Task, ...]
    item_lines: tuple[tuple[int, ...], ...]  # parallel to tasks
    progress: tuple[Progress, ...]
    # (heading, owner line, count line) per progress block, parallel to progress
    progress_lines: tuple[tuple[int, int, int], ...]
    notes: tuple[Note, ...]
    notes_end: int | None  # insert a new note at this index; None: no section

    def moved(self, at: int, by: int) -> _Body:
        """The same body after ``by`` lines were inserted (or removed) at ``at``."""
        if by == 0:
            return self

        def move(index: int) -> int:
            return index + by if index >= at else index

        return _Body(
            self.tasks,
            tuple(tuple(map(move, lines)) for lines in self.item_lines),
            self.progress,
            tuple(
                (move(heading), move(owner), move(count))
                for heading, owner, count in self.progress_lines
            ),
            self.notes,
            None if self.notes_end is None else move(self.notes_end),
        )


def _parse_status(text: str) -> TaskStatus | str:
    folded = text.strip().casefold()
    for status in TaskStatus:
        if folded in (status.value.casefold(), status.value[2:].casefold()):
            return status
    return text


class _ProgressBlock:
    """A progress block being read; checked for completeness when it ends."""

    __slots__ = ("area", "count", "heading", "letter", "owner", "status")

    def __init__(self, match: re.Match[str], heading: int) -> None:
        self.letter = match["letter"]
        self.area = match["area"]
        self.status = _parse_status(match["status"])
        self.heading = heading
        self.owner: tuple[int, str | None] | None = None
        self.count: tuple[int, int, int] | None = None

    def finish(self, source: str) -> tuple[Progress, tuple[int, int, int]]:
        for part, name in ((self.owner, "Owner"), (self.count, "Progress")):
            if part is None:
                raise DocumentFormatError(
                    source,
                    f"progress block of Agent {self.letter} has no '- {name}:' line",
                    line=self.heading + 1,
                )
        assert self.owner is not None and self.count is not None
        progress = Progress(
            self.letter,
            self.area,
            self.status,
            self.owner[1],
            self.count[1],
            self.count[2],
        )
        return progress, (self.heading, self.owner[0], self.count[0])


def _scan_body(lines: tuple[str, ...], start: int, source: str) -> _Body:
    tasks: list[Task] = []
    item_lines: list[tuple[int, ...]] = []
    progress: list[Progress] = []
    progress_lines: list[tuple[int, int, int]] = []
    notes: list[Note] = []
    notes_end: int | None = None

    section: str | None = None
    fence: str | None = None
    task: tuple[str, str, str] | None = None
    items: list[tuple[ChecklistItem, int]] = []
    block: _ProgressBlock | None = None

    def close_task() -> None:
        nonlocal task
        if task is not None:
            tasks.append(Task(*task, tuple(item for item, _ in items)))
            item_lines.append(tuple(index for _, index in items))
        task = None
        items.clear()

    def close_block() -> None:
        nonlocal block
        if block is not None:
            entry, where = block.finish(source)
            progress.append(entry)
            progress_lines.append(where)
        block = None

    for index in range(start, len(lines)):
        line = lines[index]
        if fence is not None:
            match = _FENCE_CLOSE.match(line)
            if (
                match
                and match["fence"][0] == fence[0]
                and len(match["fence"]) >= len(fence)
            ):
                fence = None
            if section == _NOTES and line.strip():
                notes_end = index + 1
            continue

        match = _FENCE_OPEN.match(line)
        if match and not (match["fence"][0] == "`" and "`" in match["info"]):
            fence = match["fence"]
            if section == _NOTES:
                notes_end = index + 1
            continue

        heading = _HEADING.match(line)
        if heading:
            level = len(heading["hashes"])
            if level <= 3:
                close_task()
                close_block()
            if level <= 2:
                title = (heading["title"] or "").casefold()
                section = title if level == 2 else None
                if section == _NOTES:
                    notes_end = index + 1
                continue

        if section == _TASKS:
            if heading and (found := _TASK_HEADING.match(line)):
                letter = found["letter"]
                if any(t.letter == letter for t in tasks):
                    raise DocumentFormatError(
                        source, f"duplicate task {letter!r}", line=index + 1
                    )
                task = (letter, found["title"], found["agent"])
            elif heading and _TASK_HEADING_LIKE.match(line):
                raise DocumentFormatError(
                    source,
                    "malformed task heading: expected '### Task X: Title (Agent)'",
                    line=index + 1,
                )
            elif _CHECKBOX_LIKE.match(line):
                box = _CHECKBOX.match(line)
                if box is None:
                    raise DocumentFormatError(
                        source,
                        "malformed checklist item: expected '- [ ] text'",
                        line=index + 1,
                    )
                if task is not None:
                    item = ChecklistItem(box["text"], box["mark"] != " ")
                    items.append((item, index))
        elif section == _PROGRESS:
            if heading and (found := _PROGRESS_HEADING.match(line)):
                letter = found["letter"]
                if any(p.letter == letter for p in progress):
                    raise DocumentFormatError(
                        source, f"duplicate progress block {letter!r}", line=index + 1
                    )
                block = _ProgressBlock(found, index)
            elif heading and _PROGRESS_HEADING_LIKE.match(line):
                raise DocumentFormatError(
                    source,
                    "malformed progress heading: expected "
                    "'### Agent X (Area) - Status: ...'",
                    line=index + 1,
                )
            elif block is not None and _OWNER_LINE_LIKE.match(line):
                owner = _OWNER_LINE.match(line)
                if owner is None:
                    raise DocumentFormatError(
                        source,
                        "malformed owner line: expected '- Owner: `name`'",
                        line=index + 1,
                    )
                if block.owner is None:
                    name = (
                        owner["quoted"]
                        if owner["quoted"] is not None
                        else owner["bare"]
                    )
                    block.owner = (index, None if name == "null" else name)
            elif block is not None and _COUNT_LINE_LIKE.match(line):
                count = _COUNT_LINE.match(line)
                if count is None:
                    raise DocumentFormatError(
                        source,
                        "malformed progress line: expected '- Progress: N/M tasks'",
                        line=index + 1,
                    )
                if block.count is None:
                    block.count = (index, int(count["done"]), int(count["total"]))
        elif section == _NOTES:
            if line.strip():
                notes_end = index + 1
            note = _NOTE.match(line)
            if note:
                notes.append(
                    Note(note["stamp"], note["author"], note["agent"], note["text"])
                )

    close_task()
    close_block()
    return _Body(
        tuple(tasks),
        tuple(item_lines),
        tuple(progress),
        tuple(progress_lines),
        tuple(notes),
        notes_end,
    )


def _split_lines(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split into line contents and their terminators ('\\n', '\\r\\n' or '')."""
    parts = text.split("\n")
    last = parts.pop()
    contents: list[str] = []
    ends: list[str] = []
    for part in parts:
        if part.endswith("\r"):
            contents.append(part[:-1])
            ends.append("\r\n")
        else:
            contents.append(part)
            ends.append("\n")
    if last:
        contents.append(last)
        ends.append("")
    return tuple(contents), tuple(ends)


def _check_one_line(what: str, text: str) -> None:
    if any(char in _LINE_BREAKS for char in text):
        raise ValueError(f"{what} must be one line, got {text!r}")


# --------------------------------------------------------------------------
# The document


class AgencyDocument:
    """An immutable, parsed AGENCY.md.

    Build one with :meth:`parse`. Edits return new documents; the original is
    never changed. Two documents are equal when their texts are equal.
    """

    __slots__ = ("_body", "_bom", "_ends", "_fm", "_lines", "_source", "_text")

    _lines: tuple[str, ...]
    _ends: tuple[str, ...]
    _bom: bool
    _source: str
    _fm: _Frontmatter
    _body: _Body
    _text: str | None

    def __init__(self) -> None:
        raise TypeError("use AgencyDocument.parse(text) to build a document")

    @classmethod
    def _build(
        cls,
        lines: tuple[str, ...],
        ends: tuple[str, ...],
        *,
        bom: bool,
        source: str,
        frontmatter: _Frontmatter,
        body: _Body,
    ) -> AgencyDocument:
        self = object.__new__(cls)
        self._lines = lines
        self._ends = ends
        self._bom = bom
        self._source = source
        self._fm = frontmatter
        self._body = body
        self._text = None
        return self

    @classmethod
    def parse(cls, text: str, *, source: str = "AGENCY.md") -> AgencyDocument:
        """Parse the text of an AGENCY.md file.

        Args:
            text: the whole file, possibly starting with a BOM, with LF or
                CRLF line endings.
            source: the name used in error messages.

        Raises:
            DocumentFormatError: no or unterminated frontmatter, bad YAML,
                frontmatter that is not a mapping or lacks ``project_id`` or
                ``status``, a malformed checklist item under ``## Tasks`` or
                an incomplete progress block. The error names the 1-based
                line of the file.
        """
        bom = text.startswith(_BOM)
        lines, ends = _split_lines(text[1:] if bom else text)
        frontmatter = _parse_frontmatter(lines, source)
        body = _scan_body(lines, frontmatter.close + 1, source)
        return cls._build(
            lines, ends, bom=bom, source=source, frontmatter=frontmatter, body=body
        )

    # ----------------------------------------------------------------- text

    def render(self) -> str:
        """Return the document's text, byte for byte as it would be written."""
        if self._text is None:
            parts = [_BOM] if self._bom else []
            for line, end in zip(self._lines, self._ends, strict=True):
                parts.append(line)
                parts.append(end)
            self._text = "".join(parts)
        return self._text

    @property
    def text(self) -> str:
        """The document's text (the same as :meth:`render`)."""
        return self.render()

    @property
    def source(self) -> str:
        """The name given to :meth:`parse`, used in error messages."""
        return self._source

    @property
    def bom(self) -> bool:
        """Whether the text starts with a UTF-8 byte order mark."""
        return self._bom

    @property
    def newline(self) -> str:
        """The newline style of the file (that of its first line)."""
        return self._ends[0] or "\n"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AgencyDocument):
            return NotImplemented
        return self.render() == other.render()

    def __hash__(self) -> int:
        return hash(self.render())

    def __repr__(self) -> str:
        return (
            f"<AgencyDocument {self._source!r} project_id="
            f"{self._fm.values['project_id']!r} status={self.status!r}>"
        )

    # ---------------------------------------------------------- frontmatter

    @property
    def frontmatter(self) -> Mapping[str, object]:
        """All frontmatter values as plain Python values, unknown keys included.

        Timestamps are aware UTC datetimes. The mapping is a read-only copy.
        """
        return MappingProxyType(copy.deepcopy(self._fm.values))

    @property
    def project_id(self) -> str:
        """The ``project_id`` frontmatter value, as a string."""
        return str(self._fm.values["project_id"])

    @property
    def status(self) -> str:
        """The ``status`` frontmatter value, as a string."""
        return str(self._fm.values["status"])

    @property
    def owner(self) -> str | None:
        """The ``owner`` frontmatter value (None when null or absent)."""
        value = self._fm.values.get("owner")
        return None if value is None else str(value)

    @property
    def blocked(self) -> bool:
        """Whether the frontmatter says ``blocked: true``."""
        return self._fm.values.get("blocked") is True

    @property
    def blocking_reason(self) -> str | None:
        """The ``blocking_reason`` frontmatter value (None when null or absent)."""
        value = self._fm.values.get("blocking_reason")
        return None if value is None else str(value)

    @property
    def last_updated(self) -> datetime | None:
        """The ``last_updated`` timestamp in UTC, or None if absent or not a time."""
        value = self._fm.values.get("last_updated")
        return value if isinstance(value, datetime) else None

    # ----------------------------------------------------------------- body

    @property
    def tasks(self) -> tuple[Task, ...]:
        """The tasks under ``## Tasks``, in document order."""
        return self._body.tasks

    @property
    def progress(self) -> tuple[Progress, ...]:
        """The blocks under ``## Progress Tracking``, in document order."""
        return self._body.progress

    @property
    def notes(self) -> tuple[Note, ...]:
        """The notes under ``## Agent Notes``, in document order."""
        return self._body.notes

    def task(self, letter: str) -> Task:
        """Return the task with this letter.

        Raises:
            DocumentEditError: there is no such task.
        """
        return self._body.tasks[self._task_index(letter)]

    def progress_of(self, letter: str) -> Progress:
        """Return the progress block of the agent with this letter.

        Raises:
            DocumentEditError: there is no such block.
        """
        return self._body.progress[self._progress_index(letter)]

    def _task_index(self, letter: str) -> int:
        for position, task in enumerate(self._body.tasks):
            if task.letter == letter:
                return position
        known = ", ".join(task.letter for task in self._body.tasks) or "none"
        raise DocumentEditError(f"no task {letter!r} (tasks: {known})")

    def _progress_index(self, letter: str) -> int:
        for position, entry in enumerate(self._body.progress):
            if entry.letter == letter:
                return position
        known = ", ".join(entry.letter for entry in self._body.progress) or "none"
        raise DocumentEditError(f"no progress block {letter!r} (blocks: {known})")

    # ---------------------------------------------------------------- edits

    # Edits build the new document from the old one's parts and update the
    # line indexes they moved, so no edit parses YAML or re-scans the body.
    # The tests check that parsing an edited document's text gives the same
    # tasks, progress, notes and frontmatter.

    def _with_lines(self, changes: Mapping[int, str], body: _Body) -> AgencyDocument:
        """Replace whole lines in place (each keeps its line ending)."""
        lines = list(self._lines)
        for at, line in changes.items():
            lines[at] = line
        return AgencyDocument._build(
            tuple(lines),
            self._ends,
            bom=self._bom,
            source=self._source,
            frontmatter=self._fm,
            body=body,
        )

    def _with_inserted(self, at: int, line: str, body: _Body) -> AgencyDocument:
        """Insert one body line before index ``at``, in the file's newline style.

        Appending after a last line that had no line ending gives that line
        one and leaves the new last line without, so a file that did not end
        with a newline still does not.
        """
        lines = (*self._lines[:at], line, *self._lines[at:])
        if at == len(self._lines) and self._ends[-1] == "":
            ends = (*self._ends[:-1], self.newline, "")
        else:
            ends = (*self._ends[:at], self.newline, *self._ends[at:])
        return AgencyDocument._build(
            lines,
            ends,
            bom=self._bom,
            source=self._source,
            frontmatter=self._fm,
            body=body,
        )

    def set_field(self, name: str, value: _Scalar) -> AgencyDocument:
        """Set a top-level frontmatter scalar, changing only its line.

        The value replaces the old one in place (a trailing ``# comment``
        stays); a key that is absent is added as the last frontmatter line.

        Args:
            name: the top-level key.
            value: None, a bool, int, float, str or aware datetime. Strings
                are written plain when YAML reads them back unchanged, else
                double-quoted; datetimes as RFC 3339 UTC (``...Z``).

        Raises:
            DocumentEditError: the key holds a mapping, a sequence or an
                alias, or the frontmatter is a flow mapping.
            TypeError: the value is not one of the types above.
            ValueError: a naive datetime, or null for a required key.
        """
        if not name:
            raise ValueError("a frontmatter key cannot be empty")
        _check_one_line("frontmatter key", name)
        rendered, stored = _render_value(value)
        if name in _REQUIRED_KEYS and stored is None:
            raise ValueError(f"{name!r} is required and cannot be null")

        fm = self._fm
        if not fm.block:
            raise DocumentEditError(
                "frontmatter is a flow mapping; set_field edits block mappings only"
            )
        position = next((i for i, f in enumerate(fm.fields) if f.key == name), None)
        values = dict(fm.values)
        values[name] = stored

        if position is None:
            key = _render_str(name)
            if not _reads_back_key(key, name):
                key = _double_quoted(name)
            at = fm.close
            colon = fm.indent + len(key)
            line = " " * fm.indent + f"{key}: {rendered}"
            added = _Field(name, at, colon, at, colon + 2, at, len(line), "scalar")
            frontmatter = _Frontmatter(
                values, (*fm.fields, added), fm.close + 1, fm.indent, fm.block
            )
            return self._with_frontmatter(at, at, line, frontmatter)

        field = fm.fields[position]
        if field.kind in ("collection", "alias", "complex"):
            what = {"collection": "a mapping or sequence", "alias": "an alias"}.get(
                field.kind, "a complex key"
            )
            raise DocumentEditError(
                f"frontmatter key {name!r} holds {what}; "
                "set_field replaces scalars only"
            )

        key_text = self._lines[field.key_line]
        quoted = field.kind == "scalar" and self._lines[field.value_line][
            field.value_col : field.value_col + 1
        ] in ("'", '"')
        if quoted and isinstance(value, str | datetime) and rendered[0] not in "'\"":
            # The file quoted this value (last_updated: "2025-..."); keep its
            # style, so only the characters of the value change.
            rendered = _double_quoted(
                rendered if isinstance(value, datetime) else value
            )
            stored = rendered[1:-1] if isinstance(value, datetime) else value
            values[name] = stored
        if field.kind == "empty":
            head = key_text[: field.colon_col + 1] + " "
            tail = key_text[field.colon_col + 1 :]
            last = field.key_line
        else:
            if field.value_line == field.key_line:
                head = key_text[: field.value_col]
            else:
                head = key_text[: field.colon_col + 1] + " "
            last = field.end_line
            tail = self._lines[last][field.end_col :]
        line = head + rendered + tail

        delta = field.key_line - last
        updated = _Field(
            name,
            field.key_line,
            field.colon_col,
            field.key_line,
            len(head),
            field.key_line,
            len(head) + len(rendered),
            "scalar",
        )
        fields = tuple(
            updated
            if f is field
            else (f.shifted(delta) if f.key_line > field.key_line else f)
            for f in fm.fields
        )
        frontmatter = _Frontmatter(
            values, fields, fm.close + delta, fm.indent, fm.block
        )
        return self._with_frontmatter(field.key_line, last + 1, line, frontmatter)

    def _with_frontmatter(
        self, start: int, stop: int, new: str, frontmatter: _Frontmatter
    ) -> AgencyDocument:
        """A frontmatter edit: lines[start:stop] become the one line ``new``."""
        assert 0 < start <= stop <= self._fm.close, "edits stay inside the frontmatter"
        end = self._ends[start] if stop > start else self.newline
        lines = (*self._lines[:start], new, *self._lines[stop:])
        ends = (*self._ends[:start], end, *self._ends[stop:])
        body = self._body.moved(stop, 1 - (stop - start))
        return AgencyDocument._build(
            lines,
            ends,
            bom=self._bom,
            source=self._source,
            frontmatter=frontmatter,
            body=body,
        )

    def set_fields(self, **values: _Scalar) -> AgencyDocument:
        """Set several frontmatter scalars, in the order given (see set_field)."""
        document = self
        for name, value in values.items():
            document = document.set_field(name, value)
        return document

    def tick(self, letter: str, index: int, done: bool = True) -> AgencyDocument:
        """Tick (or untick) one checklist item of a task.

        Args:
            letter: the task letter, e.g. ``"A"``.
            index: 0-based position of the item in the task's checklist.
            done: True writes ``[x]``, False writes ``[ ]``.

        Returns:
            The new document; this one if the item already had that state.

        Raises:
            DocumentEditError: no such task, or no such item.
        """
        position = self._task_index(letter)
        task = self._body.tasks[position]
        if not 0 <= index < len(task.items):
            raise DocumentEditError(
                f"task {letter!r} has no checklist item {index} "
                f"(it has {len(task.items)})"
            )
        if task.items[index].done == done:
            return self
        at = self._body.item_lines[position][index]
        line = self._lines[at]
        box = _CHECKBOX.match(line)
        assert box is not None, "item lines come from the body scan"
        mark = box.start("mark")
        new = line[:mark] + ("x" if done else " ") + line[mark + 1 :]
        items = list(task.items)
        items[index] = ChecklistItem(items[index].text, done)
        tasks = list(self._body.tasks)
        tasks[position] = dataclasses.replace(task, items=tuple(items))
        body = dataclasses.replace(self._body, tasks=tuple(tasks))
        return self._with_lines({at: new}, body)

    def set_progress(
        self,
        letter: str,
        *,
        status: TaskStatus | None = None,
        owner: str | _Unset | None = _UNSET,
        done: int | None = None,
        total: int | None = None,
    ) -> AgencyDocument:
        """Rewrite parts of an agent's progress block.

        Args:
            letter: the agent letter of the block, e.g. ``"A"``.
            status: new status for the heading; None keeps it.
            owner: new owner (None writes `` `null` ``); omit to keep it.
            done: new count of finished subtasks; None keeps it.
            total: new count of subtasks; None keeps it.

        Raises:
            DocumentEditError: no such progress block.
            ValueError: negative counts, done above total, or an owner with a
                backtick or a line break.
        """
        position = self._progress_index(letter)
        entry = self._body.progress[position]
        heading_at, owner_at, count_at = self._body.progress_lines[position]
        changes: dict[int, str] = {}

        if status is not None:
            line = self._lines[heading_at]
            found = _PROGRESS_HEADING.match(line)
            assert found is not None, "heading lines come from the body scan"
            changes[heading_at] = (
                line[: found.start("status")]
                + status.label
                + line[found.end("status") :]
            )

        if not isinstance(owner, _Unset):
            if owner is not None:
                _check_one_line("owner", owner)
                if "`" in owner or not owner.strip():
                    raise ValueError(f"owner {owner!r} cannot be written in backticks")
            changes[owner_at] = f"- Owner: `{'null' if owner is None else owner}`"

        if done is not None or total is not None:
            new_done = entry.done if done is None else done
            new_total = entry.total if total is None else total
            if new_done < 0 or new_total < 0 or new_done > new_total:
                raise ValueError(
                    f"progress {new_done}/{new_total} is not 0 <= done <= total"
                )
            line = self._lines[count_at]
            found = _COUNT_LINE.match(line)
            assert found is not None, "count lines come from the body scan"
            changes[count_at] = (
                line[: found.start("done")]
                + f"{new_done}/{new_total}"
                + line[found.end("total") :]
            )

        if all(self._lines[at] == line for at, line in changes.items()):
            return self
        entries = list(self._body.progress)
        entries[position] = Progress(
            entry.letter,
            entry.area,
            entry.status if status is None else status,
            entry.owner if isinstance(owner, _Unset) else owner,
            entry.done if done is None else done,
            entry.total if total is None else total,
        )
        body = dataclasses.replace(self._body, progress=tuple(entries))
        return self._with_lines(changes, body)

    def append_note(
        self, stamp: str, author: str, agent: str, text: str
    ) -> AgencyDocument:
        """Append ``- **{stamp} - {author} ({agent})**: {text}`` to Agent Notes.

        The note goes after the last non-blank line of the section (the
        existing notes, the ``<!-- ... -->`` comment), before the blank
        lines that end it.

        Raises:
            ValueError: the stamp is not ``YYYY-MM-DD HH:MM``, or a part holds
                a line break or cannot be read back as the same note.
            DocumentEditError: the document has no ``## Agent Notes`` section.
        """
        if not _STAMP.match(stamp):
            raise ValueError(f"note stamp {stamp!r} is not 'YYYY-MM-DD HH:MM'")
        datetime.strptime(stamp, "%Y-%m-%d %H:%M")  # rejects month 13 and such
        for what, part in (("author", author), ("agent", agent), ("note text", text)):
            _check_one_line(what, part)
        line = f"- **{stamp} - {author} ({agent})**: {text}"
        found = _NOTE.match(line)
        if found is None or (
            found["author"],
            found["agent"],
            found["text"],
        ) != (author, agent, text):
            raise ValueError(
                f"author {author!r} / agent {agent!r} would not read back as the same "
                "note (no parentheses in the agent, no empty parts)"
            )
        at = self._body.notes_end
        if at is None:
            raise DocumentEditError("the document has no '## Agent Notes' section")
        body = self._body.moved(at, 1)
        body = dataclasses.replace(
            body, notes=(*body.notes, Note(stamp, author, agent, text))
        )
        return self._with_inserted(at, line, body)


def _reads_back_key(rendered: str, expected: str) -> bool:
    try:
        with _safe_yaml() as yaml:
            loaded = yaml.load(f"{rendered}: 0\n")
    except YAMLError:
        return False
    return isinstance(loaded, dict) and list(loaded) == [expected]
