"""From features and dimensions to what a person can act on.

Issues name the blanks found; each question is tied to the blank it fills and
valued by how much the overall score leans on that blank: the weight of its
dimension (among the dimensions that apply) times the dimension's shortfall
times how central the blank is to that dimension.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from loopcore.intercept._reasoning import request_kind
from loopcore.intercept.dimensions import applicability
from loopcore.intercept.features import Evidence
from loopcore.intercept.results import Question, Route, SuggestedLoopConfig

__all__ = ["BLANKS", "clarify_floor", "find_blanks", "route_for", "suggest_config"]

# Every blank a question can fill, with the label its answer is folded under.
BLANKS: Mapping[str, str] = {
    "goal": "Goal",
    "scope": "Scope",
    "location": "Where",
    "observed_behaviour": "What happens now",
    "expected_behaviour": "Expected behaviour",
    "reproduction": "How to reproduce",
    "error_output": "Error output",
    "environment": "Environment",
    "acceptance_criteria": "Done when",
    "constraints": "Constraints",
    "ambiguity": "Clarification",
    "background": "Background",
}

_CLARIFY_BELOW = 0.5
_DECOMPOSE_ASKS = 3
_DECOMPOSE_FEATURES = 4  # features listed for something new (``_reasoning.listed_features``)


class _Blank(NamedTuple):
    """A blank found (a NamedTuple: built many times per call, and cheap to build)."""

    blank: str
    dimension: str
    centrality: float
    issue: str
    question: str
    floor: float = 0.0  # a value the question never falls below


def clarify_floor() -> float:
    """Scores below this route to ``clarify``."""
    return _CLARIFY_BELOW


def _quote(phrases: tuple[str, ...]) -> str:
    return ", ".join(f"'{p}'" for p in phrases[:3])


def _what_and_where(f: Mapping[str, float], ev: Evidence) -> list[_Blank]:
    found: list[_Blank] = []
    if f["prose"] < 0.5 or f["goal"] < 0.5:
        if not f["distinct_words"]:
            issue = "The request is empty."
        elif f["prose"] < 0.5:
            issue = "It reads as a list of keywords, not a request."
        else:
            issue = "No clear ask: nothing says what should be done."
        # Without an ask nothing else can be judged: this question comes first.
        found.append(
            _Blank(
                blank="goal",
                dimension="specificity",
                centrality=1.0,
                issue=issue,
                floor=0.95,
                question="What should be done, in one sentence: which change, to what?",
            )
        )
    if f["features_listed"] >= _DECOMPOSE_FEATURES:
        found.append(
            _Blank(
                blank="scope",
                dimension="clarity",
                centrality=1.0,
                floor=0.9,
                issue=f"{int(f['features_listed'])} separate features in one request; each has "
                "its own blanks and its own definition of done.",
                question="This lists several features: which one comes first, and what must it "
                "do to count as done? (Each can then be its own task.)",
            )
        )
    elif f["asks"] >= _DECOMPOSE_ASKS:
        found.append(
            _Blank(
                blank="scope",
                dimension="clarity",
                centrality=1.0,
                floor=0.9,
                issue=f"{int(f['asks'])} independent asks in one request ({_quote(ev.asks)}, ...).",
                question="These are separate changes: which comes first, or should each be "
                "its own task?",
            )
        )
    if f["location"] == 0.0:
        # Something new has no place yet: the blank is where it should live.
        new = request_kind(f, ev.asks) == "new"
        found.append(
            _Blank(
                blank="location",
                dimension="specificity",
                centrality=0.8,
                issue="No file, function, class or module is named, so the place must be guessed.",
                question="Where should this live: which module, package or file (or a new one)?"
                if new
                else "Which file, function, class or endpoint should change?",
            )
        )
    return found


def _failure_blanks(f: Mapping[str, float]) -> list[_Blank]:
    if not f["failure"]:
        if f["comparative"] and not (f["code"] or f["repro_steps"] or f["bounds"]):
            # "make the app faster": faster than what, measured on what?
            return [
                _Blank(
                    blank="reproduction",
                    dimension="reproducibility",
                    centrality=1.0,
                    issue="A change of degree is asked with no measurement: what is slow (or "
                    "large) now, on which input, and what would be enough is not said.",
                    question="Which operation is too slow (or too large), how is it measured "
                    "now, and what number would be good enough?",
                    floor=0.8,
                )
            ]
        return []
    found: list[_Blank] = []
    if not (f["code"] or f["repro_steps"]):
        found.append(
            _Blank(
                blank="reproduction",
                dimension="reproducibility",
                centrality=1.0,
                issue="A failure is reported without a way to reproduce it.",
                question="How can the failure be reproduced: a command or a minimal snippet?",
            )
        )
    if not (f["observed"] or f["error_output"]):
        found.append(
            _Blank(
                blank="observed_behaviour",
                dimension="context",
                centrality=0.7,
                issue="What happens now is not described (no actual output or error).",
                question="What happens now: the actual output, or the full error message?",
            )
        )
    elif not f["error_output"]:
        found.append(
            _Blank(
                blank="error_output",
                dimension="reproducibility",
                centrality=0.4,
                issue="No traceback or error line is quoted.",
                question="What is the exact error message or traceback, if there is one?",
            )
        )
    if not f["versions"]:
        found.append(
            _Blank(
                blank="environment",
                dimension="reproducibility",
                centrality=0.3,
                issue="No versions or platform are given for the failure.",
                question="Which versions (language, libraries) and platform does this happen on?",
            )
        )
    return found


def _expected_question(kind: str, ev: Evidence) -> str:
    """The question for a missing expected behaviour, worded for the kind of request."""
    if kind == "failure":
        subject = f"`{ev.anchor}`" if ev.anchor else "it"
        return (
            f"What should {subject} do instead of failing: which return value, output or "
            "error is correct?"
        )
    what = f"should `{ev.anchor}` do" if ev.anchor else "should happen"
    return (
        f"What {what} when this is done, in one example: the input or action, and the "
        "result a user or caller sees?"
    )


def _done_blanks(f: Mapping[str, float], ev: Evidence) -> list[_Blank]:
    found: list[_Blank] = []
    kind = request_kind(f, ev.asks)
    # A change of degree wants the same behaviour, better; a reshaping wants the same
    # behaviour, elsewhere: neither leaves "what should it do" open. A list of features
    # asks that once, as part of the scope question.
    listed = f["features_listed"] >= _DECOMPOSE_FEATURES
    if not f["desired"] and kind in ("failure", "new") and not listed:
        found.append(
            _Blank(
                blank="expected_behaviour",
                dimension="acceptance_criteria",
                centrality=1.0,
                issue="The expected behaviour is not stated.",
                question=_expected_question(kind, ev),
            )
        )
    if kind == "reshape" and not f["constraints"]:
        found.append(
            _Blank(
                blank="constraints",
                dimension="constraints",
                centrality=1.0,
                floor=0.6,
                issue="A reshaping of existing code with nothing said about what must not change.",
                question="What must keep working exactly as before (APIs, data, behaviour), "
                "and how is that checked?",
            )
        )
    if not (f["tests"] or f["bounds"]):
        found.append(
            _Blank(
                blank="acceptance_criteria",
                dimension="acceptance_criteria",
                centrality=0.6,
                issue="Nothing names a test, an expected output or a limit to check the work by.",
                question="Which test or concrete check should pass when this is done?",
            )
        )
    # A bug fix's constraint goes without saying (fix it, break nothing else); a
    # reshaping gets its own question above.
    if not (f["constraints"] or f["bounds"]) and kind in ("new", "degree"):
        found.append(
            _Blank(
                blank="constraints",
                dimension="constraints",
                centrality=0.5,
                issue="No constraints are stated (what must not change, limits, compatibility).",
                question="Is anything off limits: behaviour or APIs to keep, dependencies "
                "to avoid?",
            )
        )
    return found


def _ambiguity_blanks(f: Mapping[str, float], ev: Evidence) -> list[_Blank]:
    found: list[_Blank] = []
    if ev.decisions:
        found.append(
            _Blank(
                blank="ambiguity",
                dimension="clarity",
                centrality=1.0,
                issue=f"A choice is left to the implementer ({_quote(ev.decisions)}).",
                question=f"You wrote {_quote(ev.decisions)}: which option do you want?",
            )
        )
    if ev.vague:
        found.append(
            _Blank(
                blank="ambiguity",
                dimension="clarity",
                centrality=0.9,
                issue=f"Vague wording leaves the scope open ({_quote(ev.vague)}).",
                question=f"You wrote {_quote(ev.vague)}: what exactly is included?",
            )
        )
    if ev.hedges:
        found.append(
            _Blank(
                blank="ambiguity",
                dimension="clarity",
                centrality=0.6,
                issue=f"Hedged wording: part of the report is a guess ({_quote(ev.hedges)}).",
                question=f"You wrote {_quote(ev.hedges)}: is that confirmed, or should it be "
                "checked first?",
            )
        )
    if ev.elsewhere:
        found.append(
            _Blank(
                blank="background",
                dimension="clarity",
                centrality=0.8,
                issue=f"It points to details the agent cannot read ({_quote(ev.elsewhere)}).",
                question=f"You wrote {_quote(ev.elsewhere)}: what was decided there?",
            )
        )
    if f["links"]:
        n = int(f["links"])
        found.append(
            _Blank(
                blank="background",
                dimension="clarity",
                centrality=0.5,
                issue=f"It links to {n} page{'s' if n > 1 else ''} the agent may not be able to "
                "read.",
                question="What do the linked pages say that the work depends on?",
            )
        )
    if f["questions"]:
        n = int(f["questions"])
        found.append(
            _Blank(
                blank="ambiguity",
                dimension="clarity",
                centrality=0.8,
                issue=f"{n} open question{'s' if n > 1 else ''} asked with no answer proposed.",
                question="Which answer do you want to the open question(s) in the request?",
            )
        )
    return found


def find_blanks(
    features: Mapping[str, float],
    dims: Mapping[str, float],
    weights: Mapping[str, float],
    evidence: Evidence,
) -> tuple[tuple[str, ...], tuple[Question, ...]]:
    """The issues found and the questions that fill them, best question first."""
    blanks = (
        _what_and_where(features, evidence)
        + _failure_blanks(features)
        + _done_blanks(features, evidence)
        + _ambiguity_blanks(features, evidence)
    )
    apply = applicability(features)
    total = sum(weights[d] * apply[d] for d in weights) or 1.0
    order = list(BLANKS)
    best: dict[str, Question] = {}
    for b in blanks:
        share = weights[b.dimension] * apply[b.dimension] / total
        # A floor keeps a missing blank askable even when its dimension is partly met.
        shortfall = max(1.0 - dims[b.dimension], 0.25)
        # Scaled so a central blank of a heavy, unmet dimension comes near 1.
        value = round(max(b.floor, min(1.0, share * shortfall * b.centrality * 3.0)), 4)
        if b.blank not in best or best[b.blank].value < value:
            best[b.blank] = Question(text=b.question, blank=b.blank, value=value)
    ranked = sorted(best.values(), key=lambda q: (-q.value, order.index(q.blank)))
    return tuple(dict.fromkeys(b.issue for b in blanks)), tuple(ranked)


def route_for(features: Mapping[str, float], score: float, *, has_goal: bool = True) -> Route:
    """``decompose`` for several independent asks, ``clarify`` when too vague, else ``proceed``."""
    if features["asks"] >= _DECOMPOSE_ASKS or features["features_listed"] >= _DECOMPOSE_FEATURES:
        return "decompose"
    if score < _CLARIFY_BELOW or features["goal"] < 0.5 or features["prose"] < 0.5 or not has_goal:
        return "clarify"
    return "proceed"


def suggest_config(score: float, dims: Mapping[str, float]) -> SuggestedLoopConfig:
    """More iterations for vaguer requests; a higher bar when the work can be checked."""
    iterations = 2 + round(6 * (1.0 - score))
    threshold = round(0.70 + 0.15 * dims["acceptance_criteria"], 2)
    return SuggestedLoopConfig(max_iterations=iterations, quality_threshold=threshold)
