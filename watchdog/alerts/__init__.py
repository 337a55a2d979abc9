"""Alerts: rules, deduplication and grouping, the SQLite outbox, and Slack delivery."""
