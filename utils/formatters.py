"""Dates, times and time zones: format, parse and convert.

Formatting never guesses a zone: a naive datetime is refused unless the
caller names the zone it is in. Parsing is strict ISO 8601 / RFC 3339 by
default, and numeric slash dates need an explicit ``style`` because
``03/04/2025`` means 4 March in the US and 3 April in Europe. Zones come
from :mod:`zoneinfo` (IANA names, data from the ``tzdata`` package).

>>> from datetime import UTC, date, datetime
>>> format_date(datetime(2025, 11, 23, 10, 0, tzinfo=UTC))
'2025-11-23T10:00:00Z'
>>> format_date(datetime(2025, 11, 23, 10, 0, tzinfo=UTC), "us",
...             tz="America/New_York")
'11/23/2025 05:00 AM'
>>> format_date(date(2025, 11, 23), "eu")
'23/11/2025'
>>> parse_date("2025-W47-7")
datetime.date(2025, 11, 23)
>>> parse_date("2025-11-23T24:00Z")
datetime.datetime(2025, 11, 24, 0, 0, tzinfo=datetime.timezone.utc)
>>> parse_date("2025-11")
datetime.date(2025, 11, 1)
>>> parse_date("03/04/2025", style="eu")
datetime.date(2025, 4, 3)
>>> parse_date("May 17,2019", style="any")
datetime.date(2019, 5, 17)
>>> to_timezone(datetime(2025, 3, 30, 2, 30), "Europe/Berlin",
...             on_gap="shift_forward").isoformat()
'2025-03-30T03:00:00+02:00'
>>> to_timezone(datetime(2025, 10, 26, 2, 30, fold=1), "Europe/Berlin").isoformat()
'2025-10-26T02:30:00+01:00'
"""

from __future__ import annotations

import calendar
import re
import warnings
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from email.utils import format_datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as _dateutil_parser
from dateutil.tz import tzlocal

from utils.errors import DateParseError, TimezoneError

__all__ = [
    "FoldPolicy",
    "GapPolicy",
    "format_date",
    "format_duration",
    "parse_date",
    "to_timezone",
]

GapPolicy = Literal["raise", "earlier", "later", "shift_forward"]
"""What :func:`to_timezone` (and :func:`format_date` and :func:`parse_date`,
which call it) does with a wall time that a DST change skips."""

FoldPolicy = Literal["raise", "earlier", "later"]
"""What :func:`to_timezone` (and :func:`format_date` and :func:`parse_date`,
which call it) does with a wall time that a DST change repeats."""

_NAMED_STYLES: Final = ("iso", "us", "eu", "rfc2822", "note")
_PARSE_STYLES: Final = ("iso", "us", "eu", "any")
_GAP_POLICIES: Final = ("raise", "earlier", "later", "shift_forward")
_FOLD_POLICIES: Final = ("raise", "earlier", "later")

# RFC 5322 section 3.3 names days and months in English whatever the locale.
_DAY_NAMES: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES: Final = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip

# ISO 8601 date forms; each is matched against the whole date part. re.ASCII
# keeps \d from matching other scripts' digits.
_CALENDAR_EXTENDED = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_CALENDAR_BASIC = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)
_WEEK_EXTENDED = re.compile(r"(\d{4})-W(\d{2})-(\d)", re.ASCII)
_WEEK_BASIC = re.compile(r"(\d{4})W(\d{2})(\d)", re.ASCII)
_ORDINAL_EXTENDED = re.compile(r"(\d{4})-(\d{3})", re.ASCII)
_ORDINAL_BASIC = re.compile(r"(\d{4})(\d{3})", re.ASCII)
_DATE_FORMS: Final = (
    _CALENDAR_EXTENDED,
    _CALENDAR_BASIC,
    _WEEK_EXTENDED,
    _WEEK_BASIC,
    _ORDINAL_EXTENDED,
    _ORDINAL_BASIC,
)
# Reduced precision, ISO 8601:2004 sections 4.1.2.3 and 4.1.4.3: a year, a
# month or a week alone names a period and stands for its first day, as
# dateutil reads it. YYYYMM is not among them (it reads like YYMMDD).
_YEAR = re.compile(r"(\d{4})", re.ASCII)
_YEAR_MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
_YEAR_WEEK_EXTENDED = re.compile(r"(\d{4})-W(\d{2})", re.ASCII)
_YEAR_WEEK_BASIC = re.compile(r"(\d{4})W(\d{2})", re.ASCII)
# RFC 3339 section 5.6 allows a space for the T (its note); ISO 8601 only T.
_DATE_TIME_SEPARATOR = re.compile(r"[Tt ]")
# The everyday RFC 3339 shape, read with one match. Anything else, and any
# field out of range, takes the general path, which also explains errors.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,6})\d*)?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))?",
    re.ASCII,
)
# hh[:mm[:ss[.fff]]], the backreference keeping the colons all-or-nothing.
# ISO 8601 section 3.2.6 allows a comma as the decimal sign.
_TIME = re.compile(r"(\d{2})(?:(:?)(\d{2})(?:\2(\d{2})(?:[.,](\d+))?)?)?", re.ASCII)
_OFFSET = re.compile(r"([+-])(\d{2})(?:(:?)(\d{2})(?:\3(\d{2}))?)?", re.ASCII)
_SLASH_PREFIX = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2,4})", re.ASCII)
_SLASH_DATE = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})"
    r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?(?: ?([AaPp][Mm]))?)?",
    re.ASCII,
)
# For style="any": dateutil reads "May 17,2019" as May 17 of the current
# year, dropping 2019, unless a space follows the comma. A comma after
# hh:mm:ss is a decimal sign and is left alone.
_COMMA_BEFORE_YEAR = re.compile(r"(?<!:\d\d),(?=\d{4}(?!\d)|[A-Za-z])", re.ASCII)
_LOOSE_OFFSET = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[A-Za-z]{1,5}\s*)?"
    r"([+-])(\d{1,2})(?::?(\d{2}))?(?!\d)",
    re.ASCII,
)
# Names dateutil would otherwise resolve against the machine's local zone.
_UTC_NAMES: Final[dict[str, tzinfo]] = {
    "UTC": UTC,
    "GMT": UTC,
    "UT": UTC,
    "Z": UTC,
}
# Two defaults that differ in every field: a field dateutil fills from the
# default was missing from the text.
_DEFAULT_A: Final = datetime(2000, 1, 1, 0, 0)
_DEFAULT_B: Final = datetime(2001, 2, 2, 1, 0)


def format_date(
    value: datetime | date,
    style: str = "iso",
    *,
    tz: str | tzinfo | None = None,
    on_gap: GapPolicy = "raise",
    on_fold: FoldPolicy = "raise",
) -> str:
    """Render a date or datetime in a named style or a strftime pattern.

    Styles:
        ``iso``: RFC 3339, ``2025-11-23T10:00:00Z``; ``Z`` for a zero
        offset, otherwise ``+HH:MM``; microseconds only when non-zero. A
        date renders as ``2025-11-23``.
        ``us``: ``11/23/2025`` or ``11/23/2025 10:00 AM``.
        ``eu``: ``23/11/2025`` or ``23/11/2025 10:00``.
        ``rfc2822``: ``Sun, 23 Nov 2025 10:00:00 +0000`` (RFC 5322
        section 3.3); a date renders as ``Sun, 23 Nov 2025``.
        ``note``: ``2025-11-23 10:00``, the AGENCY.md note stamp.
        Any other string containing ``%`` is passed to ``strftime``, whose
        names for days and months follow the process locale.

    Args:
        value: a ``date``, or an aware ``datetime``.
        style: one of the styles above.
        tz: an IANA zone name or a ``tzinfo``. An aware value is converted
            into it; a naive value is taken to be a wall time in it. A plain
            ``date`` has no time to convert and is rendered as given.
        on_gap, on_fold: what to do with a naive value that a DST change
            in ``tz`` skips or repeats, as in :func:`to_timezone`.

    Raises:
        TypeError: ``value`` is not a date or datetime.
        ValueError: ``style`` or a policy is unknown.
        TimezoneError: ``value`` is naive and ``tz`` is not given, ``tz``
            names no known zone, a policy refuses a naive value in a DST gap
            or fold, or the value in ``tz`` falls outside years 1 to 9999.
    """
    if not isinstance(value, date):
        raise TypeError(
            f"format_date() needs a date or datetime, got {type(value).__name__}"
        )
    if style not in _NAMED_STYLES and "%" not in style:
        raise ValueError(
            f"unknown date style {style!r}; expected one of "
            f"{', '.join(map(repr, _NAMED_STYLES))} or a strftime pattern with '%'"
        )
    _check_policies(on_gap, on_fold)
    zone = _resolve_zone(tz) if tz is not None else None

    if isinstance(value, datetime):
        if zone is not None:
            value = to_timezone(value, zone, on_gap=on_gap, on_fold=on_fold)
        elif value.utcoffset() is None:
            raise TimezoneError(
                f"cannot format the naive datetime {value.isoformat()!r}: its "
                "zone is unknown; attach a tzinfo or pass tz="
            )
        return _format_datetime(value, style)
    return _format_plain_date(value, style)


def _format_datetime(value: datetime, style: str) -> str:
    if style == "iso":
        # isoformat() already writes RFC 3339 section 5.6 (four-digit year,
        # microseconds only when non-zero, +HH:MM), except that it spells a
        # zero offset +00:00. Seconds in an offset, which RFC 3339 lacks, are
        # kept as ISO 8601 allows rather than silently moving the instant.
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if style == "us":
        hour = value.hour % 12 or 12
        half = "AM" if value.hour < 12 else "PM"
        return f"{value:%m/%d}/{value.year:04d} {hour:02d}:{value:%M} {half}"
    if style == "eu":
        return f"{value:%d/%m}/{value.year:04d} {value:%H:%M}"
    if style == "rfc2822":
        return format_datetime(value)
    if style == "note":
        return f"{_iso_date(value)} {value:%H:%M}"
    return value.strftime(style)


def _format_plain_date(value: date, style: str) -> str:
    if style in ("iso", "note"):
        return _iso_date(value)
    if style == "us":
        return f"{value:%m/%d}/{value.year:04d}"
    if style == "eu":
        return f"{value:%d/%m}/{value.year:04d}"
    if style == "rfc2822":
        day = _DAY_NAMES[value.weekday()]
        month = _MONTH_NAMES[value.month - 1]
        return f"{day}, {value.day:02d} {month} {value.year:04d}"
    return value.strftime(style)


def _iso_date(value: date) -> str:
    # strftime("%Y") does not pad years before 1000 on every platform.
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def parse_date(
    text: str,
    *,
    style: str | None = None,
    tz: str | tzinfo | None = None,
    on_gap: GapPolicy = "raise",
    on_fold: FoldPolicy = "raise",
) -> datetime | date:
    """Parse a date or date-time.

    Styles:
        ``None`` or ``iso``: strict ISO 8601 / RFC 3339. Dates as
        ``2025-11-23``, ``20251123``, ``2025-W47-7`` (week date) or
        ``2025-327`` (ordinal date); a time after ``T`` or a space as
        ``hh[:mm[:ss[.fff]]]`` or ``hh[mm[ss]]``; an offset ``Z``,
        ``+hh:mm``, ``+hhmm`` or ``+hh``. ``24:00`` is the midnight that
        ends the day. Fractions beyond microseconds are truncated. A year
        (``2025``), month (``2025-11``) or week (``2025-W47``) alone stands
        for its first day; with a time, the date must be complete.
        ``us`` / ``eu``: ``MM/DD/YYYY`` / ``DD/MM/YYYY``, optionally
        followed by ``hh:mm[:ss]`` and ``AM``/``PM``.
        ``any``: whatever :func:`dateutil.parser.parse` reads, with guards:
        every date field must be present, offsets must be below 24:00 with
        minutes up to 59, and zone names that would depend on the machine
        are refused.

    Args:
        text: the text to parse, with no surrounding white space.
        style: one of the styles above.
        tz: an IANA zone name or a ``tzinfo``. A time with no offset is
            taken to be a wall time in ``tz``; a time with an offset is
            converted into it. A date alone is returned as a ``date``.
        on_gap, on_fold: what to do with a wall time that a DST change in
            ``tz`` skips or repeats, as in :func:`to_timezone`.

    Returns:
        A ``date`` when the text holds only a date, otherwise a
        ``datetime``, naive when the text has no offset and ``tz`` is None.

    Raises:
        TypeError: ``text`` is not a str.
        ValueError: ``style`` or a policy is unknown.
        DateParseError: the text is not a date in that style.
        TimezoneError: ``tz`` names no known zone, a policy refuses a wall
            time in a DST gap or fold of ``tz``, or the value in ``tz`` falls
            outside years 1 to 9999.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_date() needs a str, got {type(text).__name__}")
    if style is not None and style not in _PARSE_STYLES:
        raise ValueError(
            f"unknown parse style {style!r}; expected None or one of "
            f"{', '.join(map(repr, _PARSE_STYLES))}"
        )
    _check_policies(on_gap, on_fold)
    zone = _resolve_zone(tz) if tz is not None else None

    if style in ("us", "eu"):
        parsed = _parse_slash(text, month_first=style == "us")
    elif style == "any":
        parsed = _parse_any(text)
    else:
        parsed = _parse_iso(text)

    if zone is None or not isinstance(parsed, datetime):
        return parsed
    return to_timezone(parsed, zone, on_gap=on_gap, on_fold=on_fold)


def _parse_iso(text: str) -> datetime | date:
    """Parse ISO 8601 (RFC 3339 section 5.6 plus the basic, week, ordinal and
    reduced-precision forms of ISO 8601:2004 sections 4.1.2 to 4.1.4)."""
    match = _RFC3339.fullmatch(text)
    if match is not None:
        value = _rfc3339_or_none(match)
        if value is not None:
            return value

    separator = _DATE_TIME_SEPARATOR.search(text)
    if separator is None:
        return _parse_iso_date(text, text, alone=True)

    cut = separator.start()
    day = _parse_iso_date(text, text[:cut], alone=False)
    if cut + 1 == len(text):
        raise DateParseError(
            text, f"expected a time after {text[cut]!r}", position=cut + 1
        )
    return _parse_iso_time(text, cut + 1, day)


def _rfc3339_or_none(match: re.Match[str]) -> datetime | None:
    """Build the value of an RFC 3339 match, or None when a field is out of
    range (hour 24, second 60, a bad offset) and needs the general path."""
    (year, month, day, hour, minute, second, fraction, zulu, sign, hh, mm) = (
        match.groups()
    )
    zone: tzinfo | None = None
    if zulu:
        zone = UTC
    elif sign:
        hours, minutes = int(hh), int(mm)
        if hours > 23 or minutes > 59:
            return None
        delta = timedelta(hours=hours, minutes=minutes)
        zone = timezone(-delta if sign == "-" else delta)
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int(fraction.ljust(6, "0")) if fraction else 0,
            tzinfo=zone,
        )
    except ValueError:
        return None


def _parse_iso_date(text: str, part: str, *, alone: bool) -> date:
    match = _CALENDAR_EXTENDED.fullmatch(part) or _CALENDAR_BASIC.fullmatch(part)
    if match:
        year, month, day = (int(group) for group in match.groups())
        return _checked_date(text, year, month, day, match)

    match = _WEEK_EXTENDED.fullmatch(part) or _WEEK_BASIC.fullmatch(part)
    if match:
        year, week, weekday = (int(group) for group in match.groups())
        return _week_date(text, year, week, weekday, match)

    match = _ORDINAL_EXTENDED.fullmatch(part) or _ORDINAL_BASIC.fullmatch(part)
    if match:
        year, ordinal = int(match[1]), int(match[2])
        days = 366 if calendar.isleap(year) else 365
        if year < 1 or not 1 <= ordinal <= days:
            raise DateParseError(
                text,
                f"day {ordinal} does not exist in year {year} ({days} days)",
                position=match.start(2),
            )
        return date(year, 1, 1) + timedelta(days=ordinal - 1)

    reduced = _reduced_date(text, part)
    if reduced is not None:
        if alone:
            return reduced
        # ISO 8601:2004 section 4.3.2: a date-time needs a complete date.
        raise DateParseError(
            text,
            "a time needs a complete date, not a year, month or week alone",
            position=len(part),
        )

    slash = _SLASH_PREFIX.match(text)
    if slash:
        raise DateParseError(text, _ambiguity(slash), position=0)
    # Point at the first character after the longest date-shaped prefix.
    prefix = max(
        (match.end() for pattern in _DATE_FORMS if (match := pattern.match(part))),
        default=0,
    )
    if prefix:
        reason = f"unexpected {part[prefix]!r} after the date"
    else:
        reason = (
            "expected an ISO 8601 date such as 2025-11-23, 20251123, 2025-W47-7 "
            "or 2025-327"
        )
        prefix = _first_non_digit(part)
    raise DateParseError(text, reason, position=prefix)


def _reduced_date(text: str, part: str) -> date | None:
    """Read a year, year-month or year-week as the first day of that period."""
    match = _YEAR_MONTH.fullmatch(part)
    if match:
        return _checked_date(text, int(match[1]), int(match[2]), 1, match)

    match = _YEAR_WEEK_EXTENDED.fullmatch(part) or _YEAR_WEEK_BASIC.fullmatch(part)
    if match:
        return _week_date(text, int(match[1]), int(match[2]), 1, match)

    match = _YEAR.fullmatch(part)
    if match:
        return _checked_date(text, int(match[1]), 1, 1, match)
    return None


def _week_date(
    text: str, year: int, week: int, weekday: int, match: re.Match[str]
) -> date:
    try:
        return date.fromisocalendar(year, week, weekday)
    except ValueError as exc:
        raise DateParseError(
            text, f"no such week date: {exc}", position=match.start(2)
        ) from None


def _checked_date(
    text: str, year: int, month: int, day: int, match: re.Match[str]
) -> date:
    if year < 1:
        raise DateParseError(text, "year 0 is not supported", position=0)
    if not 1 <= month <= 12:
        raise DateParseError(
            text, f"month {month} is not between 1 and 12", position=match.start(2)
        )
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise DateParseError(
            text,
            f"day {day} does not exist in {calendar.month_name[month]} {year}",
            position=match.start(3),
        )
    return date(year, month, day)


def _first_non_digit(part: str) -> int:
    for index, ch in enumerate(part):
        if not "0" <= ch <= "9":
            return index
    return len(part)


def _ambiguity(slash: re.Match[str]) -> str:
    """Explain why a numeric slash date needs an explicit style."""
    first, second = int(slash[1]), int(slash[2])
    reading = ""
    if first != second and 1 <= first <= 12 and 1 <= second <= 12:
        reading = (
            f" ({slash[0]} could be {second} {calendar.month_name[first]} or "
            f"{first} {calendar.month_name[second]})"
        )
    return (
        f"a numeric slash date is ambiguous{reading}; pass style='us' for "
        "MM/DD/YYYY or style='eu' for DD/MM/YYYY"
    )


def _parse_iso_time(text: str, start: int, day: date) -> datetime:
    match = _TIME.match(text, start)
    if match is None:
        raise DateParseError(text, "expected a time as hh:mm[:ss]", position=start)
    hour = int(match[1])
    minute = int(match[3] or 0)
    second = int(match[4] or 0)
    fraction = match[5] or ""
    # Truncate rather than round, so a value never moves into the next second.
    microsecond = int(fraction[:6].ljust(6, "0"))

    if hour == 24:
        # ISO 8601 section 4.2.3: 24:00 is the end of the day, the same
        # instant as 00:00 of the next.
        if minute or second or microsecond:
            raise DateParseError(
                text, "only 24:00 may use hour 24", position=match.start(1)
            )
    elif hour > 23:
        raise DateParseError(
            text, f"hour {hour} is not between 0 and 23", position=match.start(1)
        )
    if minute > 59:
        raise DateParseError(
            text, f"minute {minute} is not between 0 and 59", position=match.start(3)
        )
    if second == 60:
        raise DateParseError(
            text,
            "leap seconds (second 60) cannot be represented",
            position=match.start(4),
        )
    if second > 59:
        raise DateParseError(
            text, f"second {second} is not between 0 and 59", position=match.start(4)
        )

    offset = _parse_offset(text, match.end())
    try:
        value = datetime(
            day.year,
            day.month,
            day.day,
            hour % 24,
            minute,
            second,
            microsecond,
            tzinfo=offset,
        )
        return value + timedelta(days=1) if hour == 24 else value
    except OverflowError:
        raise DateParseError(text, "24:00 runs past year 9999") from None


def _parse_offset(text: str, start: int) -> tzinfo | None:
    """Parse RFC 3339 time-offset (plus ISO 8601 +hhmm and +hh) at ``start``."""
    rest = text[start:]
    if not rest:
        return None
    if rest in ("Z", "z"):
        return UTC
    match = _OFFSET.fullmatch(text, start)
    if match is None:
        raise DateParseError(
            text,
            f"unexpected {text[start]!r}; expected an offset such as Z or +01:00",
            position=start,
        )
    hours, minutes, seconds = int(match[2]), int(match[4] or 0), int(match[5] or 0)
    if hours > 23:
        raise DateParseError(
            text,
            f"offset hour {hours} is not below 24",
            position=match.start(2),
        )
    if minutes > 59 or seconds > 59:
        raise DateParseError(
            text,
            "offset minutes and seconds must be between 0 and 59",
            position=match.start(4),
        )
    delta = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    # RFC 3339 section 4.3 reads -00:00 as "offset unknown, time is UTC".
    return timezone(-delta if match[1] == "-" else delta)


def _parse_slash(text: str, *, month_first: bool) -> datetime | date:
    match = _SLASH_DATE.fullmatch(text)
    if match is None:
        shape = "MM/DD/YYYY" if month_first else "DD/MM/YYYY"
        raise DateParseError(
            text, f"expected {shape}, optionally followed by hh:mm[:ss] [AM|PM]"
        )
    first, second, year = int(match[1]), int(match[2]), int(match[3])
    month, day = (first, second) if month_first else (second, first)
    month_group, day_group = (1, 2) if month_first else (2, 1)
    if not 1 <= month <= 12:
        raise DateParseError(
            text,
            f"month {month} is not between 1 and 12",
            position=match.start(month_group),
        )
    if year < 1:
        raise DateParseError(text, "year 0 is not supported", position=match.start(3))
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise DateParseError(
            text,
            f"day {day} does not exist in {calendar.month_name[month]} {year}",
            position=match.start(day_group),
        )
    if match[4] is None:
        return date(year, month, day)

    hour, minute, second = int(match[4]), int(match[5]), int(match[6] or 0)
    half = match[7]
    if half is not None:
        if not 1 <= hour <= 12:
            raise DateParseError(
                text,
                f"hour {hour} is not between 1 and 12 on a 12-hour clock",
                position=match.start(4),
            )
        hour = hour % 12 + (12 if half.upper() == "PM" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise DateParseError(text, "the time is out of range", position=match.start(4))
    return datetime(year, month, day, hour, minute, second)


def _parse_any(text: str) -> datetime | date:
    """Parse with dateutil, refusing its silent guesses."""
    fixed = _COMMA_BEFORE_YEAR.sub(", ", text)
    offset = _LOOSE_OFFSET.search(fixed)
    if offset is not None:
        hours, minutes = int(offset[2]), int(offset[3] or 0)
        if hours > 23 or minutes > 59:
            raise DateParseError(
                text,
                f"the offset {offset[1]}{offset[2]}:{offset[3] or '00'} must be "
                "below 24:00 with minutes up to 59",
            )

    try:
        with warnings.catch_warnings():
            # An unknown zone name is a warning in dateutil and the value
            # comes back naive; that would drop the zone silently.
            warnings.simplefilter("error", _dateutil_parser.UnknownTimezoneWarning)
            first = _dateutil_parser.parse(
                fixed, default=_DEFAULT_A, tzinfos=_UTC_NAMES
            )
            second = _dateutil_parser.parse(
                fixed, default=_DEFAULT_B, tzinfos=_UTC_NAMES
            )
            first.utcoffset()  # dateutil builds offsets Python cannot hold
    except _dateutil_parser.UnknownTimezoneWarning:
        raise DateParseError(
            text, "the zone name is unknown; use a numeric offset such as +05:00"
        ) from None
    except (ValueError, OverflowError) as exc:
        raise DateParseError(text, str(exc)) from None

    if isinstance(first.tzinfo, tzlocal):
        raise DateParseError(
            text,
            "the zone name is read as this machine's local zone; use an offset",
        )
    missing = [
        name
        for name in ("year", "month", "day")
        if getattr(first, name) != getattr(second, name)
    ]
    if missing:
        raise DateParseError(text, f"no {' or '.join(missing)} in the text")
    if first.hour != second.hour:
        return first.date()
    return first


def to_timezone(
    value: datetime,
    tz: str | tzinfo,
    *,
    on_gap: GapPolicy = "raise",
    on_fold: FoldPolicy = "raise",
) -> datetime:
    """Express ``value`` in the zone ``tz``.

    An aware value is converted: same instant, new wall time. A naive value
    is a wall time in ``tz`` and gets that zone attached. Around a DST change
    a wall time may not exist (a gap) or exist twice (a fold); the policies
    decide:

    ``on_gap``:
        ``raise``: TimezoneError.
        ``earlier`` / ``later``: the earlier or later of the two instants the
        wall time names when read with the offset before or after the
        change, returned as a real wall time (02:30 in a one-hour spring gap
        becomes 01:30 or 03:30).
        ``shift_forward``: the first wall time after the gap (03:00).

    ``on_fold``:
        ``raise``: TimezoneError, unless the value has ``fold=1``: PEP 495
        uses that only to pick the second occurrence, so it is taken as the
        caller's choice.
        ``earlier``: the first occurrence (``fold=0``).
        ``later``: the second occurrence (``fold=1``).

    Raises:
        TypeError: ``value`` is not a datetime.
        ValueError: a policy is unknown.
        TimezoneError: ``tz`` names no known zone, the policy refuses a gap
            or fold, or the value in ``tz`` falls outside years 1 to 9999
            (``datetime.max`` in UTC is already the next year in Tokyo).
    """
    if not isinstance(value, datetime):
        raise TypeError(f"to_timezone() needs a datetime, got {type(value).__name__}")
    _check_policies(on_gap, on_fold)
    zone = _resolve_zone(tz)

    if value.utcoffset() is not None:
        try:
            return value.astimezone(zone)
        except OverflowError:
            raise TimezoneError(
                f"{value.isoformat()} in {_zone_name(zone)} falls outside years "
                "1 to 9999, the range datetime can hold"
            ) from None

    first = value.replace(tzinfo=zone, fold=0)
    second = value.replace(tzinfo=zone, fold=1)
    before, after = first.utcoffset(), second.utcoffset()
    assert before is not None and after is not None
    if before == after:
        return first
    if before < after:
        return _resolve_gap(value, zone, before, after, on_gap)

    # A fold: the offset drops, so the wall time repeats (PEP 495, fold=0 is
    # the first occurrence).
    if on_fold == "earlier":
        return first
    if on_fold == "later" or value.fold == 1:
        return second
    raise TimezoneError(
        f"{value.isoformat()} happens twice in {_zone_name(zone)} (clocks go "
        "back); pass on_fold='earlier' or 'later', or set fold=1"
    )


def _check_policies(on_gap: str, on_fold: str) -> None:
    if on_gap not in _GAP_POLICIES:
        raise ValueError(f"unknown on_gap policy {on_gap!r}; expected {_GAP_POLICIES}")
    if on_fold not in _FOLD_POLICIES:
        raise ValueError(
            f"unknown on_fold policy {on_fold!r}; expected {_FOLD_POLICIES}"
        )


def _resolve_gap(
    value: datetime,
    zone: tzinfo,
    before: timedelta,
    after: timedelta,
    on_gap: GapPolicy,
) -> datetime:
    """Turn a wall time that a spring-forward gap skips into a real one."""
    # Read with the later offset, the wall time names the earlier instant.
    earliest = (value - after).replace(tzinfo=UTC)
    latest = (value - before).replace(tzinfo=UTC)
    if on_gap == "earlier":
        return earliest.astimezone(zone)
    if on_gap == "later":
        return latest.astimezone(zone)
    if on_gap == "shift_forward":
        # The change happens somewhere in (earliest, latest]; zones change
        # offset on whole seconds, so bisect over seconds.
        low, high = 0, int((latest - earliest).total_seconds())
        while low < high:
            middle = (low + high) // 2
            probe = (earliest + timedelta(seconds=middle)).astimezone(zone)
            if probe.utcoffset() == before:
                low = middle + 1
            else:
                high = middle
        return (earliest + timedelta(seconds=low)).astimezone(zone)
    raise TimezoneError(
        f"{value.isoformat()} does not exist in {_zone_name(zone)} (clocks "
        "skip it); pass on_gap='earlier', 'later' or 'shift_forward'"
    )


def _resolve_zone(tz: str | tzinfo) -> tzinfo:
    """Turn an IANA name into a ZoneInfo; pass a tzinfo through."""
    if isinstance(tz, tzinfo):
        return tz
    if not isinstance(tz, str):
        raise TypeError(
            f"tz must be an IANA zone name or a tzinfo, got {type(tz).__name__}"
        )
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError covers keys that are not names at all ("../x", "a\0b",
        # a file of tzdata that is no zone); OSError the lookups a name turns
        # into: too long for a file name, or a directory such as "Europe".
        shown = repr(tz) if len(tz) <= 64 else f"{tz[:40]!r}... ({len(tz)} chars)"
        raise TimezoneError(
            f"unknown time zone {shown}; expected an IANA name such as "
            "'Europe/Berlin' or 'UTC'"
        ) from None


def _zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", zone))


def format_duration(seconds: float) -> str:
    """A length of time in words a person reads at a glance.

    Rounded to whole seconds; hours and minutes are named when they are not
    zero, seconds only when they are or when the duration is under a minute.

    >>> format_duration(1800), format_duration(5400), format_duration(90)
    ('30 min', '1 h 30 min', '1 min 30 s')
    >>> format_duration(0.4), format_duration(3601)
    ('0 s', '1 h 1 s')

    Raises:
        ValueError: ``seconds`` is negative or not finite.
    """
    if not 0 <= seconds < float("inf"):
        raise ValueError(f"a duration must be finite and not negative, got {seconds!r}")
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if secs or not parts:
        parts.append(f"{secs} s")
    return " ".join(parts)
