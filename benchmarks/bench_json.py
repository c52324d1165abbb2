"""Speed and memory of utils.parsers beside the bare json and ijson calls.

Run by hand from the project root (never as a timed test):

    python benchmarks/bench_json.py [--rounds 15] [--size-mb 256]

Two parts, each side by side in one process (or one subprocess per pass) and
round-robin, so that drift on a noisy machine hits every candidate alike:

- parsing: ``parse_json(doc)`` (duplicate keys refused, the default) and
  ``parse_json(doc, duplicate_keys="last")`` against ``json.loads(doc)``,
  for a small object (about 100 bytes), a medium array of records (about
  100 KB) and the same records with colons inside their strings (URLs and
  times), which sends the duplicate-key check down its slower path. Prints
  the median, min and max microseconds per call and the ratio of medians to
  ``json.loads``.
- streaming: ``iter_json_items(path)`` against ``ijson.items(file, "item")``
  on the same ijson backend, over an array of records written to a
  temporary directory. Each pass runs in a fresh subprocess that reports its
  time and peak resident set size (VmHWM on Linux, else ``ru_maxrss``;
  either includes imports, and utils.parsers brings pydantic and
  jsonschema); one extra pass each under tracemalloc reports the peak of
  Python allocations while iterating.
  Prints the median MB/s, the throughput ratio, and the memory figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from _common import positive, round_robin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils.parsers import parse_json  # noqa: E402

# Run in a subprocess: consume every item and print a JSON line of figures.
_STREAM_PASS = """
import json, resource, sys, time, tracemalloc
sys.path.insert(0, {root!r})

def peak_rss_kb():
    # VmHWM starts afresh at exec; ru_maxrss keeps the forking parent's peak.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

import ijson
candidate, path, traced = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
if candidate == "iter_json_items":
    from utils.parsers import iter_json_items
before = peak_rss_kb()
if traced:
    tracemalloc.start()
start = time.perf_counter()
count = 0
if candidate == "ijson.items":
    with open(path, "rb") as stream:
        for _ in ijson.items(stream, "item", use_float=True):
            count += 1
else:
    for _ in iter_json_items(path):
        count += 1
elapsed = time.perf_counter() - start
peak = tracemalloc.get_traced_memory()[1] if traced else 0
after = peak_rss_kb()
print(json.dumps({{"items": count, "seconds": elapsed, "rss_kb_before": before,
                  "rss_kb_peak": after, "traced_peak": peak,
                  "backend": ijson.backend}}))
"""


def _record(rng: random.Random, index: int, colons: bool) -> dict[str, object]:
    record: dict[str, object] = {
        "id": index,
        "name": f"user{index}",
        "email": f"user{index}@example.com",
        "score": rng.random(),
        "tags": rng.sample(["red", "green", "blue", "amber", "teal"], 2),
        "active": index % 3 == 0,
        "manager": None,
    }
    if colons:
        record["url"] = f"https://example.com/u/{index}"
        record["seen"] = f"2025-06-{1 + index % 28:02d}T{index % 24:02d}:15:00Z"
    return record


def _documents() -> dict[str, str]:
    rng = random.Random(20250601)
    small = json.dumps(
        {
            "id": 12345,
            "name": "ada",
            "email": "ada@example.com",
            "score": 0.25,
            "tags": ["red", "teal"],
        }
    )
    medium = json.dumps([_record(rng, i, colons=False) for i in range(800)])
    with_colons = json.dumps([_record(rng, i, colons=True) for i in range(600)])
    return {"small": small, "medium": medium, "medium, colons in strings": with_colons}


def bench_parsing(rounds: int) -> None:
    print("parsing (microseconds per call; ratio of medians to json.loads)")
    for name, document in _documents().items():
        loops = max(1, 2_000_000 // (len(document) + 1_000))
        candidates: list[tuple[str, Callable[[], object]]] = [
            ("json.loads", partial(json.loads, document)),
            ("parse_json", partial(parse_json, document)),
            ("parse_json(last)", partial(parse_json, document, duplicate_keys="last")),
        ]
        assert parse_json(document) == json.loads(document)
        per_call = round_robin(dict(candidates), rounds=rounds, loops=loops)
        times = {label: [t * 1e6 for t in values] for label, values in per_call.items()}

        base = statistics.median(times["json.loads"])
        print(f"  {name} ({len(document):,} bytes, {loops} loops x {rounds} rounds)")
        for label, samples in times.items():
            median = statistics.median(samples)
            print(
                f"    {label:<18} median {median:9.2f}  min {min(samples):9.2f}  "
                f"max {max(samples):9.2f}  ratio {median / base:5.2f}"
            )


def _write_records(path: Path, size_mb: int) -> int:
    """An array of records of about ``size_mb`` MiB; returns its item count."""
    rng = random.Random(7)
    target = size_mb * 1024 * 1024
    written = 0
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("[\n")
        while written < target:
            batch = [_record(rng, count + i, colons=True) for i in range(5_000)]
            text = ",\n".join(map(json.dumps, batch))
            out.write((",\n" if count else "") + text)
            written += len(text)
            count += len(batch)
        out.write("\n]\n")
    return count


def _stream_pass(candidate: str, path: Path, traced: bool) -> dict[str, float]:
    script = _STREAM_PASS.format(root=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", script, candidate, str(path), "1" if traced else "0"],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, float] = json.loads(result.stdout)
    return figures


def bench_streaming(size_mb: int, rounds: int, directory: str | None) -> None:
    with tempfile.TemporaryDirectory(dir=directory) as temp:
        path = Path(temp) / "records.json"
        start = time.perf_counter()
        items = _write_records(path, size_mb)
        size = path.stat().st_size
        print(
            f"streaming {size / 2**20:,.0f} MiB, {items:,} records "
            f"(written in {time.perf_counter() - start:.1f} s)"
        )

        candidates = ("ijson.items", "iter_json_items")
        speeds: dict[str, list[float]] = {name: [] for name in candidates}
        rss: dict[str, list[float]] = {name: [] for name in candidates}
        backend = ""
        for _ in range(rounds):
            for name in candidates:
                figures = _stream_pass(name, path, traced=False)
                assert figures["items"] == items, figures
                speeds[name].append(size / 2**20 / figures["seconds"])
                rss[name].append(figures["rss_kb_peak"] / 1024)
                backend = str(figures["backend"])

        traced = {name: _stream_pass(name, path, traced=True) for name in candidates}
        base = statistics.median(speeds["ijson.items"])
        print(f"  backend {backend}, {rounds} rounds, one subprocess per pass")
        for name in candidates:
            median = statistics.median(speeds[name])
            print(
                f"    {name:<16} median {median:7.1f} MB/s  "
                f"ratio {median / base:4.2f}  "
                f"peak RSS {max(rss[name]):6.1f} MiB "
                f"(after imports {traced[name]['rss_kb_before'] / 1024:5.1f})  "
                f"tracemalloc peak {traced[name]['traced_peak'] / 2**20:5.2f} MiB"
            )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=positive, default=15)
    parser.add_argument("--size-mb", type=positive, default=256)
    parser.add_argument("--stream-rounds", type=positive, default=3)
    parser.add_argument("--tmp-dir", default=None, help="where to write the file")
    parser.add_argument("--skip-stream", action="store_true")
    args = parser.parse_args(argv)

    print(f"Python {sys.version.split()[0]} on {sys.platform}, pid {os.getpid()}")
    bench_parsing(args.rounds)
    if not args.skip_stream:
        bench_streaming(args.size_mb, args.stream_rounds, args.tmp_dir)


if __name__ == "__main__":
    main()
