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

import copy
import dataclasses
import enum
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final

from ruamel.yaml.error import YAMLError

from agency._body import (
    _CHECKBOX,
    _COUNT_LINE,
    _NOTE,
    _PROGRESS_HEADING,
    _STAMP,
    ChecklistItem,
    Note,
    Progress,
    Task,
    TaskStatus,
    _Body,
    _check_one_line,
    _scan_body,
    _split_lines,
)
from agency._frontmatter import (
    _REQUIRED_KEYS,
    _double_quoted,
    _Field,
    _Frontmatter,
    _parse_frontmatter,
    _render_str,
    _render_value,
    _safe_yaml,
    _Scalar,
)
from agency.errors import DocumentEditError, DocumentFormatError

__all__ = [
    "AgencyDocument",
    "ChecklistItem",
    "Note",
    "Progress",
    "Task",
    "TaskStatus",
]

_BOM: Final = "\ufeff"


class _Unset(enum.Enum):
    """Marks an argument that was not given (``None`` is a real owner value)."""

    UNSET = enum.auto()


_UNSET: Final = _Unset.UNSET


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
        if "\r" in text and "\n" not in text:
            raise DocumentFormatError(
                source,
                "lines end in CR alone (classic Mac OS); save it with LF or "
                "CRLF line endings",
                line=1,
            )
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
