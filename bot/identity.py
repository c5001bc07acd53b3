"""An item's identity, defined once: what makes two feed items the same item.

Its guid/id; else its link, normalised (scheme and host lower-cased, default port, fragment and tracking
parameters such as ``utm_*`` dropped); else a hash of its title — or, for an item without a title either,
of the start of its text.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|igshid|_hsenc|_hsmi|"
    r"ocid|cmpid|icid|ito|ns_mchannel|ns_source|ns_campaign|ns_linkname|ns_fee|at_medium|at_campaign|"
    r"at_custom\d*|at_link_id|ref_src)$",
    re.I,
)


def normalise_link(url: str) -> str:
    """The link as an identity: scheme/host lower-cased, default port, fragment and tracking parameters
    (``utm_*``, ``fbclid``, …) dropped. Two links that differ only in those are the same item."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # out of range or not a number (``:99999``, ``:8o8o``): the address as written
        netloc = parts.netloc.rpartition("@")[2].lower()
    else:
        host = (parts.hostname or "").lower()
        default = (scheme, port) in (("http", 80), ("https", 443))
        netloc = f"{host}:{port}" if port and not default else host
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def entry_key(guid: str | None, link: str | None, title: str | None, text: str = "") -> str:
    """An item's identity: its guid/id; else its normalised link; else a hash of its title (or, for an
    item without a title either, of the start of its ``text``)."""
    g = (guid or "").strip()
    if g:
        return f"id:{g[:1000]}"
    if link:
        return f"link:{normalise_link(link)[:1000]}"
    name = (title or "").strip() or text.strip()[:1000]
    digest = hashlib.sha256(f"{name}\n{link or ''}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"hash:{digest}"


def signature(link: str | None, title: str | None, published: float | None) -> str | None:
    """What an item is apart from its guid/id: its normalised link, its headline (spacing aside) and its
    publication time (to the second). An entry with an id the feed never had but the signature of an item
    it had is that item under a new id (a feed that makes up new guids on every fetch, a publisher that
    changed its guid format), not a new story. All three must agree: a link alone (many feeds link every
    item to their home page) or a headline alone ("Daily briefing") is not enough, and an undated item has
    no signature at all (nothing then tells a new "Daily briefing" at the same link from the last one).
    None too for an item with neither link nor headline."""
    head = " ".join((title or "").split())
    if published is None or (not link and not head):
        return None
    return f"sig:{normalise_link(link) if link else ''}\n{head}\n{round(published)}"[:3000]
