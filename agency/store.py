"""The authoritative copy of one AGENCY.md, with ordered, checked, atomic writes.

A DocumentStore holds the current :class:`~agency.document.AgencyDocument`
and a revision number (0 when opened, one more per accepted write). Writers
hand it whole documents; before one replaces the current document the store
checks, in this order:

1. the fence: a write may carry the fencing token of the lease it was made
   under, and is refused (:class:`~agency.errors.StaleToken`) if the store
   has already accepted a write under a newer token of the same resource;
2. the revision, for optimistic writers that say which revision they edited
   (:class:`~agency.errors.RevisionConflict`);
3. that the text parses again, so a bad document never replaces a good file
   (:class:`~agency.errors.DocumentFormatError`).

Writes are serialized by one lock, and :meth:`DocumentStore.edit` runs a
read-modify-write under it. On disk a write goes to a temporary file in the
same directory that then replaces the target, so readers see the old file or
the new one, never half of one. All file I/O goes through aiofiles, which
uses the event loop's default executor; the simulator's loop runs executor
work inline, which keeps runs deterministic.

An observer, if given, sees a :class:`WriteRecord` for every write, accepted
or refused; the simulator turns these into trace events.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

import aiofiles
import aiofiles.os
import anyio

from agency.document import AgencyDocument
from agency.errors import (
    DocumentFormatError,
    InvalidArgument,
    RevisionConflict,
    StaleToken,
)

__all__ = ["DocumentStore", "Fence", "Snapshot", "WriteObserver", "WriteRecord"]


@dataclasses.dataclass(frozen=True, slots=True)
class Fence:
    """The fencing token of the lease a write is made under.

    Attributes:
        resource: the leased resource, e.g. ``"task-A"``.
        token: the lease's fencing token; tokens of a resource only grow.
    """

    resource: str
    token: int

    def __post_init__(self) -> None:
        if not self.resource:
            raise InvalidArgument("a fence needs a resource name")
        if isinstance(self.token, bool) or self.token < 0:
            raise InvalidArgument(f"fencing token {self.token!r} is not an int >= 0")


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """A document together with the revision it is."""

    document: AgencyDocument
    revision: int


@dataclasses.dataclass(frozen=True, slots=True)
class WriteRecord:
    """What happened to one write.

    Attributes:
        writer: who wrote.
        revision: the revision the write created, or for a refused write
            the revision the store stayed at.
        accepted: whether the write replaced the document.
        reason: why it was refused (None when accepted). The text names no
            file path, so traces do not depend on where a run happens.
        fence: the fence the write carried.
        text_sha256: SHA-256 of the UTF-8 text offered.
        based_on: the revision the writer derived the document from, when
            it said (a write based on an old revision overwrites whatever
            came after it).
    """

    writer: str
    revision: int
    accepted: bool
    reason: str | None
    fence: Fence | None
    text_sha256: str
    based_on: int | None = None


WriteObserver = Callable[[WriteRecord], None]


class DocumentStore:
    """One AGENCY.md on disk (or in memory) and its revision.

    Build one with :meth:`open` or :meth:`in_memory`. Two stores must not
    share a path: each assumes it is the only writer of its file (and of the
    temporary file next to it).
    """

    def __init__(
        self,
        document: AgencyDocument,
        *,
        path: Path | None,
        observer: WriteObserver | None,
        fencing: bool = True,
    ) -> None:
        """Wrap a parsed document; prefer :meth:`open` or :meth:`in_memory`."""
        self._document = document
        self._revision = 0
        self._path = path
        self._observer = observer
        self._fencing = fencing
        self._marks: dict[str, int] = {}
        self._lock = anyio.Lock()

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        observer: WriteObserver | None = None,
        fencing: bool = True,
    ) -> DocumentStore:
        """Read and parse the file at ``path``.

        With ``fencing=False`` the store records the fences writes carry but
        refuses none (a storage that knows nothing of tokens).

        Raises:
            DocumentFormatError: the file is not UTF-8 or does not parse.
            OSError: the file cannot be read.
        """
        target = Path(path)
        async with aiofiles.open(target, "rb") as file:
            data = await file.read()
        source = str(target)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            reason = f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}"
            raise DocumentFormatError(source, reason, line=line) from exc
        document = AgencyDocument.parse(text, source=source)
        return cls(document, path=target, observer=observer, fencing=fencing)

    @classmethod
    def in_memory(
        cls,
        text: str,
        *,
        source: str = "<memory>",
        observer: WriteObserver | None = None,
        fencing: bool = True,
    ) -> DocumentStore:
        """Parse ``text`` into a store that never touches the disk.

        ``fencing`` is as for :meth:`open`.

        Raises:
            DocumentFormatError: the text does not parse.
        """
        document = AgencyDocument.parse(text, source=source)
        return cls(document, path=None, observer=observer, fencing=fencing)

    @property
    def path(self) -> Path | None:
        """The file the store writes, or None for an in-memory store."""
        return self._path

    @property
    def revision(self) -> int:
        """The number of writes accepted since the store was opened."""
        return self._revision

    def read(self) -> Snapshot:
        """Return the current document and revision (no I/O, so synchronous)."""
        return Snapshot(self._document, self._revision)

    def highest_token(self, resource: str) -> int | None:
        """The newest fencing token accepted for ``resource``, if any."""
        return self._marks.get(resource)

    def raise_fence(self, resource: str, token: int) -> None:
        """Refuse from now on writes under tokens of ``resource`` below ``token``.

        The lock manager calls this (through the engine) when it grants a
        lease, so a stale holder is fenced off even before the new holder
        has written anything. The mark never goes down.
        """
        Fence(resource, token)  # the same checks as a write's fence
        if token > self._marks.get(resource, -1):
            self._marks[resource] = token

    @property
    def fence_marks(self) -> MappingProxyType[str, int]:
        """The newest accepted token of every resource seen (a read-only copy)."""
        return MappingProxyType(dict(self._marks))

    async def write(
        self,
        document: AgencyDocument,
        *,
        writer: str,
        fence: Fence | None = None,
        expected_revision: int | None = None,
        based_on: int | None = None,
    ) -> Snapshot:
        """Replace the document, if the write passes the store's checks.

        Args:
            document: the whole new document.
            writer: who writes (recorded, not checked).
            fence: the lease the write is made under, if any.
            expected_revision: for an optimistic write, the revision the
                document was derived from; another current one refuses it.
            based_on: the revision the document was derived from, recorded
                and not checked (``expected_revision`` stands for it when
                given).

        Returns:
            The new document and revision.

        Raises:
            StaleToken: a newer token of ``fence.resource`` was already used.
            RevisionConflict: ``expected_revision`` is not the current one.
            DocumentFormatError: the document's text does not parse again.
            OSError: the file could not be written (it is left unchanged).
        """
        if expected_revision is not None:
            based_on = expected_revision
        async with self._lock:
            return await self._write(
                document, writer, fence, expected_revision, based_on
            )

    async def edit(
        self,
        change: Callable[[AgencyDocument], AgencyDocument],
        *,
        writer: str,
        fence: Fence | None = None,
    ) -> Snapshot:
        """Apply ``change`` to the current document and write the result.

        No other write can come between reading the document and writing
        the change. An exception raised by ``change`` propagates and nothing
        is written or recorded.

        Raises:
            StaleToken, DocumentFormatError, OSError: as for :meth:`write`.
        """
        async with self._lock:
            new = change(self._document)
            if not isinstance(new, AgencyDocument):
                raise TypeError(
                    f"change returned {type(new).__name__}, not an AgencyDocument"
                )
            return await self._write(new, writer, fence, None, self._revision)

    async def _write(
        self,
        document: AgencyDocument,
        writer: str,
        fence: Fence | None,
        expected_revision: int | None,
        based_on: int | None,
    ) -> Snapshot:
        # Runs with self._lock held.
        text = document.render()
        # surrogatepass: a text that cannot be written still gets a digest.
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

        def refuse(reason: str) -> None:
            self._notify(
                WriteRecord(
                    writer, self._revision, False, reason, fence, digest, based_on
                )
            )

        if fence is not None and self._fencing:
            newest = self._marks.get(fence.resource)
            if newest is not None and fence.token < newest:
                refuse(
                    f"stale token {fence.token} for {fence.resource!r}, "
                    f"newest is {newest}"
                )
                raise StaleToken(fence.resource, fence.token, newest)

        if expected_revision is not None and expected_revision != self._revision:
            refuse(
                f"expected revision {expected_revision}, "
                f"the document is at {self._revision}"
            )
            raise RevisionConflict(expected_revision, self._revision)

        source = self._document.source
        try:
            parsed = AgencyDocument.parse(text, source=source)
            data = text.encode("utf-8")
        except DocumentFormatError as exc:
            refuse(f"does not parse: line {exc.line}: {exc.reason}")
            raise
        except UnicodeEncodeError as exc:
            line = text.count("\n", 0, exc.start) + 1
            refuse(f"not encodable as UTF-8: line {line}")
            raise DocumentFormatError(
                source, "text holds a lone surrogate, not encodable as UTF-8", line=line
            ) from exc

        if self._path is not None:
            try:
                await _replace_file(self._path, data)
            except OSError as exc:
                refuse(f"write failed: {type(exc).__name__}: {exc.strerror}")
                raise

        # Only an accepted write moves the fence mark: a refused write has no
        # effect at all. Without fencing a stale write is accepted, and the
        # mark still never goes down.
        if fence is not None and fence.token > self._marks.get(fence.resource, -1):
            self._marks[fence.resource] = fence.token
        self._document = parsed
        self._revision += 1
        self._notify(
            WriteRecord(writer, self._revision, True, None, fence, digest, based_on)
        )
        return Snapshot(parsed, self._revision)

    def _notify(self, record: WriteRecord) -> None:
        if self._observer is not None:
            self._observer(record)


async def _replace_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file, then rename over it.

    The temporary name is fixed (``.NAME.tmp`` beside the target) so runs
    stay deterministic; a leftover from a crash is simply overwritten.
    """
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        async with aiofiles.open(temporary, "wb") as file:
            await file.write(data)
            await file.flush()
            # No os.fsync: it makes every write wait for the disk, and a
            # simulator needs atomic replacement, not durability after a
            # power cut.
        await aiofiles.os.replace(temporary, path)
    except BaseException:
        # Shielded, so a cancelled writer still cleans up after itself.
        with anyio.CancelScope(shield=True):
            with contextlib.suppress(FileNotFoundError):
                await aiofiles.os.remove(temporary)
        raise
