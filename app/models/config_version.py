"""Every saved change to the hall's live configuration, kept whole: the version history an admin browses."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import SQLModel

from app.models.fields import internal, public


class ConfigVersion(SQLModel, table=True):
    """One saved version of one configured thing (a service, a window, a zone, a workflow, the hall rules).

    `data` is the thing as saved (the hall-description shape, so a version can be exported or restored);
    `version` counts per (hall, kind, subject) from 1.
    """

    __tablename__ = 'config_version'
    __table_args__ = (UniqueConstraint('hall_id', 'kind', 'subject', 'version'),)
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = internal(foreign_key='hall.id', index=True)
    kind: str = public(max_length=16)  # service / window / zone / workflow / rules / import
    subject: str = public(max_length=64)  # the code or number of what changed ('' for hall-wide things)
    version: int = public()
    data: dict[str, Any] = internal(default_factory=dict, sa_type=JSON)
    actor: str = internal(max_length=64)
    created_at: dt.datetime = internal()
