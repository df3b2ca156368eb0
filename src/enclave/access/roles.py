"""Roles and what each may do. One table, checked in one place (``Principal.require``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

Role = Literal["admin", "developer", "viewer", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)


class Permission(StrEnum):
    INFER = "infer"  # chat and text completions, embeddings, model list, guard scan
    READ_USAGE = "read_usage"  # usage summaries and metrics
    READ_AUDIT = "read_audit"  # the audit log and its verification
    MANAGE = "manage"  # keys and projects


GRANTS: dict[Role, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "developer": frozenset({Permission.INFER}),
    "viewer": frozenset({Permission.READ_USAGE}),
    "auditor": frozenset({Permission.READ_AUDIT}),
}
