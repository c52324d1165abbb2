"""Scenario files: loading, durations, and errors that name file, line and field."""

from __future__ import annotations

import ast
import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
from ruamel.yaml import YAML

from agency.engine import preflight
from agency.errors import ScenarioError
from agency.locks import LockMode
from agency.scenario import (
    AGENT_STATUSES,
    EVENT_KINDS,
    Outcome,
    Scenario,
    load_scenario,
    parse_duration,
    scenario_from_mapping,
)

ROOT = Path(__file__).resolve().parents[1]
PARALLEL = ROOT / "scenarios" / "parallel.yaml"
# The fewest fields a scenario built in code needs.
MINIMAL: dict[str, Any] = {
    "name": "minimal",
    "seed": 1,
    "start": "2025-11-23T10:00:00Z",
    "document": ROOT / "AGENCY.md",
    "agents": [
        {
            "id": "agent-a",
            "name": "A",
            "role": "emails",
            "task": "A",
            "module": "validators",
        }
    ],
}


def variant(tmp_path: Path, old: str, new: str) -> Path:
    """parallel.yaml with one piece of text replaced, written to tmp_path."""
    text = PARALLEL.read_text(encoding="utf-8")
    text = text.replace("document: ../AGENCY.md", f"document: {ROOT / 'AGENCY.md'}")
    assert old in text, old
    path = tmp_path / "scenario.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_the_main_scenario_loads() -> None:
    scenario = load_scenario(PARALLEL)

    assert scenario.seed == 42
    assert scenario.start.isoformat() == "2025-11-23T10:00:00+00:00"
    assert scenario.document == ROOT / "AGENCY.md"
    assert (scenario.locks.ttl, scenario.locks.mode) == (1800.0, LockMode.SAFE)
    assert [(a.id, a.task, a.module) for a in scenario.agents] == [
        ("agent-a", "A", "validators"),
        ("agent-b", "B", "formatters"),
        ("agent-c", "C", "parsers"),
        ("agent-d", "D", "strings"),
    ]
    assert [scenario.resource_of(a) for a in scenario.agents] == [
        "parallel-tasks-validators",
        "parallel-tasks-formatters",
        "parallel-tasks-parsers",
        "parallel-tasks-strings",
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("0s", 0.0),
    ],
)
def test_durations_take_seconds_or_units(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "", "m5", "-5s", -1, True, None])
def test_malformed_durations_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_a_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = variant(tmp_path, "work: {min: 4m, max: 16m}", "work: {min: 4m, max: 16m")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.line is not None
    assert re.match(rf"^{re.escape(str(path))}:\d+: not valid YAML", str(caught.value))


def test_a_bad_value_names_file_line_and_field(tmp_path: Path) -> None:
    path = variant(tmp_path, "    task: C\n", "    task: c\n")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    line = line_of(path, "task: c")
    assert (caught.value.line, caught.value.field) == (line, "agents.2.task")
    assert str(caught.value).startswith(f"{path}:{line}: agents.2.task: String should")
    assert "(got 'c')" in str(caught.value)


def test_an_unknown_field_is_named(tmp_path: Path) -> None:
    path = variant(tmp_path, "  renew_margin: 5m", "  renew_margn: 5m")

    with pytest.raises(ScenarioError, match=r":\d+: locks.renew_margn: unknown field"):
        load_scenario(path)


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    path = variant(tmp_path, "seed: 42\n", "")

    with pytest.raises(ScenarioError, match=r": seed: Field required"):
        load_scenario(path)


def test_a_bad_duration_names_its_field(tmp_path: Path) -> None:
    path = variant(tmp_path, "  ttl: 30m", "  ttl: thirty minutes")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.field == "locks.ttl"
    assert caught.value.line == line_of(path, "ttl: thirty")


def test_the_renewal_margin_must_be_below_the_ttl(tmp_path: Path) -> None:
    path = variant(tmp_path, "  renew_margin: 5m", "  renew_margin: 45m")

    with pytest.raises(
        ScenarioError, match=r"renew_margin \(2700s\) must be at least a second below"
    ):
        load_scenario(path)


def test_two_agents_may_not_share_an_id(tmp_path: Path) -> None:
    path = variant(tmp_path, "  - id: agent-b", "  - id: agent-a")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    lines = path.read_text(encoding="utf-8").splitlines()
    second = [i for i, line in enumerate(lines, 1) if line == "  - id: agent-a"][1]
    assert (caught.value.field, caught.value.line) == ("agents.1.id", second)
    assert str(caught.value).endswith("agents 0 and 1 share the id 'agent-a'")


def test_a_missing_document_is_named(tmp_path: Path) -> None:
    path = variant(tmp_path, f"document: {ROOT / 'AGENCY.md'}", "document: nowhere.md")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.field == "document"
    assert caught.value.line == line_of(path, "document: nowhere.md")


def test_a_probe_must_call_a_function_of_its_module(tmp_path: Path) -> None:
    path = variant(tmp_path, "call: slugify", "call: slugifyy")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.field == "probes.strings.0.call"
    assert caught.value.line == line_of(path, "call: slugifyy")
    assert "utils.strings has no public function 'slugifyy'" in str(caught.value)


def test_a_probe_must_name_a_real_exception(tmp_path: Path) -> None:
    path = variant(tmp_path, "raises: InvalidEmailError", "raises: NoSuchError")

    with pytest.raises(ScenarioError, match="no exception class 'NoSuchError'"):
        load_scenario(path)


def test_a_probe_expects_a_value_or_an_exception_not_both(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        "      raises: InvalidEmailError\n",
        "      raises: InvalidEmailError\n      expect: 1\n",
    )

    with pytest.raises(
        ScenarioError, match="give exactly one of 'expect' and 'raises'"
    ):
        load_scenario(path)


def test_a_scenario_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- just\n- a list\n")

    with pytest.raises(ScenarioError, match=r"list\.yaml:1: a scenario is a mapping"):
        load_scenario(path)


def test_a_file_that_is_not_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: x\ndescription: caf\xe9\n")

    with pytest.raises(ScenarioError, match=r"latin1\.yaml:2: not UTF-8 text"):
        load_scenario(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nothing\.yaml: no such file$"):
        load_scenario(tmp_path / "nothing.yaml")


def test_with_seed_changes_only_the_seed() -> None:
    scenario = load_scenario(PARALLEL)

    other = scenario.with_seed(7)

    assert other.seed == 7
    assert other.model_dump(exclude={"seed"}) == scenario.model_dump(exclude={"seed"})


def test_the_checked_in_json_schema_is_current() -> None:
    """Regenerate it with the command the README gives."""
    checked_in = json.loads((ROOT / "scenarios" / "scenario.schema.json").read_text())

    assert checked_in == Scenario.model_json_schema()


def test_the_main_scenario_validates_against_the_json_schema() -> None:
    def plain(value: object) -> object:
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value.isoformat() if isinstance(value, date) else value

    data = plain(YAML(typ="safe", pure=True).load(PARALLEL.read_text(encoding="utf-8")))

    jsonschema.validate(data, Scenario.model_json_schema())


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("    role: JSON parser", '    role: "JSON\\nparser"', "agents.2.role"),
        ("    name: Gemini Pro", '    name: "Gemini\\u2028Pro"', "agents.3.name"),
        ("    task: D\n", "    task: D\n    resource: 'a b'\n", "agents.3.resource"),
    ],
)
def test_names_that_go_into_notes_must_be_one_line(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    path = variant(tmp_path, old, new)

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.field == field


@pytest.mark.parametrize("value", ["1e308", "100000h", "-4m", ".inf"])
def test_durations_are_bounded(tmp_path: Path, value: str) -> None:
    path = variant(
        tmp_path, "work: {min: 4m, max: 16m}", f"work: {{min: 4m, max: {value}}}"
    )

    with pytest.raises(ScenarioError, match=r"work.*duration must (not be|be at)"):
        load_scenario(path)


def test_the_start_must_leave_room_for_the_run(tmp_path: Path) -> None:
    path = variant(
        tmp_path, "start: 2025-11-23T10:00:00Z", "start: 9999-12-31T23:59:00Z"
    )

    with pytest.raises(ScenarioError, match=r"start: start must fall in the years"):
        load_scenario(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  renew_margin: 5m", "  renew_margin: 0", "greater than 0"),
        ("seed: 42", "seed: true", "seed: Input should be a valid integer"),
        ("  violations: []", "  violations: [no_such_rule]", "no invariant is named"),
    ],
)
def test_values_that_cannot_work_are_refused(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = variant(tmp_path, old, new)

    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)


def test_a_probe_for_a_subtask_the_task_lacks_is_named(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        "    - subtask: 3\n      call: truncate",
        "    - subtask: 9\n      call: truncate",
    )

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.field == "probes.strings.5.subtask"
    assert caught.value.line == line_of(path, "subtask: 9")
    assert "the task has 4 subtasks, so subtask 9 never comes" in str(caught.value)


def test_probes_for_a_module_nobody_builds_are_named(tmp_path: Path) -> None:
    path = variant(tmp_path, "    module: strings\n", "    module: formatters\n")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.field == "probes.strings"
    assert caught.value.line == line_of(path, "  strings:")
    assert str(caught.value).endswith("no agent builds strings, so these never run")


def test_an_agent_whose_task_the_document_lacks_is_named_by_line(
    tmp_path: Path,
) -> None:
    path = variant(tmp_path, "    task: D\n", "    task: Q\n")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.field == "agents.3.task"
    assert caught.value.line == line_of(path, "task: Q")


def test_deep_nesting_is_refused_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("name: x\na: " + "[" * 100_000 + "]" * 100_000 + "\n")

    with pytest.raises(ScenarioError, match=r"deep\.yaml:2: nested more than 100"):
        load_scenario(path)


def test_brackets_inside_quoted_probe_arguments_do_not_count(tmp_path: Path) -> None:
    deep = "[" * 300 + "]" * 300
    path = variant(tmp_path, 'args: ["[[[[[[[[[[1]]]]]]]]]]"]', f"args: ['{deep}']")

    scenario = load_scenario(path)

    assert scenario.probes["parsers"][3].args == [deep]


def test_an_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(ScenarioError, match="too many values"):
        load_scenario(path)


def test_an_unknown_yaml_tag_is_refused(tmp_path: Path) -> None:
    path = variant(tmp_path, "model: google/gemini-pro", 'model: !custom "x"')

    with pytest.raises(ScenarioError, match="unsupported YAML value !custom"):
        load_scenario(path)


def test_an_oversized_file_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agency._yaml.MAX_FILE_BYTES", 100)
    path = variant(tmp_path, "seed: 42", "seed: 42")

    with pytest.raises(ScenarioError, match="larger than 0 MiB; not a scenario"):
        load_scenario(path)


def test_a_dumped_scenario_validates_again() -> None:
    scenario = load_scenario(PARALLEL)

    assert Scenario.model_validate(scenario.model_dump()) == scenario


@pytest.mark.parametrize(
    "start",
    ["2025-02-30T10:00:00Z", "2016-12-31T23:59:60Z", "2025-11-23T10:00:00+25:00"],
)
def test_a_date_that_cannot_exist_is_bad_input(tmp_path: Path, start: str) -> None:
    path = variant(tmp_path, "start: 2025-11-23T10:00:00Z", f"start: {start}")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    line = line_of(path, f"start: {start}")
    assert str(caught.value).startswith(
        f"{path}:{line}: start: a value that cannot exist: "
    )


def test_an_error_in_a_merged_anchor_still_names_a_line(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        "  - id: agent-b\n    name: Claude Haiku\n",
        "  - <<: {resource: 'a b'}\n    id: agent-b\n    name: Claude Haiku\n",
    )

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    assert caught.value.field == "agents.1.resource"
    assert caught.value.line == line_of(path, "<<: {resource: 'a b'}")


def test_a_probe_may_only_call_a_public_function(tmp_path: Path) -> None:
    path = variant(tmp_path, "call: slugify", "call: _words")

    with pytest.raises(ScenarioError, match="has no public function '_words'"):
        load_scenario(path)


def test_durations_take_ascii_digits_only() -> None:
    with pytest.raises(ValueError, match="duration looks like"):
        parse_duration("\u0663m")


def test_with_seed_refuses_a_negative_seed() -> None:
    with pytest.raises(ScenarioError, match=r"^<scenario>: seed: Input should be"):
        load_scenario(PARALLEL).with_seed(-1)


def recorded_kinds(arg: ast.expr, where: str) -> set[str]:
    """The event kinds a ``record(...)`` call's first argument can be."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return {arg.value}
    if isinstance(arg, ast.IfExp):
        return recorded_kinds(arg.body, where) | recorded_kinds(arg.orelse, where)
    if isinstance(arg, ast.JoinedStr) and ast.unparse(arg) == "f'agent.{stop.outcome}'":
        return {f"agent.{outcome}" for outcome in get_args(Outcome)}
    if isinstance(arg, ast.Name) and arg.id == "kind":
        return set()  # LockManager._record passes on the kind it was given
    raise AssertionError(f"{where}: cannot tell the kind of {ast.unparse(arg)}")


def test_the_event_kinds_are_exactly_those_the_code_records() -> None:
    found: set[str] = set()
    for path in sorted([*ROOT.glob("agency/*.py"), *ROOT.glob("agents/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("record", "_record")
                and node.args
            ):
                found |= recorded_kinds(node.args[0], f"{path}:{node.lineno}")

    assert sorted(found) == sorted(EVENT_KINDS)


def test_every_golden_trace_records_only_known_event_kinds() -> None:
    kinds = {
        json.loads(line)["kind"]
        for path in sorted((ROOT / "tests" / "golden").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    }

    assert kinds <= set(EVENT_KINDS)


def test_an_unknown_event_kind_is_refused_with_the_closest_kind(
    tmp_path: Path,
) -> None:
    path = variant(
        tmp_path, "  violations: []", "  violations: []\n  events: {lease.expird: 0}"
    )

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    line = line_of(path, "lease.expird")
    assert str(caught.value) == (
        f"{path}:{line}: expect.events.lease.expird: no event kind is named "
        "'lease.expird'; did you mean 'lease.expired'?"
    )


def test_an_event_kind_unlike_any_lists_the_families() -> None:
    data = {**MINIMAL, "expect": {"events": {"zz.top": 1}}}

    with pytest.raises(ScenarioError) as caught:
        scenario_from_mapping(data, source="<x>")

    assert str(caught.value) == (
        "<x>: expect.events.zz.top: no event kind is named 'zz.top'; the kinds are "
        "agent.*, doc.*, fault.*, lease.*, owner.*, project.* and run.*"
    )


def test_an_expected_status_must_be_one_a_run_can_end_in(tmp_path: Path) -> None:
    path = variant(tmp_path, "  status: completed", "  status: finished")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    line = line_of(path, "status: finished")
    assert str(caught.value) == (
        f"{path}:{line}: expect.status: no run can end 'finished': agents write "
        "in_progress, completed, blocked, and AGENCY.md starts pending"
    )


def test_the_status_a_document_starts_with_may_be_expected(tmp_path: Path) -> None:
    path = variant(tmp_path, "  status: completed", "  status: pending")

    preflight(load_scenario(path))


def test_the_agent_statuses_are_those_agents_write() -> None:
    tree = ast.parse((ROOT / "agents" / "base.py").read_text(encoding="utf-8"))
    written = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr == "set_field" and ast.literal_eval(node.args[0]) == "status":
            written.add(ast.literal_eval(node.args[1]))
        for keyword in node.keywords:
            if node.func.attr == "set_fields" and keyword.arg == "status":
                written.add(ast.literal_eval(keyword.value))

    assert written == set(AGENT_STATUSES)


def test_a_probe_keyword_its_function_lacks_is_bad_input(tmp_path: Path) -> None:
    path = variant(
        tmp_path, "kwargs: {allow_unicode: true}", "kwargs: {no_such_kw: true}"
    )

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    line = line_of(path, "no_such_kw")
    assert str(caught.value) == (
        f"{path}:{line}: probes.strings.4.kwargs.no_such_kw: utils.strings.slugify() "
        "got an unexpected keyword argument 'no_such_kw'"
    )


def test_probe_arguments_its_function_cannot_take_are_bad_input(
    tmp_path: Path,
) -> None:
    path = variant(tmp_path, 'args: ["Straße in Köln"]', "args: [a, b, c, d]")

    with pytest.raises(
        ScenarioError,
        match=r":\d+: probes\.strings\.3\.args: utils\.strings\.slugify\(\) "
        r"too many positional arguments$",
    ):
        load_scenario(path)


def test_a_probe_of_a_function_taking_any_keyword_is_not_refused(
    tmp_path: Path,
) -> None:
    path = variant(
        tmp_path,
        '      args: ["a..b@example.com"]\n',
        '      args: ["a..b@example.com"]\n      kwargs: {allow_quoted_local: true}\n',
    )

    scenario = load_scenario(path)

    assert scenario.probes["validators"][6].kwargs == {"allow_quoted_local": True}


def test_a_probe_of_a_function_without_a_signature_is_not_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # max() is a C function inspect.signature cannot read.
    monkeypatch.setattr("utils.strings.slugify", max)
    path = variant(tmp_path, "kwargs: {allow_unicode: true}", "kwargs: {key: null}")

    scenario = load_scenario(path)

    assert scenario.probes["strings"][4].kwargs == {"key": None}


@pytest.mark.parametrize(
    "attr", ["__class__.__init__.__globals__", "normalized.__class__", "_cache"]
)
def test_a_probe_attr_may_not_reach_private_names(tmp_path: Path, attr: str) -> None:
    path = variant(tmp_path, "attr: normalized\n", f"attr: {attr}\n")

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    first = next(name for name in attr.split(".") if name.startswith("_"))
    line = line_of(path, f"attr: {attr}")
    assert str(caught.value) == (
        f"{path}:{line}: probes.validators.0.attr: 'attr' names public attributes "
        f"only, got {first!r}"
    )


def test_a_fault_for_an_unknown_agent_names_the_faults_line(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        "expect:\n",
        "faults:\n  - {agent: agent-a, kind: crash, at: 5m}\n"
        "  - {agent: ghost, kind: crash, at: 5m}\n\nexpect:\n",
    )

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    line = line_of(path, "agent: ghost")
    assert str(caught.value) == (
        f"{path}:{line}: faults.1.agent: no agent has the id 'ghost'"
    )


def test_an_expected_outcome_for_an_unknown_agent_names_its_line(
    tmp_path: Path,
) -> None:
    path = variant(
        tmp_path,
        "  violations: []",
        "  violations: []\n  outcomes:\n    agent-a: completed\n    ghost: crashed",
    )

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    line = line_of(path, "ghost: crashed")
    assert str(caught.value) == (
        f"{path}:{line}: expect.outcomes.ghost: no agent has the id 'ghost'"
    )


def test_two_variants_may_not_share_a_name(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        "  violations: []",
        "  violations: []\nvariants:\n  - name: loose\n    locks: {mode: loose}\n"
        "  - name: loose\n",
    )

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    lines = path.read_text(encoding="utf-8").splitlines()
    second = [i for i, line in enumerate(lines, 1) if line == "  - name: loose"][1]
    assert str(caught.value) == (
        f"{path}:{second}: variants.1.name: variants 0 and 1 share the name 'loose'"
    )


def test_a_variant_that_breaks_the_scenario_names_the_line_of_its_change(
    tmp_path: Path,
) -> None:
    path = variant(
        tmp_path,
        "  violations: []",
        "  violations: []\nvariants:\n  - name: haunted\n"
        "    faults: [{agent: ghost, kind: crash, at: 5m}]\n",
    )

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    line = line_of(path, "agent: ghost")
    assert str(caught.value) == (
        f"{path}:{line}: variants.0: its change of faults.0.agent breaks it: "
        "no agent has the id 'ghost'"
    )


def test_an_error_of_the_whole_scenario_names_no_field() -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_mapping({**MINIMAL, "agents": []}, source="<x>")

    assert caught.value.field is None
    assert str(caught.value) == "<x>: a scenario needs 'agents', a 'swarm', or both"


def test_a_timestamp_where_an_offset_goes_says_so(tmp_path: Path) -> None:
    path = variant(
        tmp_path,
        "expect:\n",
        "faults:\n  - {agent: agent-a, kind: crash, at: 1990-01-01T00:00:00Z}\n\n"
        "expect:\n",
    )

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    line = line_of(path, "at: 1990")
    assert str(caught.value) == (
        f"{path}:{line}: faults.0.at: 'at' is an offset from the run's start such "
        "as '5m' or 300, not a timestamp (got 1990-01-01T00:00:00Z)"
    )


def test_a_timestamp_where_a_duration_goes_says_so() -> None:
    with pytest.raises(
        ValueError,
        match=r"^a duration is a number of seconds or '5m', not a timestamp "
        r"\(got 2025-01-01T10:00:00\+01:00\)$",
    ):
        parse_duration(datetime.fromisoformat("2025-01-01T10:00:00+01:00"))


def test_dates_and_bytes_in_messages_read_as_written() -> None:
    data = {**MINIMAL, "seed": b"42", "start": date(2025, 1, 1)}

    with pytest.raises(ScenarioError) as caught:
        scenario_from_mapping(data, source="<x>")

    assert str(caught.value) == (
        "<x>: seed: Input should be a valid integer (got binary data (2 bytes))\n"
        "  <x>: start: Input should have timezone info (got 2025-01-01)"
    )


def test_a_number_too_large_to_read_names_its_line(tmp_path: Path) -> None:
    path = variant(tmp_path, "seed: 42", "seed: " + "9" * 5000)

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    line = line_of(path, "seed: 999")
    assert str(caught.value) == (
        f"{path}:{line}: seed: the number is too large (5000 digits; at most 4300)"
    )
