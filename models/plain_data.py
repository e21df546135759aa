"""Dataclasses from plain data (JSON objects, TOML tables), checked on the way in: the one validator behind the
generator's config (`model.json`, models.config) and the trainer's config (TOML, trainer.config).

Unknown and missing keys are named; every value is checked against its field's annotation (bool, int, float, str,
`X | None`, list[...], tuple[..., ...], dict, nested dataclasses); an int may stand for a float. Range checks stay
with the dataclasses themselves (`__post_init__`, `validate()`).
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def dataclass_from_dict(cls: type[T], data: Any, where: str = "", error: type[Exception] = ValueError) -> T:
    """An instance of the dataclass `cls` from `data`; raises `error` naming the key (`where` prefixes it)."""
    label = where or "config"
    if not isinstance(data, dict):
        raise error(f"{label} must be a table (an object of keys and values), got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise error(f"{label}: unknown key(s) {unknown}; known: {sorted(known)}")
    missing = sorted(
        name for name, f in known.items() if name not in data and f.default is MISSING and f.default_factory is MISSING
    )
    if missing:
        raise error(f"{label}: missing key(s) {missing}")
    kwargs = {name: _checked(value, hints[name], f"{where}.{name}" if where else name, error) for name, value in data.items()}
    return cls(**kwargs)


def _checked(value: Any, annotation: Any, where: str, error: type[Exception]) -> Any:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _checked(value, inner, where, error)
    if isinstance(annotation, type) and is_dataclass(annotation):
        return dataclass_from_dict(annotation, value, where, error)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise error(f"{where} must be a list, got {type(value).__name__}")
        items = [_checked(v, args[0], f"{where}[{i}]", error) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise error(f"{where} must be a table, got {type(value).__name__}")
        return dict(value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise error(f"{where} must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise error(f"{where} must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise error(f"{where} must be a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise error(f"{where} must be a string, got {value!r}")
        return value
    raise TypeError(f"{where}: no check for the annotation {annotation}")  # a programming error, not the input's
