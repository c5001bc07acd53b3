"""Plain data that flows between the pipeline's stages.

fetch → parse → store → match → summarise → deliver. Every stage takes and returns these types, so no
stage needs to import another stage's internals. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

#: Fields of an entry a rule may look at (see ``Rule.fields``).
ENTRY_FIELDS: tuple[str, ...] = ("title", "summary", "content", "link", "author", "source", "tags")
#: Characters of an item's text (its summary, else its content) the store keeps, for search and ``/why``.
STORED_TEXT = 2000
#: How the stored reason of an item judged again for a new headline begins (``/why`` shows it apart).
RETITLED = "headline changed from "


@dataclass(slots=True)
class Entry:
    """One feed item as the parse stage hands it on: plain text, UTC dates, a stable identity.

    ``key`` is the item's identity within its feed: its guid/id, else its normalised link, else a hash
    of title + link (see ``bot.parse.normalise.entry_key``). ``link`` is an http(s) URL or ``""``.

    ``brief``: the parse stage was told that this entry cannot alert (it will be recorded silently, see
    ``Defaults.silent``) and kept only what the store keeps of its text: ``summary`` is the first
    ``STORED_TEXT`` characters of the full summary (``content`` is ``""``, or its first ``STORED_TEXT``
    characters when there is no summary). Such an entry is never matched.
    """

    key: str
    title: str = ""
    link: str = ""
    summary: str = ""
    content: str = ""
    published: datetime | None = None
    author: str = ""
    source: str = ""
    source_url: str = ""
    tags: tuple[str, ...] = ()
    guid: str = ""
    brief: bool = False

    def field_text(self, name: str) -> str:
        """The text of one matchable field (``tags`` joined by `` · ``)."""
        if name == "tags":
            return " · ".join(self.tags)
        value = getattr(self, name)
        return value if isinstance(value, str) else ""


@dataclass(slots=True)
class ParsedFeed:
    """What the parse stage made of a body. ``error`` is set (in words) when nothing could be read."""

    entries: list[Entry] = field(default_factory=list)
    title: str = ""
    link: str = ""
    ttl_seconds: int | None = None
    warning: str | None = None
    error: str | None = None
    parser: str = ""
    format: str = ""  # "RSS 2.0", "Atom 1.0", "JSON Feed 1.1" … when known


FetchStatus = Literal["ok", "not_modified", "error"]


@dataclass(slots=True)
class FetchResult:
    """What the fetch stage got. ``error`` says in words why a fetch failed."""

    status: FetchStatus
    url: str
    final_url: str = ""
    http_status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    retry_after: float | None = None
    elapsed: float = 0.0
    #: Where the URL says the feed has moved for good: the target of its leading permanent redirects
    #: (301, 308), when there were any.
    moved_to: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One term found in one field: ``text[start:end]`` of the *original* field text matched."""

    term: str
    field: str
    start: int
    end: int
    text: str
    kind: Literal["keyword", "all", "exclude", "regex"] = "keyword"


Verdict = Literal[
    "matched",  # the rule fires
    "excluded",  # a keyword matched but an exclude term was present
    "missing_all",  # a keyword matched but a required `all` term was absent
    "no_match",  # no keyword or regex matched
    "other_feed",  # the rule does not apply to this feed
    "disabled",  # the rule is disabled or paused
]


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """How one rule judged one entry, with the evidence: every hit that decided it."""

    rule: str
    verdict: Verdict
    hits: tuple[Hit, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def fired(self) -> bool:
        return self.verdict == "matched"

    def reason(self) -> str:
        """One line in words: why the rule fired or did not."""
        found = ", ".join(sorted({f"{h.term!r} in {h.field}" for h in self.hits if h.kind != "exclude"}))
        if self.verdict == "matched":
            return f"matched {found}"
        if self.verdict == "excluded":
            excl = ", ".join(sorted({f"{h.term!r} in {h.field}" for h in self.hits if h.kind == "exclude"}))
            return f"excluded by {excl} (had {found})"
        if self.verdict == "missing_all":
            return f"had {found} but not {', '.join(repr(m) for m in self.missing)}"
        if self.verdict == "other_feed":
            return "rule does not watch this feed"
        if self.verdict == "disabled":
            return "rule is disabled"
        return "no keyword matched"


@dataclass(frozen=True, slots=True)
class AlertMatch:
    rule: str
    terms: tuple[str, ...]
    severity: str = "normal"


@dataclass(frozen=True, slots=True)
class Alert:
    """Everything a sink needs to show one item to one channel. Stored as JSON in the outbox."""

    feed: str
    title: str
    link: str
    summary: str
    matches: tuple[AlertMatch, ...]
    severity: str = "normal"
    mentions: tuple[str, ...] = ()
    highlights: tuple[str, ...] = ()  # matched words as they appear in the text, to mark in bold
    published: str | None = None  # ISO 8601 UTC
    source: str = ""  # publisher
    author: str = ""
    feed_title: str = ""
    item_key: str = ""
    previous_title: str = ""  # set when the item alerts because its headline changed: the old headline
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        data = dict(data)
        data["matches"] = tuple(
            AlertMatch(m["rule"], tuple(m["terms"]), m.get("severity", "normal"))
            for m in data.get("matches", ())
        )
        for key in ("mentions", "highlights"):
            data[key] = tuple(data.get(key, ()))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def matched_line(self) -> str:
        """``rule · keyword, keyword; rule2 · keyword``."""
        return "; ".join(f"{m.rule} · {', '.join(m.terms)}" for m in self.matches)


SEVERITY_ORDER = {"low": 0, "normal": 1, "high": 2, "critical": 3}


@dataclass(frozen=True, slots=True)
class Target:
    """Where an alert goes: a channel id, or a webhook URL (a secret: never log it)."""

    channel: str | None = None
    webhook: str | None = None
    username: str | None = None
    avatar: str | None = None

    @property
    def key(self) -> str:
        """A stable, loggable name: ``channel:<id>`` or ``webhook:<id>`` (never the webhook token)."""
        if self.webhook:
            found = _WEBHOOK_ID.search(self.webhook)
            return f"webhook:{found.group(1) if found else '?'}"
        return f"channel:{self.channel}"


#: The id in a webhook URL (``…/webhooks/ID/TOKEN``): what names the webhook, never the token after it.
_WEBHOOK_ID = re.compile(r"/webhooks/(\d+)/", re.ASCII)


@dataclass(frozen=True, slots=True)
class OutboxAlert:
    """An alert waiting in (or taken from) the store's outbox."""

    id: int
    target: Target
    alert: Alert
    attempts: int = 0
    created_at: float = 0.0
    #: When a send of this alert was first attempted, if one was and its outcome was never recorded as
    #: sent/failed (a crash, a timeout, a retry): it may already be in Discord, so check before resending.
    sending_at: float | None = None


def utcnow() -> datetime:
    return datetime.now(UTC)
