"""notebooks/tutorial.ipynb, executed for real in a kernel of this interpreter.

The notebook runs once per module, from ``notebooks/`` as its working
directory, as a reader's Jupyter would run it. The tests then read what its
cells printed, found by cell id, so a notebook that runs but shows nothing
(or the wrong thing) fails too.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from agency.engine import run_scenario
from agency.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TUTORIAL = NOTEBOOKS / "tutorial.ipynb"

# A reader's whole run must take seconds; a cell past this is a hang.
CELL_TIMEOUT = 60
DIGEST = re.compile(r"\b[0-9a-f]{64}\b")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Appended to the in-memory copy only: which interpreter the kernel runs.
KERNEL_CHECK = "import sys\nprint(sys.executable)"


def _execute() -> nbformat.NotebookNode:
    notebook = nbformat.read(TUTORIAL, as_version=4)
    notebook.cells.append(
        nbformat.v4.new_code_cell(KERNEL_CHECK, id="test-kernel-check")
    )
    # No kernel folders: only ipykernel's own python3 spec, which starts
    # sys.executable, so a user-wide python3 kernelspec of another
    # interpreter cannot stand in for this one.
    specs = KernelSpecManager(kernel_dirs=[])
    client = NotebookClient(
        notebook,
        km=KernelManager(kernel_name="python3", kernel_spec_manager=specs),
        timeout=CELL_TIMEOUT,
        startup_timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        # The message holds the failing cell's source and its traceback, in
        # IPython's terminal colours.
        story = ANSI.sub("", str(exc))
        pytest.fail(f"{TUTORIAL.name} failed:\n{story}", pytrace=False)
    return notebook


@pytest.fixture(scope="module")
def executed() -> nbformat.NotebookNode:
    return _execute()


def printed(notebook: nbformat.NotebookNode, cell_id: str) -> str:
    """What the cell with id ``cell_id`` wrote to stdout."""
    for cell in notebook.cells:
        if cell.get("id") == cell_id:
            return "".join(
                output.get("text", "")
                for output in cell.get("outputs", [])
                if output.get("output_type") == "stream"
                and output.get("name") == "stdout"
            )
    raise AssertionError(f"{TUTORIAL.name} has no cell with id {cell_id!r}")


def test_the_notebook_is_committed_without_outputs_or_extra_metadata() -> None:
    notebook = nbformat.read(TUTORIAL, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    assert all(cell.outputs == [] for cell in code)
    assert all(cell.execution_count is None for cell in code)
    assert set(notebook.metadata) <= {"kernelspec", "language_info"}
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_every_cell_runs_in_a_kernel_of_this_interpreter(
    executed: nbformat.NotebookNode,
) -> None:
    assert printed(executed, "test-kernel-check").strip() == sys.executable


def test_the_first_run_prints_a_summary_whose_expectations_held(
    executed: nbformat.NotebookNode,
) -> None:
    summary = printed(executed, "first-run")
    assert "project status: completed" in summary
    assert "violations: none" in summary
    assert "NOT MET" not in summary


def test_the_same_seed_prints_the_same_digest_here_and_in_the_kernel(
    executed: nbformat.NotebookNode,
) -> None:
    seed_42, again, seed_7 = DIGEST.findall(printed(executed, "determinism"))
    here = run_scenario(load_scenario(ROOT / "scenarios" / "parallel.yaml"))
    assert seed_42 == again == here.digest
    assert seed_7 != seed_42


def test_safe_locks_refuse_the_late_write_and_loose_ones_report_stale_write(
    executed: nbformat.NotebookNode,
) -> None:
    safe = printed(executed, "expiry-safe")
    assert "write refused: stale token" in safe
    assert "violations: []" in safe
    loose = printed(executed, "expiry-loose")
    assert "violations: ['stale_write']" in loose
    assert loose.count("stale_write at ") == 1


def test_naive_writes_lose_notes_and_optimistic_ones_lose_none(
    executed: nbformat.NotebookNode,
) -> None:
    race = printed(executed, "git-race")
    naive, optimistic = race.split("git-only-race-optimistic:")
    assert re.search(r"notes written, [1-9]\d* lost", naive)
    assert "notes written, 0 lost" in optimistic


def test_the_sweeps_print_their_tables_with_one_failing_seed_under_loose_locks(
    executed: nbformat.NotebookNode,
) -> None:
    safe = printed(executed, "sweep")
    assert safe.startswith("swarm-100: 20 seeds (1-20)")
    assert re.search(r"expectations held +20\n", safe)
    loose = printed(executed, "sweep-loose")
    assert loose.startswith("swarm-100-loose: 20 seeds (1-20)")
    assert "first failing seed: " in loose


def test_shrinking_leaves_fewer_agents_that_still_lose_a_note(
    executed: nbformat.NotebookNode,
) -> None:
    shrunk = printed(executed, "shrink")
    sizes = re.search(r"agents (\d+) -> (\d+)", shrunk)
    assert sizes is not None
    before, after = map(int, sizes.groups())
    assert after < before
    assert "lost_note at " in shrunk


def test_a_lock_manager_whose_leases_never_expire_is_caught_by_lease_leaked(
    executed: nbformat.NotebookNode,
) -> None:
    assert "lease_leaked" in printed(executed, "broken")
    shrunk = printed(executed, "broken-shrink")
    assert "agents 5 -> 1" in shrunk
    assert "replayed from the file: ['lease_leaked']" in shrunk
