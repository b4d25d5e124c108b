"""Notifications and escalation: the nurse on duty hears about an alert without watching a
screen (docs/notifications.md)."""
