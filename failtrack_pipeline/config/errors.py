"""Pydantic's report on a configuration file as one `ConfigError`: file, item, field, problem.

The item is named as a person finds it in the file: a source by its id, a rule by its
name, else by its position (`source #2`). Raised unchained by the loaders: pydantic's own
report would bury the one line under forty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, get_args

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from failtrack_pipeline.base.errors import ConfigError

SLUG: Final = r"^[a-z0-9_]+$"
# Per section of a file: what a person calls one item, and the key that names it.
_ITEMS: Final = {"sources": ("source", "id"), "rules": ("rule", "name")}


def config_error(
    file: str, document: Any, error: ErrorDetails, models: Mapping[str, type[BaseModel]]
) -> ConfigError:
    """The first of pydantic's errors; `models` are the item models of the file's sections
    (for the fields an unknown one may be instead) and the document's own, under ""."""
    loc = list(error["loc"])
    if not loc:
        return ConfigError(file, None, None, "must be a mapping with a 'sources:' list")
    section = str(loc.pop(0))
    if not loc or not isinstance(loc[0], int):
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(models[""].model_fields)
            return ConfigError(file, None, section, f"unknown top-level key (allowed: {allowed})")
        if error["type"] == "list_type":
            return ConfigError(file, None, section, f"must be a list of {section}")
        return ConfigError(file, None, section, problem_of(error, models[""]))
    where = _item_name(document, section, loc.pop(0))
    field = ".".join(str(part) for part in loc) or None
    if field is None and error["type"] in ("model_type", "dict_type"):
        return ConfigError(file, where, None, "must be a mapping")
    return ConfigError(file, where, field, problem_of(error, _model_at(models[section], loc)))


def _model_at(model: type[BaseModel], loc: list[Any]) -> type[BaseModel]:
    """The model holding the last key of `loc` (a nested section such as `health`), so that
    an unknown key lists the keys allowed where it was written."""
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        kinds = (field.annotation, *get_args(field.annotation)) if field else ()
        nested = [kind for kind in kinds if isinstance(kind, type) and issubclass(kind, BaseModel)]
        if not nested:
            break
        model = nested[0]
    return model


def _item_name(document: Any, section: str, index: int) -> str:
    kind, key = _ITEMS[section]
    item = document[section][index]
    name = item.get(key) if isinstance(item, dict) else None
    if section == "sources" and isinstance(name, str) and re.fullmatch(SLUG, name):
        return f"source '{name}'"
    if section == "rules" and isinstance(name, str) and name.strip():
        return f"rule '{name}'"
    return f"{kind} #{index + 1}"


def problem_of(error: ErrorDetails, model: type[BaseModel]) -> str:
    """Pydantic's wording, minus its prefixes, with the allowed keys for an unknown one."""
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "extra_forbidden":
        return f"unknown field (allowed: {', '.join(model.model_fields)})"
    if error["type"] == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    if error["type"] == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{error['input']!r} is not one of: {expected}"
    return error["msg"]
