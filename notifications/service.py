"""What people do with notifications: the team admin edits the rota, the escalation chain and
the policy; everyone reads her team's set-up, keeps her contact details and push subscriptions,
and sees what was sent for an alert. Never commits: the request owns the transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import Connection

from core import audit, errors
from core.access import Viewer
from core.settings import Settings
from notifications import channels, planner, repository
from notifications.calendar import danish_public_holidays, on_call
from notifications.schemas import (
    AlertNotificationsOut,
    ContactIn,
    ContactOut,
    DeliveryOut,
    EscalationIn,
    EscalationStepOut,
    OnCallNow,
    PushSubscriptionIn,
    RotaIn,
    RotaSlotOut,
    TeamMember,
    TeamNotificationsOut,
    TeamPolicy,
    VapidKeyOut,
)


def _member_team(conn: Connection[Any], viewer: Viewer, team_id: int) -> dict[str, Any]:
    """The team, if the viewer belongs to it (another team answers 404, as patients do)."""
    row = repository.team(conn, team_id) if team_id in viewer.team_ids else None
    if row is None:
        raise errors.TeamNotFound()
    return row


def _admin_team(conn: Connection[Any], viewer: Viewer, team_id: int) -> dict[str, Any]:
    row = _member_team(conn, viewer, team_id)
    if viewer.role != "admin":
        raise errors.NotTeamAdmin()
    return row


def _check_members(conn: Connection[Any], team_id: int, user_ids: set[int]) -> None:
    if missing := user_ids - repository.users_in_team(conn, team_id, sorted(user_ids)):
        raise errors.TeamMemberNotFound(f"not members of the team: {sorted(missing)}")


def team_setup(conn: Connection[Any], viewer: Viewer, team_id: int, *, settings: Settings,
               now: datetime | None = None) -> TeamNotificationsOut:
    team = _member_team(conn, viewer, team_id)
    now = now or datetime.now(UTC)
    stored = repository.policy(conn, team_id)
    slots = planner.rota_slots(conn, team_id)
    current = on_call(slots, now, settings.timezone)
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    chain_rows = repository.escalation(conn, team_id)
    chain = [EscalationStepOut(step=r["step"], target=r["target"], user_id=r["user_id"],
                               username=r["username"], after_minutes=r["after_minutes"])
             for r in chain_rows] or [
        EscalationStepOut(step=i, **s.model_dump())
        for i, s in enumerate(planner.DEFAULT_ESCALATION, start=1)]
    return TeamNotificationsOut(
        team_id=team_id, team=team["name"],
        members=[TeamMember.model_validate(m) for m in repository.members(conn, team_id)],
        rota=[RotaSlotOut.model_validate(r) for r in repository.rota(conn, team_id)],
        escalation=chain,
        policy=TeamPolicy() if stored is None else TeamPolicy.model_validate(stored),
        policy_is_default=stored is None,
        on_call_now=OnCallNow(at=now, public_holiday=danish_public_holidays(today.year).get(today),
                              primary=current["primary"], secondary=current["secondary"]))


def my_teams(conn: Connection[Any], viewer: Viewer, *, settings: Settings
             ) -> list[TeamNotificationsOut]:
    return [team_setup(conn, viewer, team_id, settings=settings) for team_id in viewer.team_ids]


def replace_rota(conn: Connection[Any], viewer: Viewer, team_id: int, body: RotaIn, *,
                 settings: Settings) -> TeamNotificationsOut:
    _admin_team(conn, viewer, team_id)
    _check_members(conn, team_id, {s.user_id for s in body.slots})
    repository.replace_rota(conn, team_id, [s.model_dump() for s in body.slots])
    audit.record(conn, viewer=viewer, action="notifications.rota", entity_type="team",
                 entity_id=team_id, detail={"slots": len(body.slots)})
    return team_setup(conn, viewer, team_id, settings=settings)


def replace_escalation(conn: Connection[Any], viewer: Viewer, team_id: int, body: EscalationIn,
                       *, settings: Settings) -> TeamNotificationsOut:
    _admin_team(conn, viewer, team_id)
    _check_members(conn, team_id, {s.user_id for s in body.steps if s.user_id is not None})
    repository.replace_escalation(conn, team_id, [s.model_dump() for s in body.steps])
    audit.record(conn, viewer=viewer, action="notifications.escalation", entity_type="team",
                 entity_id=team_id,
                 detail={"steps": [s.model_dump() for s in body.steps]})
    return team_setup(conn, viewer, team_id, settings=settings)


def replace_policy(conn: Connection[Any], viewer: Viewer, team_id: int, body: TeamPolicy, *,
                   settings: Settings) -> TeamNotificationsOut:
    _admin_team(conn, viewer, team_id)
    document = body.model_dump(mode="json")
    repository.upsert_policy(conn, team_id=team_id, policy=document, updated_by=viewer.user_id)
    audit.record(conn, viewer=viewer, action="notifications.policy", entity_type="team",
                 entity_id=team_id, detail=document)
    return team_setup(conn, viewer, team_id, settings=settings)


def my_contact(conn: Connection[Any], viewer: Viewer) -> ContactOut:
    assert viewer.user_id is not None
    return ContactOut.model_validate(repository.contact(conn, viewer.user_id))


def set_my_contact(conn: Connection[Any], viewer: Viewer, body: ContactIn) -> ContactOut:
    assert viewer.user_id is not None
    repository.upsert_contact(conn, user_id=viewer.user_id, email=body.email, phone=body.phone)
    audit.record(conn, viewer=viewer, action="notifications.contact", entity_type="user",
                 entity_id=viewer.user_id,
                 detail={"email": body.email is not None, "phone": body.phone is not None})
    return my_contact(conn, viewer)


def vapid_key(settings: Settings) -> VapidKeyOut:
    return VapidKeyOut(public_key=channels.vapid_public_key(settings))


def subscribe(conn: Connection[Any], viewer: Viewer, body: PushSubscriptionIn) -> ContactOut:
    assert viewer.user_id is not None
    repository.upsert_push_subscription(conn, user_id=viewer.user_id, endpoint=body.endpoint,
                                        p256dh=body.keys.p256dh, auth=body.keys.auth)
    return my_contact(conn, viewer)


def unsubscribe(conn: Connection[Any], viewer: Viewer, endpoint: str) -> None:
    if not repository.delete_push_subscription(conn, user_id=viewer.user_id, endpoint=endpoint):
        raise errors.PushSubscriptionNotFound()


def alert_notifications(conn: Connection[Any], viewer: Viewer, alert_id: int
                        ) -> AlertNotificationsOut:
    """The chain and every message of an alert the viewer may see (404 otherwise)."""
    alert = repository.visible_alert(conn, viewer, alert_id)
    if alert is None:
        raise errors.AlertNotFound()
    chain = repository.alert_chain(conn, alert_id)
    return AlertNotificationsOut(
        alert_id=alert_id, patient_id=alert["patient_id"], chain_state=chain and chain["state"],
        chain_mode=chain and chain["mode"],
        next_step=chain and chain["next_step"], next_due_at=chain and chain["next_due_at"],
        stop_reason=chain and chain["stop_reason"],
        deliveries=[DeliveryOut.model_validate(d)
                    for d in repository.alert_deliveries(conn, alert_id)])


def delivery_status(conn: Connection[Any], viewer: Viewer, alert_ids: list[int]
                    ) -> dict[int, dict[str, int]]:
    """Per visible alert, its messages counted by status (alerts without messages absent)."""
    out: dict[int, dict[str, int]] = {}
    for row in repository.delivery_summary(conn, viewer, alert_ids):
        out.setdefault(row["alert_id"], {})[row["status"]] = row["n"]
    return out
