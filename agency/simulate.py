"""Command line: ``python -m agency.simulate SCENARIO [options]``.

Runs a scenario file: the scenario as written, then each of its variants
(``--variant NAME`` or ``--no-variants`` pick fewer). Each run prints a
timeline as it goes and a summary at the end (or, with ``--json``, one JSON
object for the file), and writes the final AGENCY.md and trace.jsonl into
its output folder.

With ``--seeds SPEC`` it sweeps instead: one in-memory run per seed, in
worker processes, a progress bar on a terminal's stderr, and a table at the
end (or one JSON object); nothing is written to disk.

With ``--check RUN`` it runs nothing: it reads a finished run's trace back
(streamed) and checks the invariants over it and its final AGENCY.md, so a
trace written elsewhere in the same format can be judged too.

With ``--shrink`` it finds the first run that breaks an invariant (at the
seed given, or the first failing seed of a sweep), cuts it down while the
same invariant still breaks, and writes the smallest scenario found as
``scenario.yaml`` in the output folder, beside that scenario's own run.

Exit codes: 0 the expectations held (for every run and seed) or a shrunk
scenario was written; 1 they did not, a run could not finish, or there was
nothing to shrink; 2 bad input (the message names the file, line or field);
130 a sweep interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agency.engine import RunResult, preflight, run_scenario
from agency.errors import ScenarioError, SimulationError, TraceFormatError
from agency.invariants import INVARIANTS, check_saved_run
from agency.outputs import mark_output, prepare_workdir
from agency.report import (
    summary_json,
    summary_text,
    timeline_line,
    violation_data,
    violation_story,
)
from agency.scenario import Scenario, load_scenario
from agency.trace import Event

if TYPE_CHECKING:
    from agency.sweep import SweepResult

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agency.simulate",
        description=(
            "Replay a multi-agent coordination scenario on a virtual clock, "
            "deterministically from its seed."
        ),
        epilog=(
            "exit codes: 0 the expectations held (every run, every seed) or a "
            "shrunk scenario was written, 1 they did not (or a run could not "
            "finish, or nothing broke to shrink), 2 bad input, 130 stopped by "
            "Ctrl-C. A file runs as written and then once per variant; with "
            "several runs, --out DIR holds one folder per run. --out must be "
            "new, empty, or a folder an earlier run wrote; the original "
            "AGENCY.md is never written. A sweep (--seeds) writes no files."
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
    variants = parser.add_mutually_exclusive_group()
    variants.add_argument(
        "--variant",
        metavar="NAME",
        help="run only this variant of the file (default: as written, then each)",
    )
    variants.add_argument(
        "--no-variants",
        action="store_true",
        help="run the scenario as written, without its variants",
    )
    parser.add_argument(
        "--shrink",
        action="store_true",
        help=(
            "cut the first run that breaks an invariant (at its seed, or the "
            "first failing one of --seeds) down to a small scenario, and write "
            "it as scenario.yaml in the output folder"
        ),
    )
    parser.add_argument(
        "--invariant",
        metavar="NAME",
        choices=INVARIANTS,
        help="with --shrink: the invariant to keep broken (default: the first)",
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
        "--check",
        type=Path,
        metavar="RUN",
        help=(
            "instead of running, check the invariants over a finished run: its "
            "folder (trace.jsonl and AGENCY.md), or its trace.jsonl; liveness "
            "needs the scenario's bound and is not checked"
        ),
    )
    parser.add_argument(
        "--schema",
        action="store_true",
        help="print the JSON Schema of scenario files and exit",
    )
    return parser


def _seed(text: str) -> int:
    # int() would also take '٣' or ' 3_0 '; a seed is plain ASCII digits.
    # Past some thousands of digits int() refuses, so the length is capped.
    shown = repr(text) if len(text) <= 24 else f"{text[:20]!r}... ({len(text)} chars)"
    if not (text.isascii() and text.isdigit() and len(text) <= _SEED_DIGITS):
        raise argparse.ArgumentTypeError(
            f"a seed is a whole number, 0 or more, of at most {_SEED_DIGITS} "
            f"digits, got {shown}"
        )
    return int(text)


_SEED_DIGITS = 30


def _seed_spec(text: str) -> tuple[int, ...]:
    # The sweep and shrink modules are imported where they are used, so a
    # single run does not pay for them at start-up.
    from agency.sweep import parse_seeds

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
    words = list(argv) if argv is not None else sys.argv[1:]
    args.command = shlex.join(["python", "-m", "agency.simulate", *words])
    if args.schema:
        print(json.dumps(Scenario.model_json_schema(), indent=2, ensure_ascii=False))
        return 0
    if args.check is not None:
        if args.scenario is not None:
            parser.error("--check reads a finished run; give no scenario file")
        return _check_main(args)
    if args.scenario is None:
        parser.error("the scenario file is required (or --check, or --schema)")
    if args.seeds is not None and args.out is not None and not args.shrink:
        parser.error("--out cannot be used with --seeds: a sweep writes no files")
    if args.workers is not None and args.seeds is None:
        parser.error("--workers only applies to a sweep (--seeds)")
    if args.invariant is not None and not args.shrink:
        parser.error("--invariant only applies to --shrink")
    # Every branch refuses bad input (a scenario, an output folder) the
    # same way, whenever it finds it.
    try:
        scenario = load_scenario(args.scenario)
        runs = _selected_runs(scenario, args)
        for run in runs:
            preflight(run)
        if args.shrink:
            return _shrink_main(args, runs)
        if args.seeds is not None:
            return _sweep_main(args, runs, base=scenario.name)
        return _runs_main(args, runs)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _selected_runs(scenario: Scenario, args: argparse.Namespace) -> list[Scenario]:
    """The runs the file and the options ask for, each with its seed."""
    if args.variant is not None:
        try:
            runs = [scenario.variant(args.variant)]
        except KeyError as exc:
            raise ScenarioError(
                str(args.scenario), exc.args[0], field="--variant"
            ) from None
    elif args.no_variants:
        runs = scenario.runs()[:1]
    else:
        runs = scenario.runs()
    if args.seed is not None:
        runs = [run.with_seed(args.seed) for run in runs]
    return runs


def _runs_main(args: argparse.Namespace, runs: list[Scenario]) -> int:
    """Run each selected scenario once, writing its outputs, and report."""
    outs = [_out_folder(args.out, run, alone=len(runs) == 1) for run in runs]
    for out, run in zip(outs, runs, strict=True):
        prepare_workdir(out, run)

    source = str(args.scenario)
    reports: list[dict[str, object]] = []
    results: list[RunResult] = []
    for number, (run, out) in enumerate(zip(runs, outs, strict=True)):
        if len(runs) > 1 and not args.json:
            if number:
                print()
            print(_run_heading(run, number, len(runs)))
        try:
            result = _run_one(run, out, live=not (args.json or args.quiet))
        except SimulationError as exc:
            which = "run" if len(runs) == 1 else f"run of {run.name}"
            print(f"error: the {which} cannot go on: {exc}", file=sys.stderr)
            if exc.partial_trace is not None:
                print(
                    f"the trace up to that point: {out / 'trace.jsonl'}",
                    file=sys.stderr,
                )
            return 1
        results.append(result)
        if args.json:
            reports.append(summary_json(result, source=source, out=out))
        else:
            print(summary_text(result, source=source, out=out))

    ok = all(result.ok for result in results)
    if args.json:
        whole = reports[0] if len(reports) == 1 else _several(source, ok, reports)
        print(json.dumps(whole, indent=2))
    elif len(results) > 1:
        print()
        print(f"{len(results)} runs of {source}:")
        for result in results:
            verdict = "expectations held" if result.ok else "expectations NOT met"
            print(f"  {result.scenario.name:<32} {verdict}")
    return 0 if ok else 1


def _run_heading(run: Scenario, number: int, total: int) -> str:
    kind = "as written" if number == 0 else "variant"
    return f"=== run {number + 1} of {total}: {run.name} ({kind}) ==="


def _several(source: str, ok: bool, reports: list[dict[str, object]]) -> object:
    return {"file": source, "ok": ok, "runs": reports}


def _out_folder(out: Path | None, run: Scenario, *, alone: bool) -> Path:
    """Where ``run`` writes: ``--out`` itself for a single run, else inside it."""
    name = f"{run.name}-seed{run.seed}"
    if out is None:
        return Path("runs") / name
    return out if alone else out / name


def _run_one(run: Scenario, out: Path, *, live: bool) -> RunResult:
    on_event = None
    if live:
        start = run.start

        def on_event(event: Event) -> None:
            line = timeline_line(event, start)
            if line is None:
                return
            try:
                print(line, flush=False)
            except BrokenPipeError:
                # The reader left ('| head'): the run still finishes and
                # writes its folder whole; only the printing stops.
                _silence_stdout()

    return run_scenario(run, workdir=out, on_event=on_event)


def _sweep_main(args: argparse.Namespace, runs: list[Scenario], *, base: str) -> int:
    """The ``--seeds`` branch of :func:`main`: sweep, then print the tables.

    ``base`` is the file's scenario name; a variant's run is ``BASE-VARIANT``,
    which the replay commands turn back into ``--variant VARIANT``.
    """
    from agency.sweep import ProgressBar, sweep, sweep_json, sweep_text

    seeds: tuple[int, ...] = args.seeds
    source = str(args.scenario)
    # A bar is for people watching a terminal; --json is for programs.
    show = not args.json and sys.stderr.isatty()
    results: list[SweepResult] = []
    try:
        for run in runs:
            with ProgressBar(len(seeds), file=sys.stderr, label=run.name) as bar:
                results.append(
                    sweep(
                        run, seeds, workers=args.workers, progress=bar if show else None
                    )
                )
    except KeyboardInterrupt:
        print("interrupted: the sweep was stopped", file=sys.stderr)
        return 130
    ok = all(result.ok for result in results)
    variants = [
        None if r.scenario == base else r.scenario.removeprefix(f"{base}-")
        for r in results
    ]
    if args.json:
        reports = [
            sweep_json(r, source=source, variant=v)
            for r, v in zip(results, variants, strict=True)
        ]
        whole = reports[0] if len(reports) == 1 else _several(source, ok, reports)
        print(json.dumps(whole, indent=2))
    else:
        tables = [
            sweep_text(r, source=source, variant=v)
            for r, v in zip(results, variants, strict=True)
        ]
        print("\n\n".join(tables))
    return 0 if ok else 1


def _shrink_main(args: argparse.Namespace, runs: list[Scenario]) -> int:
    """The ``--shrink`` branch: find a failing run, cut it down, save it."""
    from agency.shrink import (
        shrink,
        shrink_header,
        shrink_json,
        shrink_text,
        write_scenario,
    )
    from agency.sweep import format_seeds

    try:
        found = _first_broken(args, runs)
    except KeyboardInterrupt:
        print("interrupted: the search was stopped", file=sys.stderr)
        return 130
    if found is None:
        where = (
            f"seeds {format_seeds(args.seeds)}"
            if args.seeds
            else f"its seed ({runs[0].seed})"
        )
        broken = (
            f"never breaks {args.invariant}"
            if args.invariant
            else "breaks no invariant"
        )
        print(
            f"nothing to shrink: {args.scenario} {broken} at {where}", file=sys.stderr
        )
        return 1

    run, invariant = found
    out = args.out or Path("runs") / f"{run.name}-seed{run.seed}-shrunk"
    prepare_workdir(out, run)
    try:
        shrunk = shrink(run, invariant)
    except SimulationError as exc:
        print(f"error: the run of {run.name} cannot go on: {exc}", file=sys.stderr)
        return 1
    path = out / "scenario.yaml"
    if path.exists() or path.is_symlink():
        raise ScenarioError(str(path), "is there already, not written by a run")
    write_scenario(shrunk.scenario, path, header=shrink_header(shrunk, args.command))
    # Replayed from the file, to prove it shows the failure on its own.
    result = _run_one(load_scenario(path), out, live=False)
    mark_output(out, "scenario.yaml")
    replay = f"python -m agency.simulate {shlex.quote(str(path))}"
    if args.json:
        print(json.dumps(shrink_json(shrunk, path=path, replay=replay), indent=2))
    else:
        print(shrink_text(shrunk, path=path, replay=replay))
    return 0 if result.ok else 1


def _first_broken(
    args: argparse.Namespace, runs: list[Scenario]
) -> tuple[Scenario, str] | None:
    """The first run (by run, then seed) that breaks the invariant sought."""
    from agency.sweep import sweep

    wanted: str | None = args.invariant
    for run in runs:
        found: list[tuple[Scenario, Sequence[str]]] = []
        if args.seeds is None:
            try:
                found = [(run, [v.invariant for v in run_scenario(run).violations])]
            except SimulationError:
                continue
        else:
            # A sweep's outcomes already name what each seed broke.
            swept = sweep(run, args.seeds, workers=args.workers)
            found = [(run.with_seed(o.seed), o.violations) for o in swept.outcomes]
        for candidate, broken in found:
            if wanted is None and broken:
                return candidate, broken[0]
            if wanted is not None and wanted in broken:
                return candidate, wanted
    return None


def _check_main(args: argparse.Namespace) -> int:
    """The ``--check`` branch: the invariants over a run already on disk."""
    try:
        saved = check_saved_run(args.check)
    except TraceFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    events, start = saved.events, saved.start
    if args.json:
        report = {
            "trace": str(saved.trace),
            "document": str(saved.document),
            "events": len(events),
            "digest": saved.digest,
            "ok": not saved.violations,
            "violations": [violation_data(v, events, start) for v in saved.violations],
        }
        print(json.dumps(report, indent=2))
    else:
        print(f"{saved.trace}: {len(events):,} events, final document {saved.document}")
        if saved.violations:
            print(f"violations: {len(saved.violations)}")
            for violation in saved.violations:
                story = violation_story(violation, events, start)
                print("\n".join(f"  {line}" for line in story.splitlines()))
        else:
            print("violations: none (liveness not checked)")
        print(f"trace digest: {saved.digest}")
    return 1 if saved.violations else 0


def _silence_stdout() -> None:
    # Later prints, and the flush at exit, go nowhere instead of failing.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _entry() -> int:
    try:
        return main()
    except KeyboardInterrupt:
        print("interrupted: the run was stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. '| head') during the summary: stop
        # quietly, as cat does; every file was written before it.
        _silence_stdout()
        return 1


if __name__ == "__main__":
    sys.exit(_entry())
