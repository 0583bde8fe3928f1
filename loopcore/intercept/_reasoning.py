"""Features that read what a request means, not only which words it uses.

Each function here is one feature of ``features.FEATURE_DOCS``, with the
reasoning that fixes its direction. The directions were then checked on the
labelled issues of ``../shared/data`` (see ``bench/intercept_quality.py``,
table "Feature directions"), within each source separately: the random sample
(well specified <= 1 against >= 2), SWE-bench Lite (the same split) and
SWE-bench Verified (label 0 against 1). A feature is kept only when its
direction holds in at least two of the three; the AUCs quoted are of the
feature alone (0.5 = no signal; below 0.5 = the feature marks underspecified
issues).

Three more reasoned features are phrase kinds of ``_phrases``, read by the
word scan, and weighed in ``dimensions._clarity``:

- ``decisions`` (kind ``decision``): "whether to", "should we", "or maybe",
  "one option": the request hands a choice to the implementer, which is what
  a blank is. (-) on the random rows (0.427) and in lite (0.466); flat in
  verified (0.506).
- ``hedges`` (kind ``hedge``): doubt about facts ("I think", "it seems"); the
  report may be wrong: a milder blank than a choice left open. (-) in all
  three (0.476, 0.390, 0.472).
- ``contradictions`` (kind ``contradiction``): "contradicts", "inconsistent",
  "but also": two demands pull apart and one must give. Rare (5, 5 and 12
  issues), weakly (-) in all three (0.494, 0.494, 0.491).

An open question against a proposed fix is read in ``dimensions._clarity``: a
question in the prose costs more when nothing is proposed or expected.

Prose against pasted material (``explained``, ``pointed_names``): a request's
length and the names of code it holds are read from its prose, not from the
code, tracebacks and logs it quotes, which lengthen a report without saying
what is wanted or where. This moved the out-of-fold AUC on the random rows from
0.665 to 0.682 (paired difference +0.017, 95% interval [-0.003, 0.040]: within
the noise of 145 rows) and Lite from 0.597 to 0.620; Verified 0.628 to 0.620.

Candidates reasoned about and not kept, each alone (AUC random, lite,
verified), because the direction did not hold in two sources or the signal was
too rare to check: a diff or patch in the text (0.515, 0.480, 0.495); competing
proposals, "alternatively", "option 1" (in 0, 2 and 3 issues; the phrases are
already ``decisions``); a feature request with no code or example to sketch the
interface (0.437, 0.513, 0.490, and lowering acceptance for it moved Lite and
Verified down); an interactive ``>>>`` session (0.557, 0.491, 0.513; code blocks
already count); "should" followed by any verb as a desired behaviour (0.498,
0.527, 0.555: widening the desired phrases lowered the random rows); a negated
capability, "X does not handle Y" (0.576, 0.553, 0.495); @mentions of people
(0.458, 0.463, 0.502; rare); the file location read from the prose only (0.583,
0.508, 0.506; a traceback's file is still a place the agent can open). A fitted
logistic model over the documented features did worse out of fold than the
fixed combination (0.60-0.63 against 0.67-0.68): with 145 rows, every weight more is
noise.

Everything here is linear in the text and runs only on what the word scan and
the anchor scan already found (tens of microseconds on 4 KB: see
``bench/intercept_speed.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Set

__all__ = [
    "BUILD_VERBS",
    "PROPER_NOUNS",
    "desired_stated",
    "explained",
    "grounded_names",
    "listed_features",
    "pointed_names",
    "quotable_name",
]


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


# CamelCase words that name products, companies and platforms, not code. Read as names of
# code they raise specificity and make questions such as "What should `GitHub` do?".
PROPER_NOUNS = _words(
    """GitHub GitLab BitBucket Bitbucket JavaScript TypeScript CoffeeScript PostgreSQL MySQL
    MariaDB MongoDB SQLite DynamoDB CouchDB OAuth OpenID OpenAPI GraphQL PyPI NumPy SciPy
    SymPy PyTorch TensorFlow PyCharm VSCode VsCode IntelliJ WebStorm LinkedIn YouTube
    WhatsApp PayPal WordPress DevOps OpenAI ChatGPT DeepMind iOS iPadOS macOS watchOS tvOS
    iPhone iPad iCloud iTunes eBay FreeBSD OpenBSD NetBSD OpenSSL LibreSSL OpenSSH CentOS
    RedHat AppVeyor CircleCI TravisCI GitLabCI ReadTheDocs StackOverflow DuckDuckGo
    CloudFlare Cloudflare DigitalOcean HackerNews SoundCloud LaTeX MathJax KaTeX NodeJS
    NextJS NuxtJS VueJS ReactJS AngularJS FastAPI SQLAlchemy MkDocs"""
)

# Verbs that open a request for something new, whose object may come with a feature list.
BUILD_VERBS = _words("build create implement develop make add write design scaffold setup set")
_LIST_OPENERS = (" with ", " including ", " that has ", " featuring ", " supporting ", ": ")
_ITEM_SPLIT = re.compile(r"[,;]")
_LAST_SPLIT = re.compile(r"\s(?:and|plus)\s")
_BULLET = re.compile(r"(?:[-*+\u2022]|\d{1,2}[.)])\s+\S")
_MIN_ITEMS = 4
# Words that may come before the build verb of a request ("please build", "we need to add").
_LEADS = _words("please i we want need needs to would like i'd let's lets you can could also and")
_VERBS = tuple(sorted(BUILD_VERBS))
_LEAD_WINDOW = 48  # characters of request words that may come before the build verb
_SENTENCE_MAX = 600  # characters of a request sentence read after its build verb
# Names checked against the quoted code at most: the feature saturates long before.
_MAX_GROUNDED_CHECKS = 32
# Kinds of anchor that name code as written (a call, a dotted path, a snake_case name...).
_CODE_KINDS = ("call", "dotted", "snake", "const", "camel", "backtick", "path", "line")
# Kinds preferred when quoting a name back in a question, best first. CamelCase only
# when the code quoted in the text uses it too (else it may be a product or a person).
_QUOTABLE = ("call", "dotted", "snake", "const", "endpoint", "backtick")


def desired_stated(cues: Mapping[str, Set[str]], behaviour: bool) -> bool:
    """Whether the text states the behaviour wanted, not only the behaviour seen.

    A report that says only what happens ("it returns 0") leaves the fix open:
    should it return 1, raise, warn? The implementer must decide, which is what
    an underspecified issue is. Saying what should happen ("it should return
    1", "expected: ...", "instead of"), proposing a fix, or stating behaviour
    as an order ("raise after 3 tries"), "is supposed to", "the correct value
    is" closes that blank. Checked: (+) in all three sources (AUC 0.605
    random, 0.549 lite, 0.595 verified); its converse, a failure reported with
    no desired behaviour (``only_observed``), is (-) in all three (0.473,
    0.475, 0.432).
    """
    return bool(behaviour or cues["expected"] or cues["proposal"])


# Kinds of anchor that name a part of the program (not a link, a line number or a flag).
_NAME_KINDS = ("call", "dotted", "snake", "const", "camel", "backtick", "path", "error_name")
_EXPLAINED_AT = math.log1p(150.0)  # distinct prose words at which the length saturates


def explained(prose_words: int) -> float:
    """How much the request explains, read from the distinct words of its prose (0..1).

    A request of ten words cannot say what is wanted, where, and what done looks
    like; one of a hundred can. The returns diminish (the log, saturating at 150
    distinct words): the tenth paragraph adds less than the second. Only the
    prose counts, not quoted code, tracebacks and logs: a pasted dump lengthens a
    report without saying what should happen, and SWE-bench Lite, which kept
    short self-contained issues, shows it: length over the whole text runs the
    wrong way there (AUC 0.424), over the prose alone it does not. Checked: (+)
    in all three sources (AUC of the feature 0.563 random, 0.524 lite, 0.510
    verified; whole text 0.569, 0.424, 0.528).
    """
    return min(1.0, math.log1p(max(0, prose_words)) / _EXPLAINED_AT)


def pointed_names(prose_anchors: Mapping[str, Set[str]]) -> int:
    """Distinct names of code the prose itself names: the reporter pointing at a place.

    ``Engine.render_to_string()``, ``trim_docstring``, ``src/app.py`` written in
    a sentence say where the change goes. The same names inside a pasted
    traceback or a log are incidental: a long dump lists many frames without
    saying which one is wrong, and counting them rewarded length (Lite, which
    kept short issues, ran the wrong way: AUC 0.444 for all names). Checked:
    (+) in all three sources (AUC 0.595 random, 0.521 lite, 0.514 verified).
    """
    return sum(len(prose_anchors[kind]) for kind in _NAME_KINDS)


def grounded_names(anchors: Mapping[str, Set[str]], prose_words: Set[str], code: str) -> int:
    """Distinct names of code the prose names that also appear in the code it quotes.

    A name in the prose is a claim about where the problem is; the same name
    in a snippet, a traceback or a quoted source line shows the place exists
    and how it is reached, so the agent can go there instead of guessing.
    Names only in prose may be misremembered or invented; names only in code
    are not pointed at. Checked: (+) on the random rows (AUC 0.601) and in
    verified (0.534); (-) in lite (0.434), whose selection kept short,
    self-contained issues (length and code are (-) there too).

    A name is compared word by word (lower-cased, split at dots and slashes)
    against the words of the prose, a set look-up each; the few named in the
    prose are then looked for in the code as written (at most 32: the feature
    saturates long before), so the work stays linear in the text.
    """
    if not code:
        return 0
    # One name read as two kinds (``parse()`` a call, ``parse`` a word) counts once.
    names = {name.strip("`").removesuffix("()") for kind in _CODE_KINDS for name in anchors[kind]}
    in_prose = []
    for bare in names:
        if len(bare) > 2:
            parts = bare.lower().replace("/", ".").split(".")
            if all(p in prose_words for p in parts if p):
                in_prose.append(bare)
    in_prose.sort()  # the cap below must not depend on set order
    # A substring search of the code per name named in the prose (few, and capped).
    return sum(bare in code for bare in in_prose[:_MAX_GROUNDED_CHECKS])


def listed_features(prose: str, words: Set[str]) -> int:
    """How many separate features a request for something new lists (0 when none).

    "Build a user auth system with signup, login, password reset, OAuth via
    Google and GitHub, admin dashboard" is five pieces of work, each with its
    own blanks and its own definition of done: one task would be too large to
    check, so the request routes to ``decompose``. Read after a build verb
    (build, create, implement, add...): the items of a list introduced by
    "with", "including", ":" in the same sentence, or bullet lines under a
    line ending in ":", when the sentence or line opens with the verb
    ("build", "please add", "we need to create"). At least four items, and at
    least one of more than one word, so a list of types or values ("int,
    float, str and bytes") is not taken for a list of features. On the 611
    labelled issues (bug reports mostly) this finds one list, a proposal in
    four steps that also has three asks (so it routed to ``decompose`` before
    this feature too).
    """
    if BUILD_VERBS.isdisjoint(words):  # ``words``: the prose's words, lower-cased
        return 0
    low = prose.lower()
    best = 0
    read_to = 0  # bullets before this offset were read under an earlier heading line
    # Only the few build verbs are visited, and only those opening their sentence count.
    for verb_at in _build_verbs(low):
        # The sentence start is looked for a few words back only (a search back to the
        # text start for every verb would be quadratic): only request words may be there.
        window = max(0, verb_at - _LEAD_WINDOW)
        dot = low.rfind(". ", window, verb_at)
        start = max(low.rfind("\n", window, verb_at) + 1, dot + 2 if dot >= 0 else 0)
        if (start == 0 and window > 0) or not _LEADS.issuperset(low[start:verb_at].split()):
            continue
        # From the verb to the line end, read up to _SENTENCE_MAX characters (bounded, so
        # many verbs on one long line stay linear); a longer line is no heading.
        limit = min(len(low), verb_at + _SENTENCE_MAX)
        line_end = low.find("\n", verb_at, limit)
        line_end = limit if line_end < 0 else line_end
        rest = low[verb_at:line_end]
        sentence = rest.split(". ", 1)[0]
        at = min((i for i in (sentence.find(o) for o in _LIST_OPENERS) if i >= 0), default=-1)
        if at >= 0:
            tail = sentence[at:].split(":", 1)[-1]
            for opener in _LIST_OPENERS:
                tail = tail.removeprefix(opener)
            items = _ITEM_SPLIT.split(tail.rstrip(" .!…"))
            # "a, b and c": the last comma-separated part may hold two items.
            items[-1:] = _LAST_SPLIT.split(f" {items[-1].strip()} ")
            best = max(best, _count_items(items))
        heading = line_end < limit or limit == len(low)
        if heading and rest.rstrip().endswith(":") and verb_at >= read_to:
            bullets = []
            read_to = line_end + 1
            while read_to < len(low):
                end = low.find("\n", read_to)
                end = len(low) if end < 0 else end
                line = low[read_to:end].strip()
                if not _BULLET.match(line):
                    break
                bullets.append(line.lstrip("-*+\u2022 0123456789.)"))
                read_to = end + 1
            best = max(best, _count_items(bullets))
    return best


def _build_verbs(low: str) -> list[int]:
    """Where a build verb stands as a word of prose, followed by a space or a tab ("set-cookie:"
    is no request), in text order: after neither a word character nor a hyphen.

    A search for each verb's letters (C speed) and a look at the characters around
    the few hits: a quarter of the time of one regular expression with a look-behind
    tried at every position. Two verbs never claim one place (the letters of a word
    come before any other hit), so the hits are the regular expression's matches.
    """
    found = []
    for verb in _VERBS:
        at = low.find(verb)
        while at >= 0:
            end = at + len(verb)
            if end < len(low) and low[end] in " \t":
                before = low[at - 1] if at else " "
                if not (before.isalnum() or before in "_-"):  # \w is alphanumeric or "_"
                    found.append(at)
            at = low.find(verb, at + 1)
    found.sort()
    return found


def _count_items(items: list[str]) -> int:
    parts = [p.strip(" .…").removeprefix("and ") for p in items if p.strip(" .…")]
    if len(parts) < _MIN_ITEMS or all(len(p.split()) == 1 for p in parts):
        return 0
    return len(parts)


def quotable_name(anchors: Mapping[str, Set[str]], code: str) -> str:
    """The name of code to quote back in a question, or "" when there is none worth quoting.

    A question such as "What exactly should `X` do?" is worth answering only
    when ``X`` is a part of the program: a call, a dotted or snake_case name, a
    constant, an endpoint, a name in backticks; a CamelCase word only when
    the quoted code uses it (``AdminSite`` in a snippet), never a product or a
    company the text mentions (GitHub, PostgreSQL).
    """
    for kind in _QUOTABLE:
        if anchors[kind]:
            return min(anchors[kind], key=lambda a: (len(a), a)).strip("`")
    camel = sorted(
        (a for a in anchors["camel"] if a not in PROPER_NOUNS and a in code),
        key=lambda a: (len(a), a),
    )
    return camel[0] if camel else ""


# Verbs that reshape what exists: the behaviour wanted afterwards is "the same as now".
RESHAPE_VERBS = _words(
    """refactor rename move migrate upgrade convert replace port rewrite split merge clean
    drop deprecate remove delete"""
)


def request_kind(features: Mapping[str, float], asks: tuple[str, ...]) -> str:
    """What sort of request this is, for asking about the blank it really leaves.

    - ``failure``: something breaks; the blank is what should happen instead.
    - ``degree``: faster, smaller; the blank is the measurement and the target, not
      "what should it do" (it should do the same, better).
    - ``reshape``: refactor, migrate, rename; the behaviour wanted is the behaviour
      now, so the blank is what must not change, not a new behaviour.
    - ``new``: something to add; the blank is what it should do, in one example.
    """
    if features["failure"]:
        return "failure"
    if features["comparative"]:
        return "degree"
    verbs = {ask.split(" ", 1)[0] for ask in asks}
    if verbs and verbs <= RESHAPE_VERBS:
        return "reshape"
    return "new"
