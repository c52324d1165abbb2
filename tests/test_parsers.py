from __future__ import annotations

import asyncio
import contextlib
import doctest
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiofiles
import pytest
from corpora import CORPORA
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012

import utils.parsers
from utils._jsonschema import _json_schema_validator
from utils._stream import DepthGauge, _walk
from utils.errors import JSONParseError, SchemaValidationError
from utils.parsers import (
    _colons_outside_strings,
    _skeleton,
    aiter_json_items,
    iter_json_items,
    parse_json,
)

JSON_SUITE = CORPORA / "nst-JSONTestSuite" / "test_parsing"
SCHEMA_SUITE = CORPORA / "json-schema-test-suite"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class User(BaseModel):
    name: str
    age: int


def test_module_doctests_pass() -> None:
    results = doctest.testmod(utils.parsers)

    assert results.failed == 0
    assert results.attempted > 0


def test_parses_text_and_bytes() -> None:
    document = '{"a": [1, 2.5, "x", true, null]}'

    assert parse_json(document) == {"a": [1, 2.5, "x", True, None]}
    assert parse_json(document.encode()) == {"a": [1, 2.5, "x", True, None]}


def test_malformed_json_reports_line_column_and_caret() -> None:
    document = '{\n  "a": 1,\n  "b": tru\n}'

    with pytest.raises(JSONParseError) as caught:
        parse_json(document)

    error = caught.value
    assert (error.line, error.column, error.offset) == (3, 8, 19)
    assert error.snippet == '  "b": tru'
    assert str(error).endswith('\n    "b": tru\n         ^')


def test_offsets_count_bytes_for_byte_input() -> None:
    document = '{"é": x}'

    with pytest.raises(JSONParseError) as from_text:
        parse_json(document)
    with pytest.raises(JSONParseError) as from_bytes:
        parse_json(document.encode())

    assert from_text.value.offset == 6
    assert from_bytes.value.offset == 7
    assert from_text.value.column == from_bytes.value.column == 7


def test_control_character_in_a_string_is_named_by_code_point() -> None:
    with pytest.raises(JSONParseError) as caught:
        parse_json(b'{"k":\n "a\x01"}')

    error = caught.value
    assert error.reason == "invalid control character U+0001 in a string"
    assert (error.line, error.column, error.offset) == (2, 4, 9)


@pytest.mark.parametrize(
    ("document", "reason", "offset"),
    [
        ('"abc', "unterminated string: no closing quote", 0),
        ('["a\\x"]', "invalid escape \\x in a string", 3),
        ('"a\\\t"', "invalid escape: backslash before U+0009 in a string", 2),
        ('"\\u12G4"', "invalid \\u escape in a string: expected four hex digits", 2),
        ("1 2", "Extra data", 2),
        ('{"a": ', "Expecting value", 6),
        ('{"a" 1}', "Expecting ':' delimiter", 5),
    ],
)
def test_decoder_errors_read_cleanly_at_the_right_offset(
    document: str, reason: str, offset: int
) -> None:
    with pytest.raises(JSONParseError) as caught:
        parse_json(document)

    assert caught.value.reason == reason
    assert caught.value.offset == offset
    assert not caught.value.reason.endswith(" at")


def test_deep_nesting_is_a_clean_error() -> None:
    document = "[" * 100_000

    with pytest.raises(JSONParseError, match=r"^nesting deeper than max_depth=512"):
        parse_json(document)


def test_nesting_up_to_max_depth_is_accepted() -> None:
    document = "[" * 512 + "]" * 512

    result = parse_json(document)

    assert isinstance(result, list)


def test_nesting_error_points_at_first_bracket_too_deep() -> None:
    document = '{"a": ' + "[" * 20 + "]" * 20 + "}"

    with pytest.raises(JSONParseError) as caught:
        parse_json(document, max_depth=10)

    assert caught.value.offset == document.index("[") + 9


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    document = json.dumps([{"open": "[{" * 600, "close": "]}" * 600}] * 3)

    result = parse_json(document)

    assert result[0]["open"] == "[{" * 600


def test_escaped_quotes_do_not_hide_nesting() -> None:
    document = '["\\"' + '\\\\", ' + "[" * 20 + "]" * 20 + "]"

    with pytest.raises(JSONParseError, match="max_depth=10"):
        parse_json(document, max_depth=10)


def test_invalid_utf8_reports_byte_offset() -> None:
    document = b'{"a": "ok",\n "b": "\xff"}'

    with pytest.raises(JSONParseError) as caught:
        parse_json(document)

    assert caught.value.offset == 19
    assert (caught.value.line, caught.value.column) == (2, 8)
    assert caught.value.reason.startswith("invalid UTF-8: byte 0xff at byte offset 19")


def test_utf8_bom_is_skipped_in_bytes() -> None:
    document = b"\xef\xbb\xbf[1]"

    assert parse_json(document) == [1]


def test_bom_in_text_is_refused() -> None:
    with pytest.raises(JSONParseError, match="BOM"):
        parse_json("\ufeff[1]")


def test_utf16_is_refused_with_a_clear_message() -> None:
    document = "[1]".encode("utf-16")

    with pytest.raises(JSONParseError, match="UTF-16"):
        parse_json(document)


def test_duplicate_key_is_an_error_naming_the_key() -> None:
    document = '{"a": 1, "b": {"c": 1, "c": 2}}'

    with pytest.raises(JSONParseError, match=r"^duplicate key 'c'") as caught:
        parse_json(document)

    assert caught.value.offset == document.rindex('"c"')


def test_duplicate_key_policies_keep_first_or_last() -> None:
    document = '{"a": 1, "b": 2, "a": 3}'

    assert parse_json(document, duplicate_keys="first") == {"a": 1, "b": 2}
    assert parse_json(document, duplicate_keys="last") == {"a": 3, "b": 2}


def test_unknown_duplicate_policy_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="duplicate_keys"):
        parse_json("{}", duplicate_keys="merge")


def test_nan_and_infinity_are_refused_by_default() -> None:
    document = '["NaN", -Infinity]'

    with pytest.raises(JSONParseError, match=r"^-Infinity is not valid") as caught:
        parse_json(document)

    assert caught.value.column == 9


def test_nan_is_accepted_when_allowed() -> None:
    result = parse_json("[NaN, Infinity]", allow_nan=True)

    assert result[0] != result[0]
    assert result[1] == float("inf")


def test_document_above_max_bytes_is_refused() -> None:
    with pytest.raises(JSONParseError, match="above max_bytes=8"):
        parse_json('["é", "é", "é"]', max_bytes=8)


def test_overlong_integer_is_a_parse_error() -> None:
    with pytest.raises(JSONParseError, match="more than 4300 digits"):
        parse_json("[" + "9" * 5000 + "]")


def test_decimal_option_reads_fractions_as_decimal_and_keeps_ints() -> None:
    result = parse_json('{"price": 0.1, "qty": 3, "big": 1e400}', decimal=True)

    assert result == {"price": Decimal("0.1"), "qty": 3, "big": Decimal("1E+400")}
    assert type(result["qty"]) is int


def test_decimal_option_with_allow_nan_gives_decimal_constants() -> None:
    result = parse_json("[NaN, -Infinity]", allow_nan=True, decimal=True)

    assert result[0].is_nan()
    assert result[1] == Decimal("-Infinity")


def test_exponent_beyond_decimal_range_is_a_parse_error() -> None:
    with pytest.raises(JSONParseError, match="out of range for decimal") as caught:
        parse_json("[1e99999999999999999999]", decimal=True)

    assert caught.value.column == 3


def _records(count: int, **extra: object) -> list[dict[str, object]]:
    return [{"id": i, "tags": ["a", {"k": i}], **extra} for i in range(count)]


def test_duplicate_key_in_a_large_document_is_found_and_located() -> None:
    document = json.dumps(_records(50))[:-1] + ', {"x": [1, {"y": 1, "y": 2}]}]'

    with pytest.raises(JSONParseError, match=r"^duplicate key 'y'") as caught:
        parse_json(document)

    assert caught.value.offset == document.rindex('"y"')


def test_colons_and_quotes_inside_strings_are_not_mistaken_for_keys() -> None:
    tricky = {"url": "http://x", "q": 'a\\":"b', "t": "12:30", "e": "\\"}
    document = json.dumps(_records(40, **tricky))

    assert parse_json(document) == json.loads(document)


def test_duplicate_among_strings_with_colons_is_still_found() -> None:
    document = json.dumps(_records(40, url="http://x"))[:-1] + ', {"a:": 1, "a:": 2}]'

    with pytest.raises(JSONParseError, match=r"^duplicate key 'a:'"):
        parse_json(document)


def test_first_policy_applies_in_large_documents() -> None:
    document = json.dumps(_records(40))[:-1] + ', {"a": 1, "a": 2}]'

    assert parse_json(document, duplicate_keys="first")[-1] == {"a": 1}
    assert parse_json(document, duplicate_keys="last")[-1] == {"a": 2}


def test_nesting_limit_applies_in_large_documents() -> None:
    document = json.dumps(_records(40))[:-1] + ", " + "[" * 20 + "]" * 20 + "]"

    with pytest.raises(JSONParseError, match="max_depth=10") as caught:
        parse_json(document, max_depth=10)

    # The outer array is level 1, so the run's tenth bracket is level 11.
    assert caught.value.offset == document.index("[" * 20) + 9


# JSON text whose objects may repeat keys: keys come from a small alphabet
# with colons, quotes and backslashes in it.
_KEYS = st.text(alphabet='ab:"\\', max_size=3)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(alphabet='x:"\\{[', max_size=4)
).map(json.dumps)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
        st.lists(st.tuples(_KEYS.map(json.dumps), inner), max_size=4).map(
            lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
        ),
    ),
    max_leaves=20,
)


def _repeats_a_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({key for key, _ in pairs}) != len(pairs):
        raise KeyError("repeat")
    return dict(pairs)


@given(_VALUES, st.booleans())
def test_duplicate_detection_agrees_with_a_hook_per_object(
    text: str, large: bool
) -> None:
    if large:
        # Long enough for the census path rather than the hook.
        text = f'[{text}, "{"." * 600}"]'
    try:
        expected = json.loads(text, object_pairs_hook=_repeats_a_key)
    except KeyError:
        with pytest.raises(JSONParseError, match=r"^duplicate key"):
            parse_json(text)
    else:
        assert parse_json(text) == expected


@given(_VALUES)
def test_colons_outside_strings_agree_with_a_tokenizer(text: str) -> None:
    tokens = utils.parsers._TOKEN.finditer(text)
    expected = sum(match.group() == ":" for match in tokens)

    skeleton = _skeleton(text, unescape=True)

    assert _colons_outside_strings(skeleton) == expected


def test_colons_inside_strings_do_not_hide_a_repeated_key() -> None:
    # Colons in strings outnumber the lost key: only those outside count.
    records = [{"url": f"https://x/{i}", "at": f"12:{i % 60:02d}"} for i in range(50)]
    document = json.dumps(records)[:-1] + ', {"a": 1, "a": 2}]'

    with pytest.raises(JSONParseError, match=r"^duplicate key 'a'"):
        parse_json(document)
    assert len(parse_json(json.dumps(records))) == 50


def test_json_schema_validator_is_built_once_per_schema() -> None:
    schema = {"type": "object", "required": ["a"]}

    first = _json_schema_validator(schema, None)
    again = _json_schema_validator(dict(schema), None)
    other = _json_schema_validator({"type": "array"}, None)

    assert first is again
    assert other is not first


def test_changed_schema_is_not_served_from_the_cache() -> None:
    schema: dict[str, Any] = {"maximum": 5}
    assert parse_json("4", schema=schema) == 4

    schema["maximum"] = 3

    with pytest.raises(SchemaValidationError):
        parse_json("4", schema=schema)


def test_pydantic_model_schema_returns_model() -> None:
    result = parse_json('{"name": "ada", "age": 36}', schema=User)

    assert result == User(name="ada", age=36)


def test_pydantic_violations_carry_pointers() -> None:
    with pytest.raises(SchemaValidationError) as caught:
        parse_json('{"name": 1, "age": "old"}', schema=User)

    assert [v.pointer for v in caught.value.violations] == ["/name", "/age"]


def test_any_type_adapter_type_is_a_schema() -> None:
    assert parse_json("[1, 2]", schema=list[int]) == [1, 2]
    with pytest.raises(SchemaValidationError) as caught:
        parse_json('[1, "x"]', schema=list[int])

    assert caught.value.violations[0].pointer == "/1"


def test_json_schema_lists_every_violation_with_escaped_pointers() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a/b": {"type": "integer"},
            "m~n": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["z"],
    }

    with pytest.raises(SchemaValidationError) as caught:
        parse_json('{"a/b": "x", "m~n": ["ok", 2]}', schema=schema)

    pointers = [v.pointer for v in caught.value.violations]
    assert pointers == ["", "/a~1b", "/m~0n/1"]


def test_json_schema_draft_follows_dollar_schema() -> None:
    # Draft 7 ignores prefixItems, which 2020-12 would apply.
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "prefixItems": [{"type": "string"}],
    }

    assert parse_json("[1]", schema=schema) == [1]
    with pytest.raises(SchemaValidationError):
        parse_json("[1]", schema={"prefixItems": [{"type": "string"}]})


def test_remote_refs_are_never_fetched() -> None:
    schema = {"$ref": "https://example.com/never-fetched.json"}

    with pytest.raises(ValueError, match="never fetched"):
        parse_json("1", schema=schema)


def test_refs_resolve_through_the_given_registry() -> None:
    positive = Resource.from_contents(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "minimum": 1}
    )
    registry: Registry[Any] = Registry().with_resource("urn:positive", positive)
    schema = {"$ref": "urn:positive"}

    assert parse_json("3", schema=schema, registry=registry) == 3
    with pytest.raises(SchemaValidationError):
        parse_json("0", schema=schema, registry=registry)


def test_invalid_json_schema_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="invalid JSON Schema"):
        parse_json("1", schema={"type": 5})


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ({"$ref": "#"}, "$ref '#'"),
        ({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "#/$defs/a"),
        (
            {
                "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"not": {"$ref": "#"}}},
                "$ref": "#/$defs/a",
            },
            "$ref '#/$defs/b' -> $ref '#'",
        ),
        ({"allOf": [{"$dynamicRef": "#x"}], "$dynamicAnchor": "x"}, "#x"),
        ({"unevaluatedProperties": False, "$ref": "#"}, "$ref '#'"),
        (
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "definitions": {"a": {"allOf": [{"$ref": "#/definitions/a"}]}},
                "$ref": "#/definitions/a",
            },
            "#/definitions/a",
        ),
    ],
)
def test_schema_referring_to_itself_without_end_is_an_invalid_schema(
    schema: dict[str, Any], named: str
) -> None:
    pattern = r"^invalid JSON Schema: .*loops back on itself without descending"

    for document in ("1", "{}", '{"a": [1]}'):
        with pytest.raises(ValueError, match=pattern) as caught:
            parse_json(document, schema=schema)
        assert named in str(caught.value)


def test_recursive_schema_that_descends_into_the_document_still_validates() -> None:
    tree = {"type": "array", "items": {"$ref": "#"}}

    assert parse_json("[[], [[]]]", schema=tree) == [[], [[]]]
    with pytest.raises(SchemaValidationError, match=r"^1 schema violation:\n  /1/0: "):
        parse_json("[[], [1]]", schema=tree)


def test_document_too_deep_for_a_recursive_schema_is_a_value_error() -> None:
    tree = {"type": "array", "items": {"$ref": "#"}}

    with pytest.raises(ValueError, match=r"^the document nests too deep to validate"):
        parse_json("[" * 500 + "]" * 500, schema=tree)


def test_schema_dict_that_contains_itself_is_an_invalid_schema() -> None:
    schema: dict[str, Any] = {}
    schema["allOf"] = [schema]

    with pytest.raises(ValueError, match=r"^invalid JSON Schema: .*contains itself$"):
        parse_json("1", schema=schema)


@pytest.mark.parametrize(
    ("schema", "named"),
    [("x", "str 'x'"), (42, "int 42"), (b"x", "bytes b'x'"), ([int], "list [")],
)
def test_schema_neither_json_schema_nor_type_is_a_type_error(
    schema: object, named: str
) -> None:
    with pytest.raises(
        TypeError, match=r"^schema must be a JSON Schema \(dict or bool\)"
    ):
        parse_json("1", schema=schema)
    with pytest.raises(TypeError, match=f"not {re.escape(named)}"):
        parse_json("1", schema=schema)


def test_schema_given_as_a_type_name_pydantic_resolves_still_validates() -> None:
    assert parse_json("1", schema="int") == 1


_DIALECTS = [
    "https://json-schema.org/draft/2020-12/schema",
    "http://json-schema.org/draft-07/schema#",
]


@pytest.mark.parametrize("dialect", _DIALECTS)
def test_pattern_knows_unicode_property_escapes(dialect: str) -> None:
    schema = {"$schema": dialect, "pattern": r"^\p{L}+$"}

    assert parse_json('"été"', schema=schema) == "été"
    with pytest.raises(SchemaValidationError, match="does not match"):
        parse_json('"1"', schema=schema)


@pytest.mark.parametrize("dialect", _DIALECTS)
def test_pattern_properties_know_unicode_property_escapes(dialect: str) -> None:
    schema = {
        "$schema": dialect,
        "patternProperties": {r"^\p{L}+$": {"type": "integer"}},
        "additionalProperties": False,
    }

    assert parse_json('{"é": 1}', schema=schema) == {"é": 1}
    with pytest.raises(SchemaValidationError) as caught:
        parse_json('{"é": "x", "1": 2}', schema=schema)

    assert [v.pointer for v in caught.value.violations] == ["", "/é"]
    assert "'1' does not match any of the regexes" in str(caught.value)


def test_additional_properties_lists_the_unexpected_names() -> None:
    schema = {"properties": {"a": {}}, "additionalProperties": False}

    with pytest.raises(SchemaValidationError, match=r"\('b', 'c' were unexpected\)"):
        parse_json('{"a": 1, "c": 2, "b": 3}', schema=schema)


def test_additional_properties_schema_applies_to_unmatched_names() -> None:
    schema = {
        "patternProperties": {r"^\p{Lu}": {}},
        "additionalProperties": {"type": "string"},
    }

    assert parse_json('{"Ä": 1, "b": "x"}', schema=schema) == {"Ä": 1, "b": "x"}
    with pytest.raises(SchemaValidationError) as caught:
        parse_json('{"Ä": 1, "b": 2}', schema=schema)

    assert [v.pointer for v in caught.value.violations] == ["/b"]


def test_pattern_that_does_not_compile_is_an_invalid_schema() -> None:
    with pytest.raises(ValueError, match=r"^invalid JSON Schema: .* is not a 'regex'"):
        parse_json('"a"', schema={"pattern": r"\p{NoSuchProperty}"})


def test_resource_naming_its_own_dialect_matches_patterns_with_regex() -> None:
    # jsonschema would validate it with its registered class, and so re.
    resource = Resource.from_contents(
        {"$schema": "http://json-schema.org/draft-07/schema#", "pattern": r"\p{L}"}
    )
    registry: Registry[Any] = Registry().with_resource("urn:letter", resource)
    schema = {"items": {"$ref": "urn:letter"}}

    assert parse_json('["é"]', schema=schema, registry=registry) == ["é"]
    with pytest.raises(SchemaValidationError) as caught:
        parse_json('["é", "1"]', schema=schema, registry=registry)

    assert [v.pointer for v in caught.value.violations] == ["/1"]


def test_bad_pattern_in_a_registry_resource_is_a_value_error() -> None:
    # Resources reached through $ref are not checked against a metaschema.
    resource = Resource.from_contents(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "pattern": "("}
    )
    registry: Registry[Any] = Registry().with_resource("urn:bad", resource)

    with pytest.raises(ValueError, match=r"^invalid JSON Schema: bad pattern"):
        parse_json('"a"', schema={"$ref": "urn:bad"}, registry=registry)


def test_pattern_that_only_re_cannot_read_is_a_clear_error() -> None:
    # A known limit: jsonschema resolves unevaluatedProperties with re.
    schema = {"patternProperties": {r"\p{L}": {}}, "unevaluatedProperties": False}

    with pytest.raises(ValueError, match=r"^unevaluatedProperties cannot use"):
        parse_json('{"a": 1}', schema=schema)


def _metaschema_registry(vocabulary: dict[str, bool]) -> Registry[Any]:
    metaschema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:example:meta",
        "$vocabulary": vocabulary,
        "$dynamicAnchor": "meta",
        "allOf": [{"$ref": "https://json-schema.org/draft/2020-12/meta/applicator"}],
    }
    resource = DRAFT202012.create_resource(metaschema)
    registry: Registry[Any] = Registry().with_resource("urn:example:meta", resource)
    return registry


_CORE = "https://json-schema.org/draft/2020-12/vocab/core"
_APPLICATOR = "https://json-schema.org/draft/2020-12/vocab/applicator"
_VALIDATION = "https://json-schema.org/draft/2020-12/vocab/validation"


def test_metaschema_without_validation_vocabulary_ignores_its_keywords() -> None:
    registry = _metaschema_registry({_CORE: True, _APPLICATOR: True})
    schema = {
        "$schema": "urn:example:meta",
        "properties": {"n": {"minimum": 10, "type": "string"}, "gone": False},
        "required": ["absent"],
    }

    assert parse_json('{"n": 1}', schema=schema, registry=registry) == {"n": 1}
    # The applicator vocabulary still applies.
    with pytest.raises(SchemaValidationError):
        parse_json('{"gone": 1}', schema=schema, registry=registry)


@pytest.mark.parametrize("listed", [True, False])
def test_listed_validation_vocabulary_applies_whatever_its_flag(listed: bool) -> None:
    # The flag only says what to do with a vocabulary an implementation does
    # not know (2020-12 core, section 8.1.2); this one is known.
    registry = _metaschema_registry(
        {_CORE: True, _APPLICATOR: True, _VALIDATION: listed}
    )
    schema = {"$schema": "urn:example:meta", "minimum": 10}

    with pytest.raises(SchemaValidationError, match="less than the minimum"):
        parse_json("1", schema=schema, registry=registry)


def test_streams_items_from_bytes_file_and_path(tmp_path: Path) -> None:
    document = b'[{"id": 1}, {"id": 2.5}]'
    path = tmp_path / "items.json"
    path.write_bytes(document)
    expected = [{"id": 1}, {"id": 2.5}]

    assert list(iter_json_items(document)) == expected
    assert list(iter_json_items(io.BytesIO(document))) == expected
    assert list(iter_json_items(path)) == expected
    assert list(iter_json_items(str(path))) == expected


def test_streams_items_under_a_prefix() -> None:
    document = b'{"meta": {}, "rows": [[1], [2]]}'

    assert list(iter_json_items(document, "rows.item")) == [[1], [2]]


def test_stream_validates_each_item_with_index_in_pointer() -> None:
    document = b'[{"name": "a", "age": 1}, {"name": "b", "age": "x"}]'

    items = iter_json_items(document, schema=User)

    assert next(items) == User(name="a", age=1)
    with pytest.raises(SchemaValidationError) as caught:
        next(items)
    assert caught.value.violations[0].pointer == "/1/age"


def test_malformed_stream_names_the_item_index() -> None:
    with pytest.raises(JSONParseError, match=r"^malformed JSON after 2 items"):
        list(iter_json_items(b"[1, 2, x]"))


def test_stream_error_message_names_index_and_byte_offset() -> None:
    with pytest.raises(JSONParseError) as caught:
        list(iter_json_items(b"[1, 2, x]"))

    assert caught.value.reason.startswith(
        f"malformed JSON after 2 items, by byte {caught.value.offset}:"
    )


def test_deep_stream_is_a_clean_error() -> None:
    with pytest.raises(JSONParseError, match="max_depth=512") as caught:
        list(iter_json_items(b"[" * 100_000))

    assert caught.value.offset == 512


def test_invalid_utf8_in_stream_reports_byte_offset() -> None:
    # Past the first 64 KiB read, with a multi-byte character split by it.
    document = b'["' + "é".encode() * 40_000 + b'", "\xc3("]'

    with pytest.raises(JSONParseError, match="invalid UTF-8") as caught:
        list(iter_json_items(document))

    assert caught.value.offset == document.index(b"\xc3(")


def test_lone_surrogate_escape_in_stream_is_a_parse_error() -> None:
    with pytest.raises(JSONParseError, match="lone surrogate"):
        list(iter_json_items(b'["\\udc00"]'))


@pytest.mark.anyio
async def test_async_streams_from_bytes_and_path(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_bytes(b'{"rows": [1, 2, 3]}')

    from_bytes = [item async for item in aiter_json_items(b"[1, 2]")]
    from_path = [item async for item in aiter_json_items(path, "rows.item")]

    assert from_bytes == [1, 2]
    assert from_path == [1, 2, 3]


@pytest.mark.anyio
async def test_async_streams_from_an_aiofiles_object(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_bytes(b'[{"id": 1}, {"id": 2}]')

    async with aiofiles.open(path, "rb") as stream:
        items = [item async for item in aiter_json_items(stream)]

    assert items == [{"id": 1}, {"id": 2}]


@pytest.mark.anyio
async def test_async_malformed_stream_is_a_parse_error() -> None:
    with pytest.raises(JSONParseError, match=r"^malformed JSON after \d+ items"):
        [item async for item in aiter_json_items(b"[1, }")]


@given(st.text())
def test_arbitrary_text_raises_nothing_but_parse_errors(text: str) -> None:
    with contextlib.suppress(JSONParseError):
        parse_json(text)


@given(st.binary())
def test_arbitrary_bytes_raise_nothing_but_parse_errors(data: bytes) -> None:
    with contextlib.suppress(JSONParseError):
        parse_json(data)


# Brackets and strings whose contents hold brackets, quotes and escapes.
_STRING_TOKEN = st.lists(
    st.sampled_from([b"a", b"[", b"]", b"{", b"}", b"\\\\", b'\\"']), max_size=6
).map(lambda parts: b'"' + b"".join(parts) + b'"')
_JSONISH = st.lists(
    st.one_of(st.sampled_from([b"[", b"]", b"{", b"}", b","]), _STRING_TOKEN),
    max_size=60,
).map(b"".join)


@given(_JSONISH, st.lists(st.integers(min_value=1, max_value=40), max_size=8))
def test_chunked_depth_gauge_agrees_with_a_byte_walk(
    data: bytes, cuts: list[int]
) -> None:
    gauge = DepthGauge(max_depth=6)
    offset = 0
    found = None
    position = 0
    for size in [*cuts, len(data)]:
        chunk = data[position : position + size]
        at = gauge.feed(chunk)
        if at is not None:
            found = offset + at
            break
        offset += len(chunk)
        position += size

    assert found == _walk(data, 0, False, False, 6)


def _suite_files(prefix: str) -> list[Path]:
    return sorted(JSON_SUITE.glob(f"{prefix}_*.json"))


@pytest.mark.skipif(not JSON_SUITE.is_dir(), reason="JSONTestSuite corpus absent")
def test_json_test_suite_has_the_expected_files() -> None:
    counts = [len(_suite_files(prefix)) for prefix in ("y", "n", "i")]

    assert counts == [95, 188, 35]


@pytest.mark.skipif(not JSON_SUITE.is_dir(), reason="JSONTestSuite corpus absent")
@pytest.mark.parametrize("decimal", [False, True])
def test_json_test_suite_verdicts(decimal: bool) -> None:
    """Every y_ file parses, every n_ file is a JSONParseError, i_ files either."""
    wrong = []
    for path in _suite_files("y") + _suite_files("n") + _suite_files("i"):
        try:
            # Two y_ files repeat a key; "last" is the policy that accepts them.
            parse_json(path.read_bytes(), duplicate_keys="last", decimal=decimal)
            accepted = True
        except JSONParseError:
            accepted = False
        if accepted != path.name.startswith("y") and not path.name.startswith("i"):
            wrong.append(path.name)

    assert wrong == []


@pytest.mark.skipif(not JSON_SUITE.is_dir(), reason="JSONTestSuite corpus absent")
def test_json_test_suite_default_policy_refuses_only_the_repeated_keys() -> None:
    refused = []
    for path in _suite_files("y"):
        with contextlib.suppress(JSONParseError):
            parse_json(path.read_bytes())
            continue
        refused.append(path.name)

    assert refused == [
        "y_object_duplicated_key.json",
        "y_object_duplicated_key_and_value.json",
    ]


# Required tests that cannot pass, by draft, file, group and test description,
# each with the reason. None today: \p{...} patterns go through the regex
# package and $vocabulary is honoured (see utils.parsers).
_SCHEMA_SUITE_KNOWN_FAILURES: dict[str, dict[tuple[str, str, str], str]] = {
    "draft2020-12": {},
    "draft7": {},
}
_DRAFTS = {
    "draft2020-12": (DRAFT202012, "https://json-schema.org/draft/2020-12/schema", 1299),
    "draft7": (DRAFT7, "http://json-schema.org/draft-07/schema#", 927),
}


def _remotes_registry(draft: str) -> Registry[Any]:
    """The suite's remotes/ under http://localhost:1234/, minus other drafts'."""
    remotes = SCHEMA_SUITE / "remotes"
    specification = _DRAFTS[draft][0]
    resources = []
    for path in sorted(remotes.rglob("*.json")):
        relative = path.relative_to(remotes)
        folder = relative.parts[0] if len(relative.parts) > 1 else ""
        if folder.startswith(("draft", "v1")) and folder != draft:
            continue
        contents = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(contents, default_specification=specification)
        resources.append((f"http://localhost:1234/{relative.as_posix()}", resource))
    return Registry().with_resources(resources)


@pytest.mark.skipif(not SCHEMA_SUITE.is_dir(), reason="JSON Schema suite absent")
@pytest.mark.parametrize("draft", sorted(_DRAFTS))
def test_json_schema_test_suite_required_tests(draft: str) -> None:
    """Valid data parses and invalid data raises, for every required test."""
    registry = _remotes_registry(draft)
    _, dialect, expected_count = _DRAFTS[draft]
    count = 0
    failures: dict[tuple[str, str, str], str] = {}
    for path in sorted((SCHEMA_SUITE / "tests" / draft).glob("*.json")):
        for group in json.loads(path.read_text(encoding="utf-8")):
            schema = group["schema"]
            # The draft-7 schemas rarely name their dialect; the default is
            # 2020-12, so it is named here.
            if isinstance(schema, dict) and "$schema" not in schema:
                schema = {"$schema": dialect, **schema}
            for case in group["tests"]:
                count += 1
                where = (path.name, group["description"], case["description"])
                document = json.dumps(case["data"])
                try:
                    parse_json(document, schema=schema, registry=registry)
                    valid = True
                except SchemaValidationError:
                    valid = False
                except ValueError as exc:
                    failures[where] = f"{type(exc).__name__}: {exc}"
                    continue
                if valid != case["valid"]:
                    failures[where] = f"valid={valid}, expected {case['valid']}"

    assert count == expected_count
    assert sorted(failures) == sorted(_SCHEMA_SUITE_KNOWN_FAILURES[draft])


def test_multiple_values_stream_json_lines() -> None:
    lines = b'{"a": 1}\n[2]\n"three"\n'

    assert list(iter_json_items(lines, "", multiple_values=True)) == [
        {"a": 1},
        [2],
        "three",
    ]
    with pytest.raises(JSONParseError, match=r"^malformed JSON after 1 item, by"):
        list(iter_json_items(lines, ""))


async def _collect(source: bytes, **options: Any) -> list[Any]:
    return [item async for item in aiter_json_items(source, "", **options)]


def test_multiple_values_stream_json_lines_async() -> None:
    assert asyncio.run(_collect(b"1 2\n3", multiple_values=True)) == [1, 2, 3]
