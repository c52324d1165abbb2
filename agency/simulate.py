"""Command line: ``python -m agency.simulate SCENARIO [options]``.

Runs one scenario, prints a timeline as it goes and a summary at the end
(or one JSON object with ``--json``), and writes the final AGENCY.md and
trace.jsonl into the output folder.

Exit codes: 0 the scenario's expectations held; 1 they did not (or the
run deadlocked); 2 bad input (the message names the file, line or field).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from agency.engine import simulate
from agency.errors import ScenarioError, SimulationError
from agency.report import summary_json, summary_text, timeline_line
from agency.scenario import Scenario, load_scenario
from agency.trace import Event

__all__ = ["main"]

#: Marks a folder as made by a run, so a later run may overwrite it.
_MARKER = ".agency-run"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agency.simulate",
        description=(
            "Replay a multi-agent coordination scenario on a virtual clock, "
            "deterministically from its seed."
        ),
    )
    parser.add_argument("scenario", type=Path, nargs="?", help="the scenario YAML file")
    parser.add_argument(
        "--seed", type=_seed, help="seed to use instead of the scenario's own"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for AGENCY.md and trace.jsonl (default: runs/NAME-seedN)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object, nothing else"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no timeline, only the summary"
    )
    parser.add_argument(
        "--schema",
        action="store_true",
        help="print the JSON Schema of scenario files and exit",
    )
    return parser


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.schema:
        print(json.dumps(Scenario.model_json_schema(), indent=2, ensure_ascii=False))
        return 0
    if args.scenario is None:
        parser.error("the scenario file is required (or --schema)")
    try:
        scenario = load_scenario(args.scenario)
        if args.seed is not None:
            scenario = scenario.with_seed(args.seed)
        out = args.out or Path("runs") / f"{scenario.name}-seed{scenario.seed}"
        _prepare_out(out, scenario)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    on_event = None
    if not (args.json or args.quiet):
        start = scenario.start

        def on_event(event: Event) -> None:
            line = timeline_line(event, start)
            if line is not None:
                print(line, flush=False)

    try:
        result = simulate(scenario, workdir=out, on_event=on_event)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SimulationError as exc:
        print(f"error: the run cannot go on: {exc}", file=sys.stderr)
        return 1
    result.trace.write(out / "trace.jsonl")

    source = str(args.scenario)
    if args.json:
        print(json.dumps(summary_json(result, source=source, out=out), indent=2))
    else:
        print(summary_text(result, source=source, out=out))
    return 0 if result.ok else 1


def _prepare_out(out: Path, scenario: Scenario) -> None:
    """Make ``out`` ready for a run without ever clobbering a user's files."""
    source = str(out)
    if out.exists() and not out.is_dir():
        raise ScenarioError(source, "--out names a file, not a folder")
    target = (out / "AGENCY.md").resolve()
    if target == scenario.document.resolve():
        raise ScenarioError(
            source,
            "--out is the folder of the scenario's own AGENCY.md; a run works "
            "on a copy and never overwrites the original",
        )
    if out.is_dir() and any(out.iterdir()) and not (out / _MARKER).exists():
        raise ScenarioError(
            source,
            "--out already holds files not written by a run; choose an empty "
            "or new folder",
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / _MARKER).write_text(
            "This folder was written by python -m agency.simulate; "
            "a later run may overwrite it.\n"
        )
    except OSError as exc:
        raise ScenarioError(source, f"cannot write there: {exc.strerror}") from None


if __name__ == "__main__":
    sys.exit(main())
