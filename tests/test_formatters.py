"""Tests for utils.formatters: formatting, parsing and converting dates."""

from __future__ import annotations

import contextlib
import doctest
import json
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, Final
from zoneinfo import ZoneInfo

import pytest
from corpora import CORPORA
from hypothesis import given
from hypothesis import strategies as st

import utils.formatters
from utils.errors import DateParseError, TimezoneError
from utils.formatters import format_date, format_duration, parse_date, to_timezone

NOON_UTC = datetime(2025, 11, 23, 10, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


# format_date


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("iso", "2025-11-23T10:00:00Z"),
        ("us", "11/23/2025 10:00 AM"),
        ("eu", "23/11/2025 10:00"),
        ("rfc2822", "Sun, 23 Nov 2025 10:00:00 +0000"),
        ("note", "2025-11-23 10:00"),
        ("%Y/%j %H.%M", "2025/327 10.00"),
    ],
)
def test_formats_an_aware_datetime_in_each_style(style: str, expected: str) -> None:
    """Every named style and a strftime pattern render the same instant."""
    assert format_date(NOON_UTC, style) == expected


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("iso", "2025-11-23"),
        ("us", "11/23/2025"),
        ("eu", "23/11/2025"),
        ("rfc2822", "Sun, 23 Nov 2025"),
        ("note", "2025-11-23"),
        ("%d.%m.%Y", "23.11.2025"),
    ],
)
def test_formats_a_plain_date_in_each_style(style: str, expected: str) -> None:
    """A date renders without a time part."""
    assert format_date(date(2025, 11, 23), style) == expected


def test_iso_writes_z_for_utc_never_plus_zero_z() -> None:
    """UTC is written as Z, not +00:00 and never +00:00Z."""
    text = format_date(datetime(2025, 11, 23, 10, tzinfo=timezone(timedelta(0))))

    assert text == "2025-11-23T10:00:00Z"


def test_iso_writes_other_offsets_as_hours_and_minutes() -> None:
    """A non-zero offset is written +HH:MM or -HH:MM."""
    india = datetime(2025, 11, 23, 15, 30, tzinfo=timezone(timedelta(hours=5.5)))
    newfoundland = datetime(2025, 11, 23, 6, 30, tzinfo=ZoneInfo("America/St_Johns"))

    assert format_date(india) == "2025-11-23T15:30:00+05:30"
    assert format_date(newfoundland) == "2025-11-23T06:30:00-03:30"


def test_iso_writes_microseconds_only_when_present() -> None:
    """Microseconds appear, zero-padded, only when non-zero."""
    assert format_date(NOON_UTC.replace(microsecond=5)) == "2025-11-23T10:00:00.000005Z"
    assert format_date(NOON_UTC.replace(microsecond=0)) == "2025-11-23T10:00:00Z"


def test_iso_pads_early_years_to_four_digits() -> None:
    """Year 5 is written 0005, as RFC 3339 requires."""
    assert format_date(date(5, 1, 2)) == "0005-01-02"


def test_us_style_uses_a_12_hour_clock() -> None:
    """Midnight is 12 AM and 13:05 is 01:05 PM."""
    assert format_date(datetime(2025, 1, 2, 0, 0, tzinfo=UTC), "us") == (
        "01/02/2025 12:00 AM"
    )
    assert format_date(datetime(2025, 1, 2, 13, 5, tzinfo=UTC), "us") == (
        "01/02/2025 01:05 PM"
    )


def test_tz_converts_an_aware_value_before_formatting() -> None:
    """With tz, the same instant is shown as a wall time in that zone."""
    assert format_date(NOON_UTC, tz="Europe/Berlin") == "2025-11-23T11:00:00+01:00"
    assert format_date(NOON_UTC, "note", tz=NEW_YORK) == "2025-11-23 05:00"


def test_naive_datetime_is_refused_without_tz() -> None:
    """A naive datetime has no known instant, so formatting refuses it."""
    with pytest.raises(TimezoneError, match=r"naive datetime '2025-11-23T10:00:00'"):
        format_date(datetime(2025, 11, 23, 10, 0))


def test_naive_datetime_is_a_wall_time_in_tz() -> None:
    """With tz, a naive value is read as a wall time in that zone."""
    text = format_date(datetime(2025, 7, 1, 9, 0), tz="Europe/Berlin")

    assert text == "2025-07-01T09:00:00+02:00"


def test_unknown_style_names_the_style_and_the_valid_ones() -> None:
    """A style that is neither named nor a pattern is a ValueError."""
    with pytest.raises(ValueError, match=r"unknown date style 'long'; .*'rfc2822'"):
        format_date(NOON_UTC, "long")


def test_unknown_zone_name_is_a_timezone_error() -> None:
    """A zone that zoneinfo does not know is named in the error."""
    with pytest.raises(TimezoneError, match=r"unknown time zone 'Mars/Olympus'"):
        format_date(NOON_UTC, tz="Mars/Olympus")


def test_path_like_zone_name_is_a_timezone_error() -> None:
    """A zone key that tries to leave the zone database is refused."""
    with pytest.raises(TimezoneError):
        format_date(NOON_UTC, tz="../../etc/passwd")


@pytest.mark.parametrize(
    "name",
    ["A" * 300, "Europe", "a\x00b", "/etc/localtime", "Etc/../UTC", "__init__.py"],
)
def test_malformed_zone_name_is_a_timezone_error_in_every_function(name: str) -> None:
    """Names zoneinfo cannot even look up (too long, a directory, a NUL, a
    path, a tzdata file that is no zone) are refused like unknown ones."""
    pattern = r"^unknown time zone .*; expected an IANA name"
    with pytest.raises(TimezoneError, match=pattern):
        format_date(NOON_UTC, tz=name)
    with pytest.raises(TimezoneError, match=pattern):
        to_timezone(NOON_UTC, name)
    with pytest.raises(TimezoneError, match=pattern):
        parse_date("2025-11-23T10:00", tz=name)


def test_huge_zone_name_is_shortened_in_the_error() -> None:
    """A name of 300 characters shows its start and its length."""
    with pytest.raises(
        TimezoneError, match=r"^unknown time zone 'A{40}'\.\.\. \(300 chars\);"
    ):
        format_date(NOON_UTC, tz="A" * 300)


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        (datetime.max.replace(tzinfo=UTC), "Asia/Tokyo"),
        (datetime.min.replace(tzinfo=UTC), "America/New_York"),
    ],
)
def test_conversion_outside_the_years_of_datetime_is_a_timezone_error(
    value: datetime, zone: str
) -> None:
    """datetime.max in UTC is already year 10000 in Tokyo."""
    pattern = rf"^{re.escape(value.isoformat())} in {zone} falls outside years 1 to"
    with pytest.raises(TimezoneError, match=pattern):
        format_date(value, "iso", tz=zone)
    with pytest.raises(TimezoneError, match=pattern):
        to_timezone(value, zone)


def test_parsed_time_converted_past_year_9999_is_a_timezone_error() -> None:
    """The last second of 9999 in UTC has no wall time in Tokyo."""
    with pytest.raises(TimezoneError, match=r"^9999-12-31T23:59:59\+00:00 in Asia/"):
        parse_date("9999-12-31T23:59:59Z", tz="Asia/Tokyo")


def test_format_date_takes_the_gap_and_fold_policies_its_errors_name() -> None:
    """A naive value in a gap or fold of tz is resolved as to_timezone does."""
    gap, fold = datetime(2025, 3, 30, 2, 30), datetime(2025, 10, 26, 2, 30)
    with pytest.raises(TimezoneError, match=r"^2025-03-30T02:30:00 .*pass on_gap="):
        format_date(gap, tz=BERLIN)
    with pytest.raises(TimezoneError, match=r"^2025-10-26T02:30:00 .*pass on_fold="):
        format_date(fold, tz=BERLIN)

    assert format_date(gap, tz=BERLIN, on_gap="shift_forward") == (
        "2025-03-30T03:00:00+02:00"
    )
    assert format_date(gap, tz=BERLIN, on_gap="earlier") == "2025-03-30T01:30:00+01:00"
    assert format_date(fold, tz=BERLIN, on_fold="later") == "2025-10-26T02:30:00+01:00"


def test_format_date_checks_its_policies_even_without_a_zone() -> None:
    """A misspelled policy is an error, not silently unused."""
    with pytest.raises(ValueError, match=r"^unknown on_fold policy 'last'"):
        format_date(NOON_UTC, on_fold="last")  # type: ignore[arg-type]


def test_format_refuses_a_string() -> None:
    """Text is not a date; parse it first."""
    with pytest.raises(TypeError, match="got str"):
        format_date("2025-11-23")  # type: ignore[arg-type]


# parse_date: ISO 8601 / RFC 3339


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-23", date(2025, 11, 23)),
        ("20251123", date(2025, 11, 23)),
        ("2025-W47-7", date(2025, 11, 23)),
        ("2025W477", date(2025, 11, 23)),
        ("2025-W01-1", date(2024, 12, 30)),
        ("2025-327", date(2025, 11, 23)),
        ("2024-366", date(2024, 12, 31)),
        ("2025327", date(2025, 11, 23)),
    ],
)
def test_parses_date_forms_to_a_date(text: str, expected: date) -> None:
    """Calendar, week and ordinal dates return a plain date."""
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-23T10:00:00Z", NOON_UTC),
        ("2025-11-23t10:00:00z", NOON_UTC),
        ("2025-11-23 10:00Z", NOON_UTC),
        ("2025-11-23T11:00:00+01:00", NOON_UTC),
        ("2025-11-23T1100+0100", NOON_UTC),
        ("20251123T110000+01", NOON_UTC),
        ("2025-11-23T05:00:00-05:00", NOON_UTC),
        ("2025-11-23T10:00:00-00:00", NOON_UTC),
        ("2025-11-23T10:00:00.5Z", NOON_UTC.replace(microsecond=500000)),
        ("2025-11-23T10:00:00,25Z", NOON_UTC.replace(microsecond=250000)),
        ("2025-11-23T10:00:00.1234569Z", NOON_UTC.replace(microsecond=123456)),
    ],
)
def test_parses_date_times_with_offsets(text: str, expected: datetime) -> None:
    """Times with Z or a numeric offset parse to the same instant."""
    parsed = parse_date(text)

    assert isinstance(parsed, datetime)
    assert parsed == expected
    assert parsed.utcoffset() is not None


def test_offset_is_kept_not_converted() -> None:
    """The parsed value keeps the offset written in the text."""
    parsed = parse_date("2025-11-23T11:00:00+01:00")

    assert isinstance(parsed, datetime)
    assert parsed.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025", date(2025, 1, 1)),
        ("2025-11", date(2025, 11, 1)),
        ("2025-W47", date(2025, 11, 17)),
        ("2025W47", date(2025, 11, 17)),
    ],
)
def test_reduced_precision_date_is_the_first_day(text: str, expected: date) -> None:
    """A year, month or week alone reads as the first day of that period."""
    assert parse_date(text) == expected


def test_hour_alone_is_a_time() -> None:
    """T10 is 10:00, the reduced-precision time of ISO 8601."""
    assert parse_date("2025-11-23T10Z") == NOON_UTC


def test_time_without_offset_is_naive() -> None:
    """No offset and no tz gives a naive datetime."""
    assert parse_date("2025-11-23T10:00") == datetime(2025, 11, 23, 10, 0)


def test_time_without_offset_gets_tz_attached() -> None:
    """With tz, a time without offset is a wall time in that zone."""
    parsed = parse_date("2025-11-23T10:00", tz="Europe/Berlin")

    assert parsed == datetime(2025, 11, 23, 10, 0, tzinfo=BERLIN)
    assert isinstance(parsed, datetime)
    assert parsed.utcoffset() == timedelta(hours=1)


def test_time_with_offset_is_converted_into_tz() -> None:
    """With tz, a time with an offset is shown in that zone."""
    parsed = parse_date("2025-11-23T10:00Z", tz="Europe/Berlin")

    assert isinstance(parsed, datetime)
    assert (parsed.hour, parsed.tzinfo) == (11, BERLIN)


def test_parse_date_takes_the_gap_and_fold_policies_its_errors_name() -> None:
    """A wall time in a gap or fold of tz is resolved as to_timezone does."""
    with pytest.raises(TimezoneError, match=r"^2025-03-30T02:30:00 .*pass on_gap="):
        parse_date("2025-03-30T02:30", tz=BERLIN)

    later = parse_date("2025-03-30T02:30", tz=BERLIN, on_gap="later")
    second = parse_date("2025-10-26T02:30", tz=BERLIN, on_fold="later")

    assert later == datetime(2025, 3, 30, 3, 30, tzinfo=BERLIN)
    assert isinstance(second, datetime)
    assert second.utcoffset() == timedelta(hours=1)


def test_hour_24_is_the_next_midnight() -> None:
    """24:00 ends the day: it is 00:00 of the next one, across a year end."""
    assert parse_date("2025-11-23T24:00") == datetime(2025, 11, 24, 0, 0)
    assert parse_date("2025-12-31T24:00:00Z") == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "reason", "position"),
    [
        ("2025-11-23T24:01", "only 24:00 may use hour 24", 11),
        ("2025-02-29", "day 29 does not exist in February 2025", 8),
        ("2025-13-01", "month 13 is not between 1 and 12", 5),
        ("2025-366", "day 366 does not exist in year 2025", 5),
        ("2025-W53-1", "no such week date", 6),
        ("2025-11-23T25:00", "hour 25 is not between 0 and 23", 11),
        ("2025-11-23T10:60", "minute 60 is not between 0 and 59", 14),
        ("2025-11-23T23:59:60Z", "leap seconds", 17),
        ("2025-11-23T10:00+24:00", "offset hour 24 is not below 24", 17),
        ("2025-11-23T10:00+05:60", "offset minutes", 20),
        ("2025-11-23T", "expected a time after 'T'", 11),
        ("2025-11-23T10:00\n", "unexpected '\\n'", 16),
        (" 2025-11-23", "expected an ISO 8601 date", 0),
        ("2025-11T10:00", "a time needs a complete date", 7),
        ("2025-W47T10:00", "a time needs a complete date", 8),
        ("201204", "expected an ISO 8601 date", 6),
        ("2025-11-23a10:00", "unexpected 'a' after the date", 10),
        ("2025-11-23-10:00", "unexpected '-' after the date", 10),
        ("2025-11-23Z", "unexpected 'Z' after the date", 10),
        ("\u0662\u0660\u0662\u0665-11-23", "expected an ISO 8601 date", 0),
        ("9999-12-31T24:00", "24:00 runs past year 9999", None),
    ],
)
def test_refuses_bad_iso_text(text: str, reason: str, position: int | None) -> None:
    """Out-of-range fields and stray characters are refused with a position."""
    with pytest.raises(DateParseError) as info:
        parse_date(text)

    assert reason in info.value.reason
    assert info.value.position == position
    assert info.value.text == text


def test_numeric_slash_date_without_style_is_ambiguous() -> None:
    """03/04/2025 is refused, naming both readings and both styles."""
    with pytest.raises(
        DateParseError,
        match=r"03/04/2025 could be 4 March or 3 April\); pass style='us' .*'eu'",
    ):
        parse_date("03/04/2025")


def test_slash_date_that_only_one_style_reads_is_still_refused() -> None:
    """Even 13/04/2025 needs a style: the caller's convention is unknown."""
    with pytest.raises(DateParseError, match="pass style='us'"):
        parse_date("13/04/2025")


# parse_date: us and eu


@pytest.mark.parametrize(
    ("text", "style", "expected"),
    [
        ("03/04/2025", "us", date(2025, 3, 4)),
        ("03/04/2025", "eu", date(2025, 4, 3)),
        ("3/4/2025", "us", date(2025, 3, 4)),
        ("03/04/2025 10:30 PM", "us", datetime(2025, 3, 4, 22, 30)),
        ("03/04/2025 12:00 am", "us", datetime(2025, 3, 4, 0, 0)),
        ("03/04/2025 22:30:15", "eu", datetime(2025, 4, 3, 22, 30, 15)),
    ],
)
def test_parses_slash_dates_in_the_given_style(
    text: str, style: str, expected: date
) -> None:
    """us reads month first, eu reads day first, with an optional time."""
    assert parse_date(text, style=style) == expected


@pytest.mark.parametrize(
    ("text", "style", "reason"),
    [
        ("13/04/2025", "us", "month 13"),
        ("04/13/2025", "eu", "month 13"),
        ("02/30/2025", "us", "day 30 does not exist in February 2025"),
        ("03/04/2025 13:00 PM", "us", "12-hour clock"),
        ("2025-03-04", "eu", "expected DD/MM/YYYY"),
    ],
)
def test_refuses_bad_slash_dates(text: str, style: str, reason: str) -> None:
    """Slash dates are range-checked in their style."""
    with pytest.raises(DateParseError, match=reason):
        parse_date(text, style=style)


# parse_date: any (dateutil, guarded)


def test_any_keeps_the_year_after_a_comma_without_space() -> None:
    """May 17,2019 is 17 May 2019, not 17 May of the current year."""
    assert parse_date("May 17,2019", style="any") == date(2019, 5, 17)


def test_any_reads_an_rfc_2822_date() -> None:
    """A mail Date header parses to an aware datetime."""
    parsed = parse_date("Sun, 23 Nov 2025 10:00:00 +0000", style="any")

    assert parsed == NOON_UTC


def test_any_maps_utc_names_to_utc() -> None:
    """UTC is UTC on every machine, never the local zone."""
    parsed = parse_date("Nov 23 2025 10:00 UTC", style="any")

    assert isinstance(parsed, datetime)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("May 17, 2019 10:00 +2500", "below 24:00"),
        ("May 17, 2019 10:00 -05:75", "minutes up to 59"),
        ("May 17", "no year"),
        ("Nov 23 2025 10:00 XYZ", "zone name is unknown"),
        ("not a date", "Unknown string format"),
    ],
)
def test_any_refuses_what_dateutil_would_guess(text: str, reason: str) -> None:
    """Bad offsets, missing fields and unknown zones are errors, not guesses."""
    with pytest.raises(DateParseError, match=reason):
        parse_date(text, style="any")


def test_unknown_parse_style_is_a_value_error() -> None:
    """A style parse_date does not know is named in the error."""
    with pytest.raises(ValueError, match=r"unknown parse style 'rfc2822'"):
        parse_date("2025-11-23", style="rfc2822")


def test_parse_refuses_bytes() -> None:
    """Bytes must be decoded before parsing."""
    with pytest.raises(TypeError, match="got bytes"):
        parse_date(b"2025-11-23")  # type: ignore[arg-type]


# to_timezone


def test_aware_value_converts_to_the_same_instant() -> None:
    """Conversion changes the wall time, not the instant."""
    converted = to_timezone(NOON_UTC, "America/New_York")

    assert converted == NOON_UTC
    assert (converted.hour, converted.tzinfo) == (5, NEW_YORK)


def test_naive_value_is_a_wall_time_in_the_zone() -> None:
    """A naive value gets the zone attached, wall time unchanged."""
    converted = to_timezone(datetime(2025, 7, 1, 9, 0), "Europe/Berlin")

    assert converted.isoformat() == "2025-07-01T09:00:00+02:00"


@pytest.mark.parametrize(
    ("zone", "wall"),
    [
        ("Europe/Berlin", datetime(2025, 3, 30, 2, 30)),
        ("America/New_York", datetime(2025, 3, 9, 2, 30)),
    ],
)
def test_wall_time_in_a_gap_raises_by_default(zone: str, wall: datetime) -> None:
    """02:30 on the spring-forward day does not exist and is refused."""
    with pytest.raises(TimezoneError, match=rf"does not exist in {zone}"):
        to_timezone(wall, zone)


@pytest.mark.parametrize(
    ("on_gap", "expected"),
    [
        ("earlier", "2025-03-30T01:30:00+01:00"),
        ("later", "2025-03-30T03:30:00+02:00"),
        ("shift_forward", "2025-03-30T03:00:00+02:00"),
    ],
)
def test_gap_policies_in_berlin(on_gap: Any, expected: str) -> None:
    """Each gap policy turns 02:30 into a wall time that exists."""
    converted = to_timezone(datetime(2025, 3, 30, 2, 30), BERLIN, on_gap=on_gap)

    assert converted.isoformat() == expected


def test_wall_time_in_a_fold_raises_by_default() -> None:
    """01:30 on the fall-back day happens twice and is refused."""
    with pytest.raises(TimezoneError, match="happens twice in America/New_York"):
        to_timezone(datetime(2025, 11, 2, 1, 30), NEW_YORK)


@pytest.mark.parametrize(
    ("on_fold", "offset_hours", "fold"),
    [("earlier", -4, 0), ("later", -5, 1)],
)
def test_fold_policies_in_new_york(on_fold: Any, offset_hours: int, fold: int) -> None:
    """earlier is the first 01:30 (EDT), later the second (EST)."""
    converted = to_timezone(datetime(2025, 11, 2, 1, 30), NEW_YORK, on_fold=on_fold)

    assert converted.utcoffset() == timedelta(hours=offset_hours)
    assert converted.fold == fold


def test_fold_1_is_respected_as_the_callers_choice() -> None:
    """PEP 495 fold=1 already picks the second occurrence, so no error."""
    wall = datetime(2025, 10, 26, 2, 30, fold=1)

    converted = to_timezone(wall, "Europe/Berlin")

    assert converted.utcoffset() == timedelta(hours=1)


def test_aware_value_in_a_fold_keeps_its_instant() -> None:
    """Converting an aware fold=1 value uses the second occurrence's offset."""
    second = datetime(2025, 11, 2, 1, 30, fold=1, tzinfo=NEW_YORK)

    assert to_timezone(second, "UTC") == datetime(2025, 11, 2, 6, 30, tzinfo=UTC)


def test_unknown_policy_is_a_value_error() -> None:
    """Policies are checked even when no gap or fold is involved."""
    with pytest.raises(ValueError, match="unknown on_gap policy 'skip'"):
        to_timezone(NOON_UTC, "UTC", on_gap="skip")  # type: ignore[arg-type]


def test_to_timezone_refuses_a_date() -> None:
    """A date has no time of day to convert."""
    with pytest.raises(TypeError, match="got date"):
        to_timezone(date(2025, 1, 1), "UTC")  # type: ignore[arg-type]


def test_module_doctests_pass() -> None:
    """The examples in the module docstring run as written."""
    result = doctest.testmod(utils.formatters)

    assert result.failed == 0
    assert result.attempted > 0


# Properties

_offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_offsets
)


@given(_instants)
def test_iso_format_then_parse_gives_back_the_same_instant(value: datetime) -> None:
    """format_date(iso) and parse_date round-trip instant and offset."""
    parsed = parse_date(format_date(value))

    assert parsed == value
    assert isinstance(parsed, datetime)
    assert parsed.utcoffset() == value.utcoffset()


@given(st.dates())
def test_iso_date_round_trips(value: date) -> None:
    """A date formatted as ISO parses back to the same date."""
    assert parse_date(format_date(value)) == value


@given(st.text(max_size=40))
def test_parse_raises_only_date_parse_error(text: str) -> None:
    """Arbitrary text either parses or raises DateParseError."""
    for style in (None, "us", "eu"):
        with contextlib.suppress(DateParseError):
            parse_date(text, style=style)


@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2037, 12, 30)),
    st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
)
def test_shift_forward_and_later_never_raise(wall: datetime, zone: str) -> None:
    """With lenient policies every naive wall time maps to a real one."""
    converted = to_timezone(wall, zone, on_gap="shift_forward", on_fold="later")

    round_trip = converted.astimezone(UTC).astimezone(ZoneInfo(zone))
    assert round_trip.replace(tzinfo=None) == converted.replace(tzinfo=None)


# Public corpora (read from ../shared/corpora, never copied)


def _load(*parts: str) -> Any:
    path = CORPORA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"public corpus not found at {path}")
    return json.loads(path.read_text(encoding="utf-8"))


# Cases of dateutil's ISO parser tests where parse_date deliberately answers
# otherwise, by case id. The test below fails if one of them starts to agree,
# so the list never goes stale.
_ISOPARSER_DIFFERENCES: Final[dict[int, str]] = {
    **dict.fromkeys(
        (271, 272, 275, 276, 277, 278),
        "dateutil takes any one non-digit as the date-time separator; ISO 8601 "
        "allows only T and RFC 3339 a space, and '-' would read as an offset",
    ),
    343: "isoparser(sep='C') refuses T; parse_date has no sep option and T is "
    "always the separator",
    **dict.fromkeys(
        (345, 346, 347),
        "isoparser() refuses a bad sep argument; parse_date has no sep option, "
        "so there is nothing to refuse",
    ),
}
_DATE_ANCHOR: Final = "2000-01-01T"

Outcome = tuple[str, str | None, int | None, bool | None]


def _expected_outcome(case: dict[str, Any]) -> Outcome:
    if not case["valid"]:
        return ("error", None, None, None)
    expected = case["expected"]
    # A tzinfo (parse_tzstr) has no iso, a date neither offset nor naive.
    return (
        "ok",
        expected.get("iso"),
        expected.get("utcoffset_s"),
        expected.get("naive"),
    )


def _offset_seconds(value: datetime | time) -> int | None:
    offset = value.utcoffset()
    return None if offset is None else int(offset.total_seconds())


def _our_outcome(case: dict[str, Any]) -> Outcome:
    """Run a dateutil case through parse_date, read the way dateutil reports.

    isoparse and parse_isodate take the text as it is; parse_isotime and
    parse_tzstr have no counterpart of their own, so their text is put after
    a date (a time) or after a date and time (an offset). Cases dateutil ran
    on bytes run here on the same ASCII text: parse_date takes str only.
    """
    function, text = case["function"], case["input"]
    kwargs = case.get("parser_kwargs", {})
    if function == "isoparser()" or kwargs.get("sep", "T") != "T":
        return ("no counterpart", None, None, None)
    try:
        if function in ("isoparse", "isoparser().isoparse"):
            parsed = parse_date(text)
            if not isinstance(parsed, datetime):
                # dateutil returns midnight for a date alone.
                return ("ok", f"{parsed.isoformat()}T00:00:00", None, True)
            return (
                "ok",
                parsed.isoformat(),
                _offset_seconds(parsed),
                parsed.tzinfo is None,
            )
        if function == "isoparser().parse_isodate":
            parsed = parse_date(text)
            assert not isinstance(parsed, datetime)
            return ("ok", parsed.isoformat(), None, None)
        if function == "isoparser().parse_isotime":
            parsed = parse_date(_DATE_ANCHOR + text)
            assert isinstance(parsed, datetime)
            clock = parsed.timetz()
            return (
                "ok",
                clock.isoformat(),
                _offset_seconds(clock),
                clock.tzinfo is None,
            )
        assert function == "isoparser().parse_tzstr", function
        parsed = parse_date(f"{_DATE_ANCHOR}12:00:00{text}")
        assert isinstance(parsed, datetime)
        return ("ok", None, _offset_seconds(parsed), None)
    except DateParseError:
        return ("error", None, None, None)


def test_dateutil_isoparser_corpus_agrees_case_by_case() -> None:
    """Every dateutil ISO parser case agrees, except the listed differences."""
    cases = _load("dateutil-isoparser", "dateutil_isoparser_cases.json")["cases"]
    agreed, wrong, stale = 0, [], []
    for case in cases:
        ours, theirs = _our_outcome(case), _expected_outcome(case)
        if case["id"] in _ISOPARSER_DIFFERENCES:
            if ours == theirs:
                stale.append(case["id"])
        elif ours == theirs:
            agreed += 1
        else:
            wrong.append((case["id"], case["input"], ours, theirs))

    assert wrong == []
    assert stale == []
    assert len(cases) == 531
    assert sum(case["valid"] for case in cases) == 466
    assert len(_ISOPARSER_DIFFERENCES) == 10
    assert agreed == 521


def test_zoneinfo_corpus_gaps_and_folds_resolve_as_recorded() -> None:
    """shift_forward lands on each gap's end; fold policies pick each side."""
    zones = _load("zoneinfo-transitions", "zone_transitions.json")["zones"]
    wrong = []
    for zone, transitions in zones.items():
        for transition in transitions:
            start = datetime.fromisoformat(transition["anomaly_start_local"])
            before = timedelta(seconds=transition["before"]["utcoffset_s"])
            after = timedelta(seconds=transition["after"]["utcoffset_s"])
            if transition["kind"] == "gap":
                shifted = to_timezone(start, zone, on_gap="shift_forward")
                end = transition["anomaly_end_local"]
                if (shifted.replace(tzinfo=None).isoformat(), shifted.utcoffset()) != (
                    end,
                    after,
                ):
                    wrong.append((zone, transition["transition_utc"]))
            elif transition["kind"] == "fold":
                first = to_timezone(start, zone, on_fold="earlier")
                second = to_timezone(start, zone, on_fold="later")
                if (first.utcoffset(), second.utcoffset()) != (before, after):
                    wrong.append((zone, transition["transition_utc"]))

    assert wrong == []


# Probe names (zoneinfo's own test layout) for wall times inside a gap or a
# fold; the others (before, after, and the first second outside) exist once.
_INSIDE_ANOMALY: Final = ("start", "start+1s", "end-1s")


def _zone_readings(value: datetime) -> dict[str, Any]:
    offset, dst = value.utcoffset(), value.dst()
    assert offset is not None and dst is not None
    return {
        "tzname": value.tzname(),
        "utcoffset_s": int(offset.total_seconds()),
        "dst_s": int(dst.total_seconds()),
    }


def test_zoneinfo_corpus_wall_time_probes_read_as_recorded() -> None:
    """Each wall time and fold gives the recorded tzname, offset and dst.

    A wall time that exists once comes back unchanged under the default
    policies. In a fold, fold=0 is the first occurrence and fold=1 the second
    (PEP 495): on_fold='earlier' / 'later' pick them, and the default keeps
    an explicit fold=1. In a gap the default raises; PEP 495 reads fold=0
    with the offset before the change and fold=1 with the one after, and
    on_gap='earlier' / 'later' land on real wall times with those offsets,
    one gap length before or after.
    """
    data = _load("zoneinfo-transitions", "zone_transitions.json")
    gaps = {
        (zone, transition["anomaly_start_local"]): transition["delta_s"]
        for zone, transitions in data["zones"].items()
        for transition in transitions
        if transition["kind"] == "gap"
    }
    counts = {"once": 0, "gap": 0, "fold": 0}
    wrong: list[tuple[Any, object]] = []
    for probe in data["probes"]:
        zone, fold = probe["zone"], probe["fold"]
        wall = datetime.fromisoformat(probe["local"]).replace(fold=fold)
        kind, _, where = probe["probe"].partition(":")
        policy: Any = "earlier" if fold == 0 else "later"
        if where not in _INSIDE_ANOMALY:
            counts["once"] += 1
            result = to_timezone(wall, zone)
            moved = result.replace(tzinfo=None, fold=0) != wall.replace(fold=0)
        elif kind == "fold":
            counts["fold"] += 1
            result = to_timezone(wall, zone, on_fold=policy)
            if fold == 1 and to_timezone(wall, zone) != result:
                wrong.append((probe, "default policy ignored fold=1"))
            moved = (result.replace(tzinfo=None), result.fold) != (wall, fold)
        else:
            assert kind == "gap", probe
            counts["gap"] += 1
            with pytest.raises(TimezoneError, match="does not exist"):
                to_timezone(wall, zone)
            result = to_timezone(wall, zone, on_gap=policy)
            start = datetime.fromisoformat(probe["local"])
            while (zone, start.isoformat()) not in gaps:
                start -= timedelta(seconds=1)  # back to the gap's first second
            length = timedelta(seconds=gaps[zone, start.isoformat()])
            landing = wall - length if fold == 0 else wall + length
            moved = result.replace(tzinfo=None) != landing.replace(fold=0)
        if moved or _zone_readings(result) != probe["expect"]:
            wrong.append((probe, result.isoformat()))

    assert wrong == []
    assert counts == {"once": 420, "gap": 162, "fold": 144}
    assert sum(counts.values()) == len(data["probes"]) == 726


def test_zoneinfo_corpus_utc_probes_land_on_the_recorded_wall_time() -> None:
    """An instant next to a fold converts to the recorded wall time and fold."""
    data = _load("zoneinfo-transitions", "zone_transitions.json")
    wrong: list[tuple[Any, object]] = []
    for probe in data["utc_probes"]:
        zone = probe["zone"]
        instant = datetime.fromisoformat(probe["utc"].replace("Z", "+00:00"))
        local = to_timezone(instant, zone)
        shown = format_date(instant, "%Y-%m-%dT%H:%M:%S", tz=zone)
        readings = (local.replace(tzinfo=None).isoformat(), local.fold, shown)
        expected = (probe["expect_local"], probe["expect_fold"], probe["expect_local"])
        if readings != expected or _zone_readings(local) != probe["expect"]:
            wrong.append((probe, readings))
        if parse_date(format_date(instant, "iso", tz=zone)) != instant:
            wrong.append((probe, "iso text does not parse back to the instant"))

    assert wrong == []
    assert len(data["utc_probes"]) == 48


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59.6, "1 min"),
        (90, "1 min 30 s"),
        (1800, "30 min"),
        (3600, "1 h"),
        (5400, "1 h 30 min"),
        (86_461, "24 h 1 min 1 s"),
    ],
)
def test_format_duration_names_hours_minutes_and_seconds(
    seconds: float, text: str
) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_format_duration_refuses_negative_and_infinite(seconds: float) -> None:
    with pytest.raises(ValueError, match=r"^a duration must be finite"):
        format_duration(seconds)
