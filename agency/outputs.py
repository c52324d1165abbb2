"""The output folder of a run: what may be written there, and how.

A run on disk writes its working copy of AGENCY.md and its trace.jsonl into
a folder of its own (a shrunk scenario adds scenario.yaml). The folder must
be new, empty, or marked by an earlier run; the marker lists the files that
run wrote, and only those are ever replaced, so nothing of a user's is lost.
Files are written whole or not at all.
"""

from __future__ import annotations

from pathlib import Path

from agency.errors import ScenarioError
from agency.scenario import Scenario

__all__ = ["RUN_MARKER", "mark_output", "prepare_workdir", "write_output"]

#: Marks a folder as written by a run and lists the files the run wrote, so
#: that a later run may replace those (and only those).
RUN_MARKER = ".agency-run"
# What a run may write into its folder (scenario.yaml: a shrunk scenario).
_OUTPUTS = ("AGENCY.md", "trace.jsonl", "scenario.yaml")
# What every run writes.
_RUN_OUTPUTS = ("AGENCY.md", "trace.jsonl")
_MARKER_HEADER = (
    "# This folder was written by an agency run; a later run may replace the\n"
    "# files listed below. Other files here are left alone.\n"
)


def prepare_workdir(folder: Path, scenario: Scenario) -> None:
    """Make ``folder`` ready for a run's outputs without clobbering a user's files.

    A folder qualifies when it is new, empty, or marked (:data:`RUN_MARKER`)
    as written by an earlier run; the files that run wrote are removed first,
    so a run that fails leaves no mix of old and new files, and any other
    file is left alone. Calling it again on the same folder is harmless.

    Raises:
        ScenarioError: ``folder`` is a file, holds files not written by a
            run, holds the scenario's own AGENCY.md, or cannot be written.
    """
    source = str(folder)
    try:
        if folder.exists() and not folder.is_dir():
            raise ScenarioError(source, "the output folder is a file")
        if (folder / "AGENCY.md").resolve() == scenario.document.resolve():
            raise ScenarioError(
                source,
                "the output folder holds the scenario's own AGENCY.md; a run "
                "works on a copy and never overwrites the original",
            )
        marker = folder / RUN_MARKER
        if folder.is_dir() and any(folder.iterdir()) and not marker.is_file():
            raise ScenarioError(
                source,
                "the output folder already holds files not written by a run; "
                "choose an empty or new folder",
            )
        folder.mkdir(parents=True, exist_ok=True)
        for name in _listed(marker):
            old = folder / name
            if old.is_dir() and not old.is_symlink():
                raise ScenarioError(source, f"{name} in the output folder is a folder")
            # unlink, not overwrite: a link planted here must not be followed.
            old.unlink(missing_ok=True)
        for name in _RUN_OUTPUTS:
            if (folder / name).exists() or (folder / name).is_symlink():
                raise ScenarioError(
                    source, f"the output folder holds a {name} not written by a run"
                )
        marker.write_text(_MARKER_HEADER + "".join(f"{n}\n" for n in _RUN_OUTPUTS))
    except (OSError, RuntimeError) as exc:
        # RuntimeError: pathlib's report of a symlink loop.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ScenarioError(source, f"cannot use it for output: {reason}") from None


def mark_output(folder: Path, name: str) -> None:
    """Add ``name`` to the files of ``folder``'s run, for a later run to replace.

    For an output written beside a run's own, such as a shrunk scenario.

    Raises:
        ValueError: ``name`` is not a file a run may write.
    """
    if name not in _OUTPUTS:
        raise ValueError(f"a run writes only {', '.join(_OUTPUTS)}, not {name!r}")
    marker = folder / RUN_MARKER
    if name not in _listed(marker):
        with marker.open("a", encoding="utf-8") as handle:
            handle.write(f"{name}\n")


def _listed(marker: Path) -> list[str]:
    """The outputs a marker lists; a marker of an older version lists none."""
    if not marker.is_file():
        return []
    lines = marker.read_text(encoding="utf-8", errors="replace").splitlines()
    names = [line for line in lines if line in _OUTPUTS]
    if not any(line.startswith("#") for line in lines):
        # Written before markers listed files: a run wrote these two.
        return list(_RUN_OUTPUTS)
    return names


def write_output(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all.

    As the document store does for AGENCY.md during a run (there through
    aiofiles, on the loop): a temporary file beside it, then a rename.

    Raises:
        ScenarioError: the file cannot be written; it is left as it was.
    """
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ScenarioError(str(path), f"cannot write it: {exc.strerror}") from None
