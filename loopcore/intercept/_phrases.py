"""Cue phrases, matched word by word over the prose.

A phrase is a sequence of words; ``@name`` stands for any word of a named set
(``@num`` for a number, ``@any`` for any word, ``@sep`` for a clause break).
Phrases are indexed by their first two words (or first word), so matching is
a couple of dictionary look-ups at the few words that can start one: several
times faster than one big regular-expression alternation over the text. At
each word the longest phrase wins and the scan resumes after it; a phrase
shared by two kinds belongs to the kind listed first. The kind ``_`` swallows
phrases that would otherwise be misread ("i don't" is not a constraint).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "BEHAVIOUR_VERBS",
    "CHANGE_VERBS",
    "FUNCTION_WORDS",
    "INDEX",
    "INDEX2",
    "KINDS",
    "SEPARATOR",
    "SETS",
    "Phrase",
    "tokens",
]

SEPARATOR = "|"
_SPACED = f" {SEPARATOR} "
# Punctuation becomes a space, clause breaks (, ; : and sentence or line ends) the
# separator word. A one-character translation table keeps str.translate on its fast
# path: five times quicker than a tokenising regular expression.
_TABLE = str.maketrans(
    {c: " " for c in '!"#$&()*+-./<=>?@[\\]^`{}~\t'}
    | {";": SEPARATOR, ":": SEPARATOR, ",": SEPARATOR, "\n": SEPARATOR}
)


def tokens(prose: str) -> list[str]:
    """Lower-cased words of ``prose`` with ``SEPARATOR`` between clauses and sentences."""
    # A line end is a sentence end too: the table maps it. A one-character test (a memchr)
    # spares the replacement's search of the whole text when there is no "?" or "!".
    text = prose.lower().replace(". ", _SPACED)
    if "?" in text:
        text = text.replace("? ", _SPACED)
    if "!" in text:
        text = text.replace("! ", _SPACED)
    return text.translate(_TABLE).replace(SEPARATOR, _SPACED).split()


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


# Grammatical glue. A request written as a sentence has it; a keyword list does not.
# Modals (must, should) are left out on purpose: they are what keyword soup is made of.
FUNCTION_WORDS = _words(
    """a an the of to in on at for with from by as into onto about after before when while
    if then than that this these those it its is are was were be been being and or but
    not no so which who what where how why there here i we you they he she my our your
    their do does did has have had can will would could all any each every only also
    just up out over under between through via per until unless because"""
)
# Verbs that ask for a change to code: each distinct (verb, object) is one ask.
CHANGE_VERBS = _words(
    """add fix remove delete implement refactor rename update replace support migrate move
    write document make change convert drop deprecate introduce extend improve optimise
    optimize clean split merge upgrade allow expose create build port rewrite enable
    disable set"""
)
# Verbs that state behaviour directly ("raise after 3 tries", "return None").
BEHAVIOUR_VERBS = _words(
    """raise return retry log print emit accept reject validate warn fail exit skip ignore
    keep preserve respect handle include exclude show display render output sort limit
    cache"""
)
SETS: Mapping[str, frozenset[str]] = {
    "sep": frozenset({SEPARATOR}),
    "modal": _words("should shouldn't must mustn't shall"),
    "mod": _words("not also only always never still"),
    "bverb": BEHAVIOUR_VERBS
    | _words(
        """be work give produce contain match equal have use allow call pass behave yield
    create generate take consider support apply read write succeed run default look
    appear get become check lead"""
    ),
    "opt": _words(
        """option options parameter argument setting flag method function keyword kwarg"""
    ),
    "this": _words("this it that"),
    "unit": _words(
        """ms s sec secs second seconds minute minutes min mins hour hours kb mb gb percent
    times tries retries attempts items lines chars characters bytes rows requests digits"""
    ),
    "eco": _words(
        """python py django numpy pandas scipy sympy matplotlib sphinx pytest node java go rust
    ruby php version release v ubuntu debian macos windows ios android chrome firefox"""
    ),
}

_KINDS: dict[str, str] = {
    "_": "i don't|i do not|we don't|i can't|i cannot|don't know how",
    "proposal": (
        "i propose|propose|proposed|proposal|proposing|suggest|suggested|suggests|suggestion|"
        "fix is|fix would be|fixed by|could be fixed|can be fixed|should be fixed|"
        "could be changed|can be changed|should be changed|could be replaced|should be replaced|"
        "could be solved|can be solved|can be dropped|could be dropped|can be removed|"
        "could be removed|can be simplified|could be simplified|can be replaced|patch|"
        "pull request|pr @num|diff|we should|add a @opt|add an @opt|add the @opt|"
        "add a new @opt|add new @opt|add @opt|change @any to|replace @any with"
    ),
    "expected": (
        "expect|expected|expects|expectation|would expect|ought to|instead of|rather than|"
        "desired|correct behaviour|correct behavior|correct result|correct output|correct value|"
        "intended behaviour|intended behavior|it would be helpful if|it would be great if|"
        "it would be good if|it would be better if|used to|worked in|worked before|worked with|"
        "worked until|worked fine|worked correctly|changed in|regression|previously|"
        "@modal @bverb|@modal @mod @bverb|needs to @bverb|need to @bverb|has to @bverb|"
        "have to @bverb|supposed to|meant to|intended to|solution you'd like|"
        "the correct|is correct|the right result|the right value|true value"
    ),
    "diagnosis": (
        "caused by|is due to|because of|root cause|culprit|reason is|happens because|"
        "problem is|issue is|cause is|problem lies|issue lies|problem seems|comes from|"
        "originates"
    ),
    # Choices left to the implementer: options, "whether", a question back to the reader.
    # Listed before "hedge" so "not sure whether" is a decision, "not sure" a hedge.
    "decision": (
        "i wonder if|i wonder whether|wondering if|wondering whether|not sure if|"
        "not sure whether|not sure what|not sure how|i'm not sure if|i'm not sure whether|"
        "don't know if|don't know whether|do not know if|do not know whether|"
        "i don't know if|i don't know whether|i do not know if|i do not know whether|"
        "whether to|whether we|whether it|should we|do we want|would it make sense|"
        "does it make sense|or should|or maybe|or perhaps|either|alternatively|"
        "another option|one option|option @num|we could|one could|could also|up to you|"
        "open to|any thoughts|any ideas|what do you think|any of the following|"
        "one of the following|is @this a bug|is @this intended|is @this expected|"
        "is @this desired|is @this correct|is @this by design|design decision|debatable"
    ),
    # Doubt about facts (the cause, what happens): milder than a choice left open.
    "hedge": (
        "maybe|perhaps|possibly|probably|might|i think|i guess|i believe|i suspect|not sure|"
        "unsure|i wonder|wondering|i don't know|don't know|i do not know|do not know|no idea|"
        "not certain|uncertain|somehow|kind of|sort of|or something|something like|if possible|"
        "could be|it would be nice|nice to have|not clear|unclear|correct me if|hard to say|"
        "i'm not sure|it seems|seems like|i don't think|"
        "imho|in my opinion|i feel|personally|i'd argue"
    ),
    # The text says two things pull against each other.
    "contradiction": (
        "contradict|contradicts|contradictory|contradiction|conflicting|conflicts with|"
        "conflict with|inconsistent|inconsistency|on the other hand|but also|at the same time"
    ),
    "elsewhere": (
        "as discussed|as we discussed|as talked about|as we talked about|as agreed|as we agreed|"
        "as mentioned before|as mentioned earlier|as mentioned in|see the discussion|"
        "see discussion|mailing list|originally posted|follow up to|follow up of|follow up on|"
        "followup to|related to @num|see @num|like last time|like before|as before|"
        "usual way|usual fix|same as last time|same as before"
    ),
    # "clean up" asks vaguely; "the cleanup" (a noun) names a thing, so it is not listed.
    "vague": (
        "something|stuff|things|etc|and so on|whatever|various|nicer|cleaner|clean up|"
        "more robust|properly|user friendly|intuitive|in some way|in general|somewhat|"
        "make it work|fix it|some kind"
    ),
    # A failure reported, not merely mentioned: "return an error" asks for one, so the bare
    # words error and warning are left to the error-output and error-name evidence.
    "failure": (
        "an error occurs|error occurs|errors out|get an error|got an error|throws an error|"
        "exception|exceptions|traceback|fail|fails|failed|failing|failure|failures|"
        "crash|crashes|crashed|bug|bugs|broken|breaks|wrong|wrongly|incorrect|incorrectly|"
        "doesn't work|doesnt work|does not work|not working|unexpected|unexpectedly|raises|"
        "hang|hangs|segfault|not respected|ignored"
    ),
    # A change of degree: something is or should be faster, smaller, leaner. Measurable, so
    # the request wants the measurement (how slow now, on what, what target).
    "comparative": (
        "faster|quicker|speed up|speedup|speed it up|more efficient|more performant|"
        "less memory|smaller|slow|slower|too slow|slowness|slowdown|performance|latency|"
        "takes too long|takes forever|memory usage|memory leak"
    ),
    "observed": (
        "currently|actual|actually|instead|i get|i got|we get|returns|results in|result in|"
        "outputs|gives|produces|prints|shows|what happens|happens|is raised"
    ),
    "tests": (
        "pytest|unit test|unit tests|unittest|test case|test cases|testcase|regression test|"
        "regression tests|test passes|tests pass|test fails|tests fail|test failing|tests failing"
    ),
    "bound": (
        # "@num @unit" ("3 tries") is read where numbers are (features._number).
        "after @num|up to @num|at most @num|at least @num|max @num|maximum @num|"
        "min @num|minimum @num|within @num|under @num|below @num|above @num|exceeds @num|"
        "exceed @num|no more than @num"
    ),
    # Explicit limits only: "only", "keep" and "without" are far more often plain prose
    # ("it only fails when", "keeps crashing") than constraints.
    "constraint": (
        "must not|mustn't|must never|should not change|should not break|do not|don't|never|"
        "backward compatible|backwards compatible|backward compatibility|"
        "backwards compatibility|avoid|no dependencies|no new dependencies|no new dependency|"
        "at most|no more than|at least|unchanged|existing behaviour|existing behavior|"
        "not change|not break|not affect|keep the existing|preserve|without breaking|"
        "without changing"
    ),
    "version": "@eco @num|versions|linux|windows|macos|osx|os x|ubuntu|debian|fedora|centos",
    "rationale": (
        "because|since|so that|in order to|use case|usecase|reason for|reason why|motivation|"
        "which means|otherwise|this would allow|this will allow|this would make|"
        "this will make|this would let|this will let"
    ),
    "request": (
        "please|i want|i'd like|we need|need to|needs to|would like|feature request|add support|"
        "allow users|allow user|allows users|allow to|allows to|it would be great|"
        "it would be helpful|it would be good|support for|request|is there a way"
    ),
    "repro": (
        "steps to reproduce|to reproduce|reproduce|reproduced|reproduces|reproducing|"
        "reproducible|reproduction|reproducer|repro|minimal example|minimal working example|"
        "minimal reproducible example|mwe|mcve|example @sep|for example|e g|here's how|"
        "here's an example|here is how|here is an example|code for reproduction|"
        "following code|following snippet|following script|run this|running this"
    ),
    "reference": "ticket @num|issue @num|pr @num",
}
KINDS = tuple(k for k in _KINDS if k != "_")

Phrase = tuple[tuple[str, ...], str]


def _keys(word: str) -> list[str]:
    return sorted(SETS[word[1:]]) if word[0] == "@" else [word]


def _build() -> tuple[dict[str, list[Phrase]], dict[tuple[str, str], list[Phrase]]]:
    """Index phrases by their first word, and by their first two where those are words.

    Phrases whose first or second element is ``@num`` or ``@any`` stay in the
    one-word index (under ``@num`` when first); the rest are expanded over
    named sets into the two-word index. Each list is longest first.
    """
    one: dict[str, list[Phrase]] = {}
    two: dict[tuple[str, str], list[Phrase]] = {}
    seen: set[tuple[str, ...]] = set()
    for kind, body in _KINDS.items():
        for alt in body.split("|"):
            words = tuple(alt.split())
            if words in seen:  # the first kind listed keeps a shared phrase
                continue
            seen.add(words)
            first = ["@num"] if words[0] == "@num" else _keys(words[0])
            if len(words) == 1 or words[0] == "@num" or words[1] in ("@num", "@any"):
                for key in first:
                    one.setdefault(key, []).append((words, kind))
                continue
            for a in first:
                for b in _keys(words[1]):
                    two.setdefault((a, b), []).append((words, kind))
    for lists in (one.values(), two.values()):
        for phrases in lists:
            phrases.sort(key=lambda p: -len(p[0]))
    return one, two


INDEX, INDEX2 = _build()
