"""Dagster resources: failtrack's database, the sources file and the retention period.

Where a value comes from an environment variable, the definitions pass Dagster's `EnvVar`
(see `from_env`), so the UI shows the variable's name, never the value it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from dagster import ConfigurableResource, DagsterInstance, EnvVar
from pydantic import Field, PrivateAttr

from failtrack_pipeline.base.categorize import MessageRule, effective_rules
from failtrack_pipeline.config.policies import RetentionPolicy
from failtrack_pipeline.config.rules import load_rules_file, message_rules
from failtrack_pipeline.config.sources_file import SourcesFile, load_sources
from failtrack_pipeline.db.engine import create_db_engine, database_url_from_env
from failtrack_pipeline.db.migrate import migrate
from failtrack_pipeline.tracking.spool import FailureRecorder, FailureSpool

_RETENTION = RetentionPolicy.model_fields


def from_env(environ: Mapping[str, str], name: str) -> EnvVar | None:
    """`EnvVar(name)` where the variable is set, so the resource shows where its value is."""
    return EnvVar(name) if environ.get(name, "").strip() else None


class FailtrackDatabase(ConfigurableResource):
    """failtrack's own tables, migrated to the newest schema on first use.

    Failures the database cannot take wait in a spool until it can.
    """

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of failtrack's database (FAILTRACK_DATABASE_URL); "
        "unset: SQLite failtrack.db under DAGSTER_HOME.",
    )
    spool_dir: str | None = Field(
        default=None,
        description="Where failure batches wait while the database is down "
        "(FAILTRACK_SPOOL_DIR); unset: failtrack_spool/ under the Dagster home.",
    )

    def get_engine(self) -> sa.Engine:
        return migrated_engine(self.url or database_url_from_env())

    def spool(self, instance: DagsterInstance) -> FailureSpool:
        directory = (
            Path(self.spool_dir)
            if self.spool_dir
            else Path(instance.root_directory) / "failtrack_spool"
        )
        return FailureSpool(directory)

    def recorder(self, instance: DagsterInstance) -> FailureRecorder:
        return FailureRecorder(self.get_engine, self.spool(instance))


@cache
def migrated_engine(url: str) -> sa.Engine:
    """One engine per URL and process, migrated once."""
    engine = create_db_engine(url)
    migrate(engine)
    return engine


class FailtrackSources(ConfigurableResource):
    """The sources file and the categorization rules that go with it."""

    path: str = Field(description="The sources file (FAILTRACK_SOURCES_FILE).")
    rules_file: str | None = Field(
        default=None, description="More categorization rules (FAILTRACK_RULES_FILE)."
    )
    _loaded: SourcesFile | None = PrivateAttr(default=None)

    def load(self) -> SourcesFile:
        if self._loaded is None:
            self._loaded = load_sources(self.path)
        return self._loaded

    def rules(self) -> list[MessageRule]:
        """The user's rules (sources file first, then the rules file) ahead of the defaults."""
        user = message_rules(self.load().rules, str(self.path))
        if self.rules_file:
            user += load_rules_file(Path(self.rules_file))
        return effective_rules(user)


class Retention(ConfigurableResource):
    """How long failure groups and scrape runs are kept (`RetentionPolicy`)."""

    days: int = Field(
        default=_RETENTION["days"].default,
        description=f"{_RETENTION['days'].description} (FAILTRACK_RETENTION_DAYS)",
    )
    batch_size: int = Field(
        default=_RETENTION["batch_size"].default, description=_RETENTION["batch_size"].description
    )

    def policy(self) -> RetentionPolicy:
        return RetentionPolicy(days=self.days, batch_size=self.batch_size)
