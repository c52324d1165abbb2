"""Email address validation for addresses that can receive mail.

The policy is practical rather than archival: an address is accepted when a
mail server following RFC 5321 could deliver to it, using the RFC 5322
dot-atom syntax where the two RFCs agree. Comments, folding white space and
obsolete forms that RFC 5322 still parses are refused. Internationalized
addresses follow RFC 6531 (a UTF-8 local part needs SMTPUTF8) and
IDNA 2008 with the UTS #46 mapping (through the ``idna`` package).

Input is normalized to NFC before any check, and lengths are counted in
UTF-8 octets: 64 for the local part, 254 for the address, 63 for a domain
label and 253 for the domain. Domains must have a dot and a top-level domain
ending with a letter; special-use ones such as ``localhost`` or ``onion``
(RFC 6761) are refused. Nothing touches the network unless asked to.

>>> email = validate_email("Jane.Doe@Example.COM")
>>> email.normalized
'Jane.Doe@example.com'
>>> validate_email("user@bücher.de").ascii_domain
'xn--bcher-kva.de'
>>> validate_email('"Doe, Jane" <jane@example.com>', allow_display_name=True)
... # doctest: +NORMALIZE_WHITESPACE
ValidatedEmail(normalized='jane@example.com', local_part='jane',
    domain='example.com', ascii_domain='example.com',
    ascii_email='jane@example.com', smtputf8=False, display_name='Doe, Jane')
>>> validate_email("jane..doe@example.com")
Traceback (most recent call last):
    ...
utils.errors.InvalidEmailError: the local part has two dots in a row at position 4
>>> validate_email("lpr@printer.local")  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
utils.errors.InvalidEmailError: the top-level domain 'local' is reserved ...
>>> validate_email("ci@mycompany.test", test_environment=True).domain
'mycompany.test'
>>> is_valid_email("no-at-sign.example.com")
False
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from dataclasses import dataclass

import idna

from utils.errors import InvalidEmailError

__all__ = ["ValidatedEmail", "is_valid_email", "validate_email"]

# RFC 5321 section 4.5.3.1: size limits, all in octets.
_MAX_LOCAL_OCTETS = 64
_MAX_LABEL_OCTETS = 63
_MAX_DOMAIN_OCTETS = 253
# RFC 5321 section 4.5.3.1.3 allows a 256-octet path, which includes the
# angle brackets around the address.
_MAX_ADDRESS_OCTETS = 254

# Refuse oversized input before normalizing or scanning it. NFC can merge up
# to four code points into one (a Greek vowel with three marks), so no string
# longer than this can shrink to a 254-octet address.
_MAX_ADDRESS_CHARS = 4 * _MAX_ADDRESS_OCTETS
# RFC 5322 section 2.1.1: a header line, and so a display name, is at most 998
# characters.
_MAX_DISPLAY_NAME_CHARS = 998

# RFC 5322 section 3.2.3 atext, widened by RFC 6531 section 3.3 to any
# non-ASCII character. Unsafe non-ASCII characters are refused separately.
# The classes below name the ASCII characters that are *not* allowed rather
# than the allowed range up to U+10FFFF: the same sets, but a class reaching
# U+10FFFF takes the regex compiler about 12 ms at import.
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-"
_SPECIALS = r'"(),.:;<>@\[\\\]'  # RFC 5322 section 3.2.3 specials
_WORD = rf"[^\x00-\x20\x7f{_SPECIALS}]"  # atext or any non-ASCII character
_DOT_ATOM = re.compile(rf"{_WORD}+(?:\.{_WORD}+)*")
# ASCII that may not stand unquoted in a local part (atext and dots may).
_BAD_LOCAL_ASCII = re.compile(r'[\x00-\x20\x7f"(),:;<>@\[\\\]]')
# ASCII other than letters, digits, hyphens and dots.
_BAD_DOMAIN_ASCII = re.compile(r"[\x00-\x2c\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# RFC 1035 section 2.3.1 as relaxed by RFC 1123 section 2.1: letters, digits
# and hyphens, never a hyphen at either end.
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
# The common case in one pass: an ASCII dot-atom at an ASCII host name. A
# match still needs the length and top-level-domain checks; anything else
# takes the slow path, which also explains what is wrong.
_FAST_PATH = re.compile(
    rf"([{_ATEXT}]+(?:\.[{_ATEXT}]+)*)"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
)
# RFC 5322 section 3.2.3 specials, which an unquoted display name cannot
# hold. The period is allowed, as the obsolete phrase syntax of section 4.1
# does, because "John Q. Public" is common.
_DISPLAY_SPECIALS = frozenset('()<>[]:;@\\,"')
# General categories that have no business in an address: controls, format
# characters (invisible), surrogates, private use, unassigned code points and
# every kind of space or line separator.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
# Top-level domains that never lead to a mailbox on the Internet: "arpa" is
# infrastructure (RFC 3172), "invalid", "localhost" and "test" are reserved
# by RFC 6761 section 6, "local" is multicast DNS (RFC 6762) and "onion" is
# Tor (RFC 7686 section 2 asks applications to refuse it).
_SPECIAL_USE_TLDS = frozenset(
    {"arpa", "invalid", "local", "localhost", "onion", "test"}
)
# The one name that ``test_environment`` lets through, bare or as a TLD.
_TEST_TLD = "test"


@dataclass(frozen=True, slots=True)
class ValidatedEmail:
    """An address that passed :func:`validate_email`, in normalized form.

    Attributes:
        normalized: ``local_part@domain``, the form to store and compare.
        local_part: the part before the ``@``, case preserved, NFC; quoted
            only when it cannot be written as a dot-atom.
        domain: the domain in Unicode, NFC and lowercase.
        ascii_domain: the domain as IDNA A-labels (``xn--...``).
        ascii_email: ``local_part@ascii_domain``, or ``None`` when the local
            part is not ASCII and so needs SMTPUTF8.
        smtputf8: whether delivery needs the SMTPUTF8 extension (RFC 6531).
        display_name: the name in ``Name <address>`` form, if one was given.
    """

    normalized: str
    local_part: str
    domain: str
    ascii_domain: str
    ascii_email: str | None
    smtputf8: bool
    display_name: str | None = None


def validate_email(
    address: str,
    *,
    allow_smtputf8: bool = True,
    allow_quoted_local: bool = False,
    allow_domain_literal: bool = False,
    allow_display_name: bool = False,
    test_environment: bool = False,
    check_deliverability: bool = False,
) -> ValidatedEmail:
    """Check that ``address`` can receive mail and return its normalized form.

    Args:
        address: the address, or ``Name <address>`` if display names are
            allowed.
        allow_smtputf8: accept a non-ASCII local part (RFC 6531).
        allow_quoted_local: accept a quoted local part such as
            ``"john smith"@example.com`` (RFC 5321 section 4.1.2).
        allow_domain_literal: accept ``[192.0.2.1]`` or ``[IPv6:...]`` as the
            domain (RFC 5321 section 4.1.3).
        allow_display_name: accept ``Name <address>`` (RFC 5322 section 3.4).
        test_environment: accept the reserved ``test`` domain (RFC 6761
            section 6.2), bare or as a top-level domain, for test suites.
            Other special-use domains such as ``localhost`` stay refused.
        check_deliverability: also check that the domain resolves in DNS.
            This does network I/O; it is off by default.

    Returns:
        The validated address; see :class:`ValidatedEmail`.

    Raises:
        TypeError: ``address`` is not a ``str``.
        InvalidEmailError: the address is refused; ``code`` says why and
            ``position`` points at the offending character in ``address``.
    """
    if not isinstance(address, str):
        raise TypeError(
            f"validate_email() needs a str, got {type(address).__name__}; "
            "decode bytes before validating"
        )
    limit = _MAX_ADDRESS_CHARS + (_MAX_DISPLAY_NAME_CHARS if allow_display_name else 0)
    if len(address) > limit:
        raise InvalidEmailError(
            "too_long",
            f"the input is {len(address)} characters long; no address that "
            f"long can fit in {_MAX_ADDRESS_OCTETS} octets",
        )

    display_name: str | None = None
    start = 0
    text = address
    if text.endswith(">") and "<" in text:
        if not allow_display_name:
            raise InvalidEmailError(
                "display_name_not_allowed",
                "the input looks like 'Name <address>'; pass "
                "allow_display_name=True to accept a display name",
                position=text.find("<"),
            )
        display_name, start = _split_display_name(text)
        text = text[start:-1]

    result = _fast_path(text, display_name)
    if result is None:
        result = _slow_path(
            text,
            start,
            display_name=display_name,
            allow_smtputf8=allow_smtputf8,
            allow_quoted_local=allow_quoted_local,
            allow_domain_literal=allow_domain_literal,
            test_environment=test_environment,
        )
    if check_deliverability:
        _check_deliverability(result.ascii_domain)
    return result


def is_valid_email(address: str, **options: bool) -> bool:
    """Return whether :func:`validate_email` accepts ``address``.

    Takes the same keyword options as :func:`validate_email`. A non-``str``
    argument is a programming error and still raises ``TypeError``.
    """
    try:
        validate_email(address, **options)
    except InvalidEmailError:
        return False
    return True


def _fast_path(text: str, display_name: str | None) -> ValidatedEmail | None:
    """Validate a plain ASCII address without IDNA, or return None."""
    if not text.isascii():
        return None
    match = _FAST_PATH.fullmatch(text)
    if match is None:
        return None
    local, domain = match.groups()
    # A label with "--" in positions 3 and 4 is reserved or an A-label
    # (RFC 5891 section 4.2.3.1); only the slow path checks those.
    if "--" in domain or len(local) > _MAX_LOCAL_OCTETS:
        return None
    if len(text) > _MAX_ADDRESS_OCTETS or len(domain) > _MAX_DOMAIN_OCTETS:
        return None
    tld = domain.rpartition(".")[2]
    if not tld.isalpha() or tld.lower() in _SPECIAL_USE_TLDS:
        return None

    domain = domain.lower()
    normalized = f"{local}@{domain}"
    return ValidatedEmail(
        normalized=normalized,
        local_part=local,
        domain=domain,
        ascii_domain=domain,
        ascii_email=normalized,
        smtputf8=False,
        display_name=display_name,
    )


def _slow_path(
    text: str,
    start: int,
    *,
    display_name: str | None,
    allow_smtputf8: bool,
    allow_quoted_local: bool,
    allow_domain_literal: bool,
    test_environment: bool,
) -> ValidatedEmail:
    """Validate any address and explain the first problem found."""
    norm = text if text.isascii() else unicodedata.normalize("NFC", text)
    locate = _Locator(text, norm, start)

    if allow_quoted_local and norm.startswith('"'):
        local, at = _parse_quoted_local(norm, locate, allow_smtputf8=allow_smtputf8)
        written_local = norm[:at]
        if at >= len(norm) or norm[at] != "@":
            raise InvalidEmailError(
                "no_at",
                "a quoted local part must be followed by an @-sign",
                position=locate(at),
            )
    else:
        at = norm.rfind("@")
        if at < 0:
            raise InvalidEmailError("no_at", "an email address must have an @-sign")
        local = written_local = _check_local(
            norm[:at], locate, allow_smtputf8=allow_smtputf8
        )

    domain_text = norm[at + 1 :]
    if domain_text.startswith("["):
        if not allow_domain_literal:
            raise InvalidEmailError(
                "domain_literal_not_allowed",
                "a bracketed IP address is not accepted as the domain; pass "
                "allow_domain_literal=True to accept one",
                position=locate(at + 1),
            )
        domain = ascii_domain = _check_domain_literal(domain_text, locate, at + 1)
    else:
        domain, ascii_domain = _check_domain(
            domain_text, locate, at + 1, test_environment=test_environment
        )

    # A quoted local part is measured as written too, needless quotes and
    # escapes included: other senders may use the caller's form on the wire.
    # The normalized form is never longer than the written one.
    local_octets = len(written_local.encode("utf-8"))
    if local_octets > _MAX_LOCAL_OCTETS:
        raise InvalidEmailError(
            "too_long",
            f"the local part is {local_octets} octets; the limit is "
            f"{_MAX_LOCAL_OCTETS} (RFC 5321 section 4.5.3.1.1)",
        )
    # A server may see either domain form, so both must fit.
    domain_octets = max(len(ascii_domain), len(domain.encode("utf-8")))
    total = len(local.encode("utf-8")) + 1 + domain_octets
    if total > _MAX_ADDRESS_OCTETS:
        raise InvalidEmailError(
            "too_long",
            f"the address is {total} octets; the limit is {_MAX_ADDRESS_OCTETS} "
            "(RFC 5321 section 4.5.3.1.3)",
        )

    smtputf8 = not local.isascii()
    return ValidatedEmail(
        normalized=f"{local}@{domain}",
        local_part=local,
        domain=domain,
        ascii_domain=ascii_domain,
        ascii_email=None if smtputf8 else f"{local}@{ascii_domain}",
        smtputf8=smtputf8,
        display_name=display_name,
    )


class _Locator:
    """Map an index in the normalized address back to the caller's input."""

    __slots__ = ("_norm", "_offset", "_raw")

    def __init__(self, raw: str, norm: str, offset: int) -> None:
        self._raw = raw
        self._norm = norm
        self._offset = offset

    def __call__(self, index: int) -> int:
        if self._raw is self._norm or self._raw == self._norm:
            return self._offset + index
        # Error path only: find the shortest input prefix whose NFC form
        # reaches past ``index``. NFC never shortens a prefix when one more
        # character is appended, so the search is monotone.
        lo, hi = 0, len(self._raw)
        while lo < hi:
            mid = (lo + hi) // 2
            if len(unicodedata.normalize("NFC", self._raw[: mid + 1])) > index:
                hi = mid
            else:
                lo = mid + 1
        return self._offset + lo


def _describe(ch: str) -> str:
    """Name a character for a message: the glyph if printable, and its code."""
    code = f"U+{ord(ch):04X}"
    name = unicodedata.name(ch, "")
    label = f"{code} {name}" if name else code
    return f"{ch!r} ({label})" if ch.isprintable() else label


def _unsafe(ch: str, where: str, position: int) -> InvalidEmailError:
    return InvalidEmailError(
        "unsafe_char",
        f"the {where} contains the unsafe character {_describe(ch)} "
        f"at position {position}",
        position=position,
    )


def _check_unicode_char(
    ch: str, index: int, where: str, locate: _Locator, *, allow_smtputf8: bool
) -> None:
    """Refuse a non-ASCII local-part character that is unsafe or not allowed."""
    if unicodedata.category(ch) in _UNSAFE_CATEGORIES:
        raise _unsafe(ch, where, locate(index))
    if not allow_smtputf8:
        position = locate(index)
        raise InvalidEmailError(
            "smtputf8_not_allowed",
            f"the {where} contains the non-ASCII character {_describe(ch)} at "
            f"position {position}, which needs SMTPUTF8 (RFC 6531); pass "
            "allow_smtputf8=True to accept it",
            position=position,
        )


def _check_decomposition(ch: str, index: int, locate: _Locator) -> None:
    """Refuse a character that decomposes into an ASCII special.

    U+226E (NOT LESS-THAN) is '<' plus a combining stroke under NFD, so
    another system that decomposes the address would see a '<'.
    """
    decomposition = unicodedata.decomposition(ch)
    # Compatibility mappings start with a tag such as "<wide>"; only the
    # canonical ones matter, since NFKC is not applied to addresses.
    if not decomposition or decomposition.startswith("<"):
        return
    first = chr(int(decomposition.split()[0], 16))
    if first.isascii() and _BAD_LOCAL_ASCII.match(first):
        position = locate(index)
        raise InvalidEmailError(
            "bad_local_char",
            f"the local part cannot contain {_describe(ch)}, found at position "
            f"{position}: it decomposes to {first!r}",
            position=position,
        )


def _check_local(local: str, locate: _Locator, *, allow_smtputf8: bool) -> str:
    """Check an unquoted local part (RFC 5322 section 3.4.1 dot-atom)."""
    if not local:
        raise InvalidEmailError(
            "empty_local", "there must be something before the @-sign", position=0
        )

    bad = _BAD_LOCAL_ASCII.search(local)
    if bad is not None:
        ch, position = bad.group(), locate(bad.start())
        if _ASCII_CONTROL.match(ch):
            raise _unsafe(ch, "local part", position)
        hint = ""
        if ch == '"':
            hint = "; pass allow_quoted_local=True to accept a quoted local part"
        elif ch == "@":
            hint = "; only one @-sign is allowed outside quotes"
        raise InvalidEmailError(
            "bad_local_char",
            f"the local part cannot contain {_describe(ch)}, found at "
            f"position {position}{hint}",
            position=position,
        )

    if not local.isascii():
        for index, ch in enumerate(local):
            if ch.isascii():
                continue
            _check_unicode_char(
                ch, index, "local part", locate, allow_smtputf8=allow_smtputf8
            )
            _check_decomposition(ch, index, locate)
        if unicodedata.category(local[0]).startswith("M"):
            raise _unsafe(local[0], "local part", locate(0))

    _check_dots(local, "local part", locate, 0)
    return local


def _check_dots(text: str, where: str, locate: _Locator, base: int) -> None:
    """Refuse a dot at either end or two in a row (RFC 5322 dot-atom)."""
    if text.startswith("."):
        raise InvalidEmailError(
            "leading_dot",
            f"the {where} cannot start with a dot",
            position=locate(base),
        )
    if text.endswith("."):
        position = locate(base + len(text) - 1)
        raise InvalidEmailError(
            "trailing_dot",
            f"the {where} cannot end with a dot (position {position})",
            position=position,
        )
    double = text.find("..")
    if double >= 0:
        position = locate(base + double)
        raise InvalidEmailError(
            "consecutive_dots",
            f"the {where} has two dots in a row at position {position}",
            position=position,
        )


def _parse_quoted_local(
    norm: str, locate: _Locator, *, allow_smtputf8: bool
) -> tuple[str, int]:
    """Parse ``"..."`` at the start of ``norm`` (RFC 5321 section 4.1.2).

    Returns the local part in its shortest form (unquoted when the content is
    a dot-atom) and the index just past the closing quote.
    """
    chars: list[str] = []
    index = 1
    while index < len(norm):
        ch = norm[index]
        if ch == '"':
            break
        if ch == "\\":
            # quoted-pairSMTP is a backslash and one printable ASCII
            # character; RFC 6531 section 3.3 widens qtextSMTP only, so a
            # non-ASCII character cannot be escaped.
            index += 1
            if index >= len(norm):
                break
            ch = norm[index]
            if not " " <= ch <= "~":
                position = locate(index)
                raise InvalidEmailError(
                    "bad_local_char",
                    f"a backslash in a quoted local part can escape only "
                    f"printable ASCII, not {_describe(ch)} at position {position}",
                    position=position,
                )
        if ch.isascii():
            if not " " <= ch <= "~":
                raise _unsafe(ch, "quoted local part", locate(index))
        else:
            _check_unicode_char(
                ch, index, "quoted local part", locate, allow_smtputf8=allow_smtputf8
            )
        chars.append(ch)
        index += 1
    else:
        index = len(norm)
    if index >= len(norm):
        raise InvalidEmailError(
            "bad_local_char",
            "the quoted local part has no closing '\"'",
            position=locate(0),
        )

    content = "".join(chars)
    if not content:
        raise InvalidEmailError(
            "empty_local", "the quoted local part is empty", position=locate(0)
        )
    if _DOT_ATOM.fullmatch(content):
        return content, index + 1
    escaped = content.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"', index + 1


def _check_domain(
    text: str, locate: _Locator, base: int, *, test_environment: bool
) -> tuple[str, str]:
    """Check a host name; return its Unicode and A-label forms."""
    if not text:
        raise InvalidEmailError(
            "empty_domain",
            "there must be a domain after the @-sign",
            position=locate(base),
        )

    bad = _BAD_DOMAIN_ASCII.search(text)
    if bad is not None:
        ch, position = bad.group(), locate(base + bad.start())
        if _ASCII_CONTROL.match(ch):
            raise _unsafe(ch, "domain", position)
        raise InvalidEmailError(
            "bad_domain",
            f"the domain cannot contain {_describe(ch)}, found at position {position}",
            position=position,
        )
    if not text.isascii():
        for index, ch in enumerate(text):
            if not ch.isascii() and unicodedata.category(ch) in _UNSAFE_CATEGORIES:
                raise _unsafe(ch, "domain", locate(base + index))
    _check_dots(text, "domain", locate, base)
    if len(text) > _MAX_DOMAIN_OCTETS:
        raise InvalidEmailError(
            "too_long",
            f"the domain is {len(text)} characters; the limit is "
            f"{_MAX_DOMAIN_OCTETS} octets (RFC 5321 section 4.5.3.1.2)",
        )

    if text.isascii():
        mapped = text.lower()
    else:
        # UTS #46 section 4: map (case fold, width fold, ideographic full
        # stops to dots) before splitting into labels.
        try:
            mapped = idna.uts46_remap(text, std3_rules=True, transitional=False)
        except UnicodeError as exc:  # idna.IDNAError is a UnicodeError
            raise InvalidEmailError(
                "bad_domain", f"the domain is not valid: {exc}"
            ) from None
        if "" in mapped.split("."):
            raise InvalidEmailError(
                "bad_domain", f"the domain {mapped!r} has an empty label"
            )

    unicode_labels: list[str] = []
    ascii_labels: list[str] = []
    for label in mapped.split("."):
        unicode_label, ascii_label = _check_label(label)
        unicode_labels.append(unicode_label)
        ascii_labels.append(ascii_label)

    tld = ascii_labels[-1]
    testing = test_environment and tld == _TEST_TLD
    # Mail to a bare top-level domain does not work in practice, and ICANN
    # bars it for new ones (SSAC report SAC053 on dotless domains).
    if len(ascii_labels) < 2 and not testing:
        raise InvalidEmailError(
            "bad_domain",
            f"the domain {mapped!r} needs a dot; a bare host name cannot "
            "receive mail from the Internet",
        )
    # RFC 3696 section 2: a top-level domain is never all digits, so such a
    # domain is a mistyped IP address. No delegated top-level domain ends
    # with a digit either, A-labels included.
    if tld.isdigit():
        raise InvalidEmailError(
            "bad_domain", f"the top-level domain {tld!r} cannot be all digits"
        )
    if not tld[-1].isalpha():
        raise InvalidEmailError(
            "bad_domain", f"the top-level domain {tld!r} must end with a letter"
        )
    if tld in _SPECIAL_USE_TLDS and not testing:
        hint = "; pass test_environment=True to accept it" if tld == _TEST_TLD else ""
        raise InvalidEmailError(
            "special_use_domain",
            f"the top-level domain {tld!r} is reserved for special use and "
            f"cannot receive mail from the Internet{hint}",
        )
    ascii_domain = ".".join(ascii_labels)
    if len(ascii_domain) > _MAX_DOMAIN_OCTETS:
        raise InvalidEmailError(
            "too_long",
            f"the domain is {len(ascii_domain)} octets as IDNA A-labels; the "
            f"limit is {_MAX_DOMAIN_OCTETS} (RFC 5321 section 4.5.3.1.2)",
        )
    return ".".join(unicode_labels), ascii_domain


def _check_label(label: str) -> tuple[str, str]:
    """Check one mapped, lowercase label; return its U-label and A-label."""
    if label.isascii():
        if not _LDH_LABEL.fullmatch(label):
            raise InvalidEmailError(
                "bad_domain",
                f"the domain label {label!r} may hold only letters, digits and "
                "hyphens, and cannot start or end with a hyphen",
            )
        ascii_label = label
        unicode_label = label
        if label[2:4] == "--":
            if not label.startswith("xn--"):
                # RFC 5891 section 4.2.3.1: reserved for future encodings.
                raise InvalidEmailError(
                    "bad_domain",
                    f"the domain label {label!r} has '--' in positions 3 and 4, "
                    "which is reserved for IDNA",
                )
            try:
                unicode_label = idna.ulabel(label)
            except UnicodeError as exc:
                raise InvalidEmailError(
                    "bad_domain", f"the domain label {label!r} is not valid: {exc}"
                ) from None
    else:
        # idna reports an overlong A-label as a generic error; measure the
        # Punycode (RFC 3492) first so the caller gets too_long.
        encoded_octets = 4 + len(label.encode("punycode"))
        if encoded_octets > _MAX_LABEL_OCTETS:
            raise InvalidEmailError(
                "too_long",
                f"the domain label {label!r} is {encoded_octets} octets as an "
                f"A-label; the limit is {_MAX_LABEL_OCTETS} (RFC 1035 section "
                "2.3.4)",
            )
        try:
            ascii_label = idna.alabel(label).decode("ascii")
        except UnicodeError as exc:
            raise InvalidEmailError(
                "bad_domain", f"the domain label {label!r} is not valid: {exc}"
            ) from None
        unicode_label = label

    if len(ascii_label) > _MAX_LABEL_OCTETS:
        raise InvalidEmailError(
            "too_long",
            f"the domain label {unicode_label!r} is {len(ascii_label)} octets; "
            f"the limit is {_MAX_LABEL_OCTETS} (RFC 1035 section 2.3.4)",
        )
    return unicode_label, ascii_label


def _check_domain_literal(text: str, locate: _Locator, base: int) -> str:
    """Check ``[IPv4]`` or ``[IPv6:...]`` (RFC 5321 section 4.1.3)."""
    if not text.endswith("]"):
        raise InvalidEmailError(
            "bad_domain",
            "a domain literal must end with ']'",
            position=locate(base + len(text) - 1),
        )
    inner = text[1:-1]
    try:
        if inner[:5].lower() == "ipv6:":
            address = ipaddress.IPv6Address(inner[5:])
            _check_ipv6_compression(inner[5:])
            return f"[IPv6:{address.compressed}]"
        return f"[{ipaddress.IPv4Address(inner)}]"
    except ValueError as exc:
        raise InvalidEmailError(
            "bad_domain",
            f"the domain literal {text!r} is not an IPv4 or IPv6 address: {exc}",
            position=locate(base),
        ) from None


def _check_ipv6_compression(text: str) -> None:
    """Refuse "::" standing for a single group (RFC 5321 section 4.1.3).

    IPv6-comp allows at most 6 groups beside the "::" (4 before an embedded
    IPv4 address), so "::" always replaces at least two zero groups.
    """
    if "::" not in text:
        return
    groups = [group for group in text.replace("::", ":").split(":") if group]
    limit = 4 if groups and "." in groups[-1] else 6
    if groups and "." in groups[-1]:
        groups.pop()
    if len(groups) > limit:
        raise ValueError("'::' must stand for at least two groups of zeros")


def _split_display_name(text: str) -> tuple[str | None, int]:
    """Split ``Name <address>`` (RFC 5322 section 3.4 name-addr).

    Returns the display name (``None`` if empty) and the index just past the
    ``<``. The caller has checked that ``text`` ends with ``>``.
    """
    if text.startswith('"'):
        chars: list[str] = []
        index = 1
        while index < len(text) and text[index] != '"':
            if text[index] == "\\":
                index += 1
            if index < len(text):
                chars.append(text[index])
            index += 1
        if index >= len(text):
            raise InvalidEmailError(
                "bad_display_name",
                "the quoted display name has no closing '\"'",
                position=0,
            )
        name = "".join(chars)
        rest = index + 1
        while rest < len(text) and text[rest] == " ":
            rest += 1
        if text[rest] != "<":
            raise InvalidEmailError(
                "bad_display_name",
                f"expected '<' after the quoted display name at position {rest}",
                position=rest,
            )
        lt = rest
    else:
        lt = text.find("<")
        name = text[:lt].strip(" ")
        for index, ch in enumerate(text[:lt]):
            if ch in _DISPLAY_SPECIALS:
                raise InvalidEmailError(
                    "bad_display_name",
                    f"an unquoted display name cannot contain {_describe(ch)}, "
                    f"found at position {index}; put the name in double quotes",
                    position=index,
                )

    for index, ch in enumerate(text[:lt]):
        if ch != " " and unicodedata.category(ch) in _UNSAFE_CATEGORIES:
            raise InvalidEmailError(
                "unsafe_char",
                f"the display name contains the unsafe character {_describe(ch)} "
                f"at position {index}",
                position=index,
            )
    return unicodedata.normalize("NFC", name) or None, lt + 1


def _check_deliverability(ascii_domain: str) -> None:
    """Refuse a domain that does not resolve.

    The standard library has no MX query, so this asks the resolver for an
    address instead: RFC 5321 section 5.1 falls back to the A/AAAA record when
    there is no MX. A domain with only an MX record may therefore be refused,
    and a resolving domain may still refuse mail.
    """
    if ascii_domain.startswith("["):
        return
    try:
        socket.getaddrinfo(ascii_domain, 25, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise InvalidEmailError(
            "undeliverable",
            f"the domain {ascii_domain!r} does not resolve in DNS: {exc}",
        ) from None
