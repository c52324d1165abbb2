"""Wall time of the whole CLI run of scenarios/parallel.yaml, and its parts.

Run by hand from the project root (never as a timed test):

    python benchmarks/cli_run.py [--runs 15]

Times, as whole processes and side by side in one run, round-robin so that
drift on a noisy machine hits all of them alike:

- ``interpreter``: ``python -c pass``, the floor every command pays;
- ``imports``: ``python -c "import agency.simulate"``, what loading costs;
- ``all imports``: the same plus the four ``utils`` modules the probes
  call (and what they import: jsonschema, idna, ijson, text-unidecode);
- ``cli``: ``python -m agency.simulate scenarios/parallel.yaml --quiet``.

Prints min, median and max wall seconds for each, and the share of the CLI
run that interpreter start-up and imports account for.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import positive

ROOT = Path(__file__).resolve().parents[1]


def _time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=positive, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as out:
        commands = {
            "interpreter": [sys.executable, "-c", "pass"],
            "imports": [sys.executable, "-c", "import agency.simulate"],
            "all imports": [
                sys.executable,
                "-c",
                "import agency.simulate, utils.validators, utils.formatters, "
                "utils.parsers, utils.strings",
            ],
            "cli": [
                sys.executable,
                "-m",
                "agency.simulate",
                "scenarios/parallel.yaml",
                "--quiet",
                "--out",
                str(Path(out) / "run"),
            ],
        }
        for command in commands.values():
            _time(command)  # warm-up: file caches, .pyc files
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                samples[name].append(_time(command))

    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"{args.runs} runs each, wall seconds (min / median / max)")
    for name, values in samples.items():
        print(
            f"  {name:<12} {min(values):.3f} / {medians[name]:.3f} / {max(values):.3f}"
        )
    cli = medians["cli"]
    print(f"interpreter start-up: {medians['interpreter'] / cli:.0%} of the CLI run")
    print(f"start-up plus imports: {medians['all imports'] / cli:.0%} of the CLI run")
    print(
        "the rest (load, check, simulate, write): "
        f"{(cli - medians['all imports']) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
