"""User categorization rules, in the sources file (`rules:`) or a rules file of their own.

Each is `{name, category, pattern, group_as?}`: a case-insensitive RE2 pattern (linear
time; lookarounds and backreferences are refused) that gives a matching message
`category`, and with `group_as` the one group name its variants share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

from failtrack_pipeline.base.categories import ErrorCategory
from failtrack_pipeline.base.categorize import MessageRule, pattern_problem
from failtrack_pipeline.base.errors import ConfigError, yaml_problem
from failtrack_pipeline.config.errors import config_error

MAX_GROUP_AS: Final = 200


class RuleConfig(BaseModel):
    """One user rule as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr
    category: ErrorCategory
    pattern: StrictStr
    group_as: StrictStr | None = Field(default=None, min_length=1, max_length=MAX_GROUP_AS)

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("must be a non-empty string")
        return name

    @field_validator("pattern")
    @classmethod
    def _linear_and_selective(cls, pattern: str) -> str:
        problem = pattern_problem(pattern)
        if problem:
            raise ValueError(problem)
        return pattern

    def message_rule(self) -> MessageRule:
        return MessageRule(self.name, self.category, self.pattern, self.group_as)


class RulesFile(BaseModel):
    """A rules file (`FAILTRACK_RULES_FILE`): a top-level `rules:` list and nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[RuleConfig]


def load_rules(data: Any, file: str) -> list[MessageRule]:
    """Validate user rules (as read from YAML) into MessageRules, keeping their order."""
    document = {"rules": data}
    try:
        rules = RulesFile.model_validate(document).rules
    except ValidationError as exc:
        raise _rules_error(file, document, exc) from None
    return message_rules(rules, file)


def message_rules(rules: list[RuleConfig], file: str) -> list[MessageRule]:
    """The validated rules as MessageRules; two rules of one name are refused."""
    names: set[str] = set()
    for rule in rules:
        if rule.name in names:
            raise ConfigError(file, f"rule '{rule.name}'", "name", "another rule has this name")
        names.add(rule.name)
    return [rule.message_rule() for rule in rules]


def load_rules_file(path: str | Path) -> list[MessageRule]:
    """Read a standalone rules file into MessageRules."""
    file = str(path)
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, None, None, f"cannot read the rules file: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, None, None, yaml_problem(exc)) from None
    if not isinstance(document, dict) or "rules" not in document:
        raise ConfigError(file, None, "rules", "the file must hold a top-level 'rules:' list")
    try:
        rules = RulesFile.model_validate(document).rules
    except ValidationError as exc:
        raise _rules_error(file, document, exc) from None
    return message_rules(rules, file)


def _rules_error(file: str, document: Any, error: ValidationError) -> ConfigError:
    return config_error(file, document, error.errors()[0], {"": RulesFile, "rules": RuleConfig})
