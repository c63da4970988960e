"""Declaring a numeric scenario parameter: range, unit and source claim in one place.

Every numeric field of the scenario schema is made with :func:`param`, so the schema itself is the
parameter table that MODEL.md, ``ceasefire params`` and the reports print.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field


def param(default: Any, *, ge: float, le: float, unit: str, source: str, doc: str,
          prior: tuple[str, float, float] | None = None) -> Any:
    """A pydantic field with a closed range, a unit and the claim it represents.

    ``default=...`` makes the field required. ``prior`` = (scale, low, high), scale "linear" or "log",
    marks a parameter a calibration may fit and gives the default prior it starts from.
    """
    extra = {"unit": unit, "source": source, "minimum": ge, "maximum": le}
    if prior is not None:
        scale, low, high = prior
        if scale not in ("linear", "log") or not ge <= low < high <= le:
            raise ValueError(f"prior {prior} must be ('linear' or 'log', low, high) inside [{ge}, {le}]")
        extra["prior"] = [scale, low, high]
    return Field(default, ge=ge, le=le, description=doc, json_schema_extra=extra)


def field_info(model_cls: type, name: str) -> dict[str, Any]:
    """Unit, range, source and description of one numeric field, for tables and reports."""
    info = model_cls.model_fields[name]
    extra = info.json_schema_extra or {}
    return {
        "unit": extra.get("unit", ""),
        "source": extra.get("source", ""),
        "minimum": extra.get("minimum"),
        "maximum": extra.get("maximum"),
        "doc": info.description or "",
        "prior": extra.get("prior"),
    }


def path_info(path: str, scenario: dict[str, Any] | None = None) -> dict[str, Any]:
    """:func:`field_info` of the numeric parameter at a key path such as ``actors.turkey.deterrence``.

    Walks the scenario schema generically (actors are looked up by their ``role`` in ``scenario``, a
    resolved scenario dict or a Scenario), so it follows the schema as it changes. Raises KeyError
    if the path does not name a field.
    """
    from pydantic import BaseModel

    from sim.schema import ROLE_CLASSES, Scenario
    if isinstance(scenario, BaseModel):
        scenario = scenario.model_dump(mode="python")
    parts = path.split(".")
    cls: type = Scenario
    node: Any = scenario or {}
    i = 0
    while i < len(parts):
        part = parts[i]
        if cls is Scenario and part == "actors" and i + 1 < len(parts):
            actor = (node.get("actors") or {}).get(parts[i + 1]) if isinstance(node, dict) else None
            role = actor.get("role") if isinstance(actor, dict) else None
            if role not in ROLE_CLASSES:
                raise KeyError(f"'{path}': no actor '{parts[i + 1]}' with a known role")
            cls, node, i = ROLE_CLASSES[role], actor, i + 2
            continue
        if part not in getattr(cls, "model_fields", {}):
            raise KeyError(f"'{path}': no field '{part}'")
        if i == len(parts) - 1:
            return {**field_info(cls, part), "path": path}
        annotation = cls.model_fields[part].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            raise KeyError(f"'{path}': '{part}' is not a table")
        cls, node, i = annotation, node.get(part, {}) if isinstance(node, dict) else {}, i + 1
    raise KeyError(f"'{path}': not a parameter")
