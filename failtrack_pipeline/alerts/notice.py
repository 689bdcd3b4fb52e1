"""What a notification says: the subject, its new state and why, the top failure group and
links into the Dagster UI. Built once when the change is seen and stored as it is sent, so a
delivery retried days later says the same; every string is scrubbed of secrets."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa

from failtrack_pipeline.alerts.conditions import Condition, Verdict
from failtrack_pipeline.base.scrub import scrub_secrets
from failtrack_pipeline.db.schema import discovery_event_failure_days as days_table
from failtrack_pipeline.db.schema import discovery_event_failures as failures_table
from failtrack_pipeline.tracking.triage import TriageState, effective_state, with_triage

SOURCE_TAG = "failtrack/source"  # the run tag the Runs page filters on


def runs_page_url(webserver_url: str, source_id: str) -> str:
    """The Dagster UI's Runs page filtered to one source's runs."""
    query = urlencode({"q[]": f"tag:{SOURCE_TAG}={source_id}"})
    return f"{webserver_url.rstrip('/')}/runs?{query}"


def run_url(webserver_url: str, run_id: str) -> str:
    return f"{webserver_url.rstrip('/')}/runs/{quote(run_id)}"


def top_group(
    connection: sa.Connection, *, now: datetime, source_id: str | None, group_id: int | None
) -> dict[str, Any] | None:
    """The group a notice is about, or its source's busiest one of the last 7 days that
    is not ignored: its id, category, message, count, first seen and a sample id."""
    failures, days = failures_table.c, days_table.c
    query = sa.select(
        failures.id,
        failures.error_category,
        failures.error_message,
        failures.occurrence_count,
        failures.first_seen_at,
        failures.sample_external_ids,
    ).select_from(with_triage())
    if group_id is not None:
        query = query.where(failures.id == group_id)
    elif source_id is not None:
        recent = (
            sa.select(days.fingerprint, sa.func.sum(days.occurrences).label("recent"))
            .where(days.source_id == source_id, days.day >= (now - timedelta(days=6)).date())
            .group_by(days.fingerprint)
            .subquery("recent")
        )
        query = (
            query.join(recent, recent.c.fingerprint == failures.fingerprint)
            .where(effective_state(now) != TriageState.IGNORED.value)
            .order_by(recent.c.recent.desc(), failures.last_seen_at.desc())
        )
    else:
        return None
    row = connection.execute(query.limit(1)).first()
    if row is None:
        return None
    samples = list(row.sample_external_ids or [])
    return {
        "id": row.id,
        "category": row.error_category,
        "message": row.error_message,
        "count": row.occurrence_count,
        "first_seen": f"{row.first_seen_at:%Y-%m-%d %H:%M} UTC",
        "sample": samples[0] if samples else None,
    }


def build_notice(
    condition: Condition,
    subject: str,
    verdict: Verdict,
    previous: str,
    group: dict[str, Any] | None,
    webserver_url: str,
) -> dict[str, Any]:
    """The stored message: fields for templates, plus a title and a plain-text body."""
    about = verdict.source_id or subject
    recovered = verdict.state == condition.ok
    title = (
        f"failtrack: {about} recovered ({condition.name})"
        if recovered
        else f"failtrack: {about} is {verdict.state} ({condition.name})"
    )
    lines = [f"{condition.name}: {previous} -> {verdict.state}", f"Why: {verdict.reason}"]
    if group is not None:
        sample = f", e.g. event {group['sample']}" if group["sample"] else ""
        lines.append(
            f"Top failure group #{group['id']} ({group['category']}): {group['message']} "
            f"- {group['count']} occurrences since {group['first_seen']}{sample}"
        )
    links: dict[str, str] = {}
    if verdict.run_id:
        links["run_url"] = run_url(webserver_url, verdict.run_id)
        lines.append(f"Run: {links['run_url']}")
    if verdict.source_id:
        links["runs_url"] = runs_page_url(webserver_url, verdict.source_id)
        lines.append(f"Runs of {verdict.source_id}: {links['runs_url']}")
    message = {
        "title": title,
        "text": "\n".join(lines),
        "condition": condition.name,
        "subject": subject,
        "source": verdict.source_id,
        "state": verdict.state,
        "previous_state": previous,
        "reason": verdict.reason,
        "group": group,
        "run_url": links.get("run_url"),
        "runs_url": links.get("runs_url"),
    }
    return scrubbed(message)


def scrubbed(value: Any) -> Any:
    """`value` with every string in it scrubbed of secrets."""
    if isinstance(value, str):
        return scrub_secrets(value)
    if isinstance(value, dict):
        return {key: scrubbed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrubbed(item) for item in value]
    return value
