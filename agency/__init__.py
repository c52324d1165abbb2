"""agency: a deterministic simulator for agents that coordinate through
AGENCY.md and a lock manager with TTL leases.

The public surface, importable from here::

    from agency import load_scenario, run_scenario

    result = run_scenario(load_scenario("scenarios/parallel.yaml"))
    print(result.document.status, result.digest)

Names are loaded on first use, so ``import agency`` stays cheap and the
submodules can import each other without cycles through this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agency.clock import Clock, VirtualEventLoop, run
    from agency.document import AgencyDocument, TaskStatus
    from agency.engine import RunResult, run_scenario
    from agency.invariants import Violation
    from agency.locks import Lease, LockManager, LockMode
    from agency.scenario import Scenario, load_scenario
    from agency.store import DocumentStore, Fence
    from agency.trace import Event, Trace

__all__ = [
    "AgencyDocument",
    "Clock",
    "DocumentStore",
    "Event",
    "Fence",
    "Lease",
    "LockManager",
    "LockMode",
    "RunResult",
    "Scenario",
    "TaskStatus",
    "Trace",
    "Violation",
    "VirtualEventLoop",
    "load_scenario",
    "run",
    "run_scenario",
]

_HOMES = {
    "Clock": "agency.clock",
    "VirtualEventLoop": "agency.clock",
    "run": "agency.clock",
    "AgencyDocument": "agency.document",
    "TaskStatus": "agency.document",
    "RunResult": "agency.engine",
    "run_scenario": "agency.engine",
    "Violation": "agency.invariants",
    "Lease": "agency.locks",
    "LockManager": "agency.locks",
    "LockMode": "agency.locks",
    "Scenario": "agency.scenario",
    "load_scenario": "agency.scenario",
    "DocumentStore": "agency.store",
    "Fence": "agency.store",
    "Event": "agency.trace",
    "Trace": "agency.trace",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'agency' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
