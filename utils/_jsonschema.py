"""Schema validation behind :mod:`utils.parsers`.

A schema is either a JSON Schema (a ``dict`` or a ``bool``), checked by
jsonschema with patterns matched by :mod:`regex` and ``$vocabulary``
honoured, or anything pydantic validates (a model, or a type that
``TypeAdapter`` accepts). Either way a failure is a
:class:`~utils.errors.SchemaValidationError` that lists every violation
under its JSON Pointer.

Private: :func:`utils.parsers.parse_json` and the streaming iterators are
the public entry points, and their docstrings say what callers may rely on.
"""

from __future__ import annotations

import json
import re
import reprlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from types import TracebackType
from typing import Any

import attrs
import jsonschema  # type: ignore[import-untyped]
import pydantic
import regex  # type: ignore[import-untyped]
from jsonschema_specifications import (  # type: ignore[import-untyped]
    REGISTRY as _META_SCHEMAS,
)
from referencing import Registry
from referencing.exceptions import Unresolvable

from utils.errors import SchemaValidationError, SchemaViolation


def validate(value: Any, schema: object, registry: Registry[Any] | None) -> Any:
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
    except pydantic.PydanticUserError:
        if isinstance(schema, type) and issubclass(schema, pydantic.BaseModel):
            raise  # A model not fully defined: pydantic says what to rebuild.
        # Pydantic builds no validator for it: a value such as 42 or b"x", or
        # a string naming no type it can find. Either is a misuse of schema=.
        raise TypeError(
            "schema must be a JSON Schema (dict or bool) or a type pydantic can "
            f"validate, not {type(schema).__name__} {reprlib.repr(schema)}"
        ) from None


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
    except RecursionError as exc:
        raise _recursion_error(exc.__traceback__) from None
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
    except (TypeError, ValueError, RecursionError):
        # Not JSON (a set, a dict that holds itself) or nested too deep.
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
    except RecursionError:
        raise ValueError(
            "invalid JSON Schema: it nests too deep or contains itself"
        ) from None

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


def _recursion_error(tb: TracebackType | None) -> ValueError:
    """Say why validation recursed too deep, from the frames it left.

    Every step of jsonschema's walk is a call that takes the subschema and
    the value it applies to (``descend``, the keyword functions, the
    helpers behind ``unevaluated*``). Going into the document means a new
    value: a parsed document is a tree, so each container on the way down
    is a distinct object. The same call with the same subschema and value
    twice on the stack is thus a loop of references that never reaches into
    the document, such as ``{"$ref": "#"}``, which JSON Schema 2020-12 core
    (section 9.4.1) leaves undefined. Otherwise it was the depth of the
    document. Only this error path pays for the search.
    """
    seen: dict[tuple[object, int, int], int] = {}
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for index, frame in enumerate(frames):
        names = frame.f_locals
        if "schema" not in names or "instance" not in names:
            continue
        key = (frame.f_code, id(names["schema"]), id(names["instance"]))
        start = seen.setdefault(key, index)
        if start != index:
            return ValueError(
                f"invalid JSON Schema: {_loop_references(frames[start:index])} "
                "loops back on itself without descending into the document"
            )
    return ValueError(
        "the document nests too deep to validate against this schema "
        "(Python's recursion limit)"
    )


_REFERENCE_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")


def _loop_references(frames: Sequence[Any]) -> str:
    """The references in the subschemas of ``frames``, in order, say
    "$ref '#/$defs/a' -> $ref '#/$defs/b'"."""
    steps: dict[int, str] = {}
    for frame in frames:
        schema = frame.f_locals.get("schema")
        if not isinstance(schema, Mapping) or id(schema) in steps:
            continue
        for keyword in _REFERENCE_KEYWORDS:
            if isinstance(schema.get(keyword), str):
                steps[id(schema)] = f"{keyword} {schema[keyword]!r}"
    return " -> ".join(steps.values()) or "a subschema"


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


def validate_item(
    item: Any, index: int, schema: object | None, registry: Registry[Any] | None
) -> Any:
    if schema is None:
        return item
    try:
        return validate(item, schema, registry)
    except SchemaValidationError as exc:
        violations = [
            SchemaViolation(f"/{index}{v.pointer}", v.message) for v in exc.violations
        ]
        raise SchemaValidationError(violations) from None
