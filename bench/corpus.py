"""The corpora the benchmarks read (``../shared/corpus`` beside the repository, or ``$NEWSHOUND_CORPUS``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def corpus_root() -> Path:
    env = os.environ.get("NEWSHOUND_CORPUS")
    if env:
        return Path(env)
    for candidate in (REPO.parent / "shared" / "corpus", REPO.parent.parent / "shared" / "corpus"):
        if candidate.is_dir():
            return candidate
    return Path("/work/shared/corpus")


def _content_type(body: bytes) -> str:
    """What a typical server would send for this document (no charset: servers rarely know)."""
    head = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"["):
        return "application/json"
    if b"http://www.w3.org/2005/Atom" in head and b"<feed" in head:
        return "application/atom+xml"
    return "application/rss+xml"


def real_feeds(root: Path | None = None) -> Iterator[tuple[str, bytes, str]]:
    """``(name, body, content_type)`` for each file of ``real-feeds`` in INDEX.tsv order."""
    base = (root or corpus_root()) / "real-feeds"
    index = base / "INDEX.tsv"
    if index.exists():
        names = [line.split("\t", 1)[0] for line in index.read_text().splitlines()[1:] if line.strip()]
    else:
        names = sorted(p.name for p in base.iterdir() if p.name not in ("LICENSE", "SOURCE.txt"))
    for name in names:
        body = (base / name).read_bytes()
        yield name, body, _content_type(body)


_HEADER = re.compile(rb"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.M)


def test_headers(body: bytes) -> dict[str, str]:
    """The ``Header:`` lines in the leading comment of a feedparser test file."""
    head = body.lstrip()
    if not head.startswith(b"<!--"):
        return {}
    comment = head.split(b"-->", 1)[0]
    return {m.group(1).decode().lower(): m.group(2).decode("latin-1") for m in _HEADER.finditer(comment)}


def feedparser_tests(root: Path) -> Iterator[tuple[Path, bytes, dict[str, str]]]:
    """Every test document under ``root`` (feedparser's suite layout), with its HTTP headers."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name not in ("LICENSE", "SOURCE.txt") and not path.name.startswith("."):
            body = path.read_bytes()
            yield path, body, test_headers(body)
