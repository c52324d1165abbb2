"""Command line: ``python -m agency.simulate SCENARIO [options]``.

Runs one scenario, prints a timeline as it goes and a summary at the end
(or one JSON object with ``--json``), and writes the final AGENCY.md and
trace.jsonl into the output folder.

With ``--seeds SPEC`` it sweeps instead: one in-memory run per seed, in
worker processes, a progress bar on a terminal's stderr, and a table at the
end (or one JSON object); nothing is written to disk.

Exit codes: 0 the scenario's expectations held (for every seed); 1 they did
not (or a run deadlocked); 2 bad input (the message names the file, line or
field); 130 a sweep interrupted by Ctrl-C.
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
from agency.sweep import ProgressBar, parse_seeds, sweep, sweep_json, sweep_text
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
            "(or the run could not finish), 2 bad input, 130 a sweep stopped "
            "by Ctrl-C. --out must be new, empty, or a folder an earlier run "
            "wrote; the original AGENCY.md is never written. A sweep (--seeds) "
            "writes no files and exits 0 only if every seed met expectations."
        ),
    )
    parser.add_argument("scenario", type=Path, nargs="?", help="the scenario YAML file")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seed", type=_seed, help="seed to use instead of the scenario's own"
    )
    seeds.add_argument(
        "--seeds",
        type=_seed_spec,
        metavar="SPEC",
        help=(
            "sweep: run once per seed, e.g. 1-1000, 7 or 1,5,10-20, and print "
            "a table of the outcomes"
        ),
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        metavar="N",
        help="processes for a sweep (default: the number of CPUs; 1 runs here)",
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


def _seed_spec(text: str) -> tuple[int, ...]:
    try:
        return parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _workers(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"the number of workers is a whole number, 1 or more, got {text!r}"
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
    if args.seeds is not None:
        if args.out is not None:
            parser.error("--out cannot be used with --seeds: a sweep writes no files")
        return _sweep_main(args)
    if args.workers is not None:
        parser.error("--workers only applies to a sweep (--seeds)")
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


def _sweep_main(args: argparse.Namespace) -> int:
    """The ``--seeds`` branch of :func:`main`: sweep, then print the table."""
    try:
        scenario = load_scenario(args.scenario)
        # Once here rather than failing the same way in every worker.
        preflight(scenario)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seeds: tuple[int, ...] = args.seeds
    try:
        with ProgressBar(len(seeds), file=sys.stderr) as bar:
            # A bar is for people watching a terminal; --json is for programs.
            show = not args.json and sys.stderr.isatty()
            result = sweep(
                scenario, seeds, workers=args.workers, progress=bar if show else None
            )
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the sweep was stopped", file=sys.stderr)
        return 130
    source = str(args.scenario)
    if args.json:
        print(json.dumps(sweep_json(result, source=source), indent=2))
    else:
        print(sweep_text(result, source=source))
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
