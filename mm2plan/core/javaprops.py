"""Java `.properties` text, read and written as `java.util.Properties` does.

MM2's dedicated mode reads its file with `Properties.load`: `=`, `:` or whitespace end a key,
a line ending in an odd number of backslashes continues on the next, `#`/`!` start a comment,
and `\\t \\n \\uXXXX ...` are escapes. The importer must read exactly that (a key MM2 sees is the
key mm2plan reports), and the exporter must write text that reads back the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

_SEPARATORS = "=:"
_WHITESPACE = " \t\f"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    value: str
    line: int
    """1-based line of the entry's first physical line."""
    last_line: int
    """Its last physical line (continuations)."""


def _logical_lines(text: str) -> Iterable[tuple[int, int, str]]:
    """(first line, last line, text) of each non-blank, non-comment logical line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        start = i
        raw = lines[i].lstrip(_WHITESPACE)
        i += 1
        if not raw or raw[0] in "#!":
            continue
        parts = []
        while True:
            trailing = len(raw) - len(raw.rstrip("\\"))
            if trailing % 2 == 1 and i < len(lines):
                parts.append(raw[:-1])
                raw = lines[i].lstrip(_WHITESPACE)
                i += 1
                continue
            if trailing % 2 == 1:  # a continuation at the end of the file: Java drops the '\'
                raw = raw[:-1]
            parts.append(raw)
            break
        yield start + 1, i, "".join(parts)


def _unescape(text: str) -> str:
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\" or i + 1 >= len(text):
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "u":
            digits = text[i + 2 : i + 6]
            if len(digits) == 4 and all(d in "0123456789abcdefABCDEF" for d in digits):
                out.append(chr(int(digits, 16)))
                i += 6
                continue
            # Java throws "Malformed \uxxxx encoding"; keep the text rather than fail the file.
            out.append(nxt)
            i += 2
            continue
        out.append(_ESCAPES.get(nxt, nxt))
        i += 2
    return _join_surrogates("".join(out))


def _join_surrogates(text: str) -> str:
    """`\\ud83d\\ude00` is one character in Java's UTF-16 strings: join the pair here too."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _split(line: str) -> tuple[str, str]:
    """Key and value of a logical line: the first unescaped separator or whitespace ends the
    key; whitespace, one '=' or ':', and whitespace again come before the value."""
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c in _SEPARATORS or c in _WHITESPACE:
            break
        i += 1
    key = line[:i]
    j = i
    while j < len(line) and line[j] in _WHITESPACE:
        j += 1
    if j < len(line) and line[j] in _SEPARATORS:
        j += 1
        while j < len(line) and line[j] in _WHITESPACE:
            j += 1
    return _unescape(key), _unescape(line[j:])


def parse(text: str) -> list[Entry]:
    """Every entry in file order, duplicates included (`Properties` keeps the last)."""
    out = []
    for first, last, line in _logical_lines(text):
        key, value = _split(line)
        out.append(Entry(key, value, first, last))
    return out


def decode(data: bytes) -> str:
    """UTF-8 when it is (what people write today), else ISO-8859-1 (`Properties.load` of a
    stream, which MM2 uses): either way `\\uXXXX` escapes work."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _escape(text: str, is_key: bool) -> str:
    out = []
    for i, c in enumerate(text):
        if c == "\\":
            out.append("\\\\")
        elif c in "\t\n\r\f":
            out.append("\\" + {"\t": "t", "\n": "n", "\r": "r", "\f": "f"}[c])
        elif c == " " and (is_key or i == 0 or i == len(text) - 1):
            out.append("\\ ")
        elif (c in "=:" and is_key) or (c in "#!" and i == 0):
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) > 0x7E:
            # ASCII only: MM2 loads the file as ISO-8859-1.
            units = c.encode("utf-16-be")
            for k in range(0, len(units), 2):
                out.append(f"\\u{int.from_bytes(units[k : k + 2], 'big'):04x}")
        else:
            out.append(c)
    return "".join(out)


def format_entry(key: str, value: str) -> str:
    """One `key = value` line that `Properties.load` reads back as exactly (key, value)."""
    return f"{_escape(key, True)} = {_escape(value, False)}"
