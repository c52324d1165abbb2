"""Acceptance probes: a scenario's checks, run against the real utils code.

A probe calls one function of a ``utils`` module with the scenario's
arguments and compares what comes back (or what is raised) with what the
scenario expects. Probes run synchronously: they take no virtual time.
"""

from __future__ import annotations

import copy
import importlib
import re
import reprlib
from dataclasses import dataclass
from typing import Any

from agency.scenario import Probe, resolve_exception

__all__ = ["ProbeOutcome", "run_probe"]

# Verdicts end up in AGENCY.md notes and the frontmatter: one line each,
# and short, however large the arguments or multi-line the error messages.
_SHORT = reprlib.Repr()
_SHORT.maxstring = 60
_SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxtuple = _SHORT.maxset = 6
_MAX_MESSAGE = 160
# Default reprs carry memory addresses ("<generator object f at 0x7f...>"),
# which differ from process to process and would break replay.
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    """The verdict of one probe.

    Attributes:
        call: the call as a person would write it (long values shortened).
        passed: whether it behaved as expected.
        detail: what happened, in words, on one line (why it failed, if it
            did).
    """

    call: str
    passed: bool
    detail: str


def run_probe(module_name: str, probe: Probe) -> ProbeOutcome:
    """Run ``probe`` against ``utils.<module_name>``.

    Any exception the call raises is part of the verdict, never propagated.
    """
    module = importlib.import_module(f"utils.{module_name}")
    function = getattr(module, probe.call)
    call = _describe(probe)
    args = copy.deepcopy(probe.args)
    kwargs = copy.deepcopy(probe.kwargs)
    try:
        result = function(*args, **kwargs)
        if probe.attr is not None:
            for name in probe.attr.split("."):
                result = getattr(result, name)
    except Exception as exc:
        return _judge_exception(module, probe, call, exc)

    got = f"returned {_short(result)}"
    if probe.raises is not None:
        return ProbeOutcome(call, False, f"{got}, expected {probe.raises} to be raised")
    if _comparable(result) == probe.expect:
        return ProbeOutcome(call, True, got)
    return ProbeOutcome(call, False, f"{got}, expected {_short(probe.expect)}")


def _judge_exception(
    module: object, probe: Probe, call: str, exc: Exception
) -> ProbeOutcome:
    raised = f"raised {type(exc).__name__}: {_one_line(_ADDRESS.sub('', str(exc)))}"
    if probe.raises is None:
        return ProbeOutcome(call, False, f"{raised}, expected {_short(probe.expect)}")
    expected = resolve_exception(module, probe.raises)
    if expected is None or not isinstance(exc, expected):
        return ProbeOutcome(call, False, f"{raised}, expected {probe.raises}")
    if probe.match is not None and not re.search(probe.match, str(exc)):
        return ProbeOutcome(
            call, False, f"{raised}, expected a message matching {probe.match!r}"
        )
    return ProbeOutcome(call, True, raised)


def _comparable(value: Any) -> Any:
    # YAML has lists, not tuples; compare a returned tuple as a list.
    if isinstance(value, tuple):
        return [_comparable(item) for item in value]
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    return value


def _short(value: object) -> str:
    return _ADDRESS.sub("", _SHORT.repr(value))


def _one_line(message: str) -> str:
    """The first line of an error message, shortened."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    if len(first) > _MAX_MESSAGE:
        first = first[: _MAX_MESSAGE - 1] + "…"
    return first


def _describe(probe: Probe) -> str:
    parts = [_short(arg) for arg in probe.args]
    parts += [f"{key}={_short(value)}" for key, value in probe.kwargs.items()]
    text = f"{probe.call}({', '.join(parts)})"
    return f"{text}.{probe.attr}" if probe.attr else text
