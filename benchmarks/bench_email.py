"""Throughput of utils.validators.validate_email against python-email-validator.

Run by hand from the project root (never as a timed test):

    pip install email-validator
    python benchmarks/bench_email.py [--repeat 15] [--number 20]

Both validators run side by side in this one process on the addresses that
python-email-validator's own corpus (``../shared/corpora``) records as valid,
split into two sets: (a) plain ASCII addresses and (b) internationalized ones
(any non-ASCII character). Options are the defaults of each library, with
DNS off for the other one (``check_deliverability=False``), and each input is
checked once by both before timing so that neither pays for first calls.

Timing is round-robin: each repeat times ours, then theirs, on the same set,
so drift on a noisy machine hits both alike. The script prints the median
time per address and the ratio of throughputs (theirs / ours time).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import positive, round_robin

ROOT = Path(__file__).resolve().parents[1]
CASES = (
    ROOT.parent
    / "shared"
    / "corpora"
    / "python-email-validator"
    / "email_validator_cases.json"
)
# Ours must beat theirs by this factor on ASCII, and not lose on the rest.
TARGETS = {"ascii": 3.0, "international": 1.0}

sys.path.insert(0, str(ROOT))

from utils.errors import InvalidEmailError  # noqa: E402
from utils.validators import validate_email  # noqa: E402

try:
    import email_validator
except ImportError:
    sys.exit(
        "python-email-validator is not installed; install it with\n"
        "    python -m pip install email-validator\n"
        "and run this script again."
    )


def _theirs(address: str) -> object:
    return email_validator.validate_email(address, check_deliverability=False)


def _corpus_addresses() -> dict[str, list[str]]:
    """Valid addresses both libraries accept by default, ASCII and not."""
    if not CASES.exists():
        sys.exit(f"the public corpus is missing at {CASES}")
    cases: list[dict[str, Any]] = json.loads(CASES.read_text(encoding="utf-8"))["cases"]
    sets: dict[str, list[str]] = {"ascii": [], "international": []}
    for case in cases:
        address = case["input"]
        if not case["valid"] or address in sets["ascii"] + sets["international"]:
            continue
        try:
            validate_email(address)
            _theirs(address)
        except (InvalidEmailError, email_validator.EmailNotValidError):
            continue  # needs an option, such as a quoted local part
        sets["ascii" if address.isascii() else "international"].append(address)
    return sets


def _timer(check: Callable[[str], object], addresses: list[str]) -> Callable[[], None]:
    def run() -> None:
        for address in addresses:
            check(address)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=positive, default=15, help="rounds per set")
    parser.add_argument("--number", type=positive, default=20, help="passes per round")
    args = parser.parse_args()

    print(
        f"python {sys.version.split()[0]}, "
        f"email-validator {email_validator.__version__}, "
        f"{args.repeat} rounds of {args.number} passes"
    )
    print(f"{'set':<14} {'n':>3} {'ours us':>9} {'theirs us':>10} {'ratio':>7}  target")
    missed = False
    for name, addresses in _corpus_addresses().items():
        ours = _timer(validate_email, addresses)
        theirs = _timer(_theirs, addresses)
        times = round_robin(
            {"ours": ours, "theirs": theirs}, rounds=args.repeat, loops=args.number
        )

        # round_robin times passes over the set; quote time per address.
        ours_us = statistics.median(times["ours"]) / len(addresses) * 1e6
        theirs_us = statistics.median(times["theirs"]) / len(addresses) * 1e6
        ratio = theirs_us / ours_us
        met = ratio >= TARGETS[name]
        missed = missed or not met
        print(
            f"{name:<14} {len(addresses):>3} {ours_us:>9.2f} {theirs_us:>10.2f} "
            f"{ratio:>6.1f}x  >= {TARGETS[name]:.0f}x {'met' if met else 'MISSED'}"
        )
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
