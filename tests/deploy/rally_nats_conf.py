"""Reading the production nats.conf in tests: its top-level blocks as text (to hand to a real
nats-server) and the subset of the NATS configuration format it uses as Python values.

The format: maps `{ key: value }` (`:`, `=` or a space between key and value; newlines or commas
between entries), arrays `[ a, b ]` (newlines or commas between items), quoted or bare strings,
`#` and `//` comments. Bare words stay strings (`$VAR`, `8G`, `tls://host:6222`); `true`/`false`
become booleans and plain integers ints. nats-server itself checks the whole file
(tests/integration/test_nats_auth_tls.py); this reader only lets tests look inside it.
"""

from __future__ import annotations

import re
from typing import Any

_BARE_END = set(" \t\r\n,]}#")


def _skip(text: str, i: int, *, newlines: bool = True, commas: bool = False) -> int:
    """Skip whitespace (and newlines, commas), and comments to the end of their line."""
    while i < len(text):
        c = text[i]
        if c in " \t\r" or (newlines and c == "\n") or (commas and c == ","):
            i += 1
        elif c == "#" or text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
        else:
            break
    return i


def _value(text: str, i: int) -> tuple[Any, int]:
    c = text[i]
    if c == "{":
        return _map(text, i + 1, "}")
    if c == "[":
        items: list[Any] = []
        i += 1
        while True:
            i = _skip(text, i, commas=True)
            if text[i] == "]":
                return items, i + 1
            item, i = _value(text, i)
            items.append(item)
    if c in "\"'":
        end = text.index(c, i + 1)
        return text[i + 1:end], end + 1
    start = i
    while i < len(text) and text[i] not in _BARE_END:
        i += 1
    word = text[start:i].strip()
    if word in {"true", "false"}:
        return word == "true", i
    if re.fullmatch(r"-?\d+", word):
        return int(word), i
    return word, i


def _map(text: str, i: int, close: str | None) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while True:
        i = _skip(text, i, commas=True)
        if i >= len(text):
            if close is not None:
                raise ValueError("unterminated block")
            return out, i
        if close is not None and text[i] == close:
            return out, i + 1
        m = re.compile(r"[A-Za-z_$][\w$.-]*").match(text, i)
        if m is None:
            raise ValueError(f"a key expected at {text[i:i + 40]!r}")
        key, i = m.group(0), m.end()
        i = _skip(text, i, newlines=False)
        if text[i] in ":=":
            i = _skip(text, i + 1, newlines=False)
        out[key], i = _value(text, i)


def parse(conf: str) -> dict[str, Any]:
    """The configuration as nested dicts and lists."""
    return _map(conf, 0, None)[0]


def block(conf: str, name: str) -> str:
    """The text of the top-level block `name { ... }`, braces included (comments kept)."""
    m = re.search(rf"^{re.escape(name)}\s*[:=]?\s*\{{", conf, re.MULTILINE)
    if m is None:
        raise KeyError(f"no top-level block {name!r}")
    depth, i = 0, m.end() - 1
    while i < len(conf):
        i = _skip(conf, i, newlines=True)
        c = conf[i]
        if c in "\"'":
            i = conf.index(c, i + 1) + 1
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return conf[m.start():i + 1]
        i += 1
    raise ValueError(f"block {name!r} is not closed")
