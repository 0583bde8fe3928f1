"""Properties of score_prompt over arbitrary text."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from loopcore.intercept import BLANKS, score_prompt

# Words that carry evidence, so the padding properties are tested where they can bite. No
# code fence: repeating a fence line changes where a code block ends, which is structure.
VOCABULARY = (
    "add fix the a to in should must not be return maybe i don't know json download() "
    "src/app.py ValueError 3 tries test_x ? . ; : etc something because of expected "
    "instead `x` -c --flag http://x.y/z #12 line python 3.7.1 >>> "
    # Words the issue-20 features read: feature lists, choices, conflicts, degree, products.
    "build with signup, login, reset, dashboard whether or maybe contradicts faster "
    "supposed GitHub - *"
)
WORDS = st.sampled_from([*VOCABULARY.split(), "\n"])
TEXT = st.one_of(
    st.text(max_size=400), st.lists(st.one_of(WORDS, st.just("```")), max_size=60).map(" ".join)
)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.one_of(st.none(), st.text(max_size=100)))
def test_scores_and_dimensions_stay_in_range_for_any_text(prompt: str, context: str | None) -> None:
    """Score, dimensions and question values are in [0, 1]; the grade and route are known."""
    result = score_prompt(prompt, context)
    assert 0.0 <= result.score <= 1.0
    assert all(0.0 <= v <= 1.0 for v in result.dimensions.values())
    assert all(0.0 <= q.value <= 1.0 and q.blank in BLANKS for q in result.questions)
    assert result.grade in ("A", "B", "C", "D", "F")
    assert result.route in ("proceed", "clarify", "decompose")


@settings(max_examples=200, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=40), st.data())
def test_repeating_any_word_in_place_never_raises_the_score(
    words: list[str], data: st.DataObject
) -> None:
    """Any word of the prompt repeated in place, up to 50 times, scores no higher."""
    i = data.draw(st.integers(min_value=0, max_value=len(words) - 1))
    times = data.draw(st.integers(min_value=2, max_value=50))
    padded = [*words[:i], *([words[i]] * times), *words[i + 1 :]]
    assert score_prompt(" ".join(padded)).score <= score_prompt(" ".join(words)).score


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_a_prompt_said_twice_scores_the_same(prompt: str) -> None:
    """Echoing a prompt without code fences changes nothing (a second copy can close a fence)."""
    assume("```" not in prompt and "~~~" not in prompt)
    assert score_prompt(f"{prompt}\n{prompt}").score == score_prompt(prompt).score


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_reproducibility_is_never_a_free_one(prompt: str) -> None:
    """Reproducibility is read from evidence, each piece partial: no text reaches 1.0."""
    assert score_prompt(prompt).dimensions["reproducibility"] < 1.0
