"""failtrack's environment variables, and the checks that reject a bad value at load.

Values are read where the definitions load, so a mistake fails the code location with
one line naming the variable (never a secret it holds), not every run later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from failtrack_pipeline.base.errors import ConfigError
from failtrack_pipeline.config.policies import RetentionPolicy

SOURCES_FILE_ENV: Final = "FAILTRACK_SOURCES_FILE"
RULES_FILE_ENV: Final = "FAILTRACK_RULES_FILE"
DATABASE_URL_ENV: Final = "FAILTRACK_DATABASE_URL"
SPOOL_DIR_ENV: Final = "FAILTRACK_SPOOL_DIR"
RETENTION_DAYS_ENV: Final = "FAILTRACK_RETENTION_DAYS"
ALERTS_FILE_ENV: Final = "FAILTRACK_ALERTS_FILE"
EXECUTOR_ENV: Final = "FAILTRACK_EXECUTOR"
# Where the scrape job's steps run: in the run's own process, or on Celery workers.
EXECUTORS: Final = ("in_process", "celery")
# A `${NAME}` in a config file: the variable's value goes there when the file loads.
_ENV_REFERENCE: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def configured(environ: Mapping[str, str], name: str) -> str | None:
    """The variable's value, or None where it is unset or blank."""
    value = environ.get(name, "").strip()
    return value or None


def retention_from_env(environ: Mapping[str, str]) -> RetentionPolicy:
    """`FAILTRACK_RETENTION_DAYS` (default: the policy's), rejected unless a whole number of
    days in the policy's range."""
    raw = configured(environ, RETENTION_DAYS_ENV)
    if raw is None:
        return RetentionPolicy()
    try:
        days = int(raw)
    except ValueError:
        raise _env_error(RETENTION_DAYS_ENV, raw, "not a whole number of days") from None
    try:
        return RetentionPolicy(days=days)
    except ValidationError as error:
        problem = error.errors()[0]["msg"].lower()
        raise _env_error(RETENTION_DAYS_ENV, raw, f"retention days {problem}") from None


def executor_from_env(environ: Mapping[str, str]) -> str:
    """`FAILTRACK_EXECUTOR`, one of EXECUTORS (default: in_process)."""
    name = configured(environ, EXECUTOR_ENV) or EXECUTORS[0]
    if name not in EXECUTORS:
        raise _env_error(EXECUTOR_ENV, name, f"not one of {', '.join(EXECUTORS)}")
    return name


def _env_error(name: str, raw: str, problem: str) -> ConfigError:
    return ConfigError(f"{name}={raw!r}", None, None, problem)


def substitute_env(data: Any, environ: Mapping[str, str], path: str = "") -> Any:
    """Every `${NAME}` in the strings of `data` replaced by the variable's value; an unset
    variable raises a ValueError naming it and where it is used."""
    if isinstance(data, str):

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                # The place goes last: "token: environment…" would read as a credential to scrub.
                where = f" (for {path})" if path else ""
                raise ValueError(f"environment variable {name} is not set{where}")
            return environ[name]

        return _ENV_REFERENCE.sub(value, data)
    if isinstance(data, Mapping):
        return {
            key: substitute_env(item, environ, f"{path}.{key}" if path else str(key))
            for key, item in data.items()
        }
    if isinstance(data, list):
        return [substitute_env(item, environ, f"{path}[{i}]") for i, item in enumerate(data)]
    return data
