"""Row objects built the way the ORM builds a loaded row, for the hot paths that write them with a Core INSERT.

SQLModel's `__init__` of a table model validates nothing; it sets field after field through the instrumented
attributes (about 50 us a ticket, 20 us an audit row), which only a row the session tracks needs. A ticket taken
and an audit row are written by a Core INSERT and never added to a session: `new_row` gives them their values
and every other field's default directly, as a loaded row gets them. The rows a call or a complete locks are read
the same way: a Core SELECT of their tables' columns (`columns_of`), each row built by `loaded` (no ORM loading,
no identity map: they are written by Core UPDATEs, app/services/queue_core.py `write_row`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from pydantic.fields import FieldInfo
from sqlalchemy import Column
from sqlalchemy.orm import class_mapper
from sqlmodel import SQLModel

Row = TypeVar('Row', bound=SQLModel)


@cache
def _fields(model: type[SQLModel]) -> tuple[frozenset[str], tuple[tuple[str, FieldInfo], ...]]:
    """The model's required field names, and its other fields with their FieldInfo (for their defaults)."""
    fields = model.model_fields.items()
    required = frozenset(name for name, field in fields if field.is_required())
    return required, tuple((name, field) for name, field in fields if not field.is_required())


def new_row(model: type[Row], **values: Any) -> Row:
    """A transient `model` row holding `values` and the defaults of the fields not given (a new default per row)."""
    required, optional = _fields(model)
    if not required <= values.keys():
        raise TypeError(f'{model.__name__} needs {", ".join(sorted(required - values.keys()))}')
    row: Row = class_mapper(model).class_manager.new_instance()
    fields = row.__dict__
    for name, field in optional:
        if name not in values:
            fields[name] = field.get_default(call_default_factory=True)
    fields.update(values)
    object.__setattr__(row, '__pydantic_fields_set__', set(values))
    return row


@cache
def _column_names(model: type[SQLModel]) -> tuple[str, ...]:
    return tuple(column.key for column in model.__table__.columns)  # type: ignore[attr-defined]


def columns_of(*models: type[SQLModel]) -> list[Column[Any]]:
    """Every column of the models' tables, table after table: what a Core SELECT lists for `loaded`."""
    return [column for model in models for column in model.__table__.columns]  # type: ignore[attr-defined]


def loaded(model: type[Row], values: Sequence[Any], start: int = 0) -> Row:
    """The `model` row whose columns are `values[start:]` in their table's order (a row of `columns_of`)."""
    names = _column_names(model)
    return new_row(model, **dict(zip(names, values[start : start + len(names)], strict=True)))


def width(model: type[SQLModel]) -> int:
    """How many of a `columns_of` row's values are `model`'s (where the next model's start)."""
    return len(_column_names(model))
