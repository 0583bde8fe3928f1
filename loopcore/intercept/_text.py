"""Text normalisation for the prompt scorer.

Every feature is read from the normalised text: a line said twice (an echo
of the title) is kept once, HTML comments and empty issue-template
sections (``_No response_``) are dropped. Features then count *distinct*
things, never occurrences, and the word scan reads a word run together with
itself ("json json json") once; so padding cannot raise the score.

The work is done line by line with string methods; regular expressions run
only where a cheap substring test says they can match (speed: see
``bench/intercept_speed.py``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, compress
from operator import ne

__all__ = ["Text", "normalise", "normalise_for_hash", "sha256_hex", "split_text"]

_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_FENCES = ("```", "~~~")
_FEW = 32  # fence markers found by searching the text; past this many, line by line
_SESSION = (">>>", "$ ", "In [")
_INDENTS = ("\t", "    ")
_HEADING = re.compile(r"#{1,6}\s")


@dataclass(frozen=True, kw_only=True, slots=True)
class Text:
    """A normalised prompt, split into prose and code.

    Attributes:
        full: the normalised text (prose and code).
        prose: the text outside code (lines stripped, repeats dropped).
        code: the contents of fenced code blocks, then the code lines outside
            fences (indented code, interactive sessions), joined.
        fenced: how many fenced code blocks there were.
        code_lines: distinct indented or interactive code lines outside fences.
    """

    full: str
    prose: str
    code: str
    fenced: int
    code_lines: int


def normalise(text: str) -> str:
    """Unicode-normalise, drop HTML comments."""
    text = unicodedata.normalize("NFKC", text)
    # One-character tests first: a memchr each, where the replacements scan the whole text.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2019", "'")  # typographic apostrophe (U+2019) reads as "'"
    if "<" in text and "<!--" in text:
        text = _HTML_COMMENT.sub("", text)
    return text


def _marker_lines(norm: str, lines: list[str]) -> list[int]:
    """The numbers of the lines of ``norm`` that hold a fence marker, in order.

    While markers are few they are found by searching the text, and the lines
    between them are never looked at; past ``_FEW`` markers, one search each would
    cost more than a test of every line, so every line is tested.
    """
    found: set[int] = set()
    for marker in _FENCES:
        line = last = 0
        at = norm.find(marker)
        while at >= 0:
            if len(found) > _FEW:
                return [n for n, text in enumerate(lines) if "```" in text or "~~~" in text]
            line += norm.count("\n", last, at)
            last = at
            found.add(line)
            end = norm.find("\n", at)
            if end < 0:
                break
            at = norm.find(marker, end)
    return sorted(found)


def _fences(norm: str) -> tuple[list[str | None], list[str], int]:
    """Lines outside fenced blocks (None where a block stood), the blocks' lines, their count.

    A block that is never closed is read as prose, as a lenient reader would; an
    empty block is dropped (padding with fence markers must not count as code).
    Only the lines holding a fence marker are looked at one by one; the runs of
    lines between them go whole into the block or the text outside.
    """
    lines = norm.split("\n")
    outside: list[str | None] = []
    code: list[str] = []
    fenced = 0
    fence = ""
    block: list[str] = []
    start = 0
    for i in _marker_lines(norm, lines):
        if i > start:
            (block if fence else outside).extend(lines[start:i])
        start = i + 1
        line = lines[i]
        if fence:
            if fence not in line or line.strip() != fence:
                block.append(line)
                continue
            if any(b.strip() for b in block[1:]):
                code.extend(block)
                fenced += 1
                outside.append(None)
            fence = ""
        elif line.strip()[:3] in _FENCES:
            fence, block = line.strip()[:3], [line]
        else:
            outside.append(line)
    (block if fence else outside).extend(lines[start:])
    if fence:
        outside.extend(block)
    return outside, code, fenced


def _collapse_repeats(line: str) -> str:
    """``line`` with each word run together with itself read once ("a a b" -> "a b").

    Compared at C level: most lines have no repeat and come back as they are.
    """
    words = line.split()
    if all(map(ne, words[1:], words)):
        return line
    return " ".join(compress(words, chain((True,), map(ne, words[1:], words))))


def split_text(text: str, *, seen: set[str] | None = None) -> Text:
    """Normalise ``text`` and split it into deduplicated prose lines and code.

    Lines are compared stripped and lower-cased, so a line said again (the
    title echoed in the body) is read once. A padded copy of a line stays in,
    but adds no word: every feature reads sets of words and phrases, so it
    cannot raise the score. "_No response_" lines are dropped.

    Args:
        text: the raw prompt (or context).
        seen: lines already read elsewhere (the prompt, when splitting its
            context); updated in place, and lines in it are dropped.
    """
    seen = set() if seen is None else seen
    norm = normalise(text)
    lines: Sequence[str | None]
    if "```" in norm or "~~~" in norm:
        lines, code, fenced = _fences(norm)
    else:
        lines, code, fenced = norm.split("\n"), [], 0
    kept: list[str] = []
    heading = False  # the last line kept is a heading (dropped if nothing follows it)
    code_lines: set[str] = set()
    for line in lines:
        if line is None:
            heading = False  # a code block is something under a heading
            continue
        stripped = line.strip()
        if not stripped:
            continue
        key = stripped.lower()
        if "response" in key and key.strip("_") == "no response":
            continue
        # Code outside fences: indented lines with code punctuation (trac-style issues),
        # and interactive sessions.
        # (Code punctuation is looked for with one substring test per character, a memchr
        # each: twice as fast as a set test of every character of the line.)
        if (
            line[0] in "\t "
            and line.startswith(_INDENTS)
            and (
                "(" in line
                or "=" in line
                or ":" in line
                or "[" in line
                or "{" in line
                or ")" in line
                or "]" in line
                or "}" in line
            )
        ) or (stripped[0] in ">$I" and stripped.startswith(_SESSION)):
            # Code is not prose: it is read for names of code, not for cue phrases.
            heading = False  # code is something under a heading
            # A word run together with itself (">>> >>>") is the same line: padding must
            # not make a second code line.
            key = _collapse_repeats(key)
            if key not in code_lines:
                code_lines.add(key)
                if key not in seen:
                    seen.add(key)
                    code.append(stripped)
            continue
        if key not in seen:
            seen.add(key)
            # A heading with nothing under it (an unfilled template) is left out.
            is_heading = stripped[0] == "#" and _HEADING.match(stripped) is not None
            if heading and is_heading:
                kept[-1] = stripped
            else:
                kept.append(stripped)
            heading = is_heading
    if heading:
        kept.pop()
    prose = "\n".join(kept)
    joined_code = "\n".join(code)
    return Text(
        full=f"{prose}\n{joined_code}" if code else prose,
        prose=prose,
        code=joined_code,
        fenced=fenced,
        code_lines=len(code_lines),
    )


def normalise_for_hash(prompt: str) -> str:
    """The form of a prompt that ``prompt_hash`` digests: NFKC, whitespace collapsed, stripped.

    (``str.split`` breaks on exactly the characters ``\\s`` matches, in a quarter of the time
    of a regex substitution on a 2 KB prompt.)
    """
    return " ".join(unicodedata.normalize("NFKC", prompt).split())


def sha256_hex(text: str) -> str:
    """SHA-256 of ``text`` (UTF-8) as hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
