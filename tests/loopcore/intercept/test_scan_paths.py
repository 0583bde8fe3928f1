"""The fast paths of the text scan give the values the plain reading gives."""

from __future__ import annotations

from loopcore.intercept._anchors import find_anchors
from loopcore.intercept._phrases import tokens
from loopcore.intercept._text import split_text
from loopcore.intercept.dimensions import _noisy_or
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


def test_a_fenced_block_and_an_unclosed_fence_are_read() -> None:
    """A closed block is code; a fence never closed is read as prose."""
    text = split_text("a\n```\nx = 1\n```\nb\n~~~\ny\n")
    assert (text.prose, text.code, text.fenced) == ("a\nb\n~~~\ny", "```\nx = 1", 1)


def test_many_fenced_blocks_are_read_line_by_line_alike() -> None:
    """Past the few markers searched for in the text, every block is still found."""
    text = split_text("\n".join(f"p{i}\n```\nc{i}()\n```" for i in range(40)))
    assert text.fenced == 40
    assert text.prose == "\n".join(f"p{i}" for i in range(40))
    assert text.code.split("\n")[:4] == ["```", "c0()", "```", "c1()"]


def test_indented_lines_are_code_only_with_code_punctuation() -> None:
    """An indented line holding '=' or '(' is code; an indented line of words is prose."""
    text = split_text("text\n    x = 1\n    plain words\n    f(y)")
    assert (text.prose, text.code, text.code_lines) == ("text\nplain words", "x = 1\nf(y)", 2)


def test_an_endpoint_is_found_after_many_other_slashes() -> None:
    """'GET /users' after ten ' /' is an endpoint; ' /' alone is not."""
    assert find_anchors("a / " * 10 + "GET /users")["endpoint"] == {"GET /users"}
    assert find_anchors("a / b")["endpoint"] == set()


def test_candidate_words_are_classified_by_kind() -> None:
    """Versions, paths, names, flags and references; a bare number or a hyphenated word is none."""
    found = find_anchors("0.5 mid-stream v1.2 1.2.3 1j 3rd foo_bar 2to3.py #12 -v --flag")
    assert {kind: names for kind, names in found.items() if names} == {
        "version": {"v1.2", "1.2.3"},
        "path": {"2to3.py"},
        "snake": {"foo_bar"},
        "reference": {"#12"},
        "flag": {"-v", "--flag"},
    }


def test_calls_are_read_with_ascii_and_other_names() -> None:
    """An identifier, a dotted name and a name with a non-ASCII letter before '(' are calls."""
    found = find_anchors("print(x) json.dumps(y) xé(1) (é(2) 3(4)")
    assert found["call"] == {"print()", "json.dumps()", "xé()"}


def test_sentence_ends_are_separators() -> None:
    """'.', '?' and '!' before a space, and ',', end a clause."""
    assert tokens("Why? Now! ok. fine, yes") == [
        "why",
        "|",
        "now",
        "|",
        "ok",
        "|",
        "fine",
        "|",
        "yes",
    ]


def test_noisy_or_skips_nothing_it_should_count() -> None:
    """Strengths at or below 0 add nothing, 1 or more saturate, the rest combine."""
    assert _noisy_or(0.0, -1.0, 0.5) == 0.5
    assert _noisy_or(0.5, 0.5) == 0.75
    assert _noisy_or(0.2, 2.0) == 1.0
    assert _noisy_or() == 0.0
