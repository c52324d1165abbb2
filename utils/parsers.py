"""Safe and streaming JSON.

:func:`parse_json` wraps :func:`json.loads` with limits on size and nesting,
strict UTF-8, a policy for duplicate keys, and optional schema validation.
Whatever the input, it either returns a value or raises
:class:`~utils.errors.JSONParseError` (or
:class:`~utils.errors.SchemaValidationError` when a schema is given).

>>> parse_json('{"name": "ada", "tags": ["x", "y"]}')
{'name': 'ada', 'tags': ['x', 'y']}
>>> parse_json(b'[1, 2.5, null]')
[1, 2.5, None]
>>> try:
...     parse_json('{"a": 1,\\n "b": }')
... except JSONParseError as exc:
...     print(exc)
Expecting value (line 2, column 7)
   "b": }
        ^
>>> parse_json('{"a": 1, "a": 2}', duplicate_keys="last")
{'a': 2}
>>> parse_json('{"price": 19.99, "qty": 3}', decimal=True)
{'price': Decimal('19.99'), 'qty': 3}
>>> parse_json("[" * 100_000)
Traceback (most recent call last):
    ...
utils.errors.JSONParseError: nesting deeper than max_depth=512 (line 1, column 513)
>>> parse_json('{"n": 3}', schema={"properties": {"n": {"maximum": 2}}})
Traceback (most recent call last):
    ...
utils.errors.SchemaValidationError: 1 schema violation:
  /n: 3 is greater than the maximum of 2

:func:`iter_json_items` and :func:`aiter_json_items` stream the items under
a prefix through ijson, so a large array never sits in memory at once:

>>> list(iter_json_items(b'[{"id": 1}, {"id": 2}]'))
[{'id': 1}, {'id': 2}]
>>> list(iter_json_items(b'{"rows": [1, 2, 3]}', "rows.item"))
[1, 2, 3]
"""

from __future__ import annotations

import codecs
import decimal as _decimal
import gc
import io
import json
import operator
import os
import re
import sys
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from itertools import accumulate, count
from typing import IO, Any, Protocol

import attrs
import ijson
import jsonschema  # type: ignore[import-untyped]
import pydantic
import regex  # type: ignore[import-untyped]
from jsonschema_specifications import (  # type: ignore[import-untyped]
    REGISTRY as _META_SCHEMAS,
)
from referencing import Registry
from referencing.exceptions import Unresolvable

from utils.errors import JSONParseError, SchemaValidationError, SchemaViolation

__all__ = ["aiter_json_items", "iter_json_items", "parse_json"]

_DUPLICATE_POLICIES = ("error", "first", "last")

# Bytes that can change nesting depth or whether we are inside a string.
_STRUCTURAL = b'[]{}"'
_NOT_STRUCTURAL = bytes(b for b in range(256) if b not in _STRUCTURAL)
# Openers count as +1 and closers as -1 once 1 is subtracted from each step.
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_SPECIAL = re.compile(rb'[\[\]{}"\\]')
_OPENERS = frozenset(b"[{")
_CLOSERS = frozenset(b"]}")

# Tokens that matter when we go back to find where a hook failed. Strings
# come first so that a key or a "NaN" inside a string is never mistaken for
# structure.
_TOKEN = re.compile(
    r'(?P<string>"(?:[^"\\]|\\.)*")'
    r"|(?P<constant>-?Infinity|NaN)"
    r"|(?P<punct>[{}\[\]:,])",
    re.DOTALL,
)

# Longest line shown under an error; the caret needs the line from its start.
_SNIPPET_LIMIT = 160

# First bytes of the UTF-8, UTF-16 and UTF-32 byte order marks.
_MAYBE_BOM = (b"\xef", b"\xfe", b"\xff", b"\x00")


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


class _ForbiddenConstant(Exception):
    pass


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
_STREAM_ERRORS = (ijson.JSONError, UnicodeDecodeError, _TooDeep, _BadStreamBytes)


def parse_json(
    data: str | bytes,
    *,
    max_depth: int = 512,
    max_bytes: int | None = 64 * 1024 * 1024,
    duplicate_keys: str = "error",
    allow_nan: bool = False,
    decimal: bool = False,
    schema: object | None = None,
    registry: Registry[Any] | None = None,
) -> Any:
    """Parse one JSON document, refusing anything malformed or oversized.

    Byte input must be UTF-8 (RFC 8259 section 8.1); a leading UTF-8 byte
    order mark is skipped, as that section allows. A ``str`` that starts with
    U+FEFF is refused: the BOM belongs to an encoding, not to decoded text.
    Numbers too large for a float become ``inf``, as in :mod:`json`, unless
    ``decimal`` is set.

    Args:
        data: the document, as text or UTF-8 bytes.
        max_depth: deepest allowed nesting of arrays and objects.
        max_bytes: largest document allowed, in UTF-8 bytes; ``None`` for
            no limit.
        duplicate_keys: ``"error"`` to refuse an object that repeats a key,
            ``"first"`` or ``"last"`` to keep that occurrence's value.
        allow_nan: accept the non-standard ``NaN``, ``Infinity`` and
            ``-Infinity``.
        decimal: read numbers with a fraction or exponent as
            :class:`decimal.Decimal`, exactly as written (and the constants,
            with ``allow_nan``). Integers stay ``int``, which is already
            exact and what schemas expect of ``"type": "integer"``.
        schema: ``None``; a pydantic model or any type ``TypeAdapter``
            accepts (the validated object is returned); or a JSON Schema as a
            ``dict`` (the parsed value is returned once it conforms). The
            draft comes from ``$schema``, 2020-12 when absent. Patterns are
            matched by the :mod:`regex` package, so Unicode classes such as
            ``\\p{Letter}`` work. A ``$schema`` naming a metaschema whose
            ``$vocabulary`` leaves out the validation vocabulary turns off
            that vocabulary's keywords (``type``, ``minimum``, ``required``
            and the rest). Validators are cached, so a schema used again
            costs little.
        registry: JSON Schema resources that ``$ref`` (or ``$schema``) may
            point to. Remote references are never fetched.

    Returns:
        The parsed value, or the validated object for a pydantic schema.

    Raises:
        JSONParseError: the input is not well-formed JSON or breaks a limit.
            Offsets count bytes for byte input and characters for text.
        SchemaValidationError: the document breaks ``schema``.
        ValueError: an unknown ``duplicate_keys`` policy, a negative limit, or
            a JSON Schema that is itself invalid.
    """
    if max_depth < 0:
        raise ValueError(f"max_depth must be >= 0, not {max_depth}")

    # Text and BOM-free UTF-8 skip _Source, which is built only to report an
    # error and checks the rest (type, BOM, bad UTF-8). Text that starts with
    # a BOM always fails to parse, and _Source names the BOM then.
    if type(data) is str:
        text = data
    elif type(data) is bytes and data[:1] not in _MAYBE_BOM:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _Source.of(data).text
    else:
        text = _Source.of(data).text

    # A code point takes at most 4 bytes in UTF-8, so most text needs no
    # encoding to pass the size check.
    if max_bytes is not None and len(text) * 4 > max_bytes:
        size = _Source.of(data).size()
        if size > max_bytes:
            raise JSONParseError(
                f"document is {size} bytes, above max_bytes={max_bytes}",
                line=1,
                column=1,
                offset=0,
            )

    # Above a few hundred bytes, the document is parsed with no hook and
    # then measured by _census, which also finds lost duplicate keys. Below,
    # a hook per object costs less than the census, and str.count tells
    # cheaply whether nesting could be too deep (it never exceeds the number
    # of openers).
    census = len(text) > _CENSUS_FROM and _CENSUS_WORKS
    decoders = _DECODERS if census else _HOOKED_DECODERS
    decoder = decoders.get((duplicate_keys, allow_nan, decimal))
    if decoder is None:
        if duplicate_keys not in _DUPLICATE_POLICIES:
            raise ValueError(
                f"duplicate_keys must be one of {_DUPLICATE_POLICIES}, "
                f"not {duplicate_keys!r}"
            )
        decoder = decoders[duplicate_keys, bool(allow_nan), bool(decimal)]
    if not census and len(text) > max_depth and _might_be_deep(text, max_depth):
        _check_depth(data, text, max_depth)

    try:
        value = decoder.decode(text)
        if census:
            # Only the "error" policy needs to know whether keys were lost.
            lost, depth = _census(value, text if duplicate_keys == "error" else None)
            # The census may see one level less than there is.
            if depth >= max_depth:
                _check_depth(data, text, max_depth)
            if lost:
                # Parse again with the hook that raises, to name the key.
                hooked = _HOOKED_DECODERS["error", bool(allow_nan), bool(decimal)]
                value = hooked.decode(text)
    except json.JSONDecodeError as exc:
        # Too deep is the first thing wrong with a document, wherever the
        # syntax breaks.
        if _might_be_deep(text, max_depth):
            _check_depth(data, text, max_depth)
        raise _Source.of(data).error(exc.msg, exc.pos) from None
    except _DuplicateKey as exc:
        key, index = _find_duplicate_key(text, exc.key)
        raise _Source.of(data).error(f"duplicate key {key!r}", index) from None
    except _ForbiddenConstant as exc:
        index = _find_token(text, "constant")
        reason = f"{exc} is not valid JSON (pass allow_nan=True to accept it)"
        raise _Source.of(data).error(reason, index) from None
    except RecursionError:
        if _might_be_deep(text, max_depth):
            _check_depth(data, text, max_depth)
        # Only reachable when max_depth is above what the interpreter's own
        # recursion limit lets the json scanner descend.
        reason = f"nesting too deep for this interpreter (max_depth={max_depth})"
        raise _Source.of(data).error(reason, 0) from None
    except JSONParseError:
        # From _check_depth: a ValueError, but not one to re-word below.
        raise
    except _decimal.InvalidOperation:
        # Decimal's exponent range is huge but finite (about 10**18).
        found = re.search(r"[eE][-+]?\d{18,}", text)
        reason = "number exponent out of range for decimal.Decimal"
        raise _Source.of(data).error(reason, found.start() if found else 0) from None
    except ValueError:
        # int() refuses integers longer than sys.get_int_max_str_digits().
        limit = sys.get_int_max_str_digits()
        reason = f"integer with more than {limit} digits"
        raise _Source.of(data).error(reason, _find_long_number(text)) from None

    if schema is None:
        return value
    return _validate(value, schema, registry)


def iter_json_items(
    source: str | os.PathLike[str] | bytes | IO[bytes],
    prefix: str = "item",
    *,
    schema: object | None = None,
    max_depth: int = 512,
    registry: Registry[Any] | None = None,
) -> Iterator[Any]:
    """Yield the values under ``prefix`` one at a time, without loading all.

    ``prefix`` uses ijson's notation: ``"item"`` is each element of a
    top-level array, ``"rows.item"`` each element of the array under key
    ``rows``. Floats come back as ``float``, not ``Decimal``.

    Args:
        source: a path, a binary file object (left open), or bytes.
        prefix: which values to yield.
        schema: validate each item as :func:`parse_json` does. Pointers in a
            :class:`SchemaValidationError` start with the item's index.
        max_depth: deepest allowed nesting, checked as bytes arrive.
        registry: JSON Schema resources for ``$ref``.

    Raises:
        JSONParseError: malformed input. The reason says how many items
            were yielded before the failure; ijson parses a whole buffer
            before yielding, so the bad bytes may lie a few items further.
            Line and column are 0 when the backend cannot say where in the
            stream it failed, and ``offset`` is then the number of bytes
            read so far.
        SchemaValidationError: an item breaks ``schema``.
    """
    with _open_binary(source) as stream:
        reader = _GaugedReader(stream, max_depth)
        index = 0
        try:
            for item in ijson.items(reader, prefix, use_float=True):
                yield _validate_item(item, index, schema, registry)
                index += 1
        except _STREAM_ERRORS as exc:
            raise _stream_error(exc, index, reader.gauge) from None


async def aiter_json_items(
    source: str | os.PathLike[str] | bytes | _AsyncBinaryFile,
    prefix: str = "item",
    *,
    schema: object | None = None,
    max_depth: int = 512,
    registry: Registry[Any] | None = None,
) -> AsyncIterator[Any]:
    """Like :func:`iter_json_items`, for an async binary file or a path.

    A path is opened with aiofiles; an async file object (anything with an
    awaitable ``read``) is read as given and left open.
    """
    if isinstance(source, bytes):
        async for item in _aiter_from(
            _AsyncBytes(source), prefix, schema, max_depth, registry
        ):
            yield item
    elif isinstance(source, str | os.PathLike):
        import aiofiles

        async with aiofiles.open(source, "rb") as stream:
            async for item in _aiter_from(stream, prefix, schema, max_depth, registry):
                yield item
    else:
        async for item in _aiter_from(source, prefix, schema, max_depth, registry):
            yield item


class _AsyncBinaryFile(Protocol):
    async def read(self, size: int = -1, /) -> bytes: ...


async def _aiter_from(
    stream: _AsyncBinaryFile,
    prefix: str,
    schema: object | None,
    max_depth: int,
    registry: Registry[Any] | None,
) -> AsyncIterator[Any]:
    reader = _AsyncGaugedReader(stream, max_depth)
    index = 0
    try:
        async for item in ijson.items_async(reader, prefix, use_float=True):
            yield _validate_item(item, index, schema, registry)
            index += 1
    except _STREAM_ERRORS as exc:
        raise _stream_error(exc, index, reader.gauge) from None


# -- decoding and positions --------------------------------------------------


class _Source:
    """The decoded text of a document and how to map positions back to it."""

    __slots__ = ("_utf8", "bom", "is_bytes", "text")

    def __init__(self, text: str, utf8: bytes | None, bom: int, is_bytes: bool):
        self.text = text
        self._utf8 = utf8
        self.bom = bom
        self.is_bytes = is_bytes

    @classmethod
    def of(cls, data: str | bytes) -> _Source:
        if isinstance(data, str):
            if data.startswith("\ufeff"):
                reason = "text starts with a BOM (U+FEFF); decode it away first"
                raise JSONParseError(reason, line=1, column=1, offset=0)
            return cls(data, None, 0, is_bytes=False)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"expected str or bytes, not {type(data).__name__}")

        raw = bytes(data)
        bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            reason = "input starts with a UTF-16 byte order mark; JSON must be UTF-8"
            raise JSONParseError(reason, line=1, column=1, offset=0)

        body = raw[bom:] if bom else raw
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _utf8_error(body, exc, bom) from None
        return cls(text, body, bom, is_bytes=True)

    def size(self) -> int:
        # isascii() is O(1) on CPython, so only non-ASCII text is encoded.
        if self._utf8 is not None:
            return len(self._utf8) + self.bom
        if self.text.isascii():
            return len(self.text)
        return len(self.utf8())

    def utf8(self) -> bytes:
        if self._utf8 is None:
            self._utf8 = self.text.encode("utf-8", "surrogatepass")
        return self._utf8

    def error(self, reason: str, index: int) -> JSONParseError:
        """A JSONParseError at character ``index`` of the text."""
        text = self.text
        line_start = text.rfind("\n", 0, index) + 1
        line_end = text.find("\n", index)
        line = text.count("\n", 0, index) + 1
        column = index - line_start + 1
        offset = index
        if self.is_bytes:
            offset = len(text[:index].encode("utf-8", "surrogatepass")) + self.bom
        snippet = _snippet(text[line_start : len(text) if line_end < 0 else line_end])
        return JSONParseError(
            reason,
            line=line,
            column=column,
            offset=offset,
            snippet=snippet if column <= _SNIPPET_LIMIT else "",
        )


def _snippet(line: str) -> str:
    # A tab would shift the caret, so it is shown as one space.
    return line[:_SNIPPET_LIMIT].replace("\t", " ").rstrip("\r")


def _utf8_error(body: bytes, exc: UnicodeDecodeError, bom: int) -> JSONParseError:
    # Everything before exc.start decoded cleanly, so it decodes again here.
    before = body[: exc.start].decode("utf-8")
    line_start = before.rfind("\n") + 1
    line_end = body.find(b"\n", exc.start)
    rest = body[exc.start : len(body) if line_end < 0 else line_end]
    offset = exc.start + bom
    return JSONParseError(
        f"invalid UTF-8: byte 0x{body[exc.start]:02x} at byte offset {offset} "
        f"({exc.reason})",
        line=before.count("\n") + 1,
        column=len(before) - line_start + 1,
        offset=offset,
        snippet=_snippet(before[line_start:] + rest.decode("utf-8", "replace")),
    )


# -- depth -------------------------------------------------------------------


class _DepthGauge:
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


# -- hooks and locating their failures ---------------------------------------


def _refuse_constant(name: str) -> Any:
    raise _ForbiddenConstant(name)


def _pairs_refusing_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _pairs_keeping_first(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    result = {}
    for key, value in pairs:
        result.setdefault(key, value)
    return result


# json keeps the last value by itself, and is fastest with no hook. The
# "error" policy parses with no hook too and looks for lost keys afterwards;
# "check" is the slow path that names the repeated key.
_PAIR_HOOKS: dict[str, Callable[[list[tuple[str, Any]]], dict[str, Any]] | None] = {
    "check": _pairs_refusing_duplicates,
    "error": None,
    "first": _pairs_keeping_first,
    "last": None,
}


def _decoder(policy: str, allow_nan: bool, decimal: bool) -> json.JSONDecoder:
    constant: Callable[[str], Any] | None
    if allow_nan:
        constant = _decimal.Decimal if decimal else None
    else:
        constant = _refuse_constant
    return json.JSONDecoder(
        object_pairs_hook=_PAIR_HOOKS[policy],
        parse_float=_decimal.Decimal if decimal else None,
        parse_constant=constant,
    )


def _census(value: Any, text: str | None) -> tuple[bool, int]:
    """Whether ``value`` lost keys to repeats, and its nesting.

    Outside strings, each colon of a well-formed document separates one key
    from its value, so the document repeats a key if and only if it has more
    such colons than the parsed objects hold keys.

    The walk goes one nesting level at a time so that the per-value work
    runs in C: ``gc.get_referents`` lists the values of every dict and the
    items of every list at a level, and nothing for a scalar. Sorting out
    which values are dicts costs more than anything else here, so it stops
    as soon as the keys add up to the colons, or every object the text opens
    has been seen: only ``gc.get_referents`` is left, for the depth.

    Args:
        value: the parsed document.
        text: the document, or ``None`` when lost keys need not be looked
            for.

    Returns:
        Whether keys were lost, and the number of levels below the top that
        hold values; the nesting depth is that number or one more.
    """
    # Upper bounds: colons and braces inside strings count too.
    skeleton = _skeleton(text) if text is not None else b""
    colons = skeleton.count(b":")
    braces = skeleton.count(b"{")
    keys = 0
    objects = 0
    depth = 0
    level: list[Any] = [value]
    while True:
        below = gc.get_referents(*level)
        if not below:
            break
        depth += 1
        if keys < colons and objects < braces:
            # Measured faster than filter or map(type) on mixed levels.
            found = [item for item in level if type(item) is dict]
            # At a level of dicts only, their keys are everything below.
            keys += len(below) if len(found) == len(level) else sum(map(len, found))
            objects += len(found)
        level = below
    if keys == colons or text is None:
        return False, depth
    if "\\" in text:
        skeleton = _skeleton(text, unescape=True)
    return _colons_outside_strings(skeleton) != keys, depth


def _skeleton(text: str, *, unescape: bool = False) -> bytes:
    """The quotes, colons and opening braces of ``text``, as UTF-8.

    No escape sequence holds a colon or a brace, so they all count either
    way. With ``unescape``, escaped quotes are left out, so that every quote
    delimits a string; that costs two more passes when the text holds any
    backslash (``ensure_ascii`` output is full of them).
    """
    blob = text.encode("utf-8", "surrogatepass")
    if unescape and b"\\" in blob:
        # Backslashes occur only inside strings of well-formed JSON, so
        # escaped backslashes and then escaped quotes can go blindly.
        blob = blob.replace(b"\\\\", b"").replace(b'\\"', b"")
    return blob.translate(None, _NOT_SKELETON)


_NOT_SKELETON = bytes(b for b in range(256) if b not in b'":{')


def _colons_outside_strings(skeleton: bytes) -> int:
    """How many colons of an unescaped :func:`_skeleton` lie outside strings."""
    # One bit per quote or colon, the first one highest. The prefix XOR of
    # the quote bits, done on the whole integer with log2(n) shifts, is 1
    # wherever an odd number of quotes came before: inside a string. This
    # stays in C however many strings hold colons.
    bits = skeleton.translate(_QUOTE_BITS, b"{")
    quotes = int(bits, 2) if bits else 0
    inside = quotes
    shift = 1
    while shift < len(bits):
        inside ^= inside >> shift
        shift <<= 1
    return len(bits) - (quotes | inside).bit_count()


_QUOTE_BITS = bytes.maketrans(b'":', b"10")


# The census relies on gc.get_referents reaching every value and item, and
# only the values of a dict, as in CPython; where it does not, only hooked
# decoders are used.
_CENSUS_WORKS = all(
    _census(json.loads(text), text) == expected
    for text, expected in (
        ('{"a": [1, {"b": "c"}], "d": {}}', (False, 3)),
        ('{"a": {}, "a": 1}', (True, 1)),
    )
)
# Measured on CPython 3.11: the census beats a hook per object from about
# this many characters of typical records up.
_CENSUS_FROM = 512

# json.loads with keyword arguments builds a decoder on every call, which
# costs as much as parsing a small document; these are built once, keyed by
# (duplicate_keys, allow_nan, decimal). The hooked ones check every object as
# it is built: for documents too small for the census to pay off, and
# wherever the census does not work.
_HOOKED_DECODERS = {
    (policy, allow_nan, decimal): _decoder(
        "check" if policy == "error" else policy, allow_nan, decimal
    )
    for policy in _DUPLICATE_POLICIES
    for allow_nan in (False, True)
    for decimal in (False, True)
}
_DECODERS = {
    key: _decoder(*key) if _CENSUS_WORKS else decoder
    for key, decoder in _HOOKED_DECODERS.items()
}


def _might_be_deep(text: str, max_depth: int) -> bool:
    return len(text) > max_depth and text.count("[") + text.count("{") > max_depth


def _check_depth(data: str | bytes, text: str, max_depth: int) -> None:
    """Raise JSONParseError where nesting first exceeds ``max_depth``."""
    blob = text.encode("utf-8", "surrogatepass")
    too_deep_at = _DepthGauge(max_depth).feed(blob)
    if too_deep_at is not None:
        index = len(blob[:too_deep_at].decode("utf-8", "surrogatepass"))
        reason = f"nesting deeper than max_depth={max_depth}"
        raise _Source.of(data).error(reason, index)


def _find_duplicate_key(text: str, fallback: str) -> tuple[str, int]:
    """The first repeated key in document order, and its index."""
    # Each open container: (key set for an object or None, expecting a key).
    stack: list[tuple[set[str] | None, bool]] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if match.lastgroup == "string":
            if stack and stack[-1][0] is not None and stack[-1][1]:
                keys = stack[-1][0]
                key = json.loads(token)
                if key in keys:
                    return key, match.start()
                keys.add(key)
                stack[-1] = (keys, False)
        elif token == "{":
            stack.append((set(), True))
        elif token == "[":
            stack.append((None, False))
        elif token in "]}" and stack:
            stack.pop()
        elif token == "," and stack and stack[-1][0] is not None:
            stack[-1] = (stack[-1][0], True)
    return fallback, 0


def _find_token(text: str, kind: str) -> int:
    for match in _TOKEN.finditer(text):
        if match.lastgroup == kind:
            return match.start()
    return 0


def _find_long_number(text: str) -> int:
    limit = sys.get_int_max_str_digits()
    match = re.search(rf"\d{{{limit + 1},}}", text) if limit else None
    return match.start() if match else 0


# -- schemas -----------------------------------------------------------------


def _validate(value: Any, schema: object, registry: Registry[Any] | None) -> Any:
    if isinstance(schema, Mapping | bool):
        _validate_json_schema(value, schema, registry)
        return value
    try:
        if isinstance(schema, type) and issubclass(schema, pydantic.BaseModel):
            return schema.model_validate(value)
        return _adapter(schema).validate_python(value)
    except pydantic.ValidationError as exc:
        violations = [
            SchemaViolation(_pointer(error["loc"]), error["msg"])
            for error in exc.errors()
        ]
        raise SchemaValidationError(violations) from None


def _adapter(schema: object) -> pydantic.TypeAdapter[Any]:
    try:
        return _cached_adapter(schema)
    except TypeError:
        # Unhashable annotations (a list inside Annotated, say) skip the cache.
        return pydantic.TypeAdapter(schema)


@lru_cache(maxsize=128)
def _cached_adapter(schema: object) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(schema)


def _validate_json_schema(
    value: Any, schema: Mapping[str, Any] | bool, registry: Registry[Any] | None
) -> None:
    validator = _json_schema_validator(schema, registry)
    try:
        errors = list(validator.iter_errors(value))
    except Unresolvable as exc:
        raise ValueError(
            f"cannot resolve {exc}; remote references are never fetched, "
            "pass them in registry="
        ) from None
    except regex.error as exc:
        # A pattern the metaschema check never saw: one in a registry resource.
        raise ValueError(f"invalid JSON Schema: bad pattern ({exc})") from None
    except re.error as exc:
        # jsonschema still matches patternProperties with re when it works out
        # which properties unevaluatedProperties covers.
        raise ValueError(
            f"unevaluatedProperties cannot use the pattern {exc.pattern!r}: "
            f"jsonschema matches it with Python's re ({exc.msg})"
        ) from None

    if errors:
        errors.sort(key=lambda error: _document_order(value, error.absolute_path))
        violations = [
            SchemaViolation(_pointer(error.absolute_path), error.message)
            for error in errors
        ]
        raise SchemaValidationError(violations)


def _json_schema_validator(
    schema: Mapping[str, Any] | bool, registry: Registry[Any] | None
) -> Any:
    """A checked validator for ``schema``, built once per schema and registry.

    The class is jsonschema's for the schema's draft, with patterns compiled
    by ``regex``, and without the validation keywords when the metaschema's
    ``$vocabulary`` leaves them out. Checking a schema against its metaschema
    costs far more than most validations, so validators are kept by the
    schema's JSON text (a schema mutated after use is seen as a new one) and
    the registry's identity.
    """
    try:
        key = (json.dumps(schema), id(registry))
    except (TypeError, ValueError):
        key = None
    if key is not None:
        cached = _VALIDATORS.get(key)
        if cached is not None and cached[0] is registry:
            _VALIDATORS.move_to_end(key)
            return cached[1]

    draft = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft202012Validator
    )
    cls = _with_regex_patterns(draft)
    try:
        cls.check_schema(schema, format_checker=_regex_format_checker(draft))
    except jsonschema.SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from None

    # A registry of our own replaces jsonschema's default, which would fetch
    # unknown http(s) references; the metaschemas stay resolvable.
    resources: Registry[Any] = (registry or Registry()).combine(_META_SCHEMAS)
    if not _uses_validation_vocabulary(schema, resources):
        cls = _without_validation_vocabulary(cls)
    validator = cls(schema, registry=resources)
    if key is not None:
        # The registry is kept with its validator so that its id is not
        # reused by another registry while the entry lives.
        _VALIDATORS[key] = (registry, validator)
        if len(_VALIDATORS) > _VALIDATORS_KEPT:
            _VALIDATORS.popitem(last=False)
    return validator


_VALIDATORS: OrderedDict[tuple[str, int], tuple[Registry[Any] | None, Any]] = (
    OrderedDict()
)
_VALIDATORS_KEPT = 256


# JSON Schema patterns are ECMA-262 regular expressions, which know Unicode
# property escapes such as \p{Letter}; Python's re does not, the regex package
# does. jsonschema uses re for these keywords and for the "regex" format, so
# they are replaced in a class that jsonschema.validators.extend makes once
# per draft. It is never registered: jsonschema's own classes stay as they
# are for other callers.


# A schema's few patterns are matched against many strings; compiling costs
# more than most searches.
@lru_cache(maxsize=512)
def _compiled(pattern: str) -> Any:
    return regex.compile(pattern)


def _pattern(
    validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    if not validator.is_type(instance, "string"):
        return
    if not _compiled(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any,
    patterns: Mapping[str, Any],
    instance: Any,
    schema: Mapping[str, Any],
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        matches = _compiled(pattern).search
        for name, item in instance.items():
            if matches(name):
                yield from validator.descend(
                    item, subschema, path=name, schema_path=pattern
                )


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    named = schema.get("properties", {})
    patterns = [_compiled(pattern) for pattern in schema.get("patternProperties", {})]
    extras = [
        name
        for name in instance
        if name not in named and not any(p.search(name) for p in patterns)
    ]
    if validator.is_type(additional, "object"):
        for name in extras:
            yield from validator.descend(instance[name], additional, path=name)
    elif additional is False and extras:
        # The wording of jsonschema's own messages, which callers may know.
        listed = ", ".join(map(repr, sorted(extras)))
        one = len(extras) == 1
        if patterns:
            regexes = ", ".join(map(repr, sorted(schema["patternProperties"])))
            verb = "does" if one else "do"
            message = f"{listed} {verb} not match any of the regexes: {regexes}"
        else:
            verb = "was" if one else "were"
            message = (
                f"Additional properties are not allowed ({listed} {verb} unexpected)"
            )
        yield jsonschema.ValidationError(message)


_REGEX_KEYWORDS = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
}


@lru_cache(maxsize=32)
def _with_regex_patterns(draft: Any) -> Any:
    """``draft``'s validator class, with patterns compiled by ``regex``."""
    keywords = {k: v for k, v in _REGEX_KEYWORDS.items() if k in draft.VALIDATORS}
    cls = jsonschema.validators.extend(draft, keywords)
    cls.evolve = _evolve
    return cls


def _evolve(self: Any, **changes: Any) -> Any:
    """A validator for a subschema: ``evolve`` as jsonschema defines it.

    jsonschema's own picks the class registered for a subschema's
    ``$schema`` (a resource from the registry often names one), which would
    bring back re; this picks that draft's class from _with_regex_patterns.
    """
    schema = changes.setdefault("schema", self.schema)
    cls: Any = type(self)
    draft = jsonschema.validators.validator_for(schema, default=cls)
    for name, alias in _init_fields(cls):
        changes.setdefault(alias, getattr(self, name))
    return (cls if draft is cls else _with_regex_patterns(draft))(**changes)


@lru_cache(maxsize=32)
def _init_fields(cls: Any) -> tuple[tuple[str, str], ...]:
    # Validator classes are attrs classes; evolve runs once per subschema.
    return tuple((f.name, f.alias) for f in attrs.fields(cls) if f.init)


def _is_regex(instance: object) -> bool:
    return not isinstance(instance, str) or bool(_compiled(instance))


@lru_cache(maxsize=32)
def _regex_format_checker(draft: Any) -> Any:
    """The format checker that checks a ``draft`` schema, "regex" by ``regex``.

    ``check_schema`` validates against the metaschema with the class that
    jsonschema registered for it, so the checker is what can be swapped.
    """
    meta = jsonschema.validators.validator_for(draft.META_SCHEMA, default=draft)
    checker = jsonschema.FormatChecker(())
    checker.checkers.update(meta.FORMAT_CHECKER.checkers)
    checker.checks("regex", raises=regex.error)(_is_regex)
    return checker


# JSON Schema 2020-12 core, section 8.1.2: a metaschema's "$vocabulary" lists
# the vocabularies its schemas use, and a listed one that is understood is
# used whether it maps to true or false (the boolean only says what to do
# with a vocabulary the implementation does not know). With no "$vocabulary",
# a validator SHOULD assume them all. So only a metaschema whose
# "$vocabulary" leaves out the validation vocabulary turns its keywords off.
# Draft 2019-09 named the same vocabulary with its own URI.
_VALIDATION_VOCABULARIES = (
    "https://json-schema.org/draft/2020-12/vocab/validation",
    "https://json-schema.org/draft/2019-09/vocab/validation",
)
# The keywords of that vocabulary (JSON Schema Validation 2020-12, section 6).
# "format" and the content keywords belong to other vocabularies.
_VALIDATION_KEYWORDS = (
    "type",
    "enum",
    "const",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxContains",
    "minContains",
    "maxProperties",
    "minProperties",
    "required",
    "dependentRequired",
)


def _uses_validation_vocabulary(
    schema: Mapping[str, Any] | bool, resources: Registry[Any]
) -> bool:
    """Whether the metaschema named by ``$schema`` leaves validation on.

    Only the root schema's ``$schema`` is looked at, in ``resources`` (the
    caller's registry and the known dialects); one that cannot be found
    keeps every vocabulary, as jsonschema does.
    """
    uri = schema.get("$schema") if isinstance(schema, Mapping) else None
    if not isinstance(uri, str):
        return True
    try:
        metaschema = resources.resolver().lookup(uri).contents
    except Unresolvable:
        return True
    vocabularies = (
        metaschema.get("$vocabulary") if isinstance(metaschema, Mapping) else None
    )
    if not isinstance(vocabularies, Mapping):
        return True
    return any(vocabulary in vocabularies for vocabulary in _VALIDATION_VOCABULARIES)


def _ignored_keyword(
    validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    return iter(())


@lru_cache(maxsize=32)
def _without_validation_vocabulary(cls: Any) -> Any:
    """``cls`` with the validation vocabulary's keywords ignored."""
    ignored = dict.fromkeys(_VALIDATION_KEYWORDS, _ignored_keyword)
    stripped = jsonschema.validators.extend(cls, ignored)
    # A subschema naming a dialect of its own gets that dialect's keywords.
    stripped.evolve = _evolve
    return stripped


def _document_order(value: Any, path: Sequence[str | int]) -> tuple[int, ...]:
    """Index of each step of ``path`` among its siblings, for sorting."""
    order: list[int] = []
    for step in path:
        if isinstance(value, dict):
            order.append(list(value).index(step) if step in value else -1)
            value = value.get(step)
        elif isinstance(value, list) and isinstance(step, int):
            order.append(step)
            value = value[step] if step < len(value) else None
        else:
            order.append(-1)
    return tuple(order)


def _pointer(path: Sequence[object]) -> str:
    """JSON Pointer for ``path``, escaping ``~`` then ``/`` (RFC 6901, sec 3)."""
    return "".join(
        "/" + str(step).replace("~", "~0").replace("/", "~1") for step in path
    )


def _validate_item(
    item: Any, index: int, schema: object | None, registry: Registry[Any] | None
) -> Any:
    if schema is None:
        return item
    try:
        return _validate(item, schema, registry)
    except SchemaValidationError as exc:
        violations = [
            SchemaViolation(f"/{index}{v.pointer}", v.message) for v in exc.violations
        ]
        raise SchemaValidationError(violations) from None


# -- streaming ---------------------------------------------------------------


class _StreamGauge:
    """Checks a byte stream as it passes: strict UTF-8 and nesting depth."""

    __slots__ = ("_decoder", "_depth", "consumed", "max_depth", "started")

    def __init__(self, max_depth: int):
        self.max_depth = max_depth
        self._depth = _DepthGauge(max_depth)
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


class _GaugedReader:
    def __init__(self, stream: IO[bytes], max_depth: int):
        self._stream = stream
        self.gauge = _StreamGauge(max_depth)

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        if size == 0:
            return chunk
        return self.gauge.check(chunk)


class _AsyncGaugedReader:
    def __init__(self, stream: _AsyncBinaryFile, max_depth: int):
        self._stream = stream
        self.gauge = _StreamGauge(max_depth)

    async def read(self, size: int = -1) -> bytes:
        chunk = await self._stream.read(size)
        if size == 0:
            return chunk
        return self.gauge.check(chunk)


class _AsyncBytes:
    def __init__(self, data: bytes):
        self._buffer = io.BytesIO(data)

    async def read(self, size: int = -1) -> bytes:
        return self._buffer.read(size)


def _open_binary(
    source: str | os.PathLike[str] | bytes | IO[bytes],
) -> AbstractContextManager[IO[bytes]]:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if isinstance(source, str | os.PathLike):
        return open(source, "rb")
    return nullcontext(source)


def _stream_error(exc: Exception, index: int, gauge: _StreamGauge) -> JSONParseError:
    where = f"after {index} items"
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
