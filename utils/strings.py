"""String utilities: slugs, truncation and sanitizing untrusted text.

>>> slugify("Hello, World!")
'hello-world'
>>> slugify("Straße & Привет")
'strasse-privet'
>>> slugify("C'est déjà l'été", allow_unicode=True)
'c-est-déjà-l-été'
>>> slugify("one two three four", max_length=12, word_boundary=True)
'one-two-four'
>>> truncate("The quick brown fox", 12)
'The quick…'
>>> truncate("flags 🇫🇷🇩🇪", 9, placeholder="", word_boundary=False)
'flags 🇫🇷'
>>> sanitize("<b>safe</b>\\u202etxt.exe<script>alert(1)</script>")
'safetxt.exe'
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from html.parser import HTMLParser

from text_unidecode import unidecode  # type: ignore[import-untyped]

__all__ = ["sanitize", "slugify", "truncate"]

_NOT_ASCII_ALNUM = re.compile(r"[^a-zA-Z0-9]+")
_NOT_WORD = re.compile(r"[\W_]+")
# "1,000" is one number, not two words.
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d)")

_ZWJ = 0x200D
_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F1FF + 1)
# Characters that attach to the one before them, beyond category M*:
# ZWJ, emoji skin tones (Sk), and the tag characters of subdivision flags.
_EXTENDERS = frozenset(
    [_ZWJ, *range(0x1F3FB, 0x1F3FF + 1), *range(0xE0020, 0xE007F + 1)]
)

# C0 and C1 controls except tab and newline, and the bidirectional embedding,
# override and isolate controls used by Trojan Source (CVE-2021-42574).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def slugify(
    text: str,
    *,
    separator: str = "-",
    max_length: int | None = None,
    word_boundary: bool = False,
    lowercase: bool = True,
    allow_unicode: bool = False,
    stopwords: Iterable[str] = (),
    replacements: Iterable[tuple[str, str]] = (),
) -> str:
    """Turn ``text`` into a URL-friendly slug.

    HTML entities are decoded first, then ``replacements`` are applied to the
    decoded text. Without ``allow_unicode`` the text is transliterated to
    ASCII (``ß`` becomes ``ss``, ``Привет`` becomes ``privet``); with it,
    letters, digits and combining marks of every script are kept in NFKC
    form. An apostrophe in the input separates words (``C'est`` becomes
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
        lowercase: lowercase the result.
        allow_unicode: keep non-ASCII letters instead of transliterating.
        stopwords: single words to leave out, compared after the same
            normalization as the text.
        replacements: ``(old, new)`` pairs replaced in order.

    Raises:
        ValueError: ``max_length`` is negative.
    """
    if max_length is not None and max_length < 0:
        raise ValueError(f"max_length must be >= 0, not {max_length}")

    for old, new in replacements:
        text = text.replace(old, new)
    words = _words(text, lowercase, allow_unicode)
    if stopwords:
        dropped = {
            word
            for stopword in stopwords
            for word in _words(stopword, lowercase, allow_unicode)
        }
        words = [word for word in words if word not in dropped]

    if max_length is None:
        return separator.join(words)
    return _fit(words, separator, max_length, word_boundary)


def _words(text: str, lowercase: bool, allow_unicode: bool) -> list[str]:
    if "&" in text:
        text = html.unescape(text)
    if "'" in text:
        text = text.replace("'", " ")

    if allow_unicode:
        text = unicodedata.normalize("NFKC", text)
        if lowercase:
            text = text.lower()
        text = _THOUSANDS_COMMA.sub("", text)
        if text.isascii():
            return [word for word in _NOT_WORD.split(text) if word]
        return [word for word in _NOT_WORD.sub(_gap, text).split("-") if word]

    if not text.isascii():
        # NFKD first so that compatibility forms (math letters, ligatures)
        # reach the transliteration table as plain letters.
        text = unidecode(unicodedata.normalize("NFKD", text)).replace("'", "")
    if lowercase:
        text = text.lower()
    if "," in text:
        text = _THOUSANDS_COMMA.sub("", text)
    return [word for word in _NOT_ASCII_ALNUM.split(text) if word]


def _gap(match: re.Match[str]) -> str:
    # \W also matches combining marks (Devanagari vowel signs, say), which
    # belong to the word around them.
    run = match.group()
    if run.isascii():
        return "-"
    return "".join(c if unicodedata.category(c)[0] == "M" else "-" for c in run)


def _fit(words: list[str], separator: str, max_length: int, whole: bool) -> str:
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
            kept.append(word[: _cluster_start(word, room)])
            break

    if not kept and words:
        return words[0][: _cluster_start(words[0], max_length)]
    return separator.join(word for word in kept if word)


def truncate(
    text: str, width: int, *, placeholder: str = "…", word_boundary: bool = True
) -> str:
    """Shorten ``text`` to at most ``width`` code points, marking the cut.

    Text that fits is returned unchanged. Otherwise as much of it as fits
    before ``placeholder`` is kept, never splitting a user-perceived
    character: a letter and its combining marks, an emoji ZWJ sequence, an
    emoji and its variation selector or skin tone, a flag's two regional
    indicators, CR LF. This approximates UAX #29 extended grapheme clusters;
    Hangul syllables built from conjoining jamo and prepended marks may
    still be split.

    Args:
        text: the text to shorten.
        width: the longest result, placeholder included.
        placeholder: appended where text was cut.
        word_boundary: cut at the last whitespace that fits, when there is
            one, instead of inside a word. Trailing whitespace is dropped.

    Returns:
        The text, or a prefix of it followed by ``placeholder``. When
        ``width`` leaves no room for the placeholder, the placeholder's own
        first ``width`` code points.

    Raises:
        ValueError: ``width`` is negative.
    """
    if width < 0:
        raise ValueError(f"width must be >= 0, not {width}")
    if len(text) <= width:
        return text
    if len(placeholder) >= width:
        return placeholder[: _cluster_start(placeholder, width)]

    cut = _cluster_start(text, width - len(placeholder))
    head = text[:cut]
    if word_boundary and cut > 0 and not text[cut].isspace():
        # rsplit treats a run of whitespace as one separator, so the kept
        # part has no trailing whitespace.
        parts = head.rsplit(None, 1)
        if len(parts) == 2:
            head = parts[0]
    return head.rstrip() + placeholder


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
    return False


def sanitize(text: str) -> str:
    """Reduce untrusted text to plain, visible-in-order Unicode.

    Steps: HTML tags, comments and the content of ``<script>`` and
    ``<style>`` are removed and entities decoded; CR LF and lone CR become
    LF; control characters other than tab and newline are removed, and so
    are the bidirectional embedding, override and isolate controls (U+202A
    to U+202E, U+2066 to U+2069) that let source code or file names read
    differently from what they are (Trojan Source); finally NFC.

    It protects against markup being kept, terminal escape sequences, NUL
    bytes and reordering attacks. It does not make text safe to insert into
    HTML, SQL or a shell: decoded entities such as ``&lt;script&gt;`` come
    back as literal ``<script>``, so escape for the destination. Nor does it
    touch confusable letters (Cyrillic U+0430 for Latin ``a``), zero-width
    characters, or the implicit marks U+200E, U+200F and U+061C.

    >>> sanitize("a &amp; b\\r\\nline\\x1b[31m")
    'a & b\\nline[31m'
    """
    if "<" in text:
        text = _text_content(text)
    elif "&" in text:
        text = html.unescape(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Controls go before NFC: removing one can bring a base letter and a
    # combining mark together that NFC should then compose.
    text = _UNSAFE.sub("", text)
    return unicodedata.normalize("NFC", text)


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
