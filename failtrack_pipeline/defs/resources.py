"""Dagster resources: failtrack's database and the sources file."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from dagster import ConfigurableResource, DagsterInstance
from pydantic import PrivateAttr

from failtrack_pipeline.db.engine import create_db_engine, database_url_from_env
from failtrack_pipeline.db.migrate import migrate
from failtrack_pipeline.sources.registry import SourcesFile, load_sources
from failtrack_pipeline.tracking.categorize import (
    MessageRule,
    effective_rules,
    load_rules,
    load_rules_file,
)
from failtrack_pipeline.tracking.spool import FailureRecorder, FailureSpool

RULES_FILE_ENV = "FAILTRACK_RULES_FILE"
SPOOL_DIR_ENV = "FAILTRACK_SPOOL_DIR"


class FailtrackDatabase(ConfigurableResource):
    """failtrack's own tables, migrated to the newest schema on first use.

    With `url` unset the URL comes from `FAILTRACK_DATABASE_URL` (or SQLite under the
    Dagster home) at run time, so credentials never enter Dagster's config or UI.
    Failures the database cannot take wait in a spool until it can: `FAILTRACK_SPOOL_DIR`,
    else `failtrack_spool/` under the Dagster home.
    """

    url: str | None = None

    def get_engine(self) -> sa.Engine:
        return migrated_engine(self.url or database_url_from_env())

    def spool(self, instance: DagsterInstance) -> FailureSpool:
        configured = os.environ.get(SPOOL_DIR_ENV, "").strip()
        directory = (
            Path(configured) if configured else Path(instance.root_directory) / "failtrack_spool"
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

    path: str
    rules_file: str | None = None
    _loaded: SourcesFile | None = PrivateAttr(default=None)

    def load(self) -> SourcesFile:
        if self._loaded is None:
            self._loaded = load_sources(self.path)
        return self._loaded

    def rules(self) -> list[MessageRule]:
        """The user's rules (sources file first, then the rules file) ahead of the defaults."""
        user = load_rules(self.load().rules, str(self.path))
        rules_file = self.rules_file or os.environ.get(RULES_FILE_ENV)
        if rules_file:
            user += load_rules_file(Path(rules_file))
        return effective_rules(user)
