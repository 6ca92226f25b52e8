"""The hall description's JSON schema, generated from the specs that validate it (docs/hall-description.schema.json).

One object whose properties are the folder's files, so an editor can check each file against its part.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.services.assistant_vocabulary import Vocabulary
from seed.department_records import PersonRecords
from seed.schema import DepartmentSpec, DeviceSpec, HallSpec, ServiceSpec, StaffSpec, WindowSpec


class HallDescription(BaseModel):
    """A hall description folder: one YAML file per property; staff, devices, department records and the
    assistant's vocabulary are optional."""

    model_config = ConfigDict(extra='forbid', title='HallTwin hall description')

    hall: HallSpec = Field(alias='hall.yaml')
    departments: list[DepartmentSpec] = Field(alias='departments.yaml')
    services: list[ServiceSpec] = Field(alias='services.yaml')
    windows: list[WindowSpec] = Field(alias='windows.yaml')
    staff: list[StaffSpec] = Field(default_factory=list, alias='staff.yaml')
    devices: list[DeviceSpec] = Field(default_factory=list, alias='devices.yaml')
    department_records: list[PersonRecords] = Field(default_factory=list, alias='department_records.yaml')
    assistant: Vocabulary = Field(default_factory=Vocabulary, alias='assistant.yaml')


def hall_description_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the whole folder."""
    schema = HallDescription.model_json_schema(by_alias=True)
    return {'$schema': 'https://json-schema.org/draft/2020-12/schema', **schema}
