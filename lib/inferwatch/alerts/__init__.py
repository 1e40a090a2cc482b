"""Alerts: signals from the metric tables, grouped into incidents with a lifecycle,
root-cause hints, notifications through an outbox, and a scorecard against a scenario."""
