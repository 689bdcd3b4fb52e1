"""The coverage_drop condition through the real alert path: the dashboard's tables as they are
built each day, an evaluation at a controlled moment, a webhook receiver on 127.0.0.1. A
field that disappears is announced once, on the day it goes, and so is its recovery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from failtrack_pipeline.alerts.setup import Alerting
from failtrack_pipeline.config.policies import HealthThresholds
from failtrack_pipeline.summaries.coverage import build_field_coverage
from failtrack_pipeline.summaries.rates import build_success_rates
from failtrack_pipeline_tests.alerts.scenario import sent, tick
from failtrack_pipeline_tests.alerts.servers import WebhookReceiver, running
from failtrack_pipeline_tests.alerts.test_notices import hook_only
from failtrack_pipeline_tests.summaries.history import add_day, scrape_run
from failtrack_pipeline_tests.summaries.test_coverage import DAY_N, seed_days


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    with running(receiver):
        yield receiver


def refresh_and_tick(engine: sa.Engine, alerting: Alerting, day: date) -> None:
    """The day's dashboard refresh (coverage, then the overview), then a sensor tick."""
    add_day(engine, day, scrape_run("venues", day, 100, 0))
    build_field_coverage(engine, day, {})
    build_success_rates(engine, ["venues"], day, HealthThresholds())
    tick(engine, alerting, datetime.combine(day, time(7), UTC))


def test_a_coverage_drop_is_announced_on_its_day_once_and_its_recovery_too(
    engine: sa.Engine, webhook: WebhookReceiver
) -> None:
    alerting = hook_only(webhook)
    history = {DAY_N - timedelta(days=back): 0.97 + 0.01 * (back % 3) for back in range(1, 15)}
    after = DAY_N + timedelta(days=1)
    seed_days(engine, history | {DAY_N: 0.0, after: 0.98})
    refresh_and_tick(engine, alerting, DAY_N - timedelta(days=1))
    assert sent(engine) == []  # fine the day before: nothing to say
    refresh_and_tick(engine, alerting, DAY_N)
    tick(engine, alerting, datetime.combine(DAY_N, time(9), UTC))  # no news the second time
    assert sent(engine) == [("hook", "coverage_drop", "venues", "dropped")]
    (body,) = webhook.received
    assert body["title"] == "failtrack: venues is dropped (coverage_drop)"
    assert body["reason"] == "worst field venue_address: dropped, filled in 84% of 7 days' events"
    refresh_and_tick(engine, alerting, after)
    assert [row[3] for row in sent(engine)] == ["dropped", "ok"]
