"""What a client may send to create or change keys and projects: validated once, for the API and the CLI."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from enclave.access.keys import Project
from enclave.access.roles import Role
from enclave.config import DataClass, TrustZone

PROJECT_NAME = r"^[A-Za-z0-9._-]+$"
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"


class KeySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=128, pattern=_PRINTABLE)]
    role: Role
    project: Annotated[str | None, Field(min_length=1, max_length=64, pattern=PROJECT_NAME)] = None
    expires_in_days: Annotated[float | None, Field(gt=0, le=36_500, allow_inf_nan=False)] = None
    rpm: Annotated[int | None, Field(ge=1)] = None
    tpm: Annotated[int | None, Field(ge=1)] = None


class ProjectSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_class: DataClass | None = None
    allowed_models: list[Annotated[str, Field(min_length=1, max_length=128)]] | None = None
    allowed_zones: list[TrustZone] | None = None
    rpm: Annotated[int | None, Field(ge=1)] = None
    tpm: Annotated[int | None, Field(ge=1)] = None
    monthly_budget: Annotated[float | None, Field(ge=0, allow_inf_nan=False)] = None
    budget_action: Literal["block", "warn"] = "block"
    retention_days: Annotated[int, Field(ge=0, le=3650)] = 0


class ProjectSpec(ProjectSettings):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=PROJECT_NAME)]

    def project(self) -> Project:
        return Project(
            self.name,
            self.data_class,
            tuple(self.allowed_models) if self.allowed_models is not None else None,
            tuple(self.allowed_zones) if self.allowed_zones is not None else None,
            self.rpm,
            self.tpm,
            self.monthly_budget,
            self.budget_action,
            self.retention_days,
        )


class ProjectChanges(ProjectSettings):
    """Only the fields sent are changed (``null`` clears a limit)."""

    @model_validator(mode="after")
    def _something(self) -> ProjectChanges:
        if not self.model_fields_set:
            raise ValueError("nothing to change")
        return self

    def changes(self) -> dict[str, object]:
        return self.model_dump(include=self.model_fields_set)
