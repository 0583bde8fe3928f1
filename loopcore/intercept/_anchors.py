"""Names of code in a text: files, lines, functions, classes, settings, flags, endpoints.

The text is split on whitespace and each *distinct* token is classified once,
with plain words (the vast majority) rejected by cheap string tests before any
regular expression runs. Links and issue numbers are collected as references,
not as names of code.
"""

from __future__ import annotations

import re
import string
from collections.abc import Set

from loopcore.intercept._reasoning import PROPER_NOUNS

__all__ = ["ANCHOR_KINDS", "LOCATION_KINDS", "find_anchors"]

ANCHOR_KINDS = (
    "code_url",
    "line",
    "path",
    "endpoint",
    "call",
    "error_name",
    "dotted",
    "camel",
    "const",
    "snake",
    "backtick",
    "flag",
)
LOCATION_KINDS = frozenset({"code_url", "line", "path"})

_EXT = (
    r"py|pyi|js|mjs|ts|tsx|jsx|go|rs|java|kt|rb|php|c|h|cc|cpp|hpp|cs|swift|json|yaml|yml|toml|"
    r"ini|cfg|md|rst|txt|html|css|sql|sh|lock|ipynb|vue|scala|lua|r"
)
_EXTENSIONS = frozenset(_EXT.split("|"))
_FILE_HEAD = re.compile(r"[\w./~-]*\w")
_FILE_LINE = re.compile(rf"\.(?:{_EXT}):\d+")
_IDENT = re.compile(r"[A-Za-z_][\w.]*")
# One alternation, tried in this order; the group that matched names the kind.
_NAMED = re.compile(
    r"(?P<error_name>[A-Z]\w*(?:Error|Exception|Warning))"
    r"|(?P<dotted>[A-Za-z_]\w+(?:\.[A-Za-z_]\w+)+)"
    r"|(?P<camel>[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+|[a-z]+[A-Z]\w*)"
    r"|(?P<const>[A-Z][A-Z0-9]*_[A-Z0-9_]+)"
    r"|(?P<snake>[a-z][a-z0-9]*_[a-z0-9_]+)"
)
_VERSION = re.compile(r"[vV]?\d+\.\d+\.\d+[\w.+-]*|[vV]\d+\.\d+")
# An inline code span: not part of a ``` fence, with something besides spaces inside.
# (The literal comes first and the look-behind after it, so the engine can scan for it.)
_BACKTICK = re.compile(r"`(?<!``)[^`\n]{0,79}[^`\s][^`\n]{0,79}`(?!`)")
_LINE = re.compile(r"line \d+")
_LINE_ANCHOR = re.compile(r"#L\d+")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
_ENDPOINT = re.compile(r"(?:GET|POST|PUT|PATCH|DELETE|HEAD) /\S*")
_LEAD = "\"'([{<`*"
# Characters a name of code, a path, a flag or a version can hold.
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_./-#:~+")
_PUNCT = "\"'([{<`*.,;:!?)]}>"
_VERSION_FIRST = frozenset(string.digits + "vV")
_NAMED_FIRST = frozenset(string.ascii_letters + "_")
_NAMED_CHARS = frozenset(string.ascii_letters + string.digits + "_.")


def _url(tok: str) -> tuple[str, str]:
    """A link: to code (a blob or tree on a code host) or a plain reference."""
    code_host = "github." in tok or "gitlab." in tok or "bitbucket." in tok
    if code_host and ("/blob/" in tok or "/tree/" in tok):
        return "code_url", tok
    return "reference", tok


def _pathlike(tok: str) -> str | None:
    """ "line" for file:line, "path" for a path or a file name, else None."""
    if ":" in tok and _FILE_LINE.search(tok):
        return "line"
    head, dot, ext = tok.rpartition(".")
    # String tests, not a searching regex: a long token must not cost quadratic time.
    has_ext = bool(dot) and ext.lower() in _EXTENSIONS and _FILE_HEAD.fullmatch(head) is not None
    if "/" in tok:
        rooted = tok.startswith(("/", "./", "~/")) or tok.endswith("/")
        return "path" if rooted or has_ext else None
    return "path" if has_ext else None


def _classify(tok: str) -> str | None:
    """The kind of a candidate word (``_candidates``: ASCII name characters only), or None."""
    first = tok[0]
    if first == "#" and tok[1:].isdigit():
        return "reference"
    if first == "-":
        is_flag = (tok[1] == "-" and len(tok) > 2 and tok[2].isalpha()) or (
            len(tok) == 2 and tok[1].isalpha()
        )
        return "flag" if is_flag else None
    # A version holds a dot ("1j", "3rd" are not tried).
    if first in _VERSION_FIRST and "." in tok and _VERSION.fullmatch(tok):
        return "version"
    if "." in tok or "/" in tok:
        kind = _pathlike(tok)
        if kind:
            return kind
    # Every kind of _NAMED starts with a letter or "_" and holds only word characters and
    # dots: other tokens ("0.5", "mid-stream") are rejected without running it.
    if first in _NAMED_FIRST and _NAMED_CHARS.issuperset(tok):
        match = _NAMED.fullmatch(tok)
        if match:
            # A product or company written in CamelCase (GitHub, PostgreSQL) is not code.
            return None if tok in PROPER_NOUNS else match.lastgroup
    return None


def _candidates(words: Set[str]) -> tuple[set[str], list[str]]:
    """The words that may name code, stripped of surrounding punctuation; and the raw words
    holding "(" or "://" (calls and links), found in the same pass.

    Plain words (lower-case, title-case or capitals; most of the text) and code
    fragments (quotes, brackets, operators inside) are dropped with as few
    string calls per word as the order of the tests allows.
    """
    found = set()
    marked = []  # a letters-only word holds neither "(" nor "://": only the others are tested
    for w in words:
        if w.isalpha():
            if w.islower() or w.istitle() or w.isupper():
                continue
            t = w
        else:
            if "(" in w or "://" in w:
                marked.append(w)
            t = w.strip(_PUNCT)
            if t.isalpha():
                if t.islower() or t.istitle() or t.isupper():
                    continue
            elif t.isdigit() or len(t) < 2:
                continue
        if _NAME_CHARS.issuperset(t) and not t.startswith("http"):
            found.add(t)
    return found, marked


def _has_endpoint(full: str) -> bool:
    """Whether ``full`` holds "GET /" or another method then " /".

    The few " /" are found and the word before each checked: one scan of the
    text, not one per method. Many " /" fall back to one scan per method.
    """
    at = full.find(" /")
    for _ in range(8):
        if at < 0:
            return False
        if full.endswith(_METHODS, 0, at):
            return True
        at = full.find(" /", at + 2)
    return at >= 0 and any(f"{method} /" in full for method in _METHODS)


def find_anchors(full: str, tokens: Set[str] | None = None) -> dict[str, set[str]]:
    """Distinct names of code per kind, plus ``reference`` (links, issue numbers), ``version``.

    Args:
        full: the text.
        tokens: the whitespace-separated words of ``full`` to classify, when the
            caller has them or has already classified some (default: all of them).
    """
    found: dict[str, set[str]] = {kind: set() for kind in (*ANCHOR_KINDS, "reference", "version")}
    cands, marked = _candidates(set(full.split()) if tokens is None else tokens)
    called = set()  # names before "(": words calling the same name are tested once
    for raw in marked:
        if "://" in raw:
            kind, name = _url(raw.strip(_PUNCT))
            found[kind].add(name)
        else:
            called.add(raw[: raw.index("(")].lstrip(_LEAD))
    # An ASCII identifier matches _IDENT: only the others (dotted, non-ASCII) need the regex.
    found["call"].update(
        f"{name}()"
        for name in called
        if name and ((name.isascii() and name.isidentifier()) or _IDENT.fullmatch(name))
    )
    for tok in cands:
        hit = _classify(tok)
        if hit is not None:
            found[hit].add(tok)
    # Substring tests first: each pattern needs its literal to match at all (a one-character
    # test is a memchr; a longer one costs a few microseconds on 4 KB).
    if "`" in full:
        found["backtick"].update(_BACKTICK.findall(full))
    if "line " in full:
        found["line"].update(_LINE.findall(full))
    if "#" in full and "#L" in full:
        found["line"].update(_LINE_ANCHOR.findall(full))
    if _has_endpoint(full):
        found["endpoint"].update(_ENDPOINT.findall(full))
    return found
