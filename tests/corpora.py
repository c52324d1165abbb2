"""Where the public test corpora are: ``../shared/corpora`` beside the checkout.

Test modules import this (pytest puts ``tests/`` on the path); the conftest
uses it to stop a CI run that lacks the corpora.
"""

from __future__ import annotations

from pathlib import Path

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
