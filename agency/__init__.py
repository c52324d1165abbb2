"""agency: a deterministic simulator for agents that coordinate through AGENCY.md."""
