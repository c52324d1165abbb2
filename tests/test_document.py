"""Tests of agency.document: parsing, reading and surgical edits of AGENCY.md."""

from __future__ import annotations

import difflib
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agency.document import (
    AgencyDocument,
    ChecklistItem,
    Note,
    Progress,
    Task,
    TaskStatus,
)
from agency.errors import DocumentEditError, DocumentFormatError

SEED_PATH = Path(__file__).resolve().parents[1] / "AGENCY.md"
SEED = SEED_PATH.read_text(encoding="utf-8")
NOTE_A = "- **2025-11-23 10:30 - Claude Haiku (Agent A)**: Starting work"


def _seed() -> AgencyDocument:
    return AgencyDocument.parse(SEED)


def _changes(before: str, after: str) -> tuple[list[str], list[str]]:
    """The lines removed and the lines added, in order, endings kept."""
    diff = list(
        difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True))
    )
    removed = [line[2:] for line in diff if line.startswith("- ")]
    added = [line[2:] for line in diff if line.startswith("+ ")]
    return removed, added


def _state(document: AgencyDocument) -> tuple[object, ...]:
    return (
        dict(document.frontmatter),
        document.tasks,
        document.progress,
        document.notes,
    )


def _parse_error(text: str) -> str:
    with pytest.raises(DocumentFormatError) as caught:
        AgencyDocument.parse(text)
    return str(caught.value)


# ---------------------------------------------------------------- round trips


def test_seed_round_trip_is_byte_identical() -> None:
    document = _seed()

    assert document.render() == SEED
    assert document.text.encode("utf-8") == SEED_PATH.read_bytes()


def test_crlf_round_trip_is_byte_identical() -> None:
    text = SEED.replace("\n", "\r\n")

    document = AgencyDocument.parse(text)

    assert document.render() == text
    assert document.newline == "\r\n"


def test_bom_round_trip_is_byte_identical() -> None:
    text = "\ufeff" + SEED

    document = AgencyDocument.parse(text)

    assert document.render() == text
    assert document.bom


def test_bom_crlf_without_final_newline_round_trips() -> None:
    text = "\ufeff" + SEED.rstrip("\n").replace("\n", "\r\n")

    assert AgencyDocument.parse(text).render() == text


def test_mixed_line_endings_round_trip() -> None:
    text = SEED.replace("## Tasks\n", "## Tasks\r\n").replace("\n\n", "\n\r\n", 3)

    assert AgencyDocument.parse(text).render() == text


def test_bom_and_crlf_variants_parse_like_the_seed() -> None:
    text = "\ufeff" + SEED.replace("\n", "\r\n")

    assert _state(AgencyDocument.parse(text)) == _state(_seed())


# ------------------------------------------------------------------- reading


def test_frontmatter_holds_plain_values_with_utc_timestamps() -> None:
    frontmatter = _seed().frontmatter

    assert frontmatter["project_id"] == "parallel-tasks-example"
    assert frontmatter["last_updated"] == datetime(2025, 11, 23, 10, tzinfo=UTC)
    assert frontmatter["tags"] == ["example", "parallel", "concurrent", "tutorial"]
    assert frontmatter["dependencies"] == {
        "blocked_by": [],
        "blocks": [],
        "parent": None,
        "related": [],
    }


def test_frontmatter_keeps_unknown_keys_and_converts_offsets_to_utc() -> None:
    text = SEED.replace(
        "priority: medium\n",
        "priority: medium\nreviewer: alice\nseen: 2025-11-23T12:00:00+02:00\n",
    )

    frontmatter = AgencyDocument.parse(text).frontmatter

    assert frontmatter["reviewer"] == "alice"
    assert frontmatter["seen"] == datetime(2025, 11, 23, 10, tzinfo=UTC)
    assert frontmatter["seen"].tzinfo is UTC  # type: ignore[attr-defined]


def test_frontmatter_is_a_read_only_copy() -> None:
    document = _seed()

    tags = document.frontmatter["tags"]
    assert isinstance(tags, list)
    tags.append("changed")

    assert document.frontmatter["tags"] == [
        "example",
        "parallel",
        "concurrent",
        "tutorial",
    ]
    with pytest.raises(TypeError):
        document.frontmatter["status"] = "x"  # type: ignore[index]


def test_convenience_properties_read_the_frontmatter() -> None:
    document = _seed()

    assert document.project_id == "parallel-tasks-example"
    assert document.status == "pending"
    assert document.owner is None
    assert document.blocked is False
    assert document.blocking_reason is None
    assert document.last_updated == datetime(2025, 11, 23, 10, tzinfo=UTC)


def test_tasks_come_from_the_task_headings() -> None:
    tasks = _seed().tasks

    assert [(t.letter, t.title, t.agent) for t in tasks] == [
        ("A", "Email Validator", "Agent A"),
        ("B", "Date Formatter", "Agent B"),
        ("C", "JSON Parser", "Agent C"),
        ("D", "String Utilities", "Agent D"),
    ]
    assert tasks[0].items[3] == ChecklistItem("Document in `src/validators.py`", False)
    assert all(len(t.items) == 4 and t.done == 0 for t in tasks)


def test_progress_blocks_come_from_the_progress_section() -> None:
    progress = _seed().progress

    assert progress[0] == Progress("A", "Validators", TaskStatus.WAITING, None, 0, 4)
    assert [p.letter for p in progress] == ["A", "B", "C", "D"]


def test_unknown_progress_status_is_kept_as_raw_text() -> None:
    text = SEED.replace(
        "(Parsers) - Status: ⏳ Waiting", "(Parsers) - Status: 💤 Asleep"
    )

    assert AgencyDocument.parse(text).progress_of("C").status == "💤 Asleep"


def test_task_status_label_is_the_heading_text() -> None:
    assert TaskStatus.IN_PROGRESS.label == "🔄 In Progress"
    assert str(TaskStatus.COMPLETE) == "✅ Complete"


def test_seed_has_no_notes_because_the_example_is_fenced() -> None:
    assert _seed().notes == ()


def test_notes_are_read_from_the_agent_notes_section_only() -> None:
    text = SEED.replace(
        "<!-- Add timestamped notes as you work -->\n",
        f"<!-- Add timestamped notes as you work -->\n{NOTE_A}\n",
    ).replace("## Objective\n", f"## Objective\n{NOTE_A}\n")

    notes = AgencyDocument.parse(text).notes

    assert notes == (
        Note("2025-11-23 10:30", "Claude Haiku", "Agent A", "Starting work"),
    )


def test_note_shaped_lines_in_a_fence_inside_agent_notes_are_ignored() -> None:
    text = SEED.replace(
        "<!-- Add timestamped notes as you work -->\n",
        f"<!-- Add timestamped notes as you work -->\n~~~\n{NOTE_A}\n~~~\n",
    )

    assert AgencyDocument.parse(text).notes == ()


def test_headings_inside_fences_are_ignored() -> None:
    fenced = (
        "```markdown\n## Tasks\n### Task E: Fake (Agent E)\n- [] not an item\n```\n"
    )
    text = SEED.replace("## Agent Assignments\n", fenced + "\n## Agent Assignments\n")

    document = AgencyDocument.parse(text)

    assert [t.letter for t in document.tasks] == ["A", "B", "C", "D"]


def test_prose_and_links_in_tasks_are_not_checklist_items() -> None:
    text = SEED.replace(
        "- [ ] Include tests\n",
        "- [ ] Include tests\n- [docs](https://example.org) link\nSome prose.\n",
        1,
    )

    assert len(AgencyDocument.parse(text).task("A").items) == 4


# ------------------------------------------------------------- format errors


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("# no frontmatter\n", r"^AGENCY\.md:1: no frontmatter"),
        ("", r"^AGENCY\.md:1: no frontmatter"),
        ("---\nproject_id: x\nstatus: y\n", r"^AGENCY\.md:1: unterminated frontmatter"),
        (SEED.replace("owner: null", "owner: a: b"), r"^AGENCY\.md:4: YAML error: "),
        (
            SEED.replace("priority: medium", "priority: medium\nstatus: again"),
            r"^AGENCY\.md:9: YAML error: .*duplicate key",
        ),
        (
            SEED.replace("priority: medium", 'priority: "medium'),
            r"^AGENCY\.md:15: YAML error: .*\(opened on line 8\)$",
        ),
        (
            SEED.replace("priority: medium", "priority: me\x01dium"),
            r"^AGENCY\.md:8: YAML error: character U\+0001 is not allowed$",
        ),
        ("---\n- a\n- b\n---\nbody\n", r"^AGENCY\.md:2: frontmatter is not a mapping$"),
        ("---\n---\nbody\n", r"^AGENCY\.md:2: frontmatter is not a mapping$"),
        (
            SEED.replace("project_id: parallel-tasks-example\n", ""),
            r"^AGENCY\.md:14: frontmatter lacks required key 'project_id'$",
        ),
        (
            SEED.replace("status: pending\n", ""),
            r"^AGENCY\.md:14: frontmatter lacks required key 'status'$",
        ),
        (
            SEED.replace("status: pending", "status:"),
            r"^AGENCY\.md:3: frontmatter key 'status' must be a non-null scalar$",
        ),
        (
            SEED.replace("- [ ] Include tests", "- [] Include tests", 1),
            r"^AGENCY\.md:29: malformed checklist item",
        ),
        (
            SEED.replace("- [ ] Include tests", "- [ ]Include tests", 1),
            r"^AGENCY\.md:29: malformed checklist item",
        ),
        (
            SEED.replace("- [ ] Include tests", "- [y] Include tests", 1),
            r"^AGENCY\.md:29: malformed checklist item",
        ),
        (
            SEED.replace("### Task B: Date Formatter (Agent B)", "### Task B: Dates"),
            r"^AGENCY\.md:32: malformed task heading",
        ),
        (
            SEED.replace("### Task C: JSON Parser", "### Task A: JSON Parser"),
            r"^AGENCY\.md:38: duplicate task 'A'$",
        ),
        (
            SEED.replace(
                "- Owner: `null`\n- Progress: 0/4 tasks\n\n### Agent C", "\n### Agent C"
            ),
            r"^AGENCY\.md:67: progress block of Agent B has no '- Owner:' line$",
        ),
        (
            SEED.replace("- Progress: 0/4 tasks\n\n## Agent Notes", "\n## Agent Notes"),
            r"^AGENCY\.md:75: progress block of Agent D has no '- Progress:' line$",
        ),
        (
            SEED.replace("- Progress: 0/4 tasks", "- Progress: none yet", 1),
            r"^AGENCY\.md:65: malformed progress line",
        ),
    ],
    ids=[
        "no-frontmatter",
        "empty-file",
        "unterminated",
        "yaml-syntax",
        "yaml-duplicate-key",
        "yaml-unclosed-quote",
        "yaml-control-character",
        "not-a-mapping",
        "empty-frontmatter",
        "missing-project-id",
        "missing-status",
        "null-status",
        "checkbox-empty-brackets",
        "checkbox-no-space",
        "checkbox-bad-mark",
        "task-heading-without-agent",
        "duplicate-task",
        "progress-without-owner",
        "progress-without-count",
        "malformed-count",
    ],
)
def test_malformed_documents_raise_with_the_file_line(text: str, pattern: str) -> None:
    assert re.search(pattern, _parse_error(text))


def test_format_error_names_the_given_source() -> None:
    with pytest.raises(DocumentFormatError) as caught:
        AgencyDocument.parse("nope\n", source="run/AGENCY.md")

    assert caught.value.source == "run/AGENCY.md"
    assert caught.value.line == 1


def test_yaml_error_lines_count_from_the_file_with_a_bom_and_crlf() -> None:
    text = "\ufeff" + SEED.replace("owner: null", "owner: a: b").replace("\n", "\r\n")

    assert re.search(r"^AGENCY\.md:4: YAML error", _parse_error(text))


# ----------------------------------------------------------------- set_field


def test_set_field_changes_only_the_value_on_its_line() -> None:
    document = _seed()

    edited = document.set_field("status", "in_progress")

    assert _changes(SEED, edited.text) == (
        ["status: pending\n"],
        ["status: in_progress\n"],
    )
    assert edited.status == "in_progress"
    assert document.status == "pending"


def test_set_field_writes_yaml_scalars() -> None:
    edited = _seed().set_fields(owner="agent-a", blocked=True, priority=3)
    edited = edited.set_fields(blocking_reason=None, ratio=0.25)

    assert _changes(SEED, edited.text) == (
        ["owner: null\n", "blocked: false\n", "priority: medium\n"],
        ["owner: agent-a\n", "blocked: true\n", "priority: 3\n", "ratio: 0.25\n"],
    )


def test_set_field_writes_datetimes_as_utc_with_z() -> None:
    stamp = datetime(2025, 11, 23, 12, 47, tzinfo=timezone(timedelta(hours=2)))

    edited = _seed().set_field("last_updated", stamp)

    assert "last_updated: 2025-11-23T10:47:00Z\n" in edited.text
    assert edited.last_updated == datetime(2025, 11, 23, 10, 47, tzinfo=UTC)
    assert AgencyDocument.parse(edited.text).last_updated == edited.last_updated


def test_set_field_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match=r"^datetime 2025-11-23T10:00:00 is naive"):
        _seed().set_field("last_updated", datetime(2025, 11, 23, 10))


def test_set_field_keeps_a_trailing_comment() -> None:
    text = SEED.replace("owner: null", "owner: null  # who holds the project")

    edited = AgencyDocument.parse(text).set_field("owner", "agent-b")

    assert "owner: agent-b  # who holds the project\n" in edited.text
    assert _changes(text, edited.text)[1] == [
        "owner: agent-b  # who holds the project\n"
    ]


def test_set_field_fills_an_empty_value() -> None:
    text = SEED.replace("owner: null", "owner:   # nobody yet")

    edited = AgencyDocument.parse(text).set_field("owner", "agent-c")

    assert "owner: agent-c   # nobody yet\n" in edited.text
    assert edited.owner == "agent-c"


def test_set_field_replaces_a_multiline_value_with_one_line() -> None:
    text = SEED.replace(
        "priority: medium", "notes: |\n  first\n  second\npriority: medium"
    )
    document = AgencyDocument.parse(text)

    edited = document.set_field("notes", "short")

    assert _changes(text, edited.text) == (
        ["notes: |\n", "  first\n", "  second\n"],
        ["notes: short\n"],
    )
    assert _state(AgencyDocument.parse(edited.text)) == _state(edited)


def test_set_field_appends_a_missing_key_as_the_last_frontmatter_line() -> None:
    edited = _seed().set_field("reviewer", "alice")

    lines = edited.text.splitlines()
    assert lines[14:16] == ["reviewer: alice", "---"]
    assert _changes(SEED, edited.text) == ([], ["reviewer: alice\n"])


def test_set_field_refuses_collections() -> None:
    with pytest.raises(
        DocumentEditError, match=r"^frontmatter key 'dependencies' holds"
    ):
        _seed().set_field("dependencies", "none")
    with pytest.raises(DocumentEditError, match=r"^frontmatter key 'tags' holds"):
        _seed().set_field("tags", "none")


def test_set_field_refuses_null_for_required_keys() -> None:
    with pytest.raises(ValueError, match=r"^'status' is required"):
        _seed().set_field("status", None)


def test_set_field_refuses_other_types() -> None:
    with pytest.raises(TypeError, match=r"^cannot write list"):
        _seed().set_field("owner", ["a"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("agent-a", "agent-a"),
        ("Claude Haiku", "Claude Haiku"),
        ('say "hi"', 'say "hi"'),
        ("waiting on: review", '"waiting on: review"'),
        ("issue #12", '"issue #12"'),
        ("#12", '"#12"'),
        ("null", '"null"'),
        ("true", '"true"'),
        ("yes", '"yes"'),
        ("Off", '"Off"'),
        ("12", '"12"'),
        ("1:30", '"1:30"'),
        ("2025-11-23", '"2025-11-23"'),
        ("", '""'),
        (" padded ", '" padded "'),
        ("- item", '"- item"'),
        ("[a, b]", '"[a, b]"'),
        ("*alias", '"*alias"'),
        ("@user", '"@user"'),
        ("tab\there", '"tab\\there"'),
        ('back\\slash "q"\r', '"back\\\\slash \\"q\\"\\r"'),
        ("line\u2028sep", '"line\\Lsep"'),
        ("naïve ünïcode ✅", "naïve ünïcode ✅"),
    ],
)
def test_set_field_quotes_strings_only_when_yaml_needs_it(
    value: str, rendered: str
) -> None:
    edited = _seed().set_field("blocking_reason", value)

    assert f"\nblocking_reason: {rendered}\n" in edited.text
    assert AgencyDocument.parse(edited.text).frontmatter["blocking_reason"] == value


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(exclude_characters="\n", exclude_categories=["Cs"]))
)
def test_set_field_round_trips_any_one_line_string(value: str) -> None:
    edited = _seed().set_field("blocking_reason", value)

    assert AgencyDocument.parse(edited.text).frontmatter["blocking_reason"] == value
    assert edited.frontmatter["blocking_reason"] == value
    removed, added = _changes(SEED, edited.text)
    assert removed == ["blocking_reason: null\n"]
    assert len(added) == 1


@settings(max_examples=50, deadline=None)
@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.datetimes(timezones=st.just(UTC)),
    )
)
def test_set_field_round_trips_other_scalars(value: object) -> None:
    edited = _seed().set_field("extra", value)  # type: ignore[arg-type]

    assert AgencyDocument.parse(edited.text).frontmatter["extra"] == value


def test_set_field_in_a_crlf_file_writes_crlf_lines() -> None:
    text = "\ufeff" + SEED.replace("\n", "\r\n")

    edited = AgencyDocument.parse(text).set_field("owner", "a").set_field("new", 1)

    assert _changes(text, edited.text) == (
        ["owner: null\r\n"],
        ["owner: a\r\n", "new: 1\r\n"],
    )
    assert edited.text.startswith("\ufeff---\r\n")


# ---------------------------------------------------------------------- tick


def test_tick_flips_only_the_box_of_one_item() -> None:
    edited = _seed().tick("B", 2)

    assert _changes(SEED, edited.text) == (
        ["- [ ] Include timezone handling\n"],
        ["- [x] Include timezone handling\n"],
    )
    assert edited.task("B").items[2] == ChecklistItem("Include timezone handling", True)


def test_tick_with_done_false_unticks() -> None:
    ticked = _seed().tick("A", 0)

    unticked = ticked.tick("A", 0, done=False)

    assert unticked.text == SEED


def test_tick_of_an_unknown_task_raises() -> None:
    with pytest.raises(DocumentEditError, match=r"^no task 'E' \(tasks: A, B, C, D\)$"):
        _seed().tick("E", 0)


@pytest.mark.parametrize("index", [4, -1])
def test_tick_of_an_unknown_item_raises(index: int) -> None:
    with pytest.raises(DocumentEditError, match=r"^task 'A' has no checklist item"):
        _seed().tick("A", index)


def test_tick_in_a_crlf_file_keeps_crlf() -> None:
    text = SEED.replace("\n", "\r\n")

    edited = AgencyDocument.parse(text).tick("D", 3)

    assert _changes(text, edited.text) == (
        ["- [ ] Document in `src/strings.py`\r\n"],
        ["- [x] Document in `src/strings.py`\r\n"],
    )


# -------------------------------------------------------------- set_progress


def test_set_progress_rewrites_heading_owner_and_count() -> None:
    edited = _seed().set_progress(
        "A", status=TaskStatus.IN_PROGRESS, owner="agent-a", done=1
    )

    assert _changes(SEED, edited.text) == (
        [
            "### Agent A (Validators) - Status: ⏳ Waiting\n",
            "- Owner: `null`\n",
            "- Progress: 0/4 tasks\n",
        ],
        [
            "### Agent A (Validators) - Status: 🔄 In Progress\n",
            "- Owner: `agent-a`\n",
            "- Progress: 1/4 tasks\n",
        ],
    )
    assert edited.progress_of("A") == Progress(
        "A", "Validators", TaskStatus.IN_PROGRESS, "agent-a", 1, 4
    )


def test_set_progress_leaves_unset_parts_alone() -> None:
    owned = _seed().set_progress("C", owner="agent-c")

    edited = owned.set_progress("C", done=4)

    assert _changes(owned.text, edited.text) == (
        ["- Progress: 0/4 tasks\n"],
        ["- Progress: 4/4 tasks\n"],
    )
    assert edited.progress_of("C").owner == "agent-c"


def test_set_progress_owner_none_writes_null() -> None:
    owned = _seed().set_progress("B", owner="agent-b")

    released = owned.set_progress("B", owner=None)

    assert released.text == SEED
    assert released.progress_of("B").owner is None


def test_set_progress_of_an_unknown_letter_raises() -> None:
    with pytest.raises(DocumentEditError, match=r"^no progress block 'Z'"):
        _seed().set_progress("Z", done=1)


def test_set_progress_refuses_done_above_total() -> None:
    with pytest.raises(ValueError, match=r"^progress 5/4 is not 0 <= done <= total$"):
        _seed().set_progress("A", done=5)


def test_set_progress_refuses_an_owner_with_a_backtick() -> None:
    with pytest.raises(ValueError, match=r"^owner 'a`b' cannot be written"):
        _seed().set_progress("A", owner="a`b")


# --------------------------------------------------------------- append_note


def test_append_note_goes_after_the_comment_line() -> None:
    edited = _seed().append_note(
        "2025-11-23 10:30", "Claude Haiku", "Agent A", "Starting work"
    )

    lines = edited.text.splitlines()
    assert lines[78:82] == [
        "## Agent Notes",
        "<!-- Add timestamped notes as you work -->",
        NOTE_A,
        "",
    ]
    assert _changes(SEED, edited.text) == ([], [f"{NOTE_A}\n"])


def test_append_note_appends_after_the_existing_notes() -> None:
    first = _seed().append_note("2025-11-23 10:30", "Claude Haiku", "Agent A", "one")

    second = first.append_note("2025-11-23 10:31", "Gemini", "Agent D", "two")

    assert [note.text for note in second.notes] == ["one", "two"]
    assert [n.text for n in AgencyDocument.parse(second.text).notes] == ["one", "two"]


def test_append_note_in_a_crlf_file_inserts_a_crlf_line() -> None:
    text = "\ufeff" + SEED.replace("\n", "\r\n")

    edited = AgencyDocument.parse(text).append_note(
        "2025-11-23 10:30", "Claude Haiku", "Agent A", "Starting work"
    )

    assert _changes(text, edited.text) == ([], [f"{NOTE_A}\r\n"])


def test_append_note_at_the_end_of_a_file_without_final_newline() -> None:
    text = SEED.split("## Coordination Approaches")[0].rstrip("\n")

    edited = AgencyDocument.parse(text).append_note(
        "2025-11-23 10:30", "Claude Haiku", "Agent A", "Starting work"
    )

    assert edited.text == text + "\n" + NOTE_A


def test_append_note_refuses_multiline_text() -> None:
    with pytest.raises(ValueError, match=r"^note text must be one line"):
        _seed().append_note("2025-11-23 10:30", "a", "Agent A", "one\ntwo")


@pytest.mark.parametrize("stamp", ["2025-11-23T10:30", "2025-11-23 10:30:00", "x"])
def test_append_note_refuses_a_malformed_stamp(stamp: str) -> None:
    with pytest.raises(ValueError, match=r"^note stamp .* is not 'YYYY-MM-DD HH:MM'$"):
        _seed().append_note(stamp, "a", "Agent A", "text")


def test_append_note_refuses_an_agent_that_would_not_read_back() -> None:
    with pytest.raises(ValueError, match=r"^author 'a' / agent 'Agent \(A\)'"):
        _seed().append_note("2025-11-23 10:30", "a", "Agent (A)", "text")


def test_append_note_without_a_notes_section_raises() -> None:
    text = SEED.replace("## Agent Notes\n", "## Notes\n")

    with pytest.raises(DocumentEditError, match=r"^the document has no '## Agent"):
        AgencyDocument.parse(text).append_note("2025-11-23 10:30", "a", "A", "t")


# ------------------------------------------------------------ whole workflows


def test_finishing_every_task_shows_in_the_reparsed_document() -> None:
    document = _seed().set_fields(status="in_progress", owner="coordinator")
    for task in document.tasks:
        document = document.set_progress(
            task.letter, status=TaskStatus.IN_PROGRESS, owner=f"agent-{task.letter}"
        )
        for index in range(len(task.items)):
            document = document.tick(task.letter, index)
            document = document.set_progress(task.letter, done=index + 1)
        document = document.set_progress(
            task.letter, status=TaskStatus.COMPLETE, owner=None
        )
        document = document.append_note(
            "2025-11-23 11:00", "Claude Haiku", task.agent, f"Completed {task.title}"
        )
    document = document.set_fields(status="completed", owner=None)

    reparsed = AgencyDocument.parse(document.text)

    assert reparsed.status == "completed"
    assert all(item.done for task in reparsed.tasks for item in task.items)
    assert sum(task.done for task in reparsed.tasks) == 16
    assert all(
        p.status is TaskStatus.COMPLETE and p.done == p.total == 4 and p.owner is None
        for p in reparsed.progress
    )
    assert [note.agent for note in reparsed.notes] == [
        "Agent A",
        "Agent B",
        "Agent C",
        "Agent D",
    ]
    assert _state(reparsed) == _state(document)


def test_edits_never_change_the_original_document() -> None:
    document = _seed()

    document.tick("A", 0).set_field("owner", "x").append_note(
        "2025-11-23 10:30", "a", "Agent A", "t"
    )

    assert document.text == SEED
    assert document.task("A").items[0].done is False


_EDITS = st.one_of(
    st.tuples(
        st.just("tick"),
        st.sampled_from("ABCD"),
        st.integers(0, 3),
        st.booleans(),
    ),
    st.tuples(
        st.just("progress"),
        st.sampled_from("ABCD"),
        st.sampled_from(list(TaskStatus)),
        st.integers(0, 4),
    ),
    st.tuples(st.just("note"), st.sampled_from("ABCD"), st.text(max_size=20)),
    st.tuples(
        st.just("field"),
        st.sampled_from(["owner", "status", "extra", "notes", "blocked"]),
        st.text(max_size=10),
    ),
)


def _apply(document: AgencyDocument, edit: tuple[object, ...]) -> AgencyDocument:
    kind, letter, *rest = edit
    assert isinstance(letter, str)
    if kind == "tick":
        index, done = rest
        assert isinstance(index, int) and isinstance(done, bool)
        return document.tick(letter, index, done)
    if kind == "progress":
        status, done = rest
        assert isinstance(status, TaskStatus) and isinstance(done, int)
        return document.set_progress(letter, status=status, owner=letter, done=done)
    text = rest[0]
    assert isinstance(text, str)
    if kind == "note":
        text = " ".join(text.split())  # one line
        return document.append_note("2025-11-23 10:30", "Bot", f"Agent {letter}", text)
    return document.set_field(letter, text or None if letter != "status" else text)


@settings(max_examples=60, deadline=None)
@given(st.lists(_EDITS, max_size=25))
def test_edited_documents_parse_back_to_the_same_state(
    edits: list[tuple[object, ...]],
) -> None:
    # 'notes' starts as a block scalar so that set_field also removes lines.
    text = "\ufeff" + SEED.replace("priority:", "notes: |\n  a\n  b\npriority:")
    document = AgencyDocument.parse(text.replace("\n", "\r\n"))

    for edit in edits:
        document = _apply(document, edit)

    assert _state(AgencyDocument.parse(document.text)) == _state(document)
    assert "\n" not in document.text.replace("\r\n", "")


def test_documents_are_equal_when_their_texts_are() -> None:
    assert _seed() == _seed()
    assert hash(_seed()) == hash(_seed())
    assert _seed() != _seed().tick("A", 0)


def test_tasks_and_notes_are_frozen_values() -> None:
    task = _seed().task("A")

    with pytest.raises(AttributeError):
        task.title = "x"  # type: ignore[misc]
    assert isinstance(task, Task)
    assert isinstance(task.items, tuple)


def test_documents_are_built_by_parse_only() -> None:
    with pytest.raises(TypeError, match=r"^use AgencyDocument\.parse"):
        AgencyDocument()


def test_set_field_refuses_a_lone_surrogate() -> None:
    with pytest.raises(
        ValueError,
        match=r"^a value cannot hold the lone surrogate U\+D800 \(at index 2\)",
    ):
        _seed().set_field("blocking_reason", "ab\ud800")


def test_frontmatter_that_only_yaml_1_2_allows_still_parses() -> None:
    """libyaml refuses ':' in a plain scalar inside a flow list; 1.2 allows it."""
    text = SEED.replace("  related: []", "  related: [2025-11-23T10:00:00Z, a:b]")

    document = AgencyDocument.parse(text)

    related = document.frontmatter["dependencies"]["related"]  # type: ignore[index]
    assert related[1] == "a:b"
    assert document.render() == text


def test_a_frontmatter_date_that_cannot_exist_is_a_format_error() -> None:
    text = SEED.replace(
        "last_updated: 2025-11-23T10:00:00Z", "last_updated: 2025-02-30T10:00:00Z"
    )

    with pytest.raises(DocumentFormatError, match="a value that cannot exist"):
        AgencyDocument.parse(text)


def test_set_field_keeps_a_quoted_value_quoted() -> None:
    text = SEED.replace(
        "last_updated: 2025-11-23T10:00:00Z", 'last_updated: "2025-11-23T10:00:00Z"'
    )
    stamp = datetime(2025, 11, 23, 10, 47, tzinfo=UTC)

    edited = AgencyDocument.parse(text).set_field("last_updated", stamp)

    assert '\nlast_updated: "2025-11-23T10:47:00Z"\n' in edited.text
    assert edited.frontmatter["last_updated"] == "2025-11-23T10:47:00Z"
    assert AgencyDocument.parse(edited.text).frontmatter == edited.frontmatter


def test_cr_only_line_endings_are_named() -> None:
    with pytest.raises(DocumentFormatError, match=r"^AGENCY\.md:1: lines end in CR"):
        AgencyDocument.parse(SEED.replace("\n", "\r"))


def test_a_tab_may_follow_a_checkbox() -> None:
    text = SEED.replace("- [ ] Include tests\n", "- [ ]\tInclude tests\n", 1)

    document = AgencyDocument.parse(text).tick("A", 2)

    assert document.task("A").items[2].text == "Include tests"
    assert "- [x]\tInclude tests\n" in document.text
