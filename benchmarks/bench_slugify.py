"""Throughput of utils.strings.slugify against python-slugify's slugify.

Run by hand from the project root (never as a timed test):

    pip install python-slugify
    python benchmarks/bench_slugify.py [--repeat 15] [--number 20] [--warm]

Both run side by side in this one process on the inputs of python-slugify's
own corpus (``../shared/corpora``), each with the options its case records.
Only the cases where both give the same slug are timed, and the script says
which were left out. The cases are split into inputs that are plain ASCII
and the rest (transliteration, ``allow_unicode``).

Our slugify caches the transliteration of repeated words. That cache is
cleared before every pass, so each pass pays for its first use of a word as
a fresh process would; ``--warm`` keeps it across passes instead.

Timing is round-robin: each repeat times ours, then theirs, on the same set,
so drift on a noisy machine hits both alike. The script prints the median
time per call and the ratio of throughputs (their time / our time).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _common import positive, round_robin

ROOT = Path(__file__).resolve().parents[1]
CASES = (
    ROOT.parent / "shared" / "corpora" / "python-slugify" / "python_slugify_cases.json"
)
# Ours must reach this many times python-slugify's throughput on every set.
TARGET = 2.0

sys.path.insert(0, str(ROOT))

from utils import strings  # noqa: E402

try:
    import slugify as python_slugify
except ImportError:
    sys.exit(
        "python-slugify is not installed; install it with\n"
        "    python -m pip install python-slugify\n"
        "and run this script again."
    )

Call = tuple[str, dict[str, Any]]


def _ours(text: str, options: dict[str, Any]) -> str:
    return strings.slugify(text, **options)


def _theirs(text: str, options: dict[str, Any]) -> str:
    result: str = python_slugify.slugify(text, **options)
    return result


def _corpus_calls() -> tuple[dict[str, list[Call]], list[int]]:
    """The corpus calls on which both agree, by set, and the ids left out."""
    if not CASES.exists():
        sys.exit(f"the public corpus is missing at {CASES}")
    cases: list[dict[str, Any]] = json.loads(CASES.read_text(encoding="utf-8"))["cases"]
    sets: dict[str, list[Call]] = {"ascii": [], "unicode": []}
    differing: list[int] = []
    for case in cases:
        if case["function"] != "slugify":
            continue
        options = dict(case["kwargs"])
        if "replacements" in options:
            options["replacements"] = [tuple(pair) for pair in options["replacements"]]
        text = case["input"]
        if _ours(text, options) != _theirs(text, options):
            differing.append(case["id"])
            continue
        plain = text.isascii() and not options.get("allow_unicode", False)
        sets["ascii" if plain else "unicode"].append((text, options))
    sets["all"] = sets["ascii"] + sets["unicode"]
    return sets, differing


def _timer(
    slugify: Callable[[str, dict[str, Any]], str], calls: list[Call], cold: bool
) -> Callable[[], None]:
    def run() -> None:
        if cold:
            strings._transliterate.cache_clear()
        for text, options in calls:
            slugify(text, options)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=positive, default=15, help="rounds per set")
    parser.add_argument("--number", type=positive, default=20, help="passes per round")
    parser.add_argument(
        "--warm", action="store_true", help="keep our cache across passes"
    )
    args = parser.parse_args()

    sets, differing = _corpus_calls()
    print(
        f"python {sys.version.split()[0]}, "
        f"python-slugify {version('python-slugify')}, "
        f"{args.repeat} rounds of {args.number} passes, "
        f"cache {'warm' if args.warm else 'cleared every pass'}"
    )
    print(f"not timed, outputs differ: case ids {differing}")
    print(f"{'set':<9} {'n':>3} {'ours us':>9} {'theirs us':>10} {'ratio':>7}  target")
    missed = False
    for name, calls in sets.items():
        ours = _timer(_ours, calls, cold=not args.warm)
        theirs = _timer(_theirs, calls, cold=False)
        times = round_robin(
            {"ours": ours, "theirs": theirs}, rounds=args.repeat, loops=args.number
        )

        # round_robin times passes over the set; quote time per call.
        ours_us = statistics.median(times["ours"]) / len(calls) * 1e6
        theirs_us = statistics.median(times["theirs"]) / len(calls) * 1e6
        ratio = theirs_us / ours_us
        met = ratio >= TARGET
        missed = missed or not met
        print(
            f"{name:<9} {len(calls):>3} {ours_us:>9.2f} {theirs_us:>10.2f} "
            f"{ratio:>6.1f}x  >= {TARGET:.0f}x {'met' if met else 'MISSED'}"
        )
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
