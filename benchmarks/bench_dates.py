"""Speed of utils.formatters beside the standard library and dateutil.

Run by hand from the project root (never as a timed test):

    python benchmarks/bench_dates.py [--rounds 15] [--loops 20]

Times, side by side in one process and round-robin so that drift on a noisy
machine hits every candidate alike:

- formatting: ``format_date(dt, "iso")`` against ``dt.isoformat()`` and, if
  arrow is installed, ``arrow.Arrow.fromdatetime(dt).isoformat()``, over 200
  aware datetimes (UTC, fixed offsets, IANA zones, with and without
  microseconds);
- parsing: ``parse_date(text)`` against ``dateutil.parser.isoparse(text)``
  and, if arrow is installed, ``arrow.get(text)``, over the strings of the
  dateutil ISO parser corpus (``../shared/corpora``) that both parse.

Prints the median, min and max microseconds per call for each candidate and
its ratio to the first one of its group (the baseline).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from _common import positive, round_robin
from dateutil.parser import isoparse

from utils.formatters import format_date, parse_date

ROOT = Path(__file__).resolve().parents[1]
CORPUS = (
    ROOT.parent
    / "shared"
    / "corpora"
    / "dateutil-isoparser"
    / "dateutil_isoparser_cases.json"
)

Candidate = tuple[str, Callable[[Any], object]]


def _datetimes() -> list[datetime]:
    """200 aware datetimes spread over offsets, zones and microseconds."""
    zones: list[tzinfo] = [
        UTC,
        timezone(timedelta(hours=5, minutes=30)),
        timezone(timedelta(hours=-3)),
        ZoneInfo("Europe/Berlin"),
        ZoneInfo("America/New_York"),
    ]
    start = datetime(2025, 1, 1, 0, 0)
    return [
        (start + timedelta(days=3 * i, seconds=4099 * i)).replace(
            microsecond=(i * 7919) % 1_000_000 if i % 2 else 0,
            tzinfo=zones[i % len(zones)],
        )
        for i in range(200)
    ]


def _parseable_strings() -> list[str]:
    """The corpus's isoparse inputs that dateutil and parse_date both read."""
    cases = json.loads(CORPUS.read_text(encoding="utf-8"))["cases"]
    texts = []
    for case in cases:
        if case["function"] != "isoparse" or not case["valid"]:
            continue
        try:
            parse_date(case["input"])
        except ValueError:
            continue  # a deliberate difference, see tests/test_formatters.py
        texts.append(case["input"])
    return texts


def _compare(
    title: str,
    candidates: Sequence[Candidate],
    inputs: Sequence[Any],
    rounds: int,
    loops: int,
) -> None:
    def over_inputs(function: Callable[[Any], object]) -> Callable[[], None]:
        def call() -> None:
            for item in inputs:
                function(item)

        return call

    per_pass = round_robin(
        {name: over_inputs(function) for name, function in candidates},
        rounds=rounds,
        loops=loops,
    )
    # Microseconds per call.
    samples = {
        name: [seconds / len(inputs) * 1e6 for seconds in values]
        for name, values in per_pass.items()
    }

    baseline = statistics.median(samples[candidates[0][0]])
    print(f"{title}: {len(inputs)} inputs, {rounds} rounds x {loops} loops")
    print(f"  {'candidate':<34} {'median':>8} {'min':>8} {'max':>8}  ratio")
    for name, values in samples.items():
        median = statistics.median(values)
        print(
            f"  {name:<34} {median:8.2f} {min(values):8.2f} {max(values):8.2f}"
            f"  {median / baseline:5.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=positive, default=15)
    parser.add_argument("--loops", type=positive, default=20)
    args = parser.parse_args()
    if not CORPUS.is_file():
        sys.exit(f"the dateutil corpus is missing at {CORPUS}")

    has_arrow = importlib.util.find_spec("arrow") is not None
    print(f"Python {sys.version.split()[0]}; arrow installed: {has_arrow}")
    print("microseconds per call; ratio = median / the group's first median\n")

    formatters: list[Candidate] = [
        ("datetime.isoformat()", datetime.isoformat),
        ('format_date(dt, "iso")', format_date),
    ]
    parsers: list[Candidate] = [
        ("dateutil.parser.isoparse", isoparse),
        ("parse_date", parse_date),
    ]
    if has_arrow:
        arrow = importlib.import_module("arrow")
        formatters.append(
            (
                "arrow.Arrow.fromdatetime().isoformat",
                lambda value: arrow.Arrow.fromdatetime(value).isoformat(),
            )
        )
        parsers.append(("arrow.get", arrow.get))

    _compare("format, ISO 8601", formatters, _datetimes(), args.rounds, args.loops)
    print()
    _compare(
        "parse, dateutil corpus", parsers, _parseable_strings(), args.rounds, args.loops
    )


if __name__ == "__main__":
    main()
