"""Who is asking. Repositories take a :class:`Viewer` and filter by its teams in SQL, so team
scoping holds whatever route or task calls them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["nurse", "clinician", "admin"]
ROLE_RANK: dict[str, int] = {"nurse": 1, "clinician": 2, "admin": 3}


@dataclass(frozen=True, slots=True, kw_only=True)
class Viewer:
    user_id: int | None
    username: str
    role: Role
    team_ids: tuple[int, ...]

    @property
    def sees_all_teams(self) -> bool:
        """Admins manage every team's patients and devices."""
        return self.role == "admin"

    def at_least(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def team_filter(self) -> list[int] | None:
        """Team ids for ``team_id = any(%s)``; None means no restriction."""
        return None if self.sees_all_teams else list(self.team_ids)


SYSTEM = Viewer(user_id=None, username="system", role="admin", team_ids=())
"""The platform itself (gateway, scheduled tasks, command line)."""
