"""Streaming checks behind :mod:`utils.parsers`, and its depth gauge.

ijson parses a stream; every chunk it reads first passes a
:class:`_StreamGauge`, which refuses invalid UTF-8 and nesting deeper than
``max_depth`` as the bytes arrive, so a hostile stream fails before ijson
builds anything from the offending bytes. The gauge's depth tracking,
:class:`DepthGauge`, works on undecoded chunks; :func:`utils.parsers.parse_json`
uses it too, with the whole document as one chunk, to find where nesting
first breaks its limit.

Private: the public iterators are :func:`utils.parsers.iter_json_items` and
:func:`utils.parsers.aiter_json_items`.
"""

from __future__ import annotations

import codecs
import io
import operator
import os
import re
from contextlib import AbstractContextManager, nullcontext
from itertools import accumulate, count
from typing import IO, Protocol

import ijson

from utils.errors import JSONParseError


class _TooDeep(Exception):
    def __init__(self, offset: int):
        super().__init__(offset)
        self.offset = offset


class _BadStreamBytes(Exception):
    def __init__(self, offset: int, reason: str):
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


# ijson's C backend raises UnicodeDecodeError for a \u escape that is a lone
# surrogate; the Python json module accepts those.
STREAM_ERRORS = (ijson.JSONError, UnicodeDecodeError, _TooDeep, _BadStreamBytes)


class AsyncBinaryFile(Protocol):
    async def read(self, size: int = -1, /) -> bytes: ...


# -- depth -------------------------------------------------------------------

# Bytes that can change nesting depth or whether we are inside a string.
_STRUCTURAL = b'[]{}"'
_NOT_STRUCTURAL = bytes(b for b in range(256) if b not in _STRUCTURAL)
# Openers count as +1 and closers as -1 once 1 is subtracted from each step.
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_SPECIAL = re.compile(rb'[\[\]{}"\\]')
_OPENERS = frozenset(b"[{")
_CLOSERS = frozenset(b"]}")


class DepthGauge:
    """Tracks nesting depth over UTF-8 chunks without decoding them.

    The fast path stays in C: escaped quotes are removed with bytes.replace,
    everything but brackets and quotes is deleted with bytes.translate, and
    the parts between quotes are dropped. Only a chunk whose skeleton might
    cross the limit is walked byte by byte, to find where.
    """

    __slots__ = ("depth", "escape_pending", "in_string", "max_depth")

    def __init__(self, max_depth: int):
        self.max_depth = max_depth
        self.depth = 0
        self.in_string = False
        self.escape_pending = False

    def feed(self, chunk: bytes) -> int | None:
        """Consume ``chunk``; return the offset in it where the limit breaks."""
        start = (self.depth, self.in_string, self.escape_pending)
        body = chunk[1:] if self.escape_pending else chunk
        self.escape_pending = False
        if b"\\" in body:
            # Outside strings a backslash is already invalid JSON, so pairing
            # them blindly only matters inside strings, where it is right.
            body = body.replace(b"\\\\", b"")
            if body.endswith(b"\\"):
                self.escape_pending = True
                body = body[:-1]
            body = body.replace(b'\\"', b"")

        skeleton = body.translate(None, _NOT_STRUCTURAL)
        if self.in_string:
            skeleton = b'"' + skeleton
        # Dropping an adjacent pair of quotes never changes which of the
        # other bytes are inside a string, and it removes most strings.
        skeleton = skeleton.replace(b'""', b"")
        if b'"' in skeleton:
            parts = skeleton.split(b'"')
            self.in_string = len(parts) % 2 == 0
            skeleton = b"".join(parts[::2])
        else:
            self.in_string = False

        openers = skeleton.count(b"[") + skeleton.count(b"{")
        room = self.max_depth - self.depth
        if openers > room and not _fits(skeleton, room):
            too_deep_at = _walk(chunk, *start, self.max_depth)
            if too_deep_at is not None:
                return too_deep_at

        self.depth += 2 * openers - len(skeleton)
        return None


def _fits(skeleton: bytes, room: int) -> bool:
    """Whether a bracket-only skeleton stays within ``room`` levels."""
    # Each pass removes every innermost pair, so what survives k passes nests
    # more than k deep; k plus the openers left bounds the peak from above.
    rest = skeleton
    passes = 0
    while passes < 64:
        shorter = rest.replace(b"[]", b"").replace(b"{}", b"")
        if len(shorter) == len(rest):
            break
        rest = shorter
        passes += 1
    if passes + rest.count(b"[") + rest.count(b"{") <= room:
        return True

    depths = map(operator.sub, accumulate(skeleton.translate(_STEPS)), count(1))
    return max(depths, default=0) <= room


def _walk(
    chunk: bytes, depth: int, in_string: bool, escape: bool, max_depth: int
) -> int | None:
    """Find where depth first exceeds ``max_depth``, one byte at a time."""
    skip = 0 if escape else -1
    for match in _SPECIAL.finditer(chunk):
        at = match.start()
        byte = chunk[at]
        if at == skip:
            continue
        if in_string:
            if byte == 0x5C:
                skip = at + 1
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in _OPENERS:
            depth += 1
            if depth > max_depth:
                return at
        elif byte in _CLOSERS:
            depth -= 1
    return None


# -- streaming ---------------------------------------------------------------


class _StreamGauge:
    """Checks a byte stream as it passes: strict UTF-8 and nesting depth."""

    __slots__ = ("_decoder", "_depth", "consumed", "max_depth", "started")

    def __init__(self, max_depth: int):
        self.max_depth = max_depth
        self._depth = DepthGauge(max_depth)
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.consumed = 0
        self.started = False

    def check(self, chunk: bytes) -> bytes:
        if not chunk:
            self._finish()
            return chunk
        if not self.started:
            self.started = True
            if chunk.startswith(codecs.BOM_UTF8):
                self.consumed += len(codecs.BOM_UTF8)
                chunk = chunk[len(codecs.BOM_UTF8) :]

        pending = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            # exc.start counts from the undecoded tail of the last chunk.
            offset = self.consumed - pending + exc.start
            reason = f"invalid UTF-8 at byte offset {offset} ({exc.reason})"
            raise _BadStreamBytes(offset, reason) from None
        too_deep_at = self._depth.feed(chunk)
        if too_deep_at is not None:
            raise _TooDeep(self.consumed + too_deep_at)

        self.consumed += len(chunk)
        return chunk

    def _finish(self) -> None:
        try:
            self._decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            offset = self.consumed - len(exc.object) + exc.start
            reason = f"truncated UTF-8 sequence at byte offset {offset}"
            raise _BadStreamBytes(offset, reason) from None


class GaugedReader:
    def __init__(self, stream: IO[bytes], max_depth: int):
        self._stream = stream
        self.gauge = _StreamGauge(max_depth)

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        if size == 0:
            return chunk
        return self.gauge.check(chunk)


class AsyncGaugedReader:
    def __init__(self, stream: AsyncBinaryFile, max_depth: int):
        self._stream = stream
        self.gauge = _StreamGauge(max_depth)

    async def read(self, size: int = -1) -> bytes:
        chunk = await self._stream.read(size)
        if size == 0:
            return chunk
        return self.gauge.check(chunk)


class AsyncBytes:
    def __init__(self, data: bytes):
        self._buffer = io.BytesIO(data)

    async def read(self, size: int = -1) -> bytes:
        return self._buffer.read(size)


def open_binary(
    source: str | os.PathLike[str] | bytes | IO[bytes],
) -> AbstractContextManager[IO[bytes]]:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if isinstance(source, str | os.PathLike):
        return open(source, "rb")
    return nullcontext(source)


def stream_error(exc: Exception, index: int, gauge: _StreamGauge) -> JSONParseError:
    where = f"after {index} item{'' if index == 1 else 's'}"
    if isinstance(exc, _TooDeep):
        reason = (
            f"nesting deeper than max_depth={gauge.max_depth} {where}, "
            f"at byte offset {exc.offset}"
        )
        return JSONParseError(reason, line=0, column=0, offset=exc.offset)
    if isinstance(exc, _BadStreamBytes):
        return JSONParseError(
            f"{exc.reason} {where}", line=0, column=0, offset=exc.offset
        )

    if isinstance(exc, UnicodeDecodeError):
        offset = gauge.consumed
        reason = f"string holds a lone surrogate escape {where}, by byte {offset}"
        return JSONParseError(reason, line=0, column=0, offset=offset)

    # The C backend reports no position; the Python one ends with "at N".
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else "bad JSON"
    found = re.search(r" at (\d+)$", message)
    offset = int(found.group(1)) if found else gauge.consumed
    reason = f"malformed JSON {where}, by byte {offset}: {message}"
    return JSONParseError(reason, line=0, column=0, offset=offset)
