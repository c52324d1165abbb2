"""The YAML frontmatter of AGENCY.md: where each value sits, how values are
read (libyaml first, pure Python as the fallback) and written back."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Final, Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode
from ruamel.yaml.reader import ReaderError

from agency.errors import DocumentFormatError
from utils.formatters import format_date

_REQUIRED_KEYS: Final = ("project_id", "status")

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
