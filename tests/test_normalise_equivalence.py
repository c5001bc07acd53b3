"""The fast forms of the shared normalisation give exactly what the plain forms give.

Each speed-up in ``bot.parse.normalise`` and ``bot.parse.fast`` replaces a library call or a regex by a
cheaper equivalent; these tests compare them with the originals on many generated tricky inputs.
"""

from __future__ import annotations

import codecs
import html
import random
import re
from urllib.parse import urljoin, urlsplit

import pytest
from feedparser.urls import _urljoin

from bot.parse import normalise
from bot.parse.fast import _resolve
from bot.parse.normalise import clean_link, html_to_text, urljoin_fast

URL_PARTS = [
    "http", "https", "HTTP", "://", "/", "//", "?", "#", "?#", ";", "[", "]", "@", ":", "80", "a", "B", ".",
    "..", "%20", " ", "\t", "\n", "é", "ｅ", "x.com", "\\", "~", "&", "=", "-", "_", "!", "\x00", "\x7f",
    "javascript:", "%", "'", "(", ")",
]  # fmt: skip
BASES = [
    "https://feeds.example/x", "http://a/b/c", "", "https://[bad/x", "https://a/;p?q#f", "HTTPS://A/",
    "feed://x", "https://é.com/", "http://a", "https://:80", "https://u@h/",
]  # fmt: skip


def _urls(seed: int, n: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        u = "".join(rng.choice(URL_PARTS) for _ in range(rng.randint(0, 9)))
        if rng.random() < 0.6:
            u = rng.choice(["http://", "https://", " https://"]) + u
        out.append((rng.choice(BASES), u))
    return out


def _outcome(fn: object, *args: str) -> str:
    try:
        return str(fn(*args))  # type: ignore[operator]
    except ValueError:
        return "ValueError"


def _clean_link_reference(value: str | None, base: str = "") -> str:
    if not value:
        return ""
    v = value.strip()
    if base:
        try:
            v = urljoin(base, v)
        except ValueError:
            return ""
    try:
        parts = urlsplit(v)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    if any(c in v for c in "\r\n\t\x00 "):
        v = v.replace(" ", "%20")
        if any(c in v for c in "\r\n\t\x00"):
            return ""
    return v


def test_urljoin_fast_is_urljoin() -> None:
    for base, url in _urls(3, 100_000):
        assert _outcome(urljoin_fast, base, url) == _outcome(urljoin, base, url), (base, url)


def test_resolve_is_feedparsers_urljoin() -> None:
    for base, url in _urls(4, 100_000):
        assert _resolve(base, url) == _urljoin(base, url), (base, url)


def test_clean_link_is_unchanged() -> None:
    for base, url in _urls(5, 100_000):
        assert clean_link(url, base) == _clean_link_reference(url, base), (base, url)


HTML_PARTS = [
    "<", "/", ">", "!", " ", "ſ", "K", "\u212a", "İ", "ı", "x", "p", "P", "li", "LI", "div", "h1", "H6", "hr",
    "tbody", "th", "a", "b", "br", "section", "ſection", "Kbd", "e", "-", "&amp;", "&#1;", "&nbsp", "\n",
    "\xa0", "\u2003", "\x1c", "<!--", "-->", "<![CDATA[", "]]>", "script", "STYLE", "template", "=\"x>\"",
]  # fmt: skip
ORIGINAL_SPACE = re.compile(r"\s+")


def _html_to_text_reference(value: str, cap: int = 20_000) -> str:
    """``html_to_text`` with the whitespace collapsed by the regex it replaced."""
    s = value[: max(normalise.HTML_CAP, cap * 20)]
    if "<" in s:
        s = normalise._strip_tags(s)
    if "&" in s:
        s = html.unescape(s)
    s = ORIGINAL_SPACE.sub(" ", s).strip()
    if len(s) > cap:
        cut = s.rfind(" ", 0, cap)
        s = s[: cut if cut > cap // 2 else cap]
    return s


def test_html_to_text_is_unchanged() -> None:
    rng = random.Random(7)
    for _ in range(100_000):
        s = "".join(rng.choice(HTML_PARTS) for _ in range(rng.randint(1, 16)))
        assert html_to_text(s) == _html_to_text_reference(s), s
        assert html_to_text(s, 12) == _html_to_text_reference(s, 12), s


STRIP_PARTS = [
    *HTML_PARTS, "<?", "?", "<!", "[", "]", "CDATA", "<![CDATA[", "'", "=", "é", "Σ", "İ", "<p", "</p>",
    "<br/>", "<P class='a'>", "</", "noscript", "NoScript", "<style>", "</style", "<template", "tfoot",
    "thead", "pre", "param", "fig", "figure", "figcaption", "header", "d", "dl", "dt", "i", "v", "blockquote",
    "<div>", ":", "0", "\x02", "<!DOCTYPE html>", "<script>", "</SCRIPT >", "-->x", "<!-- a <p> -->",
]  # fmt: skip


def test_strip_tags_is_the_loop() -> None:
    """Both fast forms: the regular expressions (used where the C accelerator is not built) and the one
    in use (C here)."""
    rng = random.Random(11)
    for _ in range(200_000):
        s = "".join(rng.choice(STRIP_PARTS) for _ in range(rng.randint(1, 24)))
        loop = normalise._strip_tags_loop(s)
        assert normalise._strip_tags_re(s) == loop, s
        assert normalise._strip_tags(s) == loop, s


# -- the C accelerator (bot/parse/_speedups.c) -------------------------------------------------------------
# Python keeps a string in 1, 2 or 4 bytes a character by its widest character, and the C code has one
# loop per width: every input below is tried in all three.
WIDTHS = ("", "\u2019", "\U0001f600")


def test_the_accelerator_is_built() -> None:
    """An install with a C compiler (as the README's) builds it; without one the Python forms run."""
    assert normalise._accelerator is not None, "bot/parse/_speedups.c was not built: is there a C compiler?"
    assert normalise._strip_tags is normalise._c_strip_tags
    assert normalise._collapse is normalise._accelerator.collapse
    assert normalise._unescape is normalise._accelerator.unescape
    from bot.parse import guards

    assert guards._count is normalise._accelerator.count


def test_c_strip_tags_is_the_loop_in_every_width() -> None:
    rng = random.Random(17)
    for _ in range(100_000):
        s = "".join(rng.choice(STRIP_PARTS) for _ in range(rng.randint(1, 24)))
        for wide in WIDTHS:
            for t in (s + wide, wide + s):
                assert normalise._c_strip_tags(t) == normalise._strip_tags_loop(t), t


def test_c_strip_tags_knows_the_same_tag_names() -> None:
    """The C code has its own copy of the block and drop tag names: every one, and near misses."""
    names = normalise._BLOCK_TAGS | normalise._DROP_TAGS
    names |= {n + "x" for n in names} | {n[:-1] for n in names} | {"x" + n for n in names}
    for name in sorted(names):
        for s in (f"a<{name}>b</{name}>c", f"a<{name.upper()} id=1>b", f"a</{name}>b"):
            assert normalise._c_strip_tags(s) == normalise._strip_tags_loop(s), s


def test_c_strip_tags_leaves_the_loops_quirk_to_the_loop() -> None:
    """U+0130 lower-cases to two characters, so the loop looks for "</script" at shifted places in the
    lower-cased text; the C code hands such text back (None) rather than guess."""
    assert [c for c in map(chr, range(0x110000)) if len(c.lower()) != 1] == ["\u0130"]
    assert [c for c in map(chr, range(128, 0x110000)) if c.lower().isascii()] == ["\u212a"]  # K: no drop tag
    from bot.parse import _speedups

    for s in ("\u0130<script>x</script>y", "<style>\u0130\u0130</style>a</style>b", "<STYLE>\u0130"):
        assert _speedups.strip_tags(s) is None
        assert normalise._c_strip_tags(s) == normalise._strip_tags_loop(s)
    assert _speedups.strip_tags("\u0130<p>x") == "\u0130 x"  # no drop tag: nothing shifts


SPACES = [c for c in map(chr, range(0x110000)) if c.isspace()]


def test_c_collapse_is_split_and_join_in_every_width() -> None:
    rng = random.Random(19)
    parts = [*SPACES, "a", "bc", "é", "\u2019", "\U0001f600", "\x00", "\u200b"]  # U+200B is not a space
    for _ in range(100_000):
        s = "".join(rng.choice(parts) for _ in range(rng.randint(0, 12)))
        for wide in WIDTHS:
            for t in (s + wide, wide + s, s):
                assert normalise._collapse(t) == " ".join(t.split()), t


def test_c_collapse_knows_every_whitespace_character() -> None:
    """The C code lists Unicode's whitespace above U+00FF itself: every code point, as str.split() does."""
    from bot.parse import _speedups

    for c in map(chr, range(0x110000)):
        s = f"a{c}{c}b "
        assert _speedups.collapse(s) == " ".join(s.split()), hex(ord(c))


def test_c_unescape_is_html_unescape_in_every_width() -> None:
    from html.entities import html5

    rng = random.Random(23)
    names = sorted(html5)
    parts = [
        "&", "&", "#", "#", "x", "X", ";", ";", "0", "1", "9", "a", "F", "g", " ", "\t", "\n", "\f", "\r",
        "<", "1114111", "1114112", "55296", "57343", "128", "159", "65535", "000000000000000000065",
        "99999999999999", "ffff", "D800", "10FFFF", "110000", "amp", "not", "notin", "noti", "lt", "LT", "é",
        "\u2019", "&&",
    ]  # fmt: skip
    for _ in range(200_000):
        s = "".join(
            rng.choice(parts) if rng.random() < 0.8 else "&" + rng.choice(names)
            for _ in range(rng.randint(1, 10))
        )
        for wide in WIDTHS:
            for t in (s + wide, wide + s):
                assert normalise._unescape(t) == html.unescape(t), t
    for name in names:  # every entity, with and without its ';', followed by text
        for t in (f"&{name}", f"&{name}x", f"&{name.rstrip(';')}", f"a&{name};b", "&" + name[:-1]):
            assert normalise._unescape(t) == html.unescape(t), t
    long_name = "&" + "a" * 40 + ";"  # a name is read up to 32 characters
    assert normalise._unescape(long_name) == html.unescape(long_name)


def test_html_to_text_is_the_same_with_the_accelerator_off() -> None:
    """The whole of ``html_to_text`` and ``html_text_prefix``, in C and in Python (what an install
    without a C compiler runs), on generated markup and on real feeds' item HTML."""
    from pathlib import Path

    rng = random.Random(29)
    words = [*STRIP_PARTS, "word", " ", "&amp;", "&#8217;", "&notin;", "&no", "&", "\u2019", "\U0001f600"]
    samples = ["".join(rng.choice(words) for _ in range(rng.randint(1, 80))) for _ in range(20_000)]
    for path in sorted(Path(__file__).parent.joinpath("data", "real-feeds").glob("[0-9a-f]*")):
        doc = path.read_bytes().decode("utf-8", "replace")
        samples += [html.unescape(m) for m in re.findall(r"<description>(.*?)</description>", doc, re.S)]
    assert len(samples) > 20_100

    def outputs() -> list[tuple[str, str, str]]:
        return [(html_to_text(s), html_to_text(s, 40), normalise.html_text_prefix(s, 50)) for s in samples]

    from bot.parse import guards, use_accelerator

    assert use_accelerator(True)
    with_c = outputs()
    try:
        assert not use_accelerator(False)
        assert normalise._strip_tags is normalise._strip_tags_re and normalise._unescape is html.unescape
        assert guards._count is bytes.count
        without = outputs()
    finally:
        use_accelerator(True)
    assert normalise._strip_tags is normalise._c_strip_tags and guards._count is not bytes.count
    for s, a, b in zip(samples, with_c, without, strict=True):
        assert a == b, s


def test_c_count_is_bytes_count() -> None:
    from bot.parse import _speedups

    rng = random.Random(31)
    alphabet = [b"x", b"m", b"l", b"n", b"s", b"xmlns", b"!", b"<", b"<!", b"&", b"\x00", b"\xff", b"a"]
    needles = [b"!", b"<", b"<!", b"&", b"xmlns", b"xx", b"aa", b"\x00", b"\xff\xff", b"xmlnsxmlns"]
    for _ in range(50_000):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        for needle in needles:
            assert _speedups.count(data, needle) == data.count(needle), (data, needle)
    with pytest.raises(ValueError):
        _speedups.count(b"abc", b"")


def test_c_forms_agree_on_real_documents() -> None:
    """Whole real feeds (up to hundreds of KB of markup, every width) through the three C loops (and the
    regular expressions)."""
    from pathlib import Path

    docs = sorted(Path(__file__).parent.joinpath("data", "real-feeds").glob("[0-9a-f]*"))
    docs += sorted(Path(__file__).parent.joinpath("data", "news-samples").rglob("*.xml"))
    assert len(docs) >= 10
    for path in docs:
        text = path.read_bytes().decode("utf-8", "replace")
        for t in (text, html.unescape(text)):  # as stored, and with the feed's own escaping undone
            loop = normalise._strip_tags_loop(t)
            assert normalise._c_strip_tags(t) == loop, path
            assert normalise._strip_tags_re(t) == loop, path
            assert normalise._collapse(t) == " ".join(t.split()), path
            assert normalise._unescape(t) == html.unescape(t), path
        data = path.read_bytes()
        for needle in (b"&", b"<", b"!", b"<!", b"xmlns", b"]]>"):
            assert normalise._accelerator.count(data, needle) == data.count(needle), (path, needle)


def test_block_tag_pattern_names_exactly_the_block_tags() -> None:
    pattern = re.compile(normalise._BLOCK_AT.pattern, re.A)
    names = {f"{a}{b}" for a in "abdfhlmnopstu" for b in ["", *"12345678rdltv"]}
    names |= (
        normalise._BLOCK_TAGS
        | {n + "x" for n in normalise._BLOCK_TAGS}
        | {n[:-1] for n in normalise._BLOCK_TAGS}
    )
    for name in names:
        for form in (f"<{name}>", f"</{name.upper()} x>"):
            assert (pattern.fullmatch(form) is not None) == (name in normalise._BLOCK_TAGS), form


def test_whitespace_split_matches_the_regex_for_every_character() -> None:
    for c in map(chr, range(0x110000)):
        assert (ORIGINAL_SPACE.fullmatch(c) is not None) == (c.split() == [])


def test_has_control_is_the_control_regex() -> None:
    from bot.parse import guards

    rng = random.Random(9)
    alphabet = [bytes([b]) for b in range(0, 0x30)] + [b"\xef", b"\xbf", b"\xbe", b"\xbf", b"a", b"<"]
    for _ in range(50_000):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert guards.has_control(data) == (guards._CONTROL.search(data) is not None), data


def test_html_text_prefix_is_the_start_of_html_to_text() -> None:
    rng = random.Random(13)
    words = [*STRIP_PARTS, "word", "longer words here", " ", "  ", "&amp;", "&#8217;", "&notin;", "&no", "&"]
    for _ in range(20_000):
        s = "".join(rng.choice(words) for _ in range(rng.randint(1, 400)))
        n = rng.randint(1, 60)
        assert normalise.html_text_prefix(s, n) == html_to_text(s)[:n], (s, n)
    # A reference cut by the window: "&not" then a tag then "in;" is "&notin;" (∉), not "&not" (¬).
    for pad in range(0, 90):
        s = "<p>" * pad + "abcdefgh &not<b>in; rest of the text" + " more" * 40
        for n in (9, 10, 11):
            assert normalise.html_text_prefix(s, n) == html_to_text(s)[:n], (s, n)


def test_html_text_prefix_reads_only_the_start_of_a_long_field() -> None:
    body = "<p>Lead paragraph about Tartus &amp; more.</p>" + "<div>filler text</div>" * 50_000
    calls: list[int] = []
    original = normalise._strip_tags
    try:
        normalise._strip_tags = lambda s: calls.append(len(s)) or original(s)  # type: ignore[assignment]
        text = normalise.html_text_prefix(body, 2000)
    finally:
        normalise._strip_tags = original  # type: ignore[assignment]
    assert text == html_to_text(body)[:2000]
    assert sum(calls) < 50_000 < len(body)


# -- the guards' fast forms ------------------------------------------------------------------------------


def _repair_reference(data: bytes) -> bytes:
    from bot.parse import guards

    return guards._REF.sub(guards._fix_reference, guards._CONTROL.sub(b"", data))


def test_repair_xml_is_unchanged() -> None:
    from bot.parse import guards

    parts = [
        b"&", b"amp;", b"lt;", b"quot", b"apos;", b"#", b"x", b"X", b"0", b"3", b"1", b"2", b"5", b"9", b"d",
        b"D", b"7", b"8", b"f", b"F", b"c", b";", b"nbsp;", b"eacute;", b"zz;", b"a", b"\x01",
        b"\xef\xbf\xbe", b"55295;", b"55296;", b"#xD7FF;", b"#xd800;", b"#x20;", b"#x1F;", b"#31;", b"#32;",
        b"#0032;", b" ",
    ]  # fmt: skip
    rng = random.Random(17)
    for _ in range(50_000):
        data = b"".join(rng.choice(parts) for _ in range(rng.randint(1, 14)))
        assert guards.repair_xml(data) == _repair_reference(data), data
    for code in range(0, 0x11000):
        for ref in (f"&#{code};", f"&#x{code:x};", f"&#X{code:X};"):
            data = f"a{ref}b".encode()
            assert guards.repair_xml(data) == _repair_reference(data), ref


def _complexity_reference(data: bytes) -> str | None:
    from bot.parse import guards

    references = data.count(b"&")
    if references > guards.MAX_REFERENCES:
        return "references"
    markup = guards.outside_cdata(data)
    if sum(1 for _ in guards._START_TAG.finditer(markup)) > guards.MAX_ELEMENTS:
        return "elements"
    if sum(1 for _ in guards._XMLNS.finditer(markup)) > guards.MAX_NAMESPACES:
        return "namespaces"
    return None


def test_complexity_problem_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.parse import guards

    monkeypatch.setattr(guards, "MAX_ELEMENTS", 6)
    monkeypatch.setattr(guards, "MAX_NAMESPACES", 3)
    parts = [
        b"<a", b">", b"</a>", b" xmlns", b" xmlns:x", b"=", b"'u'", b"<![CDATA[", b"]]>", b"<!--", b"-->",
        b"xml", b"ns", b"<", b"x", b" ", b"<!", b"&",
    ]  # fmt: skip
    rng = random.Random(19)
    for _ in range(50_000):
        data = b"".join(rng.choice(parts) for _ in range(rng.randint(1, 30)))
        found = guards.complexity_problem(data)
        kind = next((k for k in ("references", "elements", "namespaces") if k in (found or "")), None)
        assert kind == _complexity_reference(data), data
    # Declarations split by cut-out sections: none is an "xmlns" of the document, four are of the markup.
    for split in (b" xml<!--c-->ns='u'", b" x<![CDATA[y]]>mlns:a='u'"):
        data = b"<a" + split * 4 + b"/>"
        assert _complexity_reference(data) == "namespaces"
        assert "namespaces" in (guards.complexity_problem(data) or "")


def test_to_utf8_without_feedparser_is_what_feedparser_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.parse import guards

    types = [None, "", "application/xml", "application/rss+xml", "text/xml", "text/html", "text/plain",
             "application/json", "application/octet-stream", "TEXT/XML"]  # fmt: skip
    charsets = [None, "utf-8", "UTF-8", '"utf8"', "us-ascii", "ascii", "iso-8859-1", "gb2312", "bogus"]
    declarations = [b"", b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="utf-8"?>',
                    b"<?xml version='1.0' encoding='ISO-8859-1'?>", b'<?xml encoding="ascii" ?>',
                    b'<?xml version="1.0" encoding="bogus"?>',
                    b'<?xml version="1.0" encoding="UTF-8" ?>\n']  # fmt: skip
    bodies = [b"<rss><t>plain</t></rss>", "<rss><t>caf\u00e9 \u2014 \u0422\u0430\u0440</t></rss>".encode(),
              "<rss><t>caf\u00e9</t></rss>".encode("latin-1"), b"<rss><t>\xff\xfe bad</t></rss>"]  # fmt: skip
    cases = []
    for ctype in types:
        for charset in charsets:
            headers: dict[str, str] = {"x-other": "1"}
            if ctype is not None:
                headers["content-type"] = ctype + (f"; charset={charset}" if charset else "")
            elif charset:
                continue
            for decl in declarations:
                for body in bodies:
                    for prefix in (b"", b"\n", codecs.BOM_UTF8):
                        cases.append((prefix + decl + body, headers))
        cases.append((b'<?xml version="1.0"?><rss/>', {}))  # no headers at all
    fast = [guards.to_utf8(body, headers) for body, headers in cases]
    assert (
        sum(guards._already_utf8({k.lower(): v for k, v in h.items()}, b) is not None for b, h in cases) > 500
    )
    monkeypatch.setattr(guards, "_already_utf8", lambda headers, body: None)
    for (body, headers), got in zip(cases, fast, strict=True):
        assert got == guards.to_utf8(body, headers), (body, headers)


def _is_google_news_reference(link: str) -> bool:
    try:
        return (urlsplit(link).hostname or "").lower() == "news.google.com"
    except ValueError:
        return False


def test_is_google_news_is_unchanged() -> None:
    hosts = ["news.google.com", "NEWS.Google.COM", "news.google.com.evil", "evil", "u@news.google.com:80",
             "news.google.com:x", "[news.google.com]", "news%2Egoogle.com"]  # fmt: skip
    links = [f"{scheme}://{host}{path}" for scheme in ("https", "HTTP", "feed") for host in hosts
             for path in ("", "/x", "/news.google.com", "?q=news.google.com")]  # fmt: skip
    links += [u for _base, u in _urls(6, 50_000)]
    for link in links:
        assert normalise.is_google_news(link) == _is_google_news_reference(link), link


def test_c1_search_in_utf8_is_the_character_class() -> None:
    from bot.parse import fast

    for code in range(0x110000):
        c = chr(code)
        for s in (c, f"é{c}\u2019x"):
            found = fast._C1_UTF8.search(s.encode("utf-8", "surrogatepass")) is not None
            assert found == (fast._C1.search(s) is not None), hex(code)


def test_dates_read_directly_are_feedparsers() -> None:
    from feedparser.datetimes import _parse_date

    from bot.parse import fast

    rng = random.Random(23)
    days = ["", "Mon, ", "Sat, ", "Tue, ", "thu, ", "SUN, ", "Wed ", "Fri,", "ſat, ", "Monday, "]
    months = ["Jan", "feb", "MAR", "Oct", "Sep", "Dec", "Foo", "ſep", "Febr", "May"]
    zones = ["GMT", "gmt", "UT", "Z", "z", "+0000", "-0000", "+0530", "-1130", "+9999", "-0500", "EST", "PST",
             "+05:30", "UTC", "Etc/GMT", "GMT+2", "A", ""]  # fmt: skip
    w3zones = ["Z", "z", "+00:00", "-04:30", "+14:00", "-99:99", "+0530", "", "GMT", " Z"]
    years = ["2024", "1999", "0001", "9999", "10000", "24", "0000"]
    two = ["00", "01", "09", "12", "13", "23", "24", "29", "30", "31", "59", "60", "99", "7"]
    for _ in range(60_000):
        if rng.random() < 0.5:
            value = (
                f"{rng.choice(days)}{rng.choice(two)} {rng.choice(months)} {rng.choice(years)} "
                f"{rng.choice(two)}:{rng.choice(two)}:{rng.choice(two)} {rng.choice(zones)}"
            )
        else:
            value = f"{rng.choice(years)}-{rng.choice(two)}-{rng.choice(two)}"
            if rng.random() < 0.8:
                frac = rng.choice(["", ".5", ".999999999", ".9999999999999999999", ".123456"])
                sep = rng.choice("tT ")
                value += (
                    f"{sep}{rng.choice(two)}:{rng.choice(two)}:{rng.choice(two)}{frac}{rng.choice(w3zones)}"
                )
        if rng.random() < 0.05:
            value = value.strip() + rng.choice([" ", "\n", "x"])
        assert fast._date(value) == _parse_date(value), value


def test_has_doctype_is_the_upper_case_find() -> None:
    from bot.parse import guards

    rng = random.Random(29)
    parts = [b"<!", b"<!DOCTYPE", b"<!doctype", b"<!DocType", b"DOCTYPE", b"<", b"!", b"x", b"\xc4\xb0"]
    for _ in range(20_000):
        data = b"".join(rng.choice(parts) for _ in range(rng.randint(0, 8)))
        data = b"y" * rng.choice([0, 65520, 65527, 65528, 65529, 65536]) + data
        assert guards.has_doctype(data) == (data[:65536].upper().find(b"<!DOCTYPE") >= 0), data[-40:]
