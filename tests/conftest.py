"""Suite-wide settings.

The corpus tests read public test corpora from ``../shared/corpora`` beside
the checkout and skip when it is absent, so the suite runs anywhere. In CI
(``CI`` set) a missing corpus would turn those tests into silent skips, so
there it stops the run instead.
"""

from __future__ import annotations

import os

import pytest
from corpora import CORPORA


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not CORPORA.is_dir():
        raise pytest.UsageError(
            f"the public corpora are missing at {CORPORA}; CI must run with "
            "shared/ beside the checkout"
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from the shipped scenarios (test_scenarios.py)",
    )
