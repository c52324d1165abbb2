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
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO, Any, NamedTuple

import ijson
from referencing import Registry

from utils._jsonschema import validate, validate_item
from utils._stream import (
    STREAM_ERRORS,
    AsyncBinaryFile,
    AsyncBytes,
    AsyncGaugedReader,
    DepthGauge,
    GaugedReader,
    open_binary,
    stream_error,
)
from utils.errors import JSONParseError

# Not used here, but names of this module as they were before the schema code
# moved out: scenario probes look the exception they expect up on the module
# they call into.
from utils.errors import SchemaValidationError as SchemaValidationError
from utils.errors import SchemaViolation as SchemaViolation

__all__ = ["aiter_json_items", "iter_json_items", "parse_json"]

_DUPLICATE_POLICIES = ("error", "first", "last")

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
            ``dict`` (the parsed value is returned once it conforms). A
            schema may refer to itself (``{"items": {"$ref": "#"}}``) as long
            as each round descends into the document. The
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
        TypeError: ``schema`` is neither a JSON Schema nor a type pydantic
            can validate.
        ValueError: an unknown ``duplicate_keys`` policy, a negative limit, a
            JSON Schema that is itself invalid (references that loop back
            without descending into the document, say), or a document nested
            too deep for Python's recursion limit to validate it.
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
        reason = _decoder_reason(exc.msg, text, exc.pos)
        raise _Source.of(data).error(reason, exc.pos) from None
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
    return validate(value, schema, registry)


def iter_json_items(
    source: str | os.PathLike[str] | bytes | IO[bytes],
    prefix: str = "item",
    *,
    schema: object | None = None,
    max_depth: int = 512,
    registry: Registry[Any] | None = None,
    multiple_values: bool = False,
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
        multiple_values: accept several top-level values one after another,
            as in JSON Lines; with ``prefix=""`` each of them is an item.

    Raises:
        JSONParseError: malformed input. The reason says how many items
            were yielded before the failure; ijson parses a whole buffer
            before yielding, so the bad bytes may lie a few items further.
            Line and column are 0 when the backend cannot say where in the
            stream it failed, and ``offset`` is then the number of bytes
            read so far.
        SchemaValidationError: an item breaks ``schema``.
    """
    with open_binary(source) as stream:
        reader = GaugedReader(stream, max_depth)
        index = 0
        try:
            items = ijson.items(
                reader, prefix, use_float=True, multiple_values=multiple_values
            )
            for item in items:
                yield validate_item(item, index, schema, registry)
                index += 1
        except STREAM_ERRORS as exc:
            raise stream_error(exc, index, reader.gauge) from None


async def aiter_json_items(
    source: str | os.PathLike[str] | bytes | AsyncBinaryFile,
    prefix: str = "item",
    *,
    schema: object | None = None,
    max_depth: int = 512,
    registry: Registry[Any] | None = None,
    multiple_values: bool = False,
) -> AsyncIterator[Any]:
    """Like :func:`iter_json_items`, for an async binary file or a path.

    A path is opened with aiofiles; an async file object (anything with an
    awaitable ``read``) is read as given and left open.
    """
    options = _StreamOptions(schema, max_depth, registry, multiple_values)
    if isinstance(source, bytes):
        async for item in _aiter_from(AsyncBytes(source), prefix, options):
            yield item
    elif isinstance(source, str | os.PathLike):
        import aiofiles

        async with aiofiles.open(source, "rb") as stream:
            async for item in _aiter_from(stream, prefix, options):
                yield item
    else:
        async for item in _aiter_from(source, prefix, options):
            yield item


class _StreamOptions(NamedTuple):
    schema: object | None
    max_depth: int
    registry: Registry[Any] | None
    multiple_values: bool


async def _aiter_from(
    stream: AsyncBinaryFile, prefix: str, options: _StreamOptions
) -> AsyncIterator[Any]:
    reader = AsyncGaugedReader(stream, options.max_depth)
    items = ijson.items_async(
        reader, prefix, use_float=True, multiple_values=options.multiple_values
    )
    index = 0
    try:
        async for item in items:
            yield validate_item(item, index, options.schema, options.registry)
            index += 1
    except STREAM_ERRORS as exc:
        raise stream_error(exc, index, reader.gauge) from None


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


def _decoder_reason(message: str, text: str, index: int) -> str:
    """The reason for a :class:`json.JSONDecodeError` message at ``index``.

    json writes its messages to be followed by ": line 1 column 3 (char 2)",
    so some end in a dangling "at" and none names the character; these are
    reworded. The rest ("Expecting value", "Extra data", ...) read well as
    they are and are kept, as callers may know them.
    """
    found = text[index : index + 1]
    if message.startswith("Invalid control character") and found:
        return f"invalid control character U+{ord(found):04X} in a string"
    if message.startswith("Unterminated string"):
        return "unterminated string: no closing quote"
    if message.startswith("Invalid \\uXXXX"):
        return "invalid \\u escape in a string: expected four hex digits"
    if message.startswith("Invalid \\escape"):
        after = text[index + 1 : index + 2]
        if not after:
            return "invalid escape in a string"
        if after.isprintable() and not after.isspace():
            return f"invalid escape \\{after} in a string"
        return f"invalid escape: backslash before U+{ord(after):04X} in a string"
    return message.removesuffix(" at")


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
    too_deep_at = DepthGauge(max_depth).feed(blob)
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
