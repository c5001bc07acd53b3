"""Outcomes in words, with the matched words marked: for ``newshound test-rule`` and the ``/rule test``
slash command. Pure: text in, text out."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot.model import Entry, Hit, RuleOutcome
from bot.rules.model import Config

__all__ = ["MARKS", "explain", "mark_spans", "snippet"]

Mark = Callable[[str], str]

MARKS: dict[str, Mark] = {
    "stars": lambda s: f"**{s}**",
    "brackets": lambda s: f"[{s}]",
    "ansi": lambda s: f"\x1b[1;33m{s}\x1b[0m",
    "none": lambda s: s,
}

_LABEL = {
    "matched": "FIRES",
    "excluded": "EXCLUDED",
    "missing_all": "MISSING",
    "no_match": "NO MATCH",
    "other_feed": "OTHER FEED",
    "disabled": "DISABLED",
}
_WIDTH = max(len(v) for v in _LABEL.values()) + 2


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def mark_spans(text: str, spans: Iterable[tuple[int, int]], mark: Mark = MARKS["stars"]) -> str:
    """``text`` with every span (merged where they overlap) wrapped by ``mark``."""
    out: list[str] = []
    pos = 0
    for start, end in _merge(spans):
        out.append(text[pos:start])
        out.append(mark(text[start:end]))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def snippet(text: str, spans: list[tuple[int, int]], mark: Mark = MARKS["stars"], width: int = 160) -> str:
    """The part of ``text`` around its first span, at most about ``width`` characters, spans marked."""
    # Line breaks and tabs become spaces (same length, so the spans stay valid).
    text = "".join(" " if c.isspace() else c for c in text) if not text.isprintable() else text
    if len(text) <= width:
        return mark_spans(text, spans, mark)
    if not spans:
        return text[:width] + "…"
    first = min(s for s, _ in spans)
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    inside = [(s - start, e - start) for s, e in spans if s >= start and e <= end]
    body = mark_spans(text[start:end], inside, mark)
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")


def _hit_lines(entry: Entry, hits: tuple[Hit, ...], mark: Mark) -> list[str]:
    out = []
    for field in dict.fromkeys(h.field for h in hits):
        in_field = [h for h in hits if h.field == field]
        spans = [(h.start, h.end) for h in in_field]
        kinds: dict[str, list[str]] = {}
        for h in in_field:
            terms = kinds.setdefault(h.kind, [])
            if repr(h.term) not in terms:
                terms.append(repr(h.term))
        order = ("keyword", "regex", "all", "exclude")
        why = " · ".join(f"{k} {', '.join(kinds[k])}" for k in order if k in kinds)
        out.append(f"{why} in {field}: {snippet(entry.field_text(field), spans, mark)}")
    return out


def explain(
    entry: Entry,
    outcomes: list[RuleOutcome],
    config: Config | None = None,
    *,
    mark: Mark = MARKS["stars"],
    verbose: bool = False,
) -> list[str]:
    """Lines saying which rules fire and why, with the matched words marked. Rules that fire, were
    excluded or miss an ``all`` term get a line each with their evidence; the others are summed up on
    one line per verdict (each on its own line with ``verbose``)."""
    lines: list[str] = []
    quiet: dict[str, list[str]] = {}
    pad = " " * _WIDTH
    for o in outcomes:
        rule = config.rule(o.rule) if config is not None else None
        label = _LABEL[o.verdict].ljust(_WIDTH)
        if o.verdict == "matched":
            where = ""
            if rule is not None and config is not None:
                dest = "webhook" if rule.webhook else f"channel {config.channel_for(rule) or '-'}"
                pings = f", pings {', '.join(rule.mention)}" if rule.mention else ""
                where = f" (severity {rule.severity} → {dest}{pings})"
            lines.append(f"{label}{o.rule}{where}")
            lines += [pad + line for line in _hit_lines(entry, o.hits, mark)]
        elif o.verdict in ("excluded", "missing_all"):
            lines.append(f"{label}{o.rule}: {o.reason()}")
            lines += [pad + line for line in _hit_lines(entry, o.hits, mark)]
        elif verbose:
            why = o.reason()
            if o.verdict == "disabled" and rule is not None and rule.enabled and rule.paused_until:
                why = f"paused until {rule.paused_until.isoformat()}"
            if o.verdict == "no_match" and rule is not None:
                why += f" (looks at {', '.join(rule.fields)})"
            lines.append(f"{label}{o.rule}: {why}")
        else:
            quiet.setdefault(o.verdict, []).append(o.rule)
    for verdict, names in quiet.items():
        lines.append(f"{_LABEL[verdict].ljust(_WIDTH)}{', '.join(names)}")
    fired = sum(o.fired for o in outcomes)
    total = len(outcomes)
    lines.append(f"{fired} of {total} rule{'s' if total != 1 else ''} fire{'s' if fired == 1 else ''}.")
    return lines
