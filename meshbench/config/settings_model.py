"""The base of every scenario model: frozen, no unknown fields, no NaN or infinity, and
no booleans where numbers belong (``connections: true`` is a mistake, not 1)."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, model_validator


def _is_number_type(annotation: Any) -> bool:
    """int or float, optionally in a union with None or as a tuple's items."""
    if annotation in (int, float):
        return True
    args = [a for a in get_args(annotation) if a is not type(None) and a is not Ellipsis]
    return bool(args) and all(_is_number_type(a) for a in args)


class SettingsModel(BaseModel):
    """A validated, frozen part of a scenario."""

    # NaN and infinity are never a meaningful setting (a NaN rate passed every check and
    # failed only after every mesh was deployed)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_as_numbers(cls, data: Any) -> Any:
        """``connections: true`` is a mistake, not 1: refuse booleans in number fields."""
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                value = data.get(name)
                values = value if isinstance(value, list | tuple) else [value]
                if any(isinstance(v, bool) for v in values) and _is_number_type(field.annotation):
                    raise ValueError(f"{name}: {value!r} is a boolean where a number belongs")
        return data
