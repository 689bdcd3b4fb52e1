"""Alerts: conditions over failtrack's tables, one notification per change, sent with backoff."""
