"""The Markdown body of AGENCY.md: its value types (tasks, progress, notes)
and the scan that finds them, skipping fenced code."""

from __future__ import annotations

import dataclasses
import enum
import re
from typing import Final

from agency.errors import DocumentFormatError

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
    r"^(?P<bullet>[-*+]) \[(?P<mark>[ xX])\][ \t]+(?P<text>\S.*?)[ \t]*$"
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
