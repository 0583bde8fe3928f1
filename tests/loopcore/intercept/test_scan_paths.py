"""The fast paths of the text scan give the values the plain reading gives."""

from __future__ import annotations

from loopcore.intercept._text import split_text
from loopcore.intercept.features import extract_features


def test_questions_are_sentences_ending_in_a_question_mark() -> None:
    """Each distinct sentence ending in '?' then a space or line end is one question."""
    prose = "Why does it fail? It does.\nIs this ok?\nwhy does it fail?\nok?x"
    assert extract_features(prose)["questions"] == 2.0


def test_a_long_line_with_no_break_before_a_question_mark_is_read() -> None:
    """A 16 KB run of letters before '?x' is no question (and is read in linear time)."""
    assert extract_features("a" * 16000 + "?x")["questions"] == 0.0
    assert extract_features("a" * 16000 + "? x")["questions"] == 1.0


def test_a_number_with_its_unit_is_a_bound_wherever_it_stands() -> None:
    """'10ms', '50%' and '3 tries' are bounds; a bare number is not."""
    assert extract_features("cap the wait at 10ms")["bounds"] == 1.0
    assert extract_features("use 50% of the pool")["bounds"] == 1.0
    assert extract_features("give up; 3 tries")["bounds"] == 1.0
    assert extract_features("use 3 workers")["bounds"] == 0.0


def test_headings_with_nothing_under_them_are_dropped() -> None:
    """A heading followed by a heading or by the end is left out; one before code stays."""
    text = split_text("# A\n# B\ntext\n# C\n```\nx = 1\n```\n# D")
    assert text.prose == "# B\ntext\n# C"
