"""Scenario files as YAML: read safely, with the line of every value.

A scenario is user input, so the reader refuses what would hang or exhaust
the YAML parser (deep flow nesting, alias bombs, huge files) before it gets
there, and turns every failure into a :class:`~agency.errors.ScenarioError`
that names the line. The tree ruamel builds keeps each value's line, so
errors found later, by the models, can name theirs too (:func:`line_of`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from agency.errors import ScenarioError

__all__ = ["MAX_FILE_BYTES", "line_of", "load_tree", "read_text"]

#: Scenario files larger than this are refused before they are parsed.
MAX_FILE_BYTES = 16 * 1024 * 1024
# Deepest [ or { nesting a scenario may have.
_MAX_FLOW_DEPTH = 100
# Nodes _plain may build: an alias "bomb" expands exponentially.
_MAX_NODES = 200_000


def read_text(path: Path, source: str) -> str:
    """The scenario file at ``path`` as text, refused if huge or not UTF-8."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError(source, "no such file") from None
    except IsADirectoryError:
        raise ScenarioError(source, "is a folder, not a scenario file") from None
    except OSError as exc:
        raise ScenarioError(source, f"cannot read it: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(
            source, f"larger than {MAX_FILE_BYTES // 2**20} MiB; not a scenario"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError(source, "not UTF-8 text", line=line) from None


def load_tree(text: str, source: str) -> tuple[object, object]:
    """Parse a scenario's YAML: ruamel's tree and the same data made plain.

    The tree knows the line of every value; the plain data (dicts, lists,
    scalars and datetimes) is what the models validate.

    Raises:
        ScenarioError: the text is not YAML, nests too deep, expands too far,
            holds a value that cannot exist, or is not a mapping; the
            message names the line where it can.
    """
    deep = _too_deep(text)
    if deep is not None:
        raise ScenarioError(
            source, f"nested more than {_MAX_FLOW_DEPTH} levels deep", line=deep
        )
    try:
        tree = YAML(typ="rt").load(text)
        plain = _plain(tree, [0])
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at: int | None = mark.line + 1 if mark is not None else None
        reason = exc.problem or exc.context or "not valid YAML"
        raise ScenarioError(source, f"not valid YAML: {reason}", line=at) from None
    except YAMLError as exc:
        raise ScenarioError(source, f"not valid YAML: {exc}") from None
    except RecursionError:
        raise ScenarioError(source, "nested too deeply to be a scenario") from None
    except _Unsupported as exc:
        raise ScenarioError(source, str(exc)) from None
    except (ValueError, OverflowError) as exc:
        # ruamel builds timestamps with datetime(), which refuses 2025-02-30
        # or an offset past 24 hours with a bare ValueError, and integers
        # with int(), which refuses more than 4300 digits.
        found = _unbuildable(text)
        if found is None:
            raise ScenarioError(
                source, f"not valid YAML: a value that cannot exist: {exc}"
            ) from None
        line, field, reason = found
        raise ScenarioError(source, reason, line=line, field=field) from None
    if not isinstance(tree, CommentedMap):
        raise ScenarioError(source, "a scenario is a mapping of fields", line=1)
    return tree, plain


def _too_deep(text: str) -> int | None:
    """The line where ``[``/``{`` nesting passes the limit, or None.

    ruamel's parser takes seconds, then overflows the stack, on a few
    thousand nested brackets; this scan answers in milliseconds. It skips
    quoted strings and comments, so brackets inside probe arguments do not
    count.
    """
    if text.count("[") + text.count("{") <= _MAX_FLOW_DEPTH:
        return None
    depth, line, quote, comment = 0, 1, "", False
    previous = "\n"
    for char in text:
        if char == "\n":
            line += 1
            comment = False
        elif comment:
            pass
        elif quote:
            if char == quote and not (quote == '"' and previous == "\\"):
                quote = ""
        elif char in "'\"" and previous in " \t\n[{,:-?":
            # A quote opens a scalar only where a token starts: the
            # apostrophe of "seed's" does not.
            quote = char
        elif char == "#" and previous in " \t\n":
            comment = True
        elif char in "[{":
            depth += 1
            if depth > _MAX_FLOW_DEPTH:
                return line
        elif char in "]}":
            depth = max(0, depth - 1)
        previous = "" if previous == "\\" and char == "\\" else char
    return None


class _Unsupported(Exception):
    """A YAML value a scenario cannot hold."""


def _plain(node: object, count: list[int]) -> object:
    """ruamel's round-trip nodes as plain dicts, lists, scalars and datetimes.

    ``count`` tallies the values built, so an alias bomb stops early.
    """
    count[0] += 1
    if count[0] > _MAX_NODES:
        raise _Unsupported("too many values (YAML aliases expanding?)")
    if isinstance(node, Mapping):
        return {str(k): _plain(v, count) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, count) for v in node]
    if isinstance(node, datetime):
        # ruamel's TimeStamp subclass keeps YAML details we do not want
        # to compare against, and a 'Z' zone whose name is not 'UTC'.
        offset = node.utcoffset()
        plain = datetime(*node.timetuple()[:6], node.microsecond)
        if node.tzinfo is None or offset is None:
            return plain
        return plain.replace(tzinfo=timezone(offset))
    if isinstance(node, date):
        return date(node.year, node.month, node.day)
    # ruamel's scalar subclasses (ScalarFloat, LiteralScalarString, ...)
    # become the built-in types, so equality and repr are the usual ones.
    for kind in (bool, int, float, str):
        if isinstance(node, kind):
            return kind(node)
    if node is None:
        return None
    tag = getattr(getattr(node, "tag", None), "value", None)
    raise _Unsupported(f"unsupported YAML value {tag or type(node).__name__}")


def _unbuildable(text: str) -> tuple[int, str | None, str] | None:
    """The line, field and reason of the first value ruamel cannot build.

    Its errors for these carry no position, so the nodes are composed
    again, unbuilt, and built one by one until one fails.
    """
    try:
        root = YAML(typ="rt").compose(text)
    except YAMLError:
        return None
    if root is None:
        return None
    constructor = YAML(typ="rt").constructor
    seen: set[int] = set()
    stack: list[tuple[Node, tuple[str | int, ...]]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if id(node) in seen:
            continue  # an alias: its value was checked where it was defined
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for key, value in reversed(node.value):
                step = key.value if isinstance(key, ScalarNode) else "?"
                stack.extend([(value, (*loc, step)), (key, loc)])
        elif isinstance(node, SequenceNode):
            items = list(enumerate(node.value))
            stack.extend((item, (*loc, index)) for index, item in reversed(items))
        elif isinstance(node, ScalarNode):
            try:
                constructor.construct_object(node, deep=True)
            except (ValueError, OverflowError) as exc:
                field = ".".join(map(str, loc)) or None
                line = node.start_mark.line + 1
                tag = str(getattr(node.tag, "value", node.tag))
                if tag.endswith(":int") and "digits" in str(exc):
                    digits = sum(char.isdigit() for char in node.value)
                    limit = sys.get_int_max_str_digits()
                    reason = (
                        f"the number is too large ({digits} digits; at most {limit})"
                    )
                else:
                    reason = f"a value that cannot exist: {exc}"
                return line, field, reason
    return None


def line_of(tree: object, loc: Sequence[int | str]) -> int | None:
    """1-based line of the value at ``loc``, or of its nearest ancestor."""
    line: int | None = None
    node = tree
    for step in loc:
        if isinstance(node, CommentedMap) and step in node:
            try:
                line = node.lc.key(step)[0] + 1
            except KeyError:
                # A key merged in from '<<: *anchor' has no line of its own
                # here; the mapping's own line is the nearest one.
                line = node.lc.line + 1
            node = node[step]
        elif (
            isinstance(node, CommentedSeq)
            and isinstance(step, int)
            and 0 <= step < len(node)
        ):
            line = node.lc.item(step)[0] + 1
            node = node[step]
        elif isinstance(node, CommentedMap | CommentedSeq):
            break
    if line is None and isinstance(tree, CommentedMap):
        line = tree.lc.line + 1
    return line
