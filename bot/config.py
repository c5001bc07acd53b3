"""Settings from the environment (and a ``.env`` file in the working directory). Never imports the store
or discord. The table in README.md lists every setting; ``tests/test_docs.py`` keeps them in sync."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.addresses import Reach, parse_reach

DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    """Every setting Newshound reads. The env var name is the validation alias of each field."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=False,
        case_sensitive=True,
    )

    discord_token: Annotated[SecretStr | None, Field(validation_alias=_env("DISCORD_TOKEN"))] = None
    discord_api_base: Annotated[str, Field(validation_alias=_env("DISCORD_API_BASE"))] = DISCORD_API_BASE
    discord_gateway_url: Annotated[str, Field(validation_alias=_env("DISCORD_GATEWAY_URL"))] = (
        DISCORD_GATEWAY_URL
    )
    database: Annotated[Path, Field(validation_alias=_env("NEWSHOUND_DATABASE"))] = Path("newshound.db")
    keywords: Annotated[Path, Field(validation_alias=_env("NEWSHOUND_KEYWORDS"))] = Path("keywords.yaml")
    #: Normalised (``0``, ``1`` or the networks); ``feed_reach`` is what it allows.
    allow_private_feeds: Annotated[str, Field(validation_alias=_env("NEWSHOUND_ALLOW_PRIVATE_FEEDS"))] = "0"
    admin_channel: Annotated[str | None, Field(validation_alias=_env("NEWSHOUND_ADMIN_CHANNEL"))] = None
    admin_role: Annotated[str | None, Field(validation_alias=_env("NEWSHOUND_ADMIN_ROLE"))] = None
    log_level: Annotated[str, Field(validation_alias=_env("NEWSHOUND_LOG_LEVEL"))] = "INFO"
    max_body_mb: Annotated[float, Field(validation_alias=_env("NEWSHOUND_MAX_BODY_MB"), gt=0, le=1024)] = 10.0
    fetch_timeout: Annotated[float, Field(validation_alias=_env("NEWSHOUND_FETCH_TIMEOUT"), gt=0, le=600)] = (
        30.0
    )
    max_concurrent_fetches: Annotated[
        int, Field(validation_alias=_env("NEWSHOUND_MAX_CONCURRENT_FETCHES"), ge=1, le=1000)
    ] = 32
    send_timeout: Annotated[float, Field(validation_alias=_env("NEWSHOUND_SEND_TIMEOUT"), gt=0, le=600)] = (
        60.0
    )
    retry_min: Annotated[float, Field(validation_alias=_env("NEWSHOUND_RETRY_MIN"), gt=0, le=3600)] = 2.0
    retry_max: Annotated[float, Field(validation_alias=_env("NEWSHOUND_RETRY_MAX"), gt=0, le=86400)] = 120.0
    burst_limit: Annotated[int, Field(validation_alias=_env("NEWSHOUND_BURST_LIMIT"), ge=0, le=1000)] = 10
    burst_window: Annotated[float, Field(validation_alias=_env("NEWSHOUND_BURST_WINDOW"), gt=0, le=3600)] = (
        60.0
    )
    #: Days an item is kept in full; older items keep only what /why needs (``bot.store.retention``).
    retention_days: Annotated[
        float, Field(validation_alias=_env("NEWSHOUND_RETENTION_DAYS"), ge=0, le=36500)
    ] = 90.0

    @field_validator("discord_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("database", mode="before")
    @classmethod
    def _database_file(cls, v: object) -> object:
        if isinstance(v, str) and not v.strip():  # Path("") would be ".", the working directory
            raise ValueError("must name a file")
        return v

    @field_validator("admin_channel", mode="before")
    @classmethod
    def _snowflake(cls, v: object) -> object:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        text = str(v).strip()
        if not (text.isdigit() and 17 <= len(text) <= 20):
            raise ValueError("must be a Discord channel id (17–20 digits)")
        return text

    @field_validator("admin_role", mode="before")
    @classmethod
    def _role(cls, v: object) -> object:
        """A role id (17–20 digits) or a role's exact name."""
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        text = str(v).strip()
        if text.isdigit() and not 17 <= len(text) <= 20:
            raise ValueError("must be a Discord role id (17–20 digits) or a role name")
        if len(text) > 100 or "\n" in text:
            raise ValueError("a role name is at most 100 characters on one line")
        return text

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, v: object) -> object:
        text = str(v).strip().upper()
        if text not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return text

    @field_validator("allow_private_feeds", mode="before")
    @classmethod
    def _reach(cls, v: object) -> str:
        if isinstance(v, (str, bool)) or v is None:
            return parse_reach(v).describe()
        raise ValueError("must be 1, 0, or IP addresses and networks separated by commas")

    @field_validator("discord_api_base", "discord_gateway_url", mode="after")
    @classmethod
    def _url(cls, v: str, info: object) -> str:
        gateway = "gateway" in str(getattr(info, "field_name", ""))
        v = v.strip() if gateway else v.strip().rstrip("/")
        schemes = ("ws://", "wss://") if gateway else ("http://", "https://")
        if not v.startswith(schemes):
            raise ValueError(f"must start with {' or '.join(schemes)}")
        return v

    @property
    def feed_reach(self) -> Reach:
        """The non-public addresses feeds may reach (``NEWSHOUND_ALLOW_PRIVATE_FEEDS``)."""
        return parse_reach(self.allow_private_feeds)

    @property
    def token(self) -> str | None:
        return self.discord_token.get_secret_value() if self.discord_token else None

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    @property
    def retention_seconds(self) -> float | None:
        """How long items are kept in full; ``None``: for ever (``NEWSHOUND_RETENTION_DAYS=0``)."""
        return self.retention_days * 86400.0 if self.retention_days else None

    @property
    def log_level_number(self) -> int:
        return int(logging.getLevelName(self.log_level))


#: The env var of every setting, for docs and error messages.
ENV_NAMES: dict[str, str] = {
    name: str(field.validation_alias.choices[0])  # type: ignore[union-attr]
    for name, field in Settings.model_fields.items()
}


class SettingsError(Exception):
    """A setting has an invalid value. ``str()`` is one line naming the variable."""


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and ``.env``; raises ``SettingsError`` with one clear line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except UnicodeDecodeError as exc:  # only the .env file is decoded here (the environment is text)
        raise SettingsError(
            f"cannot read {_env_file()}: it is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
            f"offset {exc.start})"
        ) from None
    except OSError as exc:
        raise SettingsError(f"cannot read {_env_file()}: {exc.strerror or exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else "?"
        env = ENV_NAMES.get(field, field)
        raw = first.get("input")
        shown = "" if env == "DISCORD_TOKEN" or raw is None or isinstance(raw, dict) else f"={raw!r}"
        msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        raise SettingsError(f"invalid setting {env}{shown}: {msg}") from None


def _env_file() -> str:
    """The ``.env`` file settings are read from, as an absolute path."""
    return os.path.abspath(str(Settings.model_config.get("env_file") or ".env"))
