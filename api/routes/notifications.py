"""HTTP routes of the notification domain (docs/notifications.md): a team's rota, escalation
chain and policy (read by its members, changed by its admin), the user's own contact details and
Web Push subscriptions, and what was sent for an alert. Thin: the service holds the logic."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import CurrentViewer, DbConn, SettingsDep
from notifications import service
from notifications.schemas import (
    PUSH_ENDPOINT,
    AlertNotificationsOut,
    ContactIn,
    ContactOut,
    EscalationIn,
    PushSubscriptionIn,
    RotaIn,
    TeamNotificationsOut,
    TeamPolicy,
    VapidKeyOut,
)

router = APIRouter(prefix="/api/v1", tags=["notifications"])


@router.get("/me/teams/notifications", response_model=list[TeamNotificationsOut])
def my_teams(conn: DbConn, viewer: CurrentViewer, settings: SettingsDep
             ) -> list[TeamNotificationsOut]:
    """The rota, chain and policy of each of the viewer's teams."""
    return service.my_teams(conn, viewer, settings=settings)


@router.get("/teams/{team_id}/notifications", response_model=TeamNotificationsOut)
def team_setup(team_id: int, conn: DbConn, viewer: CurrentViewer, settings: SettingsDep
               ) -> TeamNotificationsOut:
    """The team's rota, escalation chain, policy and who is on call now."""
    return service.team_setup(conn, viewer, team_id, settings=settings)


@router.put("/teams/{team_id}/notifications/rota", response_model=TeamNotificationsOut)
def put_rota(team_id: int, body: RotaIn, conn: DbConn, viewer: CurrentViewer,
             settings: SettingsDep) -> TeamNotificationsOut:
    return service.replace_rota(conn, viewer, team_id, body, settings=settings)


@router.put("/teams/{team_id}/notifications/escalation", response_model=TeamNotificationsOut)
def put_escalation(team_id: int, body: EscalationIn, conn: DbConn, viewer: CurrentViewer,
                   settings: SettingsDep) -> TeamNotificationsOut:
    return service.replace_escalation(conn, viewer, team_id, body, settings=settings)


@router.put("/teams/{team_id}/notifications/policy", response_model=TeamNotificationsOut)
def put_policy(team_id: int, body: TeamPolicy, conn: DbConn, viewer: CurrentViewer,
               settings: SettingsDep) -> TeamNotificationsOut:
    return service.replace_policy(conn, viewer, team_id, body, settings=settings)


@router.get("/me/contact", response_model=ContactOut)
def get_contact(conn: DbConn, viewer: CurrentViewer) -> ContactOut:
    return service.my_contact(conn, viewer)


@router.put("/me/contact", response_model=ContactOut)
def put_contact(body: ContactIn, conn: DbConn, viewer: CurrentViewer) -> ContactOut:
    return service.set_my_contact(conn, viewer, body)


@router.get("/notifications/vapid-public-key", response_model=VapidKeyOut)
def vapid_public_key(viewer: CurrentViewer, settings: SettingsDep) -> VapidKeyOut:
    """The application server key the dashboard subscribes to Web Push with."""
    return service.vapid_key(settings)


@router.post("/me/push-subscriptions", response_model=ContactOut, status_code=201)
def subscribe(body: PushSubscriptionIn, conn: DbConn, viewer: CurrentViewer) -> ContactOut:
    return service.subscribe(conn, viewer, body)


@router.delete("/me/push-subscriptions", status_code=204)
def unsubscribe(endpoint: Annotated[str, Query(pattern=PUSH_ENDPOINT, max_length=2000)],
                conn: DbConn, viewer: CurrentViewer) -> Response:
    service.unsubscribe(conn, viewer, endpoint)
    return Response(status_code=204)


@router.get("/alerts/{alert_id}/notifications", response_model=AlertNotificationsOut)
def alert_notifications(alert_id: int, conn: DbConn, viewer: CurrentViewer
                        ) -> AlertNotificationsOut:
    """The alert's escalation chain and every message sent for it, with its delivery status."""
    return service.alert_notifications(conn, viewer, alert_id)


@router.get("/notifications/status", response_model=dict[int, dict[str, int]])
def delivery_status(conn: DbConn, viewer: CurrentViewer,
                    alert_id: Annotated[list[int], Query(max_length=500)]
                    ) -> dict[int, dict[str, int]]:
    """Per alert, how many of its messages are queued, sent, failed, gave up, …"""
    return service.delivery_status(conn, viewer, alert_id)
