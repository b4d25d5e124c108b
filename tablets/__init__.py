"""The patient's tablet: pairing with a one-time code, and the device-scoped read model (today's
plan, her own readings, what a nurse has seen) the tablet app shows (docs/tablet.md)."""
