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
