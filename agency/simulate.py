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
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from agency.engine import preflight, run_scenario
from agency.errors import ScenarioError, SimulationError
from agency.report import summary_json, summary_text, timeline_line
from agency.scenario import Scenario, load_scenario
from agency.trace import Event

__all__ = ["main"]

#: Marks a folder as made by a run, so a later run may overwrite it.
_MARKER = ".agency-run"
#: What a run writes into its folder.
_OUTPUTS = ("AGENCY.md", "trace.jsonl")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agency.simulate",
        description=(
            "Replay a multi-agent coordination scenario on a virtual clock, "
            "deterministically from its seed."
        ),
        epilog=(
            "exit codes: 0 the scenario's expectations held, 1 they did not "
            "(or the run could not finish), 2 bad input. --out must be new, "
            "empty, or a folder an earlier run wrote; the original AGENCY.md "
            "is never written."
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
    # int() would also take '٣' or ' 3_0 '; a seed is plain ASCII digits.
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(
            f"a seed is a whole number, 0 or more, got {text!r}"
        )
    return int(text)


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
        preflight(scenario)
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
        result = run_scenario(scenario, workdir=out, on_event=on_event)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SimulationError as exc:
        print(f"error: the run cannot go on: {exc}", file=sys.stderr)
        if exc.partial_trace is not None:
            (out / "trace.jsonl").write_bytes(exc.partial_trace)
            print(f"the trace up to that point: {out / 'trace.jsonl'}", file=sys.stderr)
        return 1
    result.trace.write(out / "trace.jsonl")

    source = str(args.scenario)
    if args.json:
        print(json.dumps(summary_json(result, source=source, out=out), indent=2))
    else:
        print(summary_text(result, source=source, out=out))
    return 0 if result.ok else 1


def _prepare_out(out: Path, scenario: Scenario) -> None:
    """Make ``out`` ready for a run without ever clobbering a user's files.

    A folder qualifies when it is new, empty, or marked as written by an
    earlier run; the earlier run's outputs are removed first, so a run that
    fails leaves no mix of old and new files.
    """
    source = str(out)
    try:
        if out.exists() and not out.is_dir():
            raise ScenarioError(source, "--out names a file, not a folder")
        if (out / "AGENCY.md").resolve() == scenario.document.resolve():
            raise ScenarioError(
                source,
                "--out is the folder of the scenario's own AGENCY.md; a run "
                "works on a copy and never overwrites the original",
            )
        if out.is_dir() and any(out.iterdir()) and not (out / _MARKER).is_file():
            raise ScenarioError(
                source,
                "--out already holds files not written by a run; choose an "
                "empty or new folder",
            )
        out.mkdir(parents=True, exist_ok=True)
        for name in _OUTPUTS:
            old = out / name
            if old.is_dir() and not old.is_symlink():
                raise ScenarioError(source, f"{name} in --out is a folder")
            # unlink, not overwrite: a link planted here must not be followed.
            old.unlink(missing_ok=True)
        (out / _MARKER).write_text(
            "This folder was written by python -m agency.simulate; "
            "a later run may overwrite it.\n"
        )
    except (OSError, RuntimeError) as exc:
        # RuntimeError: pathlib's report of a symlink loop.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ScenarioError(source, f"cannot use it for output: {reason}") from None


def _entry() -> int:
    try:
        return main()
    except BrokenPipeError:
        pass
    except BaseExceptionGroup as group:
        # A timeline line printed from inside the run arrives wrapped by
        # the task group.
        if group.split(BrokenPipeError)[1] is not None:
            raise
    # The reader went away (e.g. '| head'): stop quietly, as cat does.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1


if __name__ == "__main__":
    sys.exit(_entry())
