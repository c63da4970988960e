"""Scenario files: TOML loading, ``base`` inheritance, validation messages, key paths and diffs."""

from __future__ import annotations

import copy
import datetime
import difflib
import hashlib
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.errors import InputError  # noqa: F401  (raised here, and imported from here by most modules)
from sim.filekinds import wrong_kind
from sim.limits import (MAX_BASE_DEPTH, MAX_BASE_FILES, MAX_PROBLEMS_FORMATTED, FileRefused, depth_problem,
                        nesting_problem, read_text, slug_problem)
from sim.schema import ROLE_CLASSES, Distribution, Event, Scenario, actor_class, roles_in


def read_toml(path: Path, referrer: str | None = None) -> dict[str, Any]:
    """The parsed table of a small regular TOML file (``sim.limits``); ``referrer`` ("file: key")
    names who points at ``path`` in the message when the file itself cannot be read."""
    return parse_toml(read_input(path, referrer), path)


def read_input(path: Path, referrer: str | None = None) -> str:
    """The text of an input file, refused with one message unless it is a small regular UTF-8 file."""
    try:
        return read_text(path)
    except FileRefused as exc:
        where = f"{referrer}: '{path}'" if referrer else f"{path}:"
        raise InputError([f"{where} {exc.reason}"]) from None


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    nesting = nesting_problem(text)
    if nesting:
        raise InputError([f"{path}: {nesting}"])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError([f"{path}: not valid TOML: {exc}"]) from None
    except RecursionError:
        raise InputError([f"{path}: nested too deeply to be read"]) from None
    deep = depth_problem(data)
    if deep:
        raise InputError([f"{path}: {deep}"])
    return data


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value (arrays included) replaces the base's."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve_inheritance(path: Path, _chain: tuple[Path, ...] = (), _budget: list[int] | None = None,
                        _referrer: str | None = None) -> dict[str, Any]:
    """The scenario's raw table with every ``base`` file merged underneath it.

    Chains are at most ``MAX_BASE_DEPTH`` files long and one scenario reads at most ``MAX_BASE_FILES``
    files in all (a diamond of bases that each list two bases would otherwise double at every level).
    """
    path = Path(path)
    real = Path(os.path.realpath(path))  # Path.resolve() raises RuntimeError on a symlink loop
    if real in _chain:
        cycle = " -> ".join(str(p) for p in (*_chain, real))
        raise InputError([f"{path}: base: inheritance cycle: {cycle}"])
    budget = [MAX_BASE_FILES] if _budget is None else _budget
    budget[0] -= 1
    if budget[0] < 0:
        raise InputError([f"{_referrer or path}: base: the inheritance reads more than {MAX_BASE_FILES} files; "
                          f"a scenario may inherit from at most {MAX_BASE_FILES} files in all"])
    raw = read_toml(path, _referrer)
    if not _chain:
        other_kind = wrong_kind(raw, "scenario", path)
        if other_kind:
            raise InputError([other_kind])
    if isinstance(raw.get("posterior"), str):  # a posterior file is named relative to the file naming it
        raw["posterior"] = str((path.parent / raw["posterior"]).resolve())
    base_ref = raw.pop("base", None)
    if base_ref is None:
        return raw
    refs = base_ref if isinstance(base_ref, list) else [base_ref]
    if not refs or not all(isinstance(r, str) for r in refs):
        raise InputError([f"{path}: base: must be a file name or a list of file names, got {_short(base_ref)}"])
    if len(_chain) + 1 >= MAX_BASE_DEPTH:
        raise InputError([f"{path}: base: the inheritance chain is more than {MAX_BASE_DEPTH} files deep "
                          f"(from {_chain[0] if _chain else real}); chains of base files are at most "
                          f"{MAX_BASE_DEPTH} long"])
    merged: dict[str, Any] = {}
    for i, ref in enumerate(refs):  # later bases override earlier ones; the file itself overrides them all
        base_path = path.parent / ref
        key = "base" if isinstance(base_ref, str) else f"base[{i}]"
        if not os.path.lexists(base_path):  # beside the file first, then a bundled scenario of that name
            from sim.bundled import bundled
            base_path = bundled(ref, "scenarios") or base_path
        if not os.path.lexists(base_path):
            raise InputError([f"{path}: {key}: '{ref}' not found (looked for {path.parent / ref})"])
        merged = deep_merge(merged, resolve_inheritance(base_path, (*_chain, real), budget, f"{path}: {key}"))
    return deep_merge(merged, raw)


def _short(value: Any) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _model_at(loc: tuple, data: dict[str, Any]) -> type[BaseModel] | None:
    """The schema class that owns the key at ``loc`` (for 'did you mean' suggestions)."""
    cls: type[BaseModel] | None = Scenario
    node: Any = data
    parts = list(loc[:-1])
    i = 0
    while i < len(parts) and cls is not None:
        part = parts[i]
        if cls is Scenario and part in ("actors", "events") and i + 1 < len(parts):
            table = node.get(part) if isinstance(node, dict) else None
            entry = table.get(parts[i + 1]) if isinstance(table, dict) else None
            entry = entry if isinstance(entry, dict) else {}
            if part == "actors":
                roles = roles_in(entry)
                cls = actor_class(roles) if roles and all(r in ROLE_CLASSES for r in roles) else None
            else:
                cls = Event
            node, i = entry, i + 2
            continue
        field = cls.model_fields.get(str(part))
        ann = field.annotation if field else None
        cls = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        node = node.get(part, {}) if isinstance(node, dict) else {}
        i += 1
    return cls


def format_error(err: dict[str, Any], data: dict[str, Any]) -> str:
    # Discriminated unions add the role tag to the location; readers know the key, not the tag.
    loc = tuple(p for i, p in enumerate(err["loc"])
                if not (i == 2 and err["loc"][0] == "actors" and p in ROLE_CLASSES))
    path = ".".join(str(p) for p in loc) or "(top level)"
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx", {})
    if kind == "extra_forbidden":
        cls = _model_at(loc, data)
        allowed = sorted(k for k in cls.model_fields) if cls else []
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        msg = "unknown key"
        if hint:
            msg += f"; did you mean '{hint[0]}'?"
        elif allowed:
            msg += f"; allowed keys: {', '.join(allowed)}"
        return f"{path}: {msg}"
    if kind in ("less_than_equal", "less_than"):
        return f"{path}: {value} is above the maximum {ctx.get('le', ctx.get('lt'))}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{path}: {value} is below the minimum {ctx.get('ge', ctx.get('gt'))}"
    if kind == "missing":
        return f"{path}: required key is missing"
    if kind == "union_tag_invalid":
        return f"{path}: role '{ctx.get('tag')}' is not one of {', '.join(sorted(ROLE_CLASSES))}"
    if kind == "union_tag_not_found":
        return f"{path}.role: required key is missing (one of {', '.join(sorted(ROLE_CLASSES))})"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if value is not None and not isinstance(value, dict) and kind not in ("value_error",):
        return f"{path}: {value!r}: {msg}"
    return f"{path}: {msg}"


def validate_raw(raw: dict[str, Any], source: str) -> Scenario:
    """Validate a merged raw table, turning every problem into one line naming the file."""
    scenario = _validate_model(raw, source)
    problems = [f"{source}: {p}" for p in _event_problems(scenario)]
    if problems:
        raise InputError(problems)
    return scenario


def _validate_model(raw: dict[str, Any], source: str) -> Scenario:
    early = _raw_problems(raw)
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{source}: {line}" for line in early.values()]
        errors = [err for err in exc.errors() if _loc_text(err["loc"]) not in early]
        for err in errors[:MAX_PROBLEMS_FORMATTED]:
            line = format_error(err, raw)
            if err["type"] == "value_error":
                path, _, message = line.partition(": ")
                for part in message.split("; "):
                    # "field: message" from a table's own validator names a key inside that table
                    head, sep, rest = part.partition(": ")
                    if sep and path != "(top level)" and re.fullmatch(r"[A-Za-z_][\w.]*", head):
                        problems.append(f"{source}: {path}.{head}: {rest}")
                    elif path == "(top level)":
                        problems.append(f"{source}: {part}")
                    else:
                        problems.append(f"{source}: {path}: {part}")
            else:
                problems.append(f"{source}: {line}")
        raise InputError(problems, more=max(0, len(errors) - MAX_PROBLEMS_FORMATTED)) from None
    if early:
        raise InputError([f"{source}: {line}" for line in early.values()])
    return scenario


def _loc_text(loc: tuple) -> str:
    return ".".join(str(p) for p in loc if p not in ROLE_CLASSES)


def _raw_problems(raw: dict[str, Any]) -> dict[str, str]:
    """Problems pydantic would let through, by key path: a number where a date is expected (read as
    seconds since 1970), a name or conflict that is not a safe file name."""
    problems = {}
    dates = [("start", raw.get("start"))]
    events = raw.get("events")
    if isinstance(events, dict):
        dates += [(f"events.{k}.at", e.get("at")) for k, e in events.items() if isinstance(e, dict)]
    for key, value in dates:
        # a date, or its ISO text (resolved scenarios in JSON); a number would be read as seconds since 1970
        if isinstance(value, (bool, int, float, datetime.datetime, datetime.time)):
            problems[key] = (f"{key}: {_short(value)}: must be a valid TOML date such as 2020-03-05, written "
                             f"without quotes")
    bad_name = slug_problem(raw.get("name"))
    if bad_name:
        problems["name"] = f"name: {bad_name}"
    # a case's conflict names the calibration's posterior files (posterior_<conflict>.csv)
    bad_conflict = slug_problem(raw.get("conflict")) if raw.get("conflict") != "" else None
    if bad_conflict:
        problems["conflict"] = f"conflict: {bad_conflict}"
    return problems


def _event_problems(scenario: Scenario) -> list[str]:
    """Each event key path must name a numeric parameter, and its new value must be in range."""
    problems = []
    base = scenario.model_dump(mode="python")
    for key, dist in scenario.uncertain.items():
        problems += _numeric_key_problems(scenario, base, f"uncertain.{key}", key, dist)
    for name, event in scenario.events.items():
        if event.at is not None and scenario.event_month(event) < 0:
            problems.append(f"events.{name}.at: {event.at} is before the scenario start {scenario.start}")
        for key, value in event.set.items():
            where = f"events.{name}.set.{key}"
            if key.split(".")[0] not in ("actors", "processes", "dynamics"):
                problems.append(f"{where}: events can change the numeric parameters of actors, processes and "
                                f"dynamics, not '{key.split('.')[0]}'")
                continue
            try:
                current = get_path(base, key)
            except KeyError as exc:
                problems.append(f"{where}: {exc.args[0]}")
                continue
            if isinstance(current, bool) or not isinstance(current, (int, float)):
                problems.append(f"{where}: not a numeric parameter")
                continue
            if key.rsplit(".", 1)[-1] in NOT_SCHEDULABLE:
                problems.append(f"{where}: {NOT_SCHEDULABLE[key.rsplit('.', 1)[-1]]}")
                continue
            for v in (value.bounds if isinstance(value, Distribution) else (value,)):
                try:
                    with_value(scenario, {key: v})
                except InputError as exc:
                    problems.extend(f"{where}: " + p.split(": ", 2)[-1] for p in exc.problems)
    return problems


def _numeric_key_problems(scenario: Scenario, base: dict, where: str, key: str, dist: Distribution) -> list[str]:
    """An uncertain setting must name a numeric parameter, and its range must lie inside the allowed one."""
    if key.split(".")[0] not in ("actors", "processes", "dynamics", "agreement"):
        return [f"{where}: uncertain settings are numeric parameters of actors, processes, dynamics or the "
                f"agreement, not '{key.split('.')[0]}'"]
    try:
        current = get_path(base, key)
    except KeyError as exc:
        return [f"{where}: {exc.args[0]}"]
    if isinstance(current, bool) or not isinstance(current, float):
        return [f"{where}: not a numeric parameter that can take any value in a range (counts and flags cannot)"]
    problems = []
    for v in dist.bounds:
        try:
            with_value(scenario, {key: v})
        except InputError as exc:
            problems.extend(f"{where}: " + p.split(": ", 2)[-1] for p in exc.problems)
    return problems


# Parameters read only when the model is built: an event changing them would silently do nothing.
NOT_SCHEDULABLE = {
    "initial": "a starting value cannot be changed by an event (change 'mean' instead)",
    "initial_stress": "a starting value cannot be changed by an event (change 'sanctions' instead)",
    "sustain_days": "the collapse threshold is fixed for the whole run",
    "case_frailty_sd": "a ceasefire's frailty is drawn once, at signing",
}


FRAGMENT_TABLES = {"dynamics", "processes", "posterior"}


def is_fragment(path: str | Path) -> bool:
    """A parameter file meant only to be inherited: global tables, no name (e.g. calibrated rates)."""
    raw = read_toml(Path(path))
    return "name" not in raw and bool(raw) and set(raw) <= FRAGMENT_TABLES


def validate_fragment(path: str | Path) -> None:
    """Check a parameter fragment's tables against the schema."""
    from sim.schema import Dynamics, Processes
    path = Path(path)
    raw = read_toml(path)
    problems = []
    for key, cls in (("dynamics", Dynamics), ("processes", Processes)):
        if key in raw:
            try:
                cls.model_validate(raw[key])
            except ValidationError as exc:
                problems += [f"{path}: {format_error({**err, 'loc': (key, *err['loc'])}, raw)}"
                             for err in exc.errors()]
    if problems:
        raise InputError(problems)


def load_scenario(path: str | Path) -> Scenario:
    """Read, inherit and validate a scenario file. Raises :class:`InputError` on any problem.

    ``path`` is tried as a path first, then as the name of a bundled scenario (``idlib_2020_moscow``).
    """
    from sim.bundled import locate
    path = locate(path, "scenarios")
    return validate_raw(resolve_inheritance(path), str(path))


def get_path(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    walked = []
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            options = sorted(node) if isinstance(node, dict) else []
            hint = difflib.get_close_matches(part, options, n=1)
            where = ".".join(walked) or "the scenario"
            msg = f"'{key}' does not exist: no '{part}' in {where}"
            if hint:
                msg += f"; did you mean '{hint[0]}'?"
            raise KeyError(msg)
        node = node[part]
        walked.append(part)
    return node


def with_value(scenario: Scenario, changes: dict[str, float]) -> Scenario:
    """A validated copy of the scenario with some numeric key paths changed."""
    data = scenario.model_dump(mode="python")
    for key, value in changes.items():
        parts = key.split(".")
        parent = get_path(data, ".".join(parts[:-1])) if len(parts) > 1 else data
        get_path(data, key)
        parent[parts[-1]] = value
    return _validate_model(data, scenario.name)


def resolved_dict(scenario: Scenario, portable: bool = True) -> dict[str, Any]:
    """The scenario after inheritance as plain data. ``portable``: the posterior file by name only, so that
    manifests, hashes and diffs do not depend on where the repository is checked out."""
    data = scenario.model_dump(mode="json", exclude_none=True)
    if portable and data.get("posterior"):
        data["posterior"] = Path(data["posterior"]).name
    return data


def scenario_sha256(scenario: Scenario) -> str:
    canonical = json.dumps(resolved_dict(scenario), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Key path -> leaf value, for diffs and parameter tables."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def diff(a: Scenario, b: Scenario) -> list[tuple[str, Any, Any]]:
    """Parameters that differ after inheritance: (key path, value in a, value in b)."""
    fa, fb = flatten(resolved_dict(a)), flatten(resolved_dict(b))
    rows = []
    for key in sorted(set(fa) | set(fb)):
        va, vb = fa.get(key), fb.get(key)  # absent and None mean the same: not set
        if va != vb:
            rows.append((key, va, vb))
    return rows
