"""String utilities: slugs, truncation and sanitizing untrusted text.

>>> slugify("Hello, World!")
'hello-world'
>>> slugify("Straße &amp; Привет")
'strasse-privet'
>>> slugify("C'est déjà l'été", allow_unicode=True)
'c-est-déjà-l-été'
>>> slugify("one two three four", max_length=12, word_boundary=True)
'one-two-four'
>>> slugify("one two three four", max_length=12, word_boundary=True, save_order=True)
'one-two'
>>> truncate("The quick brown fox", 12)
'The quick…'
>>> truncate("flags 🇫🇷🇩🇪", 9, placeholder="", word_boundary=False)
'flags 🇫🇷'
>>> truncate("東京都の天気", 7, columns=True)
'東京都…'
>>> sanitize("<b>safe</b>\\u202etxt.exe<script>alert(1)</script>")
'safetxt.exe'
>>> sanitize("<b>bold</b> & <i>more</i>", html="escape")
'&lt;b&gt;bold&lt;/b&gt; &amp; &lt;i&gt;more&lt;/i&gt;'
>>> sanitize('<b onclick="x()">bold</b><script>x()</script>', html="clean")
'<b>bold</b>'
"""

from __future__ import annotations

import html as _html
import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Set
from functools import lru_cache
from html.entities import html5 as _HTML5_ENTITIES
from html.parser import HTMLParser
from itertools import product
from typing import Final, Literal

import nh3
from text_unidecode import unidecode  # type: ignore[import-untyped]

__all__ = ["CLEAN_ATTRIBUTES", "CLEAN_TAGS", "sanitize", "slugify", "truncate"]

_NOT_ASCII_ALNUM = re.compile(r"[^a-zA-Z0-9]+")
# bytes.translate tables for ASCII text: every character but a letter or a
# digit becomes a space (what _NOT_ASCII_ALNUM matches), and in the second
# table A to Z also become a to z.
_ASCII_GAP_BYTES = bytes(code for code in range(128) if not chr(code).isalnum())
_ASCII_GAPS: Final = bytes.maketrans(_ASCII_GAP_BYTES, b" " * len(_ASCII_GAP_BYTES))
_ASCII_GAPS_LOWER: Final = bytes.maketrans(
    _ASCII_GAP_BYTES + string.ascii_uppercase.encode(),
    b" " * len(_ASCII_GAP_BYTES) + string.ascii_lowercase.encode(),
)
_NOT_WORD = re.compile(r"[\W_]+")
# Splits text into words and the whitespace between them, keeping both.
_SPACES = re.compile(r"(\s+)")
# "1,000" is one number, not two words.
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d)")
# Character references with their terminating semicolon, in one pass:
# decimal, hexadecimal, named (HTML5 names are at most 32 characters).
_REFERENCE = re.compile(
    r"&(?:#([0-9]+);|#[xX]([0-9a-fA-F]+);|([A-Za-z][A-Za-z0-9]{0,31};))"
)

_ZWJ = 0x200D
_JOINERS = frozenset("\u200c\u200d")
_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F1FF + 1)
# Characters that attach to the one before them, beyond category M*:
# ZWJ, emoji skin tones (Sk), and the tag characters of subdivision flags.
_EXTENDERS = frozenset(
    [_ZWJ, *range(0x1F3FB, 0x1F3FF + 1), *range(0xE0020, 0xE007F + 1)]
)
_ZERO_COLUMNS = frozenset({"Mn", "Me", "Cf"})
_WIDE = frozenset({"W", "F"})

# C0 and C1 controls except tab and newline, and the bidirectional embedding,
# override and isolate controls used by Trojan Source (CVE-2021-42574).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# U+0338 composes with a preceding ">" into U+226F under NFC (and with "<"
# and "=" likewise). nh3 normalizes its output, so a U+0338 that starts the
# text after an allowed tag would eat that tag's ">" and turn the text into
# attributes. Numeric references are matched because nh3 decodes them.
_SOLIDUS_OVERLAY = re.compile(r"\u0338|&#0*824;?|&#[xX]0*338;?")

HtmlMode = Literal["strip", "escape", "clean"]
_HTML_MODES: Final = ("strip", "escape", "clean")
#: Tags kept by ``sanitize(..., html="clean")``: inline formatting, lists,
#: quotes, code and links. No images, tables, forms or layout.
CLEAN_TAGS: Final = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "em", "i", "li", "ol", "p",
        "pre", "s", "strong", "sub", "sup", "ul",
    }
)  # fmt: skip
#: Attributes kept by ``sanitize(..., html="clean")``, by tag. nh3 also adds
#: ``rel="noopener noreferrer"`` to links and drops unsafe URL schemes.
CLEAN_ATTRIBUTES: Final[Mapping[str, frozenset[str]]] = {
    "a": frozenset({"href", "title"}),
    "abbr": frozenset({"title"}),
}


def slugify(
    text: str,
    *,
    separator: str = "-",
    max_length: int | None = None,
    word_boundary: bool = False,
    save_order: bool = False,
    lowercase: bool = True,
    allow_unicode: bool = False,
    stopwords: Iterable[str] = (),
    replacements: Iterable[tuple[str, str]] = (),
    regex_pattern: re.Pattern[str] | str | None = None,
    entities: bool = True,
    decimal: bool = True,
    hexadecimal: bool = True,
) -> str:
    """Turn ``text`` into a URL-friendly slug.

    HTML character references are decoded first (``&#223;`` and ``ß`` both
    give ``ss``), then ``replacements`` are applied to the decoded text.
    Without ``allow_unicode`` the text is transliterated to ASCII (``ß``
    becomes ``ss``, ``Привет`` becomes ``privet``); with it, letters and
    digits of every script, astral planes included, are kept in NFKC form
    together with the combining marks and joiners (ZWNJ, ZWJ) inside a
    word. An apostrophe in the input separates words (``C'est`` becomes
    ``c-est``); those produced by transliteration are dropped. Every other
    run of characters outside letters and digits becomes one separator.

    Args:
        text: the text to slugify.
        separator: placed between words.
        max_length: longest result, separators included; ``None`` for no
            limit. The last word that fits in part is cut, unless
            ``word_boundary`` is set.
        word_boundary: keep only whole words within ``max_length``. A word
            that does not fit is skipped and later, shorter words may take
            its place; if no word fits, the first is cut.
        save_order: with ``word_boundary``, stop at the first word that
            does not fit instead of trying later ones.
        lowercase: lowercase the result.
        allow_unicode: keep non-ASCII letters instead of transliterating.
        stopwords: single words to leave out, compared after the same
            normalization as the text.
        replacements: ``(old, new)`` pairs replaced in order.
        regex_pattern: matches the characters that separate words, in
            place of the default (everything but letters and digits). It
            sees the text after transliteration and lowercasing; a ``-``
            it lets through still separates words.
        entities: decode named references such as ``&amp;``.
        decimal: decode decimal references such as ``&#381;``.
        hexadecimal: decode hexadecimal references such as ``&#x17D;``.

    Raises:
        ValueError: ``max_length`` is negative.
    """
    if max_length is not None and max_length < 0:
        raise ValueError(f"max_length must be >= 0, not {max_length}")

    if "&" in text and (entities or decimal or hexadecimal):
        text = _REFERENCE.sub(_DECODERS[entities, decimal, hexadecimal], text)
    for old, new in replacements:
        text = text.replace(old, new)
    pattern = None if regex_pattern is None else re.compile(regex_pattern)
    words = _words(text, lowercase, allow_unicode, pattern)
    if stopwords:
        dropped = {
            word
            for stopword in stopwords
            for word in _words(stopword, lowercase, allow_unicode, pattern)
        }
        words = [word for word in words if word not in dropped]

    if max_length is None:
        return separator.join(words)
    return _fit(words, separator, max_length, word_boundary, save_order)


def _reference_decoder(
    named: bool, decimal: bool, hexadecimal: bool
) -> Callable[[re.Match[str]], str]:
    def decode(match: re.Match[str]) -> str:
        number, hexa, name = match.groups()
        if name is not None:
            value = _HTML5_ENTITIES.get(name) if named else None
            return match.group() if value is None else value
        if number is not None and decimal:
            code = int(number)
        elif hexa is not None and hexadecimal:
            code = int(hexa, 16)
        else:
            return match.group()
        # Surrogates and numbers beyond Unicode stay as written.
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return match.group()
        return chr(code)

    return decode


# One decoder per combination of (entities, decimal, hexadecimal).
_DECODERS: Final = {
    flags: _reference_decoder(*flags) for flags in product((False, True), repeat=3)
}


def _words(
    text: str, lowercase: bool, allow_unicode: bool, pattern: re.Pattern[str] | None
) -> list[str]:
    """The words of ``text``, for the options of :func:`slugify`."""
    if pattern is not None or not text.isascii():
        return _general_words(text, lowercase, allow_unicode, pattern)

    # The fast path for ASCII, the common case. Invariant: it returns what
    # _general_words(text, lowercase, allow_unicode, None) returns, whatever
    # allow_unicode is. NFKC and transliteration leave ASCII unchanged; an
    # apostrophe is outside letters and digits, so it is a gap either way;
    # the lowercasing table changes exactly A to Z, as str.lower does in
    # ASCII; and dropping commas between digits commutes with lowercasing.
    # tests/test_strings.py compares the two paths on generated ASCII text.
    if text.isalnum():
        return [text.lower() if lowercase else text]
    if "," in text:
        text = _THOUSANDS_COMMA.sub("", text)
    # One table lookup per byte replaces both str.lower and the gap regex:
    # only letters, digits and spaces are left, so str.split finds the
    # words. bytes.translate is a plain C loop, where str.translate calls
    # into a dict for each distinct character; ASCII text encodes and
    # decodes as a copy.
    table = _ASCII_GAPS_LOWER if lowercase else _ASCII_GAPS
    return text.encode().translate(table).decode().split()


def _general_words(
    text: str, lowercase: bool, allow_unicode: bool, pattern: re.Pattern[str] | None
) -> list[str]:
    if "'" in text:
        text = text.replace("'", " ")

    if allow_unicode:
        text = unicodedata.normalize("NFKC", text)
    elif not text.isascii():
        text = "".join(
            part if part.isascii() else _transliterate(part)
            for part in _SPACES.split(text)
        )
    if lowercase:
        text = text.lower()
    if "," in text:
        text = _THOUSANDS_COMMA.sub("", text)

    if pattern is not None:
        return [word for word in pattern.sub("-", text).split("-") if word]
    # The gaps become spaces: words hold no whitespace, so str.split finds
    # them faster than a regex split and an empty-word filter would.
    if text.isascii():
        return _NOT_ASCII_ALNUM.sub(" ", text).split()
    return _NOT_WORD.sub(_gap, text).split()


@lru_cache(maxsize=4096)
def _transliterate(word: str) -> str:
    # NFKD first so that compatibility forms (math letters, ligatures) reach
    # the transliteration table as plain letters. Words repeat in real text,
    # and the table lookup is a Python loop per character, hence the cache.
    ascii_word: str = unidecode(unicodedata.normalize("NFKD", word))
    return ascii_word.replace("'", "")


def _gap(match: re.Match[str]) -> str:
    # \W also matches combining marks (Devanagari vowel signs, say) and the
    # joiners ZWNJ and ZWJ, which belong to the word around them. The run
    # follows a word character unless it starts the text.
    run = match.group()
    if run.isascii():
        return " "

    text = match.string
    after = match.end()
    in_word = match.start() > 0
    kept: list[str] = []
    for index, char in enumerate(run):
        if in_word and _is_mark(char):
            kept.append(char)
            continue
        if in_word and char in _JOINERS:
            following = run[index + 1] if index + 1 < len(run) else None
            if following is None and after < len(text):
                following = text[after]
            if following is not None and (following.isalnum() or _is_mark(following)):
                kept.append(char)
                continue
        in_word = False
        kept.append(" ")
    return "".join(kept)


def _is_mark(char: str) -> bool:
    # Variation selectors are marks too, but choose a glyph style, not a
    # spelling: "❤️" is an emoji, not a word.
    if "\ufe00" <= char <= "\ufe0f" or "\U000e0100" <= char <= "\U000e01ef":
        return False
    return unicodedata.category(char)[0] == "M"


def _fit(
    words: list[str], separator: str, max_length: int, whole: bool, in_order: bool
) -> str:
    kept: list[str] = []
    size = 0
    for word in words:
        gap = len(separator) if kept else 0
        room = max_length - size - gap
        if room <= 0:
            break
        if len(word) <= room:
            kept.append(word)
            size += gap + len(word)
        elif not whole:
            cut = _cluster_start(word, room)
            if cut:
                kept.append(word[:cut])
            break
        elif in_order:
            break

    if not kept and words:
        return words[0][: _cluster_start(words[0], max_length)]
    return separator.join(kept)


def truncate(
    text: str,
    width: int,
    *,
    placeholder: str = "…",
    word_boundary: bool = True,
    columns: bool = False,
) -> str:
    """Shorten ``text`` to at most ``width``, marking the cut.

    Text that fits is returned unchanged. Otherwise as much of it as fits
    before ``placeholder`` is kept, never splitting a user-perceived
    character: a letter and its combining marks, an emoji ZWJ sequence, an
    emoji and its variation selector or skin tone, a flag's two regional
    indicators, a Hangul syllable spelled with conjoining jamo, CR LF. This
    follows UAX #29 extended grapheme clusters except for prepended marks,
    and it joins anything that follows a ZWJ, not only emoji.

    Args:
        text: the text to shorten.
        width: the longest result, placeholder included.
        placeholder: appended where text was cut.
        word_boundary: cut at the last whitespace that fits, when there is
            one, instead of inside a word. Trailing whitespace is dropped.
        columns: measure in terminal columns instead of code points. East
            Asian Wide and Fullwidth characters count two; nonspacing and
            enclosing marks and format characters (ZWJ, variation selectors)
            count zero; everything else one. A cluster counts the sum of
            its characters, which overestimates emoji ZWJ sequences and
            conjoining jamo, so the result may be narrower than ``width``.

    Returns:
        The text, or a prefix of it followed by ``placeholder``. When
        ``width`` leaves no room for any text, as much of the placeholder
        as fits.

    Raises:
        ValueError: ``width`` is negative.
    """
    if width < 0:
        raise ValueError(f"width must be >= 0, not {width}")
    if len(text) <= width and (not columns or text.isascii()):
        return text
    if columns and _columns(text) <= width:
        return text

    room = width - (_columns(placeholder) if columns else len(placeholder))
    if room <= 0:
        return placeholder[: _fitting_prefix(placeholder, width, columns)]

    cut = _fitting_prefix(text, room, columns)
    head = text[:cut]
    if word_boundary and cut > 0 and not text[cut].isspace():
        # rsplit treats a run of whitespace as one separator.
        parts = head.rsplit(None, 1)
        if len(parts) == 2:
            head = parts[0]
    # Whitespace can be part of a cluster (after a ZWJ): stripping it must
    # not leave the rest of that cluster behind.
    end = _cluster_start(text, len(head.rstrip()))
    return text[:end] + placeholder


def _fitting_prefix(text: str, budget: int, columns: bool) -> int:
    """The end of the longest run of whole clusters that fits ``budget``."""
    if not columns:
        return _cluster_start(text, budget)

    used = 0
    start = 0
    while start < len(text):
        end = start + 1
        while end < len(text) and _attached(text, end):
            end += 1
        used += _columns(text[start:end])
        if used > budget:
            break
        start = end
    return start


def _columns(text: str) -> int:
    if text.isascii():
        return len(text)
    total = 0
    for char in text:
        if char < "\x80":
            total += 1
        elif unicodedata.category(char) in _ZERO_COLUMNS:
            pass
        elif unicodedata.east_asian_width(char) in _WIDE:
            total += 2
        else:
            total += 1
    return total


def _cluster_start(text: str, index: int) -> int:
    """The last position at or before ``index`` that starts a cluster."""
    index = min(index, len(text))
    while 0 < index < len(text) and _attached(text, index):
        index -= 1
    return index


def _attached(text: str, index: int) -> bool:
    """Whether ``text[index]`` belongs to the cluster of the one before it."""
    before = ord(text[index - 1])
    after = ord(text[index])
    if after < 0x80:
        return before == 0x0D and after == 0x0A
    if before == _ZWJ or after in _EXTENDERS:
        return True
    if unicodedata.category(text[index])[0] == "M":
        return True
    if after in _REGIONAL_INDICATORS and before in _REGIONAL_INDICATORS:
        # Indicators pair up from the start of their run (UAX #29, GB12/13).
        run = 0
        while index - run - 1 >= 0 and ord(text[index - run - 1]) in (
            _REGIONAL_INDICATORS
        ):
            run += 1
        return run % 2 == 1
    if 0x1100 <= after <= 0xD7FF and 0x1100 <= before <= 0xD7FF:
        return _hangul_joins(_hangul_kind(before), _hangul_kind(after))
    return False


def _hangul_kind(code: int) -> str:
    """The Hangul_Syllable_Type of ``code``: L, V, T, LV, LVT or ''."""
    if 0x1100 <= code <= 0x115F or 0xA960 <= code <= 0xA97C:
        return "L"
    if 0x1160 <= code <= 0x11A7 or 0xD7B0 <= code <= 0xD7C6:
        return "V"
    if 0x11A8 <= code <= 0x11FF or 0xD7CB <= code <= 0xD7FB:
        return "T"
    if 0xAC00 <= code <= 0xD7A3:
        # Every 28th precomposed syllable has no final consonant.
        return "LV" if (code - 0xAC00) % 28 == 0 else "LVT"
    return ""


def _hangul_joins(before: str, after: str) -> bool:
    # UAX #29 rules GB6, GB7 and GB8.
    if before == "L":
        return after in ("L", "V", "LV", "LVT")
    if before in ("LV", "V"):
        return after in ("V", "T")
    if before in ("LVT", "T"):
        return after == "T"
    return False


def sanitize(
    text: str,
    *,
    html: HtmlMode = "strip",
    tags: Set[str] | None = None,
    attributes: Mapping[str, Set[str]] | None = None,
) -> str:
    """Reduce untrusted text to visible-in-order Unicode, handling markup.

    Always: CR LF and lone CR become LF; control characters other than tab
    and newline are removed, and so are the bidirectional embedding,
    override and isolate controls (U+202A to U+202E, U+2066 to U+2069) that
    let source code or file names read differently from what they are
    (Trojan Source); the text is put in NFC.

    Markup is then handled by ``html``:

    - ``"strip"``: tags, comments and the content of ``<script>`` and
      ``<style>`` are removed and character references decoded, once. The
      result is plain text in which nothing starts a tag: markup that only
      decoding or removing other markup brings about (``&lt;b&gt;``,
      ``<<i>b>``) is removed as well, and a ``<`` still followed by a
      letter, ``/``, ``!`` or ``?`` (a tag left open at the end) is dropped.
      A ``<`` that starts no tag stays: ``1 &lt; 2`` gives ``1 < 2``. It is
      still text, not HTML: escape it before inserting it into a page.
    - ``"escape"``: no markup is removed; ``&``, ``<``, ``>`` and quotes are
      escaped, so the result shows the markup as text inside HTML.
    - ``"clean"``: ``nh3.clean`` keeps the allow-listed ``tags`` and
      ``attributes`` (by default ``CLEAN_TAGS`` and ``CLEAN_ATTRIBUTES``)
      and drops the rest, with the content of scripts and styles. The
      result is HTML safe to insert into a page. A U+0338 that NFC does
      not compose with the character before it is removed in this mode,
      since nh3's own normalization could merge it into a tag's ``>``.

    None of the modes touch confusable letters (Cyrillic U+0430 for Latin
    ``a``), zero-width characters, or the implicit marks U+200E, U+200F and
    U+061C.

    Args:
        text: the untrusted text.
        html: what to do with markup: ``"strip"``, ``"escape"`` or
            ``"clean"``.
        tags: with ``"clean"``, the tags to keep instead of ``CLEAN_TAGS``.
        attributes: with ``"clean"``, the attributes to keep by tag
            (``"*"`` for any tag) instead of ``CLEAN_ATTRIBUTES``.

    Raises:
        ValueError: ``html`` is not a known mode, or ``tags`` or
            ``attributes`` are given for a mode other than ``"clean"``.

    >>> sanitize("a &amp; b\\r\\nline\\x1b[31m")
    'a & b\\nline[31m'
    >>> sanitize("&lt;script&gt;alert(1)&lt;/script&gt;1 &lt; 2")
    '1 < 2'
    """
    if html not in _HTML_MODES:
        raise ValueError(f"html must be one of {', '.join(_HTML_MODES)}; got {html!r}")
    if html != "clean" and (tags is not None or attributes is not None):
        raise ValueError(f"tags and attributes apply to html='clean', not {html!r}")

    if html == "strip":
        if "<" in text:
            text = _text_content(text)
        elif "&" in text:
            text = _html.unescape(text)
    text = _plain(text)
    if html == "strip" and "<" in text:
        text = _without_new_markup(text)
    if html == "escape":
        return _html.escape(text)
    if html == "clean":
        text = _SOLIDUS_OVERLAY.sub("", text)
        text = nh3.clean(
            text,
            tags=set(CLEAN_TAGS if tags is None else tags),
            attributes={
                tag: set(names)
                for tag, names in (
                    CLEAN_ATTRIBUTES if attributes is None else attributes
                ).items()
            },
        )
        # nh3 decodes references, so "&#x202e;" in the input arrives here.
        text = _UNSAFE.sub("", text)
    return text


def _plain(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Controls go before NFC: removing one can bring a base letter and a
    # combining mark together that NFC should then compose.
    text = _UNSAFE.sub("", text)
    return unicodedata.normalize("NFC", text)


# A "<" that starts a tag, an end tag, a comment or a declaration in HTML
# (WHATWG HTML, tag open state), with any "<" just before it.
_TAG_OPEN = re.compile(r"<+(?=[A-Za-z/!?])")
# Rounds of stripping again before any "<" left that opens a tag is dropped;
# each round costs a parse, and only nested constructions need a second.
_STRIP_ROUNDS = 3


def _without_new_markup(text: str) -> str:
    """Strip markup that stripping, decoding and :func:`_plain` brought about.

    Decoding ``&lt;b&gt;``, removing the tag from ``<<i>b>``, removing the
    control from ``<\\x00b>`` or NFC turning ``<\\u212a>`` (KELVIN SIGN)
    into ``<K>`` each leave a tag the input did not have. Such markup is
    stripped like the rest, rather than left escaped while other references
    are decoded: "strip" promises plain text, and text holding ``&lt;b&gt;``
    would give the tag back to the next reader that decodes it. ``&`` is
    escaped for these rounds so that nothing is decoded twice
    (``&amp;lt;`` stays ``&lt;``). A ``<`` that still opens a tag after a few
    rounds (deeper nesting, or a tag left open at the end) is dropped, so
    that the result holds no tag whatever follows it.
    """
    for _ in range(_STRIP_ROUNDS):
        if _TAG_OPEN.search(text) is None:
            return text
        stripped = _text_content(text.replace("&", "&amp;"))
        if stripped == text:
            break
        text = unicodedata.normalize("NFC", stripped)
    return _TAG_OPEN.sub("", text)


class _TextExtractor(HTMLParser):
    """Collects the text of a document, skipping scripts and styles."""

    _SKIPPED = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._skipping:
            self._skipping = None

    def handle_data(self, data: str) -> None:
        if self._skipping is None:
            self.parts.append(data)


def _text_content(markup: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    return "".join(extractor.parts)
