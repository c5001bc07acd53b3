"""The JSON Schema shipped for editors agrees with the loader."""

from __future__ import annotations

import json
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from bot.rules.load import DEFAULT_KEYS, FEED_KEYS, RULE_KEYS, TOP_KEYS, RulesError, parse_rules

ROOT = Path(__file__).resolve().parent.parent


def schema() -> dict[str, Any]:
    text = resources.files("bot.rules").joinpath("keywords.schema.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def as_json(node: Any) -> Any:
    """YAML data as JSON would hold it (timestamps become strings)."""
    if isinstance(node, dict):
        return {str(k): as_json(v) for k, v in node.items()}
    if isinstance(node, list):
        return [as_json(v) for v in node]
    if isinstance(node, datetime | date):
        return node.isoformat()
    return node


def errors(text: str) -> list[str]:
    data = as_json(YAML(typ="safe").load(text))
    validator = jsonschema.Draft202012Validator(schema())
    return [e.message for e in validator.iter_errors(data)]


def test_schema_is_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


def test_starter_keywords_yaml_validates() -> None:
    text = (ROOT / "keywords.yaml").read_text(encoding="utf-8")
    assert errors(text) == []
    assert "yaml-language-server: $schema=./bot/rules/keywords.schema.json" in text.splitlines()[0]


def test_schema_keys_match_the_loader() -> None:
    s = schema()
    props = s["properties"]
    assert tuple(props) == TOP_KEYS
    assert set(props["defaults"]["properties"]) == set(DEFAULT_KEYS)
    assert set(props["feeds"]["items"]["properties"]) == set(FEED_KEYS)
    assert set(props["rules"]["items"]["properties"]) == set(RULE_KEYS)


VALID = """
version: 1
defaults: {channel: "123456789012345678", interval: 10m, backfill: 0, max_age: 7d}
feeds:
  - {name: wire, url: "https://example.org/rss", interval: auto, tags: [syria]}
rules:
  - name: a
    keywords: [Tartus, "evacuat*"]
    all: Russia
    exclude: [festival]
    regex: ['\\bS-?400\\b']
    fields: [title, tags]
    feeds: [wire, "tag:syria"]
    channel: "234567890123456789"
    mention: ["345678901234567890"]
    severity: high
    enabled: true
    paused_until: 2026-01-31T18:00:00Z
    description: text
"""

INVALID = [
    "version: 2\n",
    "version: 1\nrule: []\n",
    "version: 1\ndefaults: {intervall: 5m}\n",
    'version: 1\ndefaults: {channel: "12345"}\n',
    "version: 1\ndefaults: {interval: often}\n",
    "version: 1\nfeeds: [{name: a}]\n",
    "version: 1\nfeeds: [{name: a, url: 'ftp://x'}]\n",
    "version: 1\nrules: [{name: a}]\n",
    "version: 1\nrules: [{name: a, keywords: []}]\n",
    "version: 1\nrules: [{name: a, keywords: [x], severity: urgent}]\n",
    "version: 1\nrules: [{name: a, keywords: [x], fields: [body]}]\n",
    "version: 1\nrules: [{name: a, keywords: [x], enabled: 'yes'}]\n",
    "version: 1\nrules: [{name: a, keywords: [x], mention: ['@here']}]\n",
    "version: 1\nrules: [{name: a, keywords: ['***']}]\n",
]


def test_valid_document_passes_both() -> None:
    assert errors(VALID) == []
    parse_rules(VALID)


@pytest.mark.parametrize("text", INVALID)
def test_invalid_documents_fail_both(text: str) -> None:
    assert errors(text), "the schema let it through"
    with pytest.raises(RulesError):
        parse_rules(text)


def test_schema_ships_in_the_package() -> None:
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "rules/*.json" in data["tool"]["setuptools"]["package-data"]["bot"]
