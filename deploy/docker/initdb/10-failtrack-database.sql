-- failtrack's tables get a database of their own: both failtrack and Dagster keep their
-- schema version in an Alembic `alembic_version` table, which must not be shared.
CREATE DATABASE failtrack OWNER failtrack;
