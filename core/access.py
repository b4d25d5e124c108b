"""Who is asking, and which patients that viewer may see. Every repository that reads patient
data composes :func:`visible_patients` into its SQL, so team scoping holds whatever route, task or
command calls it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from psycopg import sql

Role = Literal["nurse", "clinician", "admin", "manager"]
ROLE_RANK: dict[str, int] = {"manager": 0, "nurse": 1, "clinician": 2, "admin": 3}
"""A manager ranks below a nurse: she may call no operation that needs a care role."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Viewer:
    user_id: int | None
    username: str
    role: Role
    team_ids: tuple[int, ...]
    platform: bool = False
    """The platform itself (gateway, scheduled tasks, the operator's command line): not a person,
    bound to no team. Every person, admins included, sees only the patients of her teams."""

    def at_least(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def team_key(self) -> tuple[int, ...] | None:
        """What the viewer's visibility depends on, for caches shared between viewers: the team
        ids, None for the platform."""
        if self.platform:
            return None
        return () if self.reads_aggregates_only else self.team_ids

    @property
    def reads_aggregates_only(self) -> bool:
        """A manager (issue #19) sees the outcomes' aggregates and no patient, whatever her
        teams."""
        return self.role == "manager"


SYSTEM = Viewer(user_id=None, username="system", role="admin", team_ids=(), platform=True)
"""The platform itself (gateway, scheduled tasks, command line)."""


def visible_patients(viewer: Viewer, *, patient: str = "p") -> sql.Composable:
    """The SQL condition that the patient row ``patient`` (an alias of ``patients``) is visible
    to ``viewer``.

    The team ids are composed into the statement as a constant, never written as
    ``%s is null or team_id = any(%s)``: psycopg prepares a statement after a few executions, and
    a generic plan cannot drop such a branch, so it would scan every team's patients.

    >>> from psycopg import sql
    >>> viewer = Viewer(user_id=1, username="anne", role="nurse", team_ids=(3, 4))
    >>> isinstance(visible_patients(viewer), sql.Composable)
    True
    """
    if viewer.platform:
        return sql.SQL("true")
    if viewer.reads_aggregates_only:
        return sql.SQL("false")
    return sql.SQL("{}.team_id = any({}::bigint[])").format(
        sql.Identifier(patient), sql.Literal(list(viewer.team_ids)))
