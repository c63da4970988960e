"""Scenario files: schema, loading, inheritance, validation messages, key paths and diffs.

Every scenario here is written to ``tmp_path`` from the small, self-contained ``MINI`` text below, so
the tests do not depend on the wording of the bundled scenarios (those are only checked to validate).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main
from sim.scenario import (InputError, diff, get_path, load_scenario, resolved_dict, validate_raw,
                          with_value)
from sim.schema import Scenario

REPO = Path(__file__).resolve().parents[1]
BUNDLED = sorted((REPO / "scenarios").rglob("*.toml"))

# One actor of every role, every process table, dynamics and one event: the smallest valid scenario
# that exercises every reference check.
MINI = """\
name = "mini"
description = "test scenario"
sources = ["a.txt", "b.txt"]
start = 2020-03-06
horizon_months = 24

[actors.turkey]
role = "guarantor"
protects = ["opposition"]
deterrence = 0.75
resolve = 0.7

[actors.russia]
role = "patron"
backs = ["regime"]
guarantor = "turkey"
interest_in_guarantor = 0.7
air_power = 0.7
distraction = 0.1

[actors.regime]
role = "belligerent"
opposes = ["opposition"]
needs_air_cover = true
ambition = 0.8
strength = 0.55
readiness = 0.45
exhaustion = 0.4

[actors.opposition]
role = "belligerent"
opposes = ["regime"]
ambition = 0.35
strength = 0.35
readiness = 0.3
exhaustion = 0.3

[actors.hts]
role = "pretext"
hosted_by = "opposition"
pretext_strength = 0.6
transformation = 0.3
patrol_attack_rate = 0.6

[actors.militias]
role = "supporter"
supports = "regime"
strength = 0.15

[processes.economy]
affects = ["regime"]
sanctions = 0.7

[dynamics]
offensive_rate_covered = 8.0

[events.sanctions_up]
at = 2020-06-17
set = { "processes.economy.sanctions" = 0.8 }
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def mutated(old: str, new: str, text: str = MINI) -> str:
    """MINI with one exact edit (fails loudly if the edit does not apply, so no test passes vacuously)."""
    assert text.count(old) == 1, f"edit target {old!r} must occur exactly once"
    return text.replace(old, new)


def problems_of(path: Path) -> list[str]:
    with pytest.raises(InputError) as exc:
        load_scenario(path)
    problems = exc.value.problems
    assert problems, "an InputError must carry at least one problem"
    assert str(exc.value) == "\n".join(problems)
    return problems


def one_problem(tmp_path: Path, text: str, name: str = "bad.toml") -> tuple[Path, str]:
    path = write(tmp_path, name, text)
    problems = problems_of(path)
    assert len(problems) == 1, problems
    return path, problems[0]


# --- the base text is valid -------------------------------------------------------------------

def test_mini_scenario_loads_with_its_values_and_defaults(tmp_path):
    s = load_scenario(write(tmp_path, "mini.toml", MINI))
    assert isinstance(s, Scenario)
    assert s.actors["turkey"].deterrence == 0.75
    assert s.actors["turkey"].restraint == 0.8          # schema default
    assert s.actors["regime"].needs_air_cover is True
    assert s.processes.economy.sanctions == 0.7
    assert s.processes.economy.reversion == 0.1         # default inside a partially given table
    assert s.dynamics.offensive_rate_covered == 8.0
    assert s.event_month(s.events["sanctions_up"]) == pytest.approx(103 / (365.25 / 12))


# --- range errors -------------------------------------------------------------------------------

def test_value_above_maximum_names_file_key_path_and_limit(tmp_path):
    path, line = one_problem(tmp_path, mutated("deterrence = 0.75", "deterrence = 1.7"))
    # pydantic's ctx gives the limit as the float 1.0 (README shows "maximum 1").
    assert line == f"{path}: actors.turkey.deterrence: 1.7 is above the maximum 1.0"


def test_value_below_minimum_names_file_key_path_and_limit(tmp_path):
    path, line = one_problem(tmp_path, mutated("deterrence = 0.75", "deterrence = -0.2"))
    assert line == f"{path}: actors.turkey.deterrence: -0.2 is below the minimum 0.0"


def test_range_error_in_dynamics_uses_that_fields_own_limits(tmp_path):
    path, line = one_problem(tmp_path, mutated("offensive_rate_covered = 8.0", "offensive_rate_covered = 1e7"))
    assert line == f"{path}: dynamics.offensive_rate_covered: 10000000.0 is above the maximum 1000000.0"
    path, line = one_problem(tmp_path, MINI + "\n[processes.cross_theatre_tension]\nreversion = 5.5\n", "b.toml")
    assert line == f"{path}: processes.cross_theatre_tension.reversion: 5.5 is above the maximum 5.0"


def test_every_range_problem_of_a_file_is_reported(tmp_path):
    text = mutated("deterrence = 0.75", "deterrence = 1.7", mutated("resolve = 0.7", "resolve = -1"))
    path = write(tmp_path, "two.toml", text)
    assert problems_of(path) == [
        f"{path}: actors.turkey.deterrence: 1.7 is above the maximum 1.0",
        f"{path}: actors.turkey.resolve: -1 is below the minimum 0.0",
    ]


def test_nan_is_rejected(tmp_path):
    path, line = one_problem(tmp_path, mutated("deterrence = 0.75", "deterrence = nan"))
    assert line == f"{path}: actors.turkey.deterrence: must be a finite number, not nan"


# --- unknown keys and suggestions ---------------------------------------------------------------

def test_typo_inside_an_actor_suggests_the_field(tmp_path):
    path = write(tmp_path, "typo.toml", mutated("deterrence = 0.75", "deterence = 0.75"))
    assert sorted(problems_of(path)) == sorted([
        f"{path}: actors.turkey.deterence: unknown key; did you mean 'deterrence'?",
        f"{path}: actors.turkey.deterrence: required key is missing",
    ])


def test_typo_in_an_optional_actor_field_is_one_problem(tmp_path):
    path, line = one_problem(tmp_path, mutated("resolve = 0.7", "resolve = 0.7\nrestrant = 0.5"))
    assert line == f"{path}: actors.turkey.restrant: unknown key; did you mean 'restraint'?"


def test_typo_suggestion_uses_the_actors_own_role(tmp_path):
    # 'commitmen' in a supporter: the suggestion must come from the Supporter's fields.
    path, line = one_problem(tmp_path, mutated("strength = 0.15", "strength = 0.15\ncommitmen = 0.5"))
    assert line == f"{path}: actors.militias.commitmen: unknown key; did you mean 'commitment'?"


def test_typo_at_top_level_suggests_the_field(tmp_path):
    path = write(tmp_path, "top.toml", mutated("horizon_months = 24", "horizon_month = 24"))
    assert sorted(problems_of(path)) == sorted([
        f"{path}: horizon_month: unknown key; did you mean 'horizon_months'?",
        f"{path}: horizon_months: required key is missing",
    ])


def test_typo_inside_processes_economy_suggests_the_field(tmp_path):
    path, line = one_problem(tmp_path, mutated("sanctions = 0.7", "sanctions = 0.7\ninitial_stres = 0.5"))
    assert line == f"{path}: processes.economy.initial_stres: unknown key; did you mean 'initial_stress'?"


def test_typo_in_a_process_table_name_suggests_the_table(tmp_path):
    path, line = one_problem(tmp_path, mutated("[processes.economy]", "[processes.econmy]"))
    assert line == f"{path}: processes.econmy: unknown key; did you mean 'economy'?"


def test_typo_inside_dynamics_suggests_the_field(tmp_path):
    path, line = one_problem(tmp_path, mutated("offensive_rate_covered = 8.0", "ofensive_rate_covered = 8.0"))
    assert line == f"{path}: dynamics.ofensive_rate_covered: unknown key; did you mean 'offensive_rate_covered'?"


def test_unknown_key_without_close_match_lists_allowed_keys(tmp_path):
    path, line = one_problem(tmp_path, mutated("offensive_rate_covered = 8.0", "zzz = 1"))
    assert line.startswith(f"{path}: dynamics.zzz: unknown key; allowed keys: ")
    assert "offensive_rate_covered" in line and "halt_rate" in line


def test_typo_inside_an_event_suggests_the_field(tmp_path):
    path, line = one_problem(tmp_path, mutated("at = 2020-06-17", "at = 2020-06-17\nlabl = 'x'"))
    assert line == f"{path}: events.sanctions_up.labl: unknown key; did you mean 'label'?"


# --- roles ------------------------------------------------------------------------------------

def test_unknown_role_lists_the_roles(tmp_path):
    path, line = one_problem(tmp_path, mutated('role = "guarantor"', 'role = "guarantr"'))
    assert line == (f"{path}: actors.turkey.role: role 'guarantr' is not one of "
                    "belligerent, guarantor, mediator, monitor, patron, pretext, supporter")


def test_missing_role_is_named(tmp_path):
    path, line = one_problem(tmp_path, mutated('role = "guarantor"\n', ""))
    assert line == (f"{path}: actors.turkey.role: required key is missing "
                    "(one of belligerent, guarantor, mediator, monitor, patron, pretext, supporter, or a list of them)")


def test_role_mismatch_guarantor_protecting_a_patron(tmp_path):
    path, line = one_problem(tmp_path, mutated('protects = ["opposition"]', 'protects = ["russia"]'))
    assert line == f"{path}: actors.turkey.protects: 'russia' is a patron, not a belligerent"


def test_role_mismatch_patron_weighing_a_non_guarantor(tmp_path):
    path, line = one_problem(tmp_path, mutated('guarantor = "turkey"', 'guarantor = "regime"'))
    assert line == f"{path}: actors.russia.guarantor: 'regime' is a belligerent, not a guarantor"


def test_actor_cannot_oppose_itself(tmp_path):
    path, line = one_problem(tmp_path, mutated('opposes = ["opposition"]', 'opposes = ["opposition", "regime"]'))
    assert line == f"{path}: actors.regime.opposes: an actor cannot oppose itself"


# --- missing keys and wrong types ---------------------------------------------------------------

def test_missing_required_actor_key(tmp_path):
    path, line = one_problem(tmp_path, mutated("air_power = 0.7\n", ""))
    assert line == f"{path}: actors.russia.air_power: required key is missing"


def test_missing_required_top_level_keys_each_reported(tmp_path):
    path = write(tmp_path, "empty.toml", "")
    assert problems_of(path) == [f"{path}: {k}: required key is missing"
                                 for k in ("name", "description", "start", "horizon_months", "actors")]


@pytest.mark.parametrize("old, new, key, shown", [
    ("deterrence = 0.75", 'deterrence = "high"', "actors.turkey.deterrence", "'high'"),
    ("horizon_months = 24", 'horizon_months = "two years"', "horizon_months", "'two years'"),
    ('protects = ["opposition"]', 'protects = "opposition"', "actors.turkey.protects", "'opposition'"),
    ("start = 2020-03-06", 'start = "March"', "start", "'March'"),
])
def test_wrong_type_names_key_and_value(tmp_path, old, new, key, shown):
    path, line = one_problem(tmp_path, mutated(old, new))
    assert line.startswith(f"{path}: {key}: ") and shown in line, line
    # what is allowed: pydantic's "Input should be a valid ...", or "must be a number" for numbers
    assert "valid" in line or "must be a number" in line


def test_non_integer_horizon_is_rejected(tmp_path):
    path, line = one_problem(tmp_path, mutated("horizon_months = 24", "horizon_months = 24.5"))
    assert line.startswith(f"{path}: horizon_months: 24.5: ")


def test_boolean_for_a_numeric_parameter_is_a_type_error(tmp_path):
    path = write(tmp_path, "bool.toml", mutated("deterrence = 0.75", "deterrence = true"))
    problems = problems_of(path)
    assert any(p.startswith(f"{path}: actors.turkey.deterrence:") for p in problems)


def test_scenario_name_must_be_a_plain_identifier(tmp_path):
    path, line = one_problem(tmp_path, mutated('name = "mini"', 'name = "mini scenario"'))
    assert line.startswith(f"{path}: name: 'mini scenario': ")


# --- files ------------------------------------------------------------------------------------

def test_malformed_toml_names_file_and_position(tmp_path):
    path, line = one_problem(tmp_path, mutated("deterrence = 0.75", "deterrence = = 0.75"))
    assert line.startswith(f"{path}: not valid TOML: ")
    assert re.search(r"line 10\b", line), line


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.toml"
    assert problems_of(path) == [f"{path}: no such file"]


def test_directory_instead_of_file(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    [line] = problems_of(tmp_path / "dir.toml")
    assert line.startswith(f"{tmp_path / 'dir.toml'}: cannot be read")


def test_missing_base_file(tmp_path):
    path, line = one_problem(tmp_path, 'base = "nope.toml"\nname = "v"\n', "variant.toml")
    assert line == f"{path}: base: 'nope.toml' not found (looked for {tmp_path / 'nope.toml'})"


def test_base_must_be_a_file_name(tmp_path):
    path, line = one_problem(tmp_path, "base = 3\n" + MINI)
    assert line.startswith(f"{path}: base: must be a file name")
    assert line.endswith("got 3")


def test_base_inheritance_cycle(tmp_path):
    a = write(tmp_path, "a.toml", 'base = "b.toml"\nname = "a"\n')
    write(tmp_path, "b.toml", 'base = "a.toml"\nname = "b"\n')
    [line] = problems_of(a)
    assert line.startswith(f"{a}: ") or line.startswith(f"{tmp_path / 'b.toml'}: ")
    assert "cycle" in line
    assert "a.toml" in line and "b.toml" in line


def test_file_that_is_its_own_base_is_a_cycle(tmp_path):
    a = write(tmp_path, "self.toml", 'base = "self.toml"\n' + MINI)
    [line] = problems_of(a)
    assert "cycle" in line and "self.toml" in line


# --- references to actors -----------------------------------------------------------------------

DECLARED = "(actors are: hts, militias, opposition, regime, russia, turkey)"


@pytest.mark.parametrize("old, new, where, ref", [
    ('protects = ["opposition"]', 'protects = ["rebels"]', "actors.turkey.protects", "rebels"),
    ('backs = ["regime"]', 'backs = ["assad"]', "actors.russia.backs", "assad"),
    ('guarantor = "turkey"', 'guarantor = "turkiye"', "actors.russia.guarantor", "turkiye"),
    ('opposes = ["opposition"]\nneeds', 'opposes = ["rebels"]\nneeds', "actors.regime.opposes", "rebels"),
    ('hosted_by = "opposition"', 'hosted_by = "idlib"', "actors.hts.hosted_by", "idlib"),
    ('supports = "regime"', 'supports = "assad"', "actors.militias.supports", "assad"),
    ('affects = ["regime"]', 'affects = ["syria"]', "processes.economy.affects", "syria"),
])
def test_reference_to_undeclared_actor(tmp_path, old, new, where, ref):
    path, line = one_problem(tmp_path, mutated(old, new))
    assert line == f"{path}: {where}: '{ref}' is not a declared actor {DECLARED}"


def test_reference_in_other_fronts_to_undeclared_actor(tmp_path):
    path, line = one_problem(tmp_path, MINI + '\n[processes.other_fronts]\naffects = ["isis"]\n')
    assert line == f"{path}: processes.other_fronts.affects: 'isis' is not a declared actor {DECLARED}"


def test_several_reference_problems_are_each_one_line(tmp_path):
    text = mutated('backs = ["regime"]', 'backs = ["assad"]', mutated('hosted_by = "opposition"', 'hosted_by = "idlib"'))
    path = write(tmp_path, "refs.toml", text)
    assert sorted(problems_of(path)) == sorted([
        f"{path}: actors.russia.backs: 'assad' is not a declared actor {DECLARED}",
        f"{path}: actors.hts.hosted_by: 'idlib' is not a declared actor {DECLARED}",
    ])


# --- events -----------------------------------------------------------------------------------

def test_event_with_both_at_and_month(tmp_path):
    path, line = one_problem(tmp_path, mutated("at = 2020-06-17", "at = 2020-06-17\nmonth = 3"))
    assert line == (f"{path}: events.sanctions_up: give exactly one of 'at' (a date) "
                    "or 'month' (months from the start)")


def test_event_with_neither_at_nor_month(tmp_path):
    path, line = one_problem(tmp_path, mutated("at = 2020-06-17\n", ""))
    assert line == (f"{path}: events.sanctions_up: give exactly one of 'at' (a date) "
                    "or 'month' (months from the start)")


def test_event_key_path_that_does_not_exist(tmp_path):
    path, line = one_problem(tmp_path, mutated('"processes.economy.sanctions" = 0.8',
                                               '"processes.economy.sanction" = 0.8'))
    assert line == (f"{path}: events.sanctions_up.set.processes.economy.sanction: "
                    "'processes.economy.sanction' does not exist: no 'sanction' in processes.economy; "
                    "did you mean 'sanctions'?")


def test_event_key_path_through_an_undeclared_actor(tmp_path):
    path, line = one_problem(tmp_path, mutated('"processes.economy.sanctions" = 0.8',
                                               '"actors.rusia.distraction" = 0.5'))
    assert line.startswith(f"{path}: events.sanctions_up.set.actors.rusia.distraction: ")
    assert "no 'rusia' in actors" in line and "did you mean 'russia'?" in line


def test_event_key_path_to_a_non_numeric_field(tmp_path):
    path, line = one_problem(tmp_path, mutated('"processes.economy.sanctions" = 0.8',
                                               '"actors.regime.needs_air_cover" = 0'))
    assert line == f"{path}: events.sanctions_up.set.actors.regime.needs_air_cover: not a numeric parameter"


def test_event_value_out_of_range(tmp_path):
    path, line = one_problem(tmp_path, mutated('"processes.economy.sanctions" = 0.8',
                                               '"processes.economy.sanctions" = 1.8'))
    assert line == f"{path}: events.sanctions_up.set.processes.economy.sanctions: 1.8 is above the maximum 1.0"


def test_event_value_below_range_on_an_actor(tmp_path):
    path, line = one_problem(tmp_path, mutated('"processes.economy.sanctions" = 0.8',
                                               '"actors.turkey.deterrence" = -0.5'))
    assert line == f"{path}: events.sanctions_up.set.actors.turkey.deterrence: -0.5 is below the minimum 0.0"


def test_event_date_before_start(tmp_path):
    path, line = one_problem(tmp_path, mutated("at = 2020-06-17", "at = 2019-06-17"))
    assert line == f"{path}: events.sanctions_up.at: 2019-06-17 is before the scenario start 2020-03-06"


def test_event_month_below_zero(tmp_path):
    path, line = one_problem(tmp_path, mutated("at = 2020-06-17", "month = -1"))
    assert line == f"{path}: events.sanctions_up.month: -1 is below the minimum 0"


def test_every_event_problem_is_reported(tmp_path):
    text = MINI + ('\n[events.late]\nmonth = 2\nset = { "actors.turkey.deterrence" = 2.0, '
                   '"dynamics.ofensive_rate_covered" = 1.0 }\n')
    path = write(tmp_path, "events.toml", text)
    problems = problems_of(path)
    assert len(problems) == 2
    assert f"{path}: events.late.set.actors.turkey.deterrence: 2.0 is above the maximum 1.0" in problems
    assert any(p.startswith(f"{path}: events.late.set.dynamics.ofensive_rate_covered: ")
               and "did you mean 'offensive_rate_covered'?" in p for p in problems)


def _event_at_month_zero_vs_direct(tmp_path, key, value):
    """Outcomes with an event setting key=value at month 0, with the value from the start, and without."""
    from sim.api import run
    text = mutated('"processes.economy.sanctions" = 0.8', f'"{key}" = {value}',
                   mutated("at = 2020-06-17", "month = 0"))
    with_event = load_scenario(write(tmp_path, "event0.toml", text))
    without = load_scenario(write(tmp_path, "plain.toml", mutated(
        '[events.sanctions_up]\nat = 2020-06-17\nset = { "processes.economy.sanctions" = 0.8 }\n', "")))
    direct = with_value(without, {key: value})
    return tuple(run(s, runs=300, seed=5, jobs=1).simulation.replications for s in (with_event, direct, without))


@pytest.mark.parametrize("key, value", [("dynamics.offensive_rate_covered", 30.0), ("actors.turkey.deterrence", 0.1),
                                        ("processes.economy.sanctions", 0.1)])
def test_event_at_month_zero_acts_like_the_value_from_the_start(tmp_path, key, value):
    a, b, c = _event_at_month_zero_vs_direct(tmp_path, key, value)
    np.testing.assert_array_equal(a.months, b.months)
    np.testing.assert_array_equal(a.initiator, b.initiator)
    assert not np.array_equal(a.months, c.months)  # and the change does matter


@pytest.mark.parametrize("key", ["dynamics.sustain_days", "processes.economy.initial_stress",
                                 "processes.cross_theatre_tension.initial", "processes.other_fronts.initial"])
def test_event_on_a_value_read_only_at_the_start_is_rejected(tmp_path, key):
    path, line = one_problem(tmp_path, mutated('"processes.economy.sanctions" = 0.8', f'"{key}" = 0.5'))
    assert line.startswith(f"{path}: events.sanctions_up.set.{key}: ")


@pytest.mark.parametrize("key, value", [("horizon_months", 6.0), ("step_days", 30.0)])
def test_horizon_and_step_given_from_the_start_change_outcomes(tmp_path, key, value):
    """Control for the test below: these changes do alter the run, so an ignored event would be visible."""
    from sim.api import run
    plain = load_scenario(write(tmp_path, "plain.toml", MINI))
    a = run(plain, runs=300, seed=5, jobs=1).simulation.replications
    b = run(with_value(plain, {key: value}), runs=300, seed=5, jobs=1).simulation.replications
    assert not np.array_equal(a.months, b.months)


@pytest.mark.parametrize("key, value", [("horizon_months", 6.0), ("step_days", 30.0)])
def test_event_on_a_parameter_fixed_at_the_start_is_rejected_or_applied(tmp_path, key, value):
    try:
        a, b, _ = _event_at_month_zero_vs_direct(tmp_path, key, value)
    except InputError as exc:  # rejecting the event is one acceptable fix
        assert any(f"events.sanctions_up.set.{key}" in p for p in exc.problems)
        return
    # Otherwise an event at month 0 must act like the value given from the start.
    np.testing.assert_array_equal(a.months, b.months)


def test_event_that_reschedules_another_event_is_rejected(tmp_path):
    text = mutated("at = 2020-06-17", "month = 1") + \
        '\n[events.other]\nmonth = 2\nset = { "events.sanctions_up.month" = 12 }\n'
    problems = problems_of(write(tmp_path, "resched.toml", text))
    assert any("events.other.set.events.sanctions_up.month" in p for p in problems)


# --- inheritance --------------------------------------------------------------------------------

def test_variant_overrides_one_actor_field_and_inherits_the_rest(tmp_path):
    write(tmp_path, "base.toml", MINI)
    variant = write(tmp_path, "variant.toml",
                    'base = "base.toml"\nname = "variant"\n\n[actors.turkey]\ndeterrence = 0.4\n')
    base, var = load_scenario(tmp_path / "base.toml"), load_scenario(variant)
    assert var.name == "variant"
    assert var.actors["turkey"].deterrence == 0.4
    # the other fields of the same actor table come from the base: tables merge key by key
    assert var.actors["turkey"].resolve == 0.7
    assert var.actors["turkey"].protects == ["opposition"]
    assert var.actors["turkey"].role == "guarantor"
    assert var.actors["russia"] == base.actors["russia"]
    assert var.events == base.events
    assert var.processes == base.processes


def test_arrays_in_a_variant_replace_the_base_arrays(tmp_path):
    write(tmp_path, "base.toml", MINI)
    variant = write(tmp_path, "variant.toml",
                    'base = "base.toml"\nsources = ["c.txt"]\n\n[processes.economy]\naffects = ["opposition"]\n')
    var = load_scenario(variant)
    assert var.sources == ["c.txt"]                      # not ["a.txt", "b.txt", "c.txt"], not merged by index
    assert var.processes.economy.affects == ["opposition"]
    assert var.processes.economy.sanctions == 0.7        # sibling key of the replaced array is inherited


def test_variant_can_add_an_event_and_keep_the_base_events(tmp_path):
    write(tmp_path, "base.toml", MINI)
    variant = write(tmp_path, "variant.toml",
                    'base = "base.toml"\n\n[events.war]\nmonth = 12\nset = { "actors.russia.distraction" = 0.5 }\n')
    var = load_scenario(variant)
    assert set(var.events) == {"sanctions_up", "war"}


def test_base_path_is_resolved_from_the_variants_directory(tmp_path, monkeypatch):
    write(tmp_path / "bases", "base.toml", MINI)
    write(tmp_path / "variants", "v.toml", 'base = "../bases/base.toml"\nname = "v"\n')
    write(tmp_path, "w.toml", 'base = "bases/base.toml"\nname = "w"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not where the files are: a cwd-relative lookup would fail
    assert load_scenario(tmp_path / "variants" / "v.toml").actors["turkey"].deterrence == 0.75
    assert load_scenario(tmp_path / "w.toml").name == "w"


def test_chain_of_bases_each_relative_to_its_own_file(tmp_path):
    write(tmp_path / "a" / "b", "root.toml", MINI)
    write(tmp_path / "a", "middle.toml", 'base = "b/root.toml"\n[actors.russia]\ndistraction = 0.5\n')
    leaf = write(tmp_path, "leaf.toml", 'base = "a/middle.toml"\nname = "leaf"\n[actors.turkey]\nresolve = 0.2\n')
    s = load_scenario(leaf)
    assert (s.name, s.actors["russia"].distraction, s.actors["turkey"].resolve) == ("leaf", 0.5, 0.2)
    assert s.actors["turkey"].deterrence == 0.75


def test_list_of_bases_later_ones_override_earlier_ones(tmp_path):
    write(tmp_path, "root.toml", MINI)
    write(tmp_path, "b.toml", 'base = "root.toml"\n[actors.turkey]\nresolve = 0.2\n')
    write(tmp_path, "c.toml", 'base = "root.toml"\n[actors.turkey]\nresolve = 0.3\nrestraint = 0.1\n')
    a = write(tmp_path, "a.toml", 'base = ["b.toml", "c.toml"]\nname = "a"\n[actors.turkey]\nrestraint = 0.6\n')
    s = load_scenario(a)  # a diamond (root reached twice) is not a cycle
    assert (s.name, s.actors["turkey"].resolve, s.actors["turkey"].restraint) == ("a", 0.3, 0.6)
    assert s.actors["turkey"].deterrence == 0.75


def test_problems_of_a_merged_variant_name_the_variant_file(tmp_path):
    write(tmp_path, "base.toml", MINI)
    variant = write(tmp_path, "variant.toml", 'base = "base.toml"\n[actors.turkey]\ndeterrence = 1.7\n')
    assert problems_of(variant) == [f"{variant}: actors.turkey.deterrence: 1.7 is above the maximum 1.0"]


def test_diff_lists_exactly_the_changed_keys_with_both_values(tmp_path):
    write(tmp_path, "base.toml", MINI)
    variant = write(tmp_path, "variant.toml", 'base = "base.toml"\nname = "variant"\n'
                    '[actors.turkey]\ndeterrence = 0.4\n[processes.economy]\nsanctions = 0.9\n')
    rows = diff(load_scenario(tmp_path / "base.toml"), load_scenario(variant))
    assert rows == [("actors.turkey.deterrence", 0.75, 0.4), ("name", "mini", "variant"),
                    ("processes.economy.sanctions", 0.7, 0.9)]


def test_diff_of_a_scenario_with_itself_is_empty(tmp_path):
    s = load_scenario(write(tmp_path, "mini.toml", MINI))
    assert diff(s, s) == []


def test_diff_shows_default_that_a_variant_overrides(tmp_path):
    write(tmp_path, "base.toml", MINI)
    variant = write(tmp_path, "variant.toml", 'base = "base.toml"\n[actors.turkey]\nrestraint = 0.3\n')
    assert diff(load_scenario(tmp_path / "base.toml"), load_scenario(variant)) == [
        ("actors.turkey.restraint", 0.8, 0.3)]


# --- get_path and with_value --------------------------------------------------------------------

def test_get_path_reads_nested_values(tmp_path):
    data = resolved_dict(load_scenario(write(tmp_path, "mini.toml", MINI)))
    assert get_path(data, "actors.turkey.deterrence") == 0.75
    assert get_path(data, "processes.economy.affects") == ["regime"]
    assert get_path(data, "horizon_months") == 24


@pytest.mark.parametrize("key, expected", [
    ("actors.turkey.deterence",
     "'actors.turkey.deterence' does not exist: no 'deterence' in actors.turkey; did you mean 'deterrence'?"),
    ("horizon_month",
     "'horizon_month' does not exist: no 'horizon_month' in the scenario; did you mean 'horizon_months'?"),
    ("actors.turky.deterrence",
     "'actors.turky.deterrence' does not exist: no 'turky' in actors; did you mean 'turkey'?"),
    ("dynamics.ofensive_rate_covered",
     "'dynamics.ofensive_rate_covered' does not exist: no 'ofensive_rate_covered' in dynamics; "
     "did you mean 'offensive_rate_covered'?"),
])
def test_get_path_unknown_key_error_has_a_suggestion(tmp_path, key, expected):
    data = resolved_dict(load_scenario(write(tmp_path, "mini.toml", MINI)))
    with pytest.raises(KeyError) as exc:
        get_path(data, key)
    assert exc.value.args[0] == expected


def test_get_path_through_a_leaf_value_is_a_key_error(tmp_path):
    data = resolved_dict(load_scenario(write(tmp_path, "mini.toml", MINI)))
    with pytest.raises(KeyError) as exc:
        get_path(data, "actors.turkey.deterrence.x")
    assert exc.value.args[0].startswith("'actors.turkey.deterrence.x' does not exist: no 'x' in actors.turkey.deterrence")


def test_with_value_changes_only_the_given_paths_and_returns_a_validated_copy(tmp_path):
    s = load_scenario(write(tmp_path, "mini.toml", MINI))
    t = with_value(s, {"actors.turkey.deterrence": 0.2, "dynamics.halt_rate": 3.0, "horizon_months": 12})
    assert isinstance(t, Scenario)
    assert (t.actors["turkey"].deterrence, t.dynamics.halt_rate, t.horizon_months) == (0.2, 3.0, 12)
    assert s.actors["turkey"].deterrence == 0.75  # the original is untouched
    assert diff(s, t) == [("actors.turkey.deterrence", 0.75, 0.2), ("dynamics.halt_rate", 2.0, 3.0),
                          ("horizon_months", 24, 12)]


def test_with_value_of_the_same_values_is_an_equal_scenario(tmp_path):
    s = load_scenario(write(tmp_path, "mini.toml", MINI))
    assert with_value(s, {"actors.turkey.deterrence": 0.75}) == s


def test_with_value_unknown_path_is_a_key_error_with_suggestion(tmp_path):
    s = load_scenario(write(tmp_path, "mini.toml", MINI))
    with pytest.raises(KeyError) as exc:
        with_value(s, {"actors.turkey.deterence": 0.5})
    assert "did you mean 'deterrence'?" in exc.value.args[0]
    with pytest.raises(KeyError) as exc:
        with_value(s, {"actors.turky.deterrence": 0.5})
    assert "did you mean 'turkey'?" in exc.value.args[0]


def test_with_value_out_of_range_is_an_input_error(tmp_path):
    s = load_scenario(write(tmp_path, "mini.toml", MINI))
    with pytest.raises(InputError) as exc:
        with_value(s, {"actors.turkey.deterrence": 1.5})
    assert exc.value.problems == ["mini: actors.turkey.deterrence: 1.5 is above the maximum 1.0"]


def test_validate_raw_of_a_resolved_dict_round_trips(tmp_path):
    s = load_scenario(write(tmp_path, "mini.toml", MINI))
    assert validate_raw(resolved_dict(s), "again") == s


# --- ceasefire validate ---------------------------------------------------------------------------

def test_bundled_scenarios_exist_and_all_validate(capsys):
    assert len(BUNDLED) >= 2, BUNDLED
    assert main(["validate", *map(str, BUNDLED)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    # the kinds are told apart by their keys: the calibrated rates are a fragment, the rest scenarios
    fragments = sum(1 for p in BUNDLED if p.name.startswith("calibrated_"))
    kinds = [f"{len(BUNDLED) - fragments} scenarios"]
    if fragments:
        kinds.append(f"{fragments} parameter fragment{'s' if fragments > 1 else ''}")
    assert out.strip() == f"{len(BUNDLED)} file(s) valid: {', '.join(kinds)}"


def test_validate_bad_file_exit_2_one_line_per_problem(tmp_path, capsys):
    path = write(tmp_path, "bad.toml",
                 mutated("deterrence = 0.75", "deterrence = 1.7", mutated("ambition = 0.8", "ambition = -1")))
    assert main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"{path}: actors.turkey.deterrence: 1.7 is above the maximum 1.0",
                                f"{path}: actors.regime.ambition: -1 is below the minimum 0.0"]


def test_validate_several_bad_files_reports_all_their_problems(tmp_path, capsys):
    good = write(tmp_path, "good.toml", MINI)
    bad1 = write(tmp_path, "bad1.toml", mutated("deterrence = 0.75", "deterence = 0.75"))
    bad2 = write(tmp_path, "bad2.toml", mutated('backs = ["regime"]', 'backs = ["assad"]'))
    missing = tmp_path / "missing.toml"
    assert main(["validate", str(bad1), str(good), str(bad2), str(missing)]) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert sorted(lines) == sorted([
        f"{bad1}: actors.turkey.deterence: unknown key; did you mean 'deterrence'?",
        f"{bad1}: actors.turkey.deterrence: required key is missing",
        f"{bad2}: actors.russia.backs: 'assad' is not a declared actor {DECLARED}",
        f"{missing}: no such file",
    ])
    assert not any(str(good) in line for line in lines)
    assert "valid" not in out
