"""Tests of agency.store: ordered, fenced, optimistic and atomic writes."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import aiofiles.os
import anyio
import pytest

from agency.document import AgencyDocument
from agency.errors import (
    DocumentFormatError,
    InvalidArgument,
    RevisionConflict,
    StaleToken,
)
from agency.store import DocumentStore, Fence, Snapshot, WriteRecord

SEED_PATH = Path(__file__).resolve().parents[1] / "AGENCY.md"
SEED = SEED_PATH.read_text(encoding="utf-8")
STAMP = "2025-11-23 10:30"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "AGENCY.md"
    path.write_bytes(SEED_PATH.read_bytes())
    return path


class _Unparseable(AgencyDocument):
    """A document whose rendered text is not an AGENCY.md at all."""

    __slots__ = ()

    def render(self) -> str:
        return "---\nstatus: a: b\n---\n"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.anyio
async def test_open_reads_the_file_at_revision_zero(seed_file: Path) -> None:
    store = await DocumentStore.open(seed_file)

    snapshot = store.read()

    assert snapshot.revision == 0
    assert snapshot.document.text == SEED
    assert store.path == seed_file


@pytest.mark.anyio
async def test_open_of_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "AGENCY.md"
    path.write_bytes(SEED_PATH.read_bytes().replace(b"medium", b"medi\xffum"))

    with pytest.raises(
        DocumentFormatError,
        match=rf"^{re.escape(str(path))}:8: not UTF-8: byte 0xff at offset 153$",
    ):
        await DocumentStore.open(path)


@pytest.mark.anyio
async def test_open_of_a_malformed_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "AGENCY.md"
    path.write_text("# no frontmatter\n", encoding="utf-8")

    with pytest.raises(
        DocumentFormatError, match=rf"^{re.escape(str(path))}:1: no frontmatter"
    ):
        await DocumentStore.open(path)


@pytest.mark.anyio
async def test_write_replaces_the_file_and_counts_the_revision(seed_file: Path) -> None:
    store = await DocumentStore.open(seed_file)
    edited = store.read().document.tick("A", 0)

    snapshot = await store.write(edited, writer="agent-a")

    assert snapshot == Snapshot(edited, 1)
    assert store.revision == 1
    assert seed_file.read_text(encoding="utf-8") == edited.text


@pytest.mark.anyio
async def test_atomic_write_leaves_no_temporary_file(seed_file: Path) -> None:
    store = await DocumentStore.open(seed_file)

    await store.write(store.read().document.tick("A", 0), writer="agent-a")

    assert sorted(p.name for p in seed_file.parent.iterdir()) == ["AGENCY.md"]


@pytest.mark.anyio
async def test_leftover_temporary_file_is_overwritten(seed_file: Path) -> None:
    (seed_file.parent / ".AGENCY.md.tmp").write_text("junk from a crash")
    store = await DocumentStore.open(seed_file)

    await store.write(store.read().document.tick("A", 0), writer="agent-a")

    assert sorted(p.name for p in seed_file.parent.iterdir()) == ["AGENCY.md"]
    assert "- [x] Implement email validation" in seed_file.read_text(encoding="utf-8")


@pytest.mark.anyio
async def test_failed_replace_keeps_the_file_and_removes_the_temporary(
    seed_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(aiofiles.os, "replace", refuse)
    records: list[WriteRecord] = []
    store = await DocumentStore.open(seed_file, observer=records.append)

    with pytest.raises(PermissionError):
        await store.write(store.read().document.tick("A", 0), writer="agent-a")

    assert seed_file.read_bytes() == SEED_PATH.read_bytes()
    assert sorted(p.name for p in seed_file.parent.iterdir()) == ["AGENCY.md"]
    assert store.revision == 0
    assert records[0].reason == "write failed: PermissionError: Permission denied"


@pytest.mark.anyio
async def test_bom_and_crlf_survive_a_write(tmp_path: Path) -> None:
    path = tmp_path / "AGENCY.md"
    raw = ("\ufeff" + SEED.replace("\n", "\r\n")).encode("utf-8")
    path.write_bytes(raw)
    store = await DocumentStore.open(path)

    await store.write(store.read().document.tick("A", 0), writer="agent-a")

    written = path.read_bytes()
    assert written.startswith(b"\xef\xbb\xbf---\r\n")
    assert written == raw.replace(b"- [ ] Implement email", b"- [x] Implement email")


@pytest.mark.anyio
async def test_stale_token_is_refused_and_the_file_stays_byte_identical(
    seed_file: Path,
) -> None:
    store = await DocumentStore.open(seed_file)
    document = store.read().document
    await store.write(document.tick("A", 0), writer="a2", fence=Fence("task-A", 5))
    before = seed_file.read_bytes()

    with pytest.raises(StaleToken, match=r"^write fenced by token 4 of 'task-A'"):
        await store.write(document.tick("A", 1), writer="a1", fence=Fence("task-A", 4))

    assert seed_file.read_bytes() == before
    assert store.revision == 1
    assert store.highest_token("task-A") == 5


@pytest.mark.anyio
async def test_equal_token_is_accepted_and_higher_raises_the_mark() -> None:
    store = DocumentStore.in_memory(SEED)
    document = store.read().document

    await store.write(document, writer="a", fence=Fence("task-A", 3))
    await store.write(document, writer="a", fence=Fence("task-A", 3))
    await store.write(document, writer="b", fence=Fence("task-A", 7))

    assert store.highest_token("task-A") == 7
    assert store.revision == 3
    with pytest.raises(StaleToken):
        await store.write(document, writer="a", fence=Fence("task-A", 3))


@pytest.mark.anyio
async def test_tokens_of_different_resources_do_not_fence_each_other() -> None:
    store = DocumentStore.in_memory(SEED)
    document = store.read().document

    await store.write(document, writer="a", fence=Fence("task-A", 9))
    await store.write(document, writer="b", fence=Fence("task-B", 1))

    assert dict(store.fence_marks) == {"task-A": 9, "task-B": 1}


@pytest.mark.anyio
async def test_refused_write_does_not_raise_the_mark() -> None:
    store = DocumentStore.in_memory(SEED)
    document = store.read().document

    with pytest.raises(RevisionConflict):
        await store.write(
            document, writer="a", fence=Fence("task-A", 9), expected_revision=4
        )

    assert store.highest_token("task-A") is None


@pytest.mark.anyio
async def test_revision_conflict_is_refused(seed_file: Path) -> None:
    store = await DocumentStore.open(seed_file)
    stale = store.read()
    await store.write(stale.document.tick("A", 0), writer="a", expected_revision=0)

    with pytest.raises(
        RevisionConflict,
        match=r"^write expected revision 0, but the document is at 1$",
    ):
        await store.write(stale.document.tick("B", 0), writer="b", expected_revision=0)

    assert store.read().document.task("B").items[0].done is False


@pytest.mark.anyio
async def test_unparseable_document_never_replaces_the_file(seed_file: Path) -> None:
    records: list[WriteRecord] = []
    store = await DocumentStore.open(seed_file, observer=records.append)
    broken = _Unparseable.parse(SEED)

    with pytest.raises(
        DocumentFormatError, match=rf"^{re.escape(str(seed_file))}:2: YAML error"
    ):
        await store.write(broken, writer="agent-a")

    assert seed_file.read_bytes() == SEED_PATH.read_bytes()
    assert sorted(p.name for p in seed_file.parent.iterdir()) == ["AGENCY.md"]
    assert store.read() == Snapshot(AgencyDocument.parse(SEED), 0)
    assert records[0].accepted is False
    assert re.match(r"^does not parse: line 2: YAML error", records[0].reason or "")


@pytest.mark.anyio
async def test_text_with_a_lone_surrogate_is_refused() -> None:
    store = DocumentStore.in_memory(SEED)
    document = store.read().document.append_note(STAMP, "a", "Agent A", "bad \ud800")

    with pytest.raises(DocumentFormatError, match=r"^<memory>:81: text holds a lone"):
        await store.write(document, writer="agent-a")

    assert store.revision == 0


@pytest.mark.anyio
async def test_observer_sees_accepted_and_refused_writes() -> None:
    records: list[WriteRecord] = []
    store = DocumentStore.in_memory(SEED, observer=records.append)
    edited = store.read().document.tick("C", 2)
    fence = Fence("task-C", 2)

    await store.write(edited, writer="agent-c", fence=fence)
    with pytest.raises(StaleToken):
        await store.write(edited, writer="late", fence=Fence("task-C", 1))
    with pytest.raises(RevisionConflict):
        await store.write(edited, writer="optimist", expected_revision=0)

    digest = _sha256(edited.text)
    assert records == [
        WriteRecord("agent-c", 1, True, None, fence, digest),
        WriteRecord(
            "late",
            1,
            False,
            "stale token 1 for 'task-C', newest is 2",
            Fence("task-C", 1),
            digest,
        ),
        WriteRecord(
            "optimist",
            1,
            False,
            "expected revision 0, the document is at 1",
            None,
            digest,
            0,
        ),
    ]


@pytest.mark.anyio
async def test_a_write_records_the_revision_it_was_made_from() -> None:
    records: list[WriteRecord] = []
    store = DocumentStore.in_memory(SEED, observer=records.append)
    first = store.read().document.tick("C", 1)

    await store.write(first, writer="naive", based_on=0)
    await store.edit(lambda doc: doc.tick("C", 2), writer="atomic")
    await store.write(first, writer="late", based_on=0)

    assert [(r.writer, r.revision, r.based_on) for r in records] == [
        ("naive", 1, 0),
        ("atomic", 2, 1),
        ("late", 3, 0),
    ]


@pytest.mark.anyio
async def test_edit_applies_the_change_to_the_current_document() -> None:
    store = DocumentStore.in_memory(SEED)

    snapshot = await store.edit(lambda d: d.tick("D", 1), writer="agent-d")

    assert snapshot.revision == 1
    assert snapshot.document.task("D").items[1].done is True


@pytest.mark.anyio
async def test_edit_under_a_stale_fence_changes_nothing() -> None:
    store = DocumentStore.in_memory(SEED)
    await store.edit(lambda d: d, writer="new", fence=Fence("task-A", 2))

    with pytest.raises(StaleToken):
        await store.edit(
            lambda d: d.tick("A", 0), writer="old", fence=Fence("task-A", 1)
        )

    assert store.read().document.task("A").items[0].done is False


@pytest.mark.anyio
async def test_edit_that_raises_writes_and_records_nothing() -> None:
    records: list[WriteRecord] = []
    store = DocumentStore.in_memory(SEED, observer=records.append)

    with pytest.raises(LookupError):
        await store.edit(lambda d: d.tick("Z", 0), writer="agent-z")

    assert store.revision == 0
    assert records == []


@pytest.mark.anyio
async def test_concurrent_edits_are_serialized_and_lose_no_note(
    seed_file: Path,
) -> None:
    records: list[WriteRecord] = []
    store = await DocumentStore.open(seed_file, observer=records.append)

    async def add_note(number: int) -> None:
        await store.edit(
            lambda d: d.append_note(STAMP, "bot", "Agent A", f"note {number}"),
            writer=f"writer-{number}",
        )

    async with anyio.create_task_group() as group:
        for number in range(20):
            group.start_soon(add_note, number)

    on_disk = AgencyDocument.parse(seed_file.read_text(encoding="utf-8"))
    assert sorted(note.text for note in on_disk.notes) == sorted(
        f"note {number}" for number in range(20)
    )
    assert [record.revision for record in records] == list(range(1, 21))
    assert store.read().document == on_disk


@pytest.mark.anyio
async def test_concurrent_optimistic_writes_let_exactly_one_win(
    seed_file: Path,
) -> None:
    store = await DocumentStore.open(seed_file)
    start = store.read()
    outcomes: list[str] = []

    async def attempt(letter: str) -> None:
        try:
            await store.write(
                start.document.tick(letter, 0),
                writer=f"agent-{letter}",
                expected_revision=start.revision,
            )
            outcomes.append("won")
        except RevisionConflict:
            outcomes.append("lost")

    async with anyio.create_task_group() as group:
        for letter in "ABCD":
            group.start_soon(attempt, letter)

    assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
    assert store.revision == 1


@pytest.mark.anyio
async def test_in_memory_store_touches_no_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = DocumentStore.in_memory(SEED, source="mem/AGENCY.md")

    snapshot = await store.edit(lambda d: d.tick("A", 0), writer="a")

    assert store.path is None
    assert snapshot.document.source == "mem/AGENCY.md"
    assert list(tmp_path.iterdir()) == []


def test_fence_refuses_a_negative_token() -> None:
    with pytest.raises(InvalidArgument, match=r"^fencing token -1 is not an int >= 0$"):
        Fence("task-A", -1)


def test_fence_refuses_an_empty_resource() -> None:
    with pytest.raises(InvalidArgument, match=r"^a fence needs a resource name$"):
        Fence("", 1)
