"""Declaring a numeric scenario parameter: range, unit and source claim in one place.

Every numeric field of the scenario schema is made with :func:`param`, so the schema itself is the
parameter table that MODEL.md, ``ceasefire params`` and the reports print.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field


def param(default: Any, *, ge: float, le: float, unit: str, source: str, doc: str) -> Any:
    """A pydantic field with a closed range, a unit and the document claim it represents.

    ``default=...`` makes the field required.
    """
    return Field(
        default,
        ge=ge,
        le=le,
        description=doc,
        json_schema_extra={"unit": unit, "source": source, "minimum": ge, "maximum": le},
    )


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
    }
