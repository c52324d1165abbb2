"""Tests for utils.validators: email address validation."""

from __future__ import annotations

import contextlib
import dataclasses
import doctest
import json
import socket
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from corpora import CORPORA
from hypothesis import given
from hypothesis import strategies as st

import utils.validators
from utils.errors import InvalidEmailError
from utils.validators import ValidatedEmail, is_valid_email, validate_email


def _code(address: str, **options: bool) -> str:
    with pytest.raises(InvalidEmailError) as info:
        validate_email(address, **options)
    return info.value.code


# Valid addresses


def test_plain_address_keeps_local_case_and_lowercases_the_domain() -> None:
    """The local part keeps its case; the domain is lowercased."""
    email = validate_email("Jane.Doe@Example.COM")

    assert email == ValidatedEmail(
        normalized="Jane.Doe@example.com",
        local_part="Jane.Doe",
        domain="example.com",
        ascii_domain="example.com",
        ascii_email="Jane.Doe@example.com",
        smtputf8=False,
        display_name=None,
    )


@pytest.mark.parametrize(
    "address",
    [
        "user+tag@example.com",
        "user+mailbox/department=shipping@example.tld",
        "!#$%&'*+-/=?^_`{|}~@example.org",
        "a@b.co",
        "x@sub-domain.example-host.museum",
        "first.last@xn--bcher-kva.de",
    ],
)
def test_accepts_common_addresses(address: str) -> None:
    """Addresses that RFC 5321 mailboxes commonly use are accepted."""
    assert is_valid_email(address)


def test_idn_domain_gets_its_a_label_form() -> None:
    """A Unicode domain is converted to IDNA A-labels for ascii_domain."""
    email = validate_email("user@bücher.de")

    assert email.domain == "bücher.de"
    assert email.ascii_domain == "xn--bcher-kva.de"
    assert email.ascii_email == "user@xn--bcher-kva.de"
    assert email.smtputf8 is False


def test_idn_domain_is_mapped_by_uts46() -> None:
    """UTS #46 lowercases the domain and maps the ideographic full stop."""
    email = validate_email("user@BÜCHER\u3002DE")

    assert email.domain == "bücher.de"
    assert email.ascii_domain == "xn--bcher-kva.de"


def test_a_label_domain_is_decoded_to_unicode() -> None:
    """An xn-- domain is shown in Unicode in domain and normalized."""
    email = validate_email("user@XN--BCHER-KVA.de")

    assert email.domain == "bücher.de"
    assert email.normalized == "user@bücher.de"


def test_unicode_local_part_needs_smtputf8() -> None:
    """A non-ASCII local part sets smtputf8 and has no ASCII form."""
    email = validate_email("δοκιμή@παράδειγμα.δοκιμή")

    assert email.smtputf8 is True
    assert email.ascii_email is None
    assert email.ascii_domain == "xn--hxajbheg2az3al.xn--jxalpdlp"


def test_unicode_local_part_is_refused_without_smtputf8() -> None:
    """With allow_smtputf8=False the first non-ASCII character is reported."""
    with pytest.raises(InvalidEmailError, match=r"'ü' .* at position 1") as info:
        validate_email("jürgen@example.com", allow_smtputf8=False)

    assert info.value.code == "smtputf8_not_allowed"
    assert info.value.position == 1


def test_unicode_domain_is_fine_without_smtputf8() -> None:
    """IDNA carries a Unicode domain over plain SMTP, so no SMTPUTF8 needed."""
    email = validate_email("user@bücher.de", allow_smtputf8=False)

    assert email.ascii_email == "user@xn--bcher-kva.de"


def test_input_is_normalized_to_nfc() -> None:
    """A decomposed accent becomes the composed character."""
    email = validate_email("Jose\u0301@example.com")

    assert email.local_part == "Jos\u00e9"


def test_result_is_frozen() -> None:
    """ValidatedEmail cannot be changed after validation."""
    email = validate_email("a@example.com")

    with pytest.raises(dataclasses.FrozenInstanceError):
        email.domain = "evil.example"  # type: ignore[misc]


# Refused addresses and their codes


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("plainaddress", "no_at"),
        ("@example.com", "empty_local"),
        ("a@", "empty_domain"),
        ("a..b@example.com", "consecutive_dots"),
        (".a@example.com", "leading_dot"),
        ("a.@example.com", "trailing_dot"),
        ("a@example..com", "consecutive_dots"),
        ("a@example.com.", "trailing_dot"),
        ("a@.example.com", "leading_dot"),
        ("a b@example.com", "bad_local_char"),
        ("a,b@example.com", "bad_local_char"),
        ("a@b@example.com", "bad_local_char"),
        ('"a b"@example.com', "bad_local_char"),
        ("\u226eme@example.com", "bad_local_char"),
        ("a@localhost", "bad_domain"),
        ("a@example.123", "bad_domain"),
        ("a@example.tld-2", "bad_domain"),
        ("a@-example.com", "bad_domain"),
        ("a@example-.com", "bad_domain"),
        ("a@exa_mple.com", "bad_domain"),
        ("a@ab--cd.com", "bad_domain"),
        ("a@xn--zz.com", "bad_domain"),
        ("a@\u2603.com", "bad_domain"),
        ("a\x00@example.com", "unsafe_char"),
        ("a\u200b@example.com", "unsafe_char"),
        ("a\ud800@example.com", "unsafe_char"),
        ("a@exa\u00a0mple.com", "unsafe_char"),
        ("\u0301a@example.com", "unsafe_char"),
        ("a@example.x123", "bad_domain"),
        ("a@example\x00.com", "unsafe_char"),
        ("a@exa\udfffmple.com", "unsafe_char"),
        ("a@printer.local", "special_use_domain"),
        ("a@ns.in-addr.arpa", "special_use_domain"),
        ("a@example.onion", "special_use_domain"),
        ("a@example.test", "special_use_domain"),
        ("a@[192.0.2.1]", "domain_literal_not_allowed"),
        ("Jane <jane@example.com>", "display_name_not_allowed"),
    ],
)
def test_refuses_address_with_code(address: str, code: str) -> None:
    """Each kind of bad address is refused with its stable code."""
    assert _code(address) == code


def test_top_level_domain_must_end_with_a_letter_only() -> None:
    """A hyphen inside the top-level domain is fine; a digit at its end is not."""
    assert is_valid_email("a@iana.co-uk")
    assert _code("a@iana.co-uk2") == "bad_domain"


def test_special_use_domain_message_names_the_domain() -> None:
    """A reserved top-level domain is named, with the reason it is refused."""
    with pytest.raises(InvalidEmailError, match=r"^the top-level domain 'localhost' "):
        validate_email("root@mail.LOCALHOST")


def test_test_environment_accepts_the_test_domain_only() -> None:
    """test_environment lets "test" through, bare or as a TLD, and no other."""
    assert is_valid_email("a@test", test_environment=True)
    assert is_valid_email("a@mycompany.test", test_environment=True)
    assert _code("a@test") == "bad_domain"
    assert _code("a@host.localhost", test_environment=True) == "special_use_domain"
    assert _code("a@test.invalid", test_environment=True) == "special_use_domain"


def test_refused_test_domain_hints_at_the_option() -> None:
    """The message for a .test domain says which option accepts it."""
    with pytest.raises(InvalidEmailError, match=r"test_environment=True"):
        validate_email("a@mycompany.test")


def test_nul_anywhere_is_refused_with_its_position() -> None:
    """A NUL character is unsafe in the local part, the domain and the name."""
    for address, position in [
        ("\x00@example.com", 0),
        ("a@exam\x00ple.com", 6),
        ("Jo\x00 <a@example.com>", 2),
    ]:
        with pytest.raises(InvalidEmailError, match=r"U\+0000") as info:
            validate_email(address, allow_display_name=True)

        assert (info.value.code, info.value.position) == ("unsafe_char", position)


def test_lone_surrogates_are_refused_without_crashing() -> None:
    """A lone surrogate cannot be encoded, so it is refused as unsafe."""
    for address in [
        "\ud800@example.com",
        "a@\udc00.com",
        '"a\ud800"@example.com',
        "Jo\ud800 <a@example.com>",
    ]:
        with pytest.raises(InvalidEmailError, match=r"U\+D[8C]00") as info:
            validate_email(address, allow_quoted_local=True, allow_display_name=True)

        assert info.value.code == "unsafe_char"


def test_trailing_newline_is_refused() -> None:
    """A newline after the address is an unsafe character, not ignored."""
    with pytest.raises(InvalidEmailError, match=r"U\+000A at position 16$") as info:
        validate_email("jane@example.com\n")

    assert info.value.code == "unsafe_char"


def test_message_names_the_character_and_its_position() -> None:
    """The message shows the offending character, its code point and index."""
    with pytest.raises(
        InvalidEmailError,
        match=r"^the local part cannot contain ',' \(U\+002C COMMA\), found at "
        r"position 2$",
    ) as info:
        validate_email("ab,c@example.com")

    assert info.value.position == 2


def test_position_refers_to_the_input_before_normalization() -> None:
    """After NFC shortens the text, position still indexes the caller's input."""
    address = "Jose\u0301,x@example.com"

    with pytest.raises(InvalidEmailError) as info:
        validate_email(address)

    assert info.value.position == 5
    assert address[info.value.position] == ","


def test_quoted_local_part_hints_at_the_option() -> None:
    """A quoted local part refused by default names allow_quoted_local."""
    with pytest.raises(InvalidEmailError, match="allow_quoted_local=True"):
        validate_email('"john smith"@example.com')


# Length limits (RFC 5321 section 4.5.3.1)


def test_local_part_of_64_octets_is_accepted() -> None:
    """64 octets is the local-part limit, inclusive."""
    assert is_valid_email("a" * 64 + "@example.com")


def test_local_part_of_65_octets_is_too_long() -> None:
    """One octet over the local-part limit is refused."""
    assert _code("a" * 65 + "@example.com") == "too_long"


def test_local_part_limit_counts_utf8_octets() -> None:
    """32 two-octet characters fill the 64-octet limit; 33 overflow it."""
    assert is_valid_email("é" * 32 + "@example.com")
    assert _code("é" * 33 + "@example.com") == "too_long"


def test_address_of_254_octets_is_accepted() -> None:
    """254 octets is the address limit, inclusive."""
    domain = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 47]) + ".com"
    address = "x" * (254 - 1 - len(domain)) + "@" + domain

    assert len(address) == 254
    assert is_valid_email(address)


def test_address_of_255_octets_is_too_long() -> None:
    """One octet over the address limit is refused."""
    domain = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 47]) + ".com"
    address = "x" * (255 - 1 - len(domain)) + "@" + domain

    assert _code(address) == "too_long"


def test_label_of_64_octets_is_too_long() -> None:
    """A domain label may hold at most 63 octets."""
    assert is_valid_email("a@" + "b" * 63 + ".com")
    assert _code("a@" + "b" * 64 + ".com") == "too_long"


def test_idn_label_limit_counts_the_a_label() -> None:
    """The 63-octet label limit applies to the xn-- form, not the Unicode one."""
    label = "".join(chr(0x4E00 + 97 * i) for i in range(30))

    assert len(label) < 63
    assert _code(f"a@{label}.com") == "too_long"


def test_quoted_local_part_length_counts_needless_escapes() -> None:
    """A quoted local part must fit in 64 octets as written, not only after
    its needless quotes and escapes are dropped."""
    fits = '"' + "a" * 60 + '\\b"@example.com'
    over = '"' + "a" * 61 + '\\b"@example.com'

    assert validate_email(fits, allow_quoted_local=True).local_part == "a" * 60 + "b"
    assert _code(over, allow_quoted_local=True) == "too_long"


def test_ten_megabyte_input_fails_fast_on_length() -> None:
    """A huge string is refused as too long before any heavy work."""
    huge = "a" * 10_000_000 + "@example.com"

    with pytest.raises(InvalidEmailError, match="10000012 characters") as info:
        validate_email(huge)

    assert info.value.code == "too_long"


# Types and options


def test_ten_megabytes_without_an_at_sign_fail_fast_with_any_option() -> None:
    """The length check comes first even when a display name is allowed."""
    huge = "\u00e9" * 10_000_000 + ">"

    with pytest.raises(InvalidEmailError, match="10000001 characters"):
        validate_email(huge, allow_display_name=True, allow_quoted_local=True)


def test_bytes_raise_type_error() -> None:
    """Bytes are a programming error, not an invalid address."""
    with pytest.raises(TypeError, match=r"needs a str, got bytes; decode bytes"):
        validate_email(b"jane@example.com")  # type: ignore[arg-type]


def test_is_valid_email_also_raises_type_error() -> None:
    """The predicate does not hide a wrong argument type."""
    with pytest.raises(TypeError):
        is_valid_email(None)  # type: ignore[arg-type]


def test_is_valid_email_passes_options_through() -> None:
    """Options given to the predicate reach validate_email."""
    assert not is_valid_email("a@[192.0.2.1]")
    assert is_valid_email("a@[192.0.2.1]", allow_domain_literal=True)


@pytest.mark.parametrize(
    ("address", "display_name", "normalized"),
    [
        ('"Doe, Jane" <jane@example.com>', "Doe, Jane", "jane@example.com"),
        ("Jane Q. Doe <jane@example.com>", "Jane Q. Doe", "jane@example.com"),
        ("<jane@example.com>", None, "jane@example.com"),
        ("Jürgen <jürgen@bücher.de>", "Jürgen", "jürgen@bücher.de"),
        ("jane@example.com", None, "jane@example.com"),
    ],
)
def test_display_name_is_split_off(
    address: str, display_name: str | None, normalized: str
) -> None:
    """With allow_display_name the name and the address are separated."""
    email = validate_email(address, allow_display_name=True)

    assert email.display_name == display_name
    assert email.normalized == normalized


def test_unquoted_display_name_cannot_hold_a_comma() -> None:
    """RFC 5322 specials in an unquoted display name are refused."""
    with pytest.raises(InvalidEmailError, match="put the name in double quotes"):
        validate_email("Doe, Jane <jane@example.com>", allow_display_name=True)


def test_control_character_in_display_name_is_unsafe() -> None:
    """A tab in the display name is refused at its position in the input."""
    with pytest.raises(InvalidEmailError, match=r"at position 4$") as info:
        validate_email("Jane\tDoe <jane@example.com>", allow_display_name=True)

    assert (info.value.code, info.value.position) == ("unsafe_char", 4)


@pytest.mark.parametrize(
    ("address", "local_part"),
    [
        ('"john smith"@example.com', '"john smith"'),
        ('"unnecessarily.quoted"@example.com', "unnecessarily.quoted"),
        ('"with.at@"@example.com', '"with.at@"'),
        ('"with.dquote\\""@example.com', '"with.dquote\\""'),
        ('"extraneous.\\escape"@example.com', "extraneous.escape"),
        ('"double..dot"@example.com', '"double..dot"'),
    ],
)
def test_quoted_local_part_is_normalized(address: str, local_part: str) -> None:
    """Quotes and escapes are kept only where the local part needs them."""
    email = validate_email(address, allow_quoted_local=True)

    assert email.local_part == local_part


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ('"unclosed@example.com', "bad_local_char"),
        ('""@example.com', "empty_local"),
        ('"tab\there"@example.com', "unsafe_char"),
        ('"a"b@example.com', "no_at"),
    ],
)
def test_bad_quoted_local_part_is_refused(address: str, code: str) -> None:
    """Quoted local parts still follow RFC 5321 section 4.1.2."""
    assert _code(address, allow_quoted_local=True) == code


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("me@[127.0.0.1]", "[127.0.0.1]"),
        ("me@[IPv6:::1]", "[IPv6:::1]"),
        ("me@[IPv6:0000:0000:0000:0000:0000:0000:0000:0001]", "[IPv6:::1]"),
    ],
)
def test_domain_literal_is_normalized(address: str, domain: str) -> None:
    """An address literal is accepted on request and written compactly."""
    email = validate_email(address, allow_domain_literal=True)

    assert email.domain == domain
    assert email.ascii_domain == domain


@pytest.mark.parametrize(
    "address",
    ["me@[300.0.0.1]", "me@[IPv6:1:2:3:4:5:6:7::8]", "me@[example.com]", "me@[1.2"],
)
def test_bad_domain_literal_is_refused(address: str) -> None:
    """Literals that are not IPv4 or RFC 5321 IPv6 addresses are refused."""
    assert _code(address, allow_domain_literal=True) == "bad_domain"


def test_deliverability_check_refuses_a_domain_that_does_not_resolve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A resolver failure becomes the undeliverable code (resolver faked)."""

    def fail(*args: object, **kwargs: object) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)

    assert _code("a@example.com", check_deliverability=True) == "undeliverable"


def test_deliverability_check_accepts_a_domain_that_resolves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The A-label form of the domain is what the resolver is asked about."""
    asked: list[object] = []

    def resolve(host: object, *args: object, **kwargs: object) -> list[Any]:
        asked.append(host)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", resolve)

    assert is_valid_email("a@bücher.de", check_deliverability=True)
    assert asked == ["xn--bcher-kva.de"]


def test_module_doctests_pass() -> None:
    """The examples in the module docstring run as written."""
    result = doctest.testmod(utils.validators)

    assert result.failed == 0
    assert result.attempted > 0


# Properties

_ATEXT = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~"
)
_atoms = st.text(alphabet=_ATEXT, min_size=1, max_size=10)
_labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_SPECIAL_USE = {"arpa", "invalid", "local", "localhost", "onion", "test"}
_tlds = st.from_regex(r"[a-z]{2,6}", fullmatch=True).filter(
    lambda tld: tld not in _SPECIAL_USE
)


@given(
    st.lists(_atoms, min_size=1, max_size=4),
    st.lists(_labels, min_size=1, max_size=3),
    _tlds,
)
def test_generated_dot_atom_addresses_are_accepted(
    atoms: list[str], labels: list[str], tld: str
) -> None:
    """Any dot-atom at a letters-digits-hyphens host name is accepted."""
    local = ".".join(atoms)
    domain = ".".join([*labels, tld])
    if "--" in domain:
        return  # reserved positions 3-4 are covered by their own test

    email = validate_email(f"{local}@{domain}")

    assert email.normalized == f"{local}@{domain}"


@given(st.text(max_size=80))
def test_arbitrary_text_raises_only_invalid_email_error(text: str) -> None:
    """No input string makes the validator fail with an unexpected error."""
    for options in ({}, {"allow_quoted_local": True, "allow_display_name": True}):
        with contextlib.suppress(InvalidEmailError):
            validate_email(text, allow_domain_literal=True, **options)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_normalized_form_validates_to_itself(text: str) -> None:
    """Validation is idempotent: the normalized form is its own normal form."""
    try:
        email = validate_email(text + "@bücher.de", allow_quoted_local=True)
    except InvalidEmailError:
        return

    again = validate_email(email.normalized, allow_quoted_local=True)

    assert again.normalized == email.normalized


# Public corpora (read from ../shared/corpora, never copied)

_EV_CASES = CORPORA / "python-email-validator" / "email_validator_cases.json"
_ISEMAIL_CASES = CORPORA / "isemail-dominicsayers" / "isemail_tests.json"

# python-email-validator's option names and ours. None marks an option we do
# not offer; every case it decides is listed in _EV_DIFFERENCES.
_EV_OPTIONS: dict[str, str | None] = {
    "allow_smtputf8": "allow_smtputf8",
    "allow_quoted_local": "allow_quoted_local",
    "allow_domain_literal": "allow_domain_literal",
    "allow_display_name": "allow_display_name",
    "test_environment": "test_environment",
    # A DNS query, which no test makes: always off here.
    "check_deliverability": None,
    # Turns on the 64-octet local-part limit, which we always enforce.
    "strict": None,
    # We never accept an empty local part.
    "allow_empty_local": None,
}

# What that library does with each is_email case, as the corpus words it:
# extra options (added to the case's own) and the verdict under them.
_BOTH_OPTIONS = {"allow_quoted_local": True, "allow_domain_literal": True}
_PYISEMAIL_POLICIES: dict[str, list[tuple[dict[str, bool], bool]]] = {
    "accept (any options)": [({}, True), (_BOTH_OPTIONS, True)],
    "reject (any options)": [({}, False), (_BOTH_OPTIONS, False)],
    "reject (any options; deprecated syntax)": [({}, False), (_BOTH_OPTIONS, False)],
    "reject even with allow_domain_literal=True": [
        ({}, False),
        ({"allow_domain_literal": True}, False),
    ],
    "reject by default; accept with allow_domain_literal=True": [
        ({}, False),
        ({"allow_domain_literal": True}, True),
    ],
    "reject by default; accept with allow_quoted_local=True": [
        ({}, False),
        ({"allow_quoted_local": True}, True),
    ],
    "reject with strict=True": [({}, True), ({"strict": True}, False)],
}

# Every python-email-validator case whose verdict we do not share, by id.
_LOCAL_OVER_64 = (
    "RFC 5321 section 4.5.3.1.1 caps the local part at 64 octets and we "
    "always enforce it; that library does so only with strict=True"
)
_EV_DIFFERENCES: dict[int, str] = {
    90: (
        "after NFC the address is 254 octets, within RFC 5321's limit; that "
        "library also counts the 256 octets of the decomposed input"
    ),
    117: _LOCAL_OVER_64,
    118: _LOCAL_OVER_64,
    119: _LOCAL_OVER_64,
    150: "an empty local part names no mailbox; allow_empty_local is not offered",
    151: "an empty local part names no mailbox; allow_empty_local is not offered",
    173: _LOCAL_OVER_64,
    201: _LOCAL_OVER_64,
    202: (
        "the quoted local part is 65 octets as written, 64 once the needless "
        "escape is dropped; we measure it as written, like strict=True"
    ),
    213: (
        "RFC 5321 section 4.1.3: '::' must stand for at least two groups of "
        "zeros, and here it stands for one"
    ),
}


def _load_cases(path: Path, *keys: str) -> list[dict[str, Any]]:
    if not path.exists():
        pytest.skip(f"public corpus not found at {path}")
    data: Any = json.loads(path.read_text(encoding="utf-8"))
    for key in keys:
        data = data[key]
    return list(data)


def _expand(options: dict[str, Any]) -> list[dict[str, Any]]:
    """Spell out options given as a list of values into one dict per value."""
    names = list(options)
    choices = [v if isinstance(v, list) else [v] for v in options.values()]
    return [dict(zip(names, values, strict=True)) for values in product(*choices)]


def _our_options(ev_options: dict[str, Any]) -> dict[str, bool]:
    """Translate that library's options to ours through _EV_OPTIONS."""
    ours: dict[str, bool] = {}
    for name, value in ev_options.items():
        target = _EV_OPTIONS[name]
        if target is not None:
            ours[target] = value
    return ours


def _ev_verdicts(case: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    """Every (options, verdict) pair that one corpus case records."""
    base: dict[str, Any] = case["options"]
    if case["group"] == "pyisemail":
        policy = _PYISEMAIL_POLICIES[case["expected"]["email_validator_policy"]]
        pairs = [({**base, **extra}, verdict) for extra, verdict in policy]
    else:
        pairs = [(base, case["valid"])]
        if "valid_when" in case:
            pairs.append((case["valid_when"]["options"], True))
        if "invalid_when" in case:
            pairs.append((case["invalid_when"]["options"], False))
    return [(each, verdict) for options, verdict in pairs for each in _expand(options)]


def test_python_email_validator_options_all_have_a_mapping() -> None:
    """Every option name the corpus uses is mapped, to ours or to none."""
    cases = _load_cases(_EV_CASES, "cases")

    used = {
        name for case in cases for options, _ in _ev_verdicts(case) for name in options
    }

    assert used <= set(_EV_OPTIONS)


def test_python_email_validator_differences_are_counted() -> None:
    """The list of deliberate differences cannot grow or shrink unnoticed."""
    assert len(_EV_DIFFERENCES) == 10
    assert len(_ISEMAIL_VS_EMAIL_VALIDATOR) == 10
    assert all(_EV_DIFFERENCES.values())


def test_python_email_validator_corpus_verdicts_agree() -> None:
    """Each case gets that library's verdict under each option set it records,
    except the listed differences, each of which must still differ."""
    cases = _load_cases(_EV_CASES, "cases")
    disagreements: set[int] = set()
    checked = 0
    for case in cases:
        for options, verdict in _ev_verdicts(case):
            checked += 1
            if is_valid_email(case["input"], **_our_options(options)) != verdict:
                disagreements.add(case["id"])

    assert len(cases) == 304
    assert checked >= len(cases)
    assert sorted(disagreements) == sorted(_EV_DIFFERENCES)


def test_python_email_validator_corpus_normalized_forms_agree() -> None:
    """Accepted corpus addresses normalize to the fields that library gives."""
    cases = _load_cases(_EV_CASES, "cases")
    fields = (
        "normalized",
        "local_part",
        "domain",
        "ascii_domain",
        "ascii_email",
        "smtputf8",
        "display_name",
    )
    differences = []
    compared = 0
    for case in cases:
        # The is_email group records a verdict but no normalized fields.
        if not case["valid"] or case["group"] == "pyisemail":
            continue
        if case["id"] in _EV_DIFFERENCES:
            continue
        for options in _expand(case["options"]):
            email = validate_email(case["input"], **_our_options(options))
            for field in fields:
                if field in case["expected"]:
                    compared += 1
                    if getattr(email, field) != case["expected"][field]:
                        differences.append((case["id"], field))

    assert differences == []
    assert compared > 100


# is_email categories. VALID and DNSWARN (a syntax-only check cannot see DNS)
# are accepted; CFWS, DEPREC, RFC5322 and ERR are refused. Of the RFC5321
# diagnoses, the quoted string and the address literal are accepted when
# their option is on; the dotless and numeric top-level domains never are.
_ISEMAIL_SUITES = ("tests", "tests_original")
_ISEMAIL_ACCEPTED = {"ISEMAIL_VALID_CATEGORY", "ISEMAIL_DNSWARN"}
_ISEMAIL_OPTIONAL = {
    "ISEMAIL_RFC5321_QUOTEDSTRING": "allow_quoted_local",
    "ISEMAIL_RFC5321_ADDRESSLITERAL": "allow_domain_literal",
}
_ISEMAIL_OPTION_SETS: list[dict[str, bool]] = [
    {},
    {"allow_quoted_local": True},
    {"allow_domain_literal": True},
    _BOTH_OPTIONS,
]

# Where the category and python-email-validator disagree, by (suite, id): the
# verdict we give, whose policy it is, and why.
_ISEMAIL_VS_EMAIL_VALIDATOR: dict[tuple[str, int], tuple[bool, str, str]] = {
    ("tests", 5): (
        False,
        "email-validator",
        "test@io has no dot: ICANN bars mail at a bare top-level domain (SAC053)",
    ),
    ("tests", 43): (
        False,
        "email-validator",
        '""@iana.org: an empty local part names no mailbox',
    ),
    ("tests_original", 31): (
        False,
        "email-validator",
        '""@iana.org: an empty local part names no mailbox',
    ),
    ("tests_original", 8): (
        False,
        "email-validator",
        "the top-level domain x2 ends with a digit, as no delegated one does",
    ),
    ("tests_original", 96): (
        False,
        "email-validator",
        "the top-level domain x123 ends with a digit, as no delegated one does",
    ),
    ("tests_original", 279): (
        False,
        "email-validator",
        "xn--example is not a valid A-label (RFC 5891 section 5.4), so no "
        "resolver will look it up",
    ),
    ("tests", 26): (
        False,
        "is_email",
        "a 65-octet local part breaks RFC 5321 section 4.5.3.1.1, which "
        "email-validator enforces only with strict=True",
    ),
    ("tests", 59): (
        False,
        "is_email",
        "a 65-octet quoted local part breaks RFC 5321 section 4.5.3.1.1",
    ),
    ("tests", 60): (
        False,
        "is_email",
        "the quoted local part is 65 octets as written; dropping its needless "
        "escape would make it fit, but other senders may use the written form",
    ),
    ("tests_original", 23): (
        False,
        "is_email",
        "a 65-octet local part breaks RFC 5321 section 4.5.3.1.1",
    ),
}


def _isemail_expected(case: dict[str, Any], options: dict[str, bool]) -> bool:
    option = _ISEMAIL_OPTIONAL.get(case["diagnosis"])
    if option is not None:
        return options.get(option, False)
    return case["category"] in _ISEMAIL_ACCEPTED


@pytest.mark.parametrize("options", _ISEMAIL_OPTION_SETS, ids=repr)
def test_isemail_corpus_categories_agree(options: dict[str, bool]) -> None:
    """Each is_email case gets its category's verdict under our policy, except
    where we side with python-email-validator as listed."""
    disagreements = set()
    sided_with_email_validator = set()
    for suite in _ISEMAIL_SUITES:
        for case in _load_cases(_ISEMAIL_CASES, suite, "cases"):
            key = (suite, case["id"])
            expected = _isemail_expected(case, options)
            if is_valid_email(case["address"], **options) != expected:
                disagreements.add(key)
            settled = _ISEMAIL_VS_EMAIL_VALIDATOR.get(key)
            if settled and settled[1] == "email-validator" and settled[0] != expected:
                sided_with_email_validator.add(key)

    assert disagreements == sided_with_email_validator


@pytest.mark.parametrize(
    ("suite", "case_id"), sorted(_ISEMAIL_VS_EMAIL_VALIDATOR), ids=str
)
def test_isemail_and_email_validator_disagreements_are_settled(
    suite: str, case_id: int
) -> None:
    """Where the two references disagree we give the listed verdict, whatever
    the options."""
    verdict, policy, reason = _ISEMAIL_VS_EMAIL_VALIDATOR[suite, case_id]
    cases = {case["id"]: case for case in _load_cases(_ISEMAIL_CASES, suite, "cases")}

    address = cases[case_id]["address"]

    assert policy in {"is_email", "email-validator"} and reason
    for options in _ISEMAIL_OPTION_SETS:
        assert is_valid_email(address, **options) is verdict
