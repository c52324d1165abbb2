"""Simulated agents: one shared behaviour, parameterised by the scenario.

The four agents of the seed (validators, formatters, parsers, strings) are
instances of :class:`Agent` built from the scenario's ``agents:`` list.
"""

from __future__ import annotations

from agents.base import Agent, AgentContext, AgentResult, Outcome, rehearse
from agents.probes import ProbeOutcome, run_probe

__all__ = [
    "Agent",
    "AgentContext",
    "AgentResult",
    "Outcome",
    "ProbeOutcome",
    "rehearse",
    "run_probe",
]
