"""Every column declares its sensitivity once, next to the field (docs/privacy.md is checked against it)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlmodel import Field


class Sensitivity(StrEnum):
    PUBLIC = 'public'
    INTERNAL = 'internal'
    PERSONAL = 'personal'
    SENSITIVE = 'sensitive-personal'


def classified(level: Sensitivity, *, protection: str = '', **kwargs: Any) -> Any:
    """A SQLModel Field whose column carries `info['sensitivity']`, and `info['protection']` when the column is
    protected otherwise than its level and name say (docs/privacy.md prints it)."""
    column_kwargs = dict(kwargs.pop('sa_column_kwargs', None) or {})
    column_kwargs['info'] = {**column_kwargs.get('info', {}), 'sensitivity': level.value}
    if protection:
        column_kwargs['info']['protection'] = protection
    return Field(sa_column_kwargs=column_kwargs, **kwargs)


def public(**kwargs: Any) -> Any:
    return classified(Sensitivity.PUBLIC, **kwargs)


def internal(**kwargs: Any) -> Any:
    return classified(Sensitivity.INTERNAL, **kwargs)


def personal(**kwargs: Any) -> Any:
    return classified(Sensitivity.PERSONAL, **kwargs)


def sensitive(**kwargs: Any) -> Any:
    return classified(Sensitivity.SENSITIVE, **kwargs)
