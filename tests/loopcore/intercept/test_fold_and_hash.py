"""fold_answers turns answers into a better prompt; prompt_hash identifies a prompt."""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata

import pytest

from loopcore.errors import InvalidInput
from loopcore.intercept import fold_answers, prompt_hash, score_prompt

VAGUE = "fix the download bug"


def test_answers_are_appended_under_their_labels_in_a_fixed_order() -> None:
    """Each answer becomes one labelled paragraph, in the order of BLANKS."""
    answers = {
        "expected_behaviour": "download() retries 3 times, then raises DownloadError",
        "location": "src/net.py,  download()",
    }
    assert fold_answers(VAGUE, answers) == (
        "fix the download bug\n\n"
        "Where: src/net.py, download()\n\n"
        "Expected behaviour: download() retries 3 times, then raises DownloadError"
    )


def test_answering_the_questions_raises_the_score() -> None:
    """Folding concrete answers to the top questions scores higher than the prompt alone."""
    answers = {
        "location": "download() in src/net.py",
        "expected_behaviour": "it should retry 3 times with backoff, then raise DownloadError",
        "reproduction": "run `python -m net fetch http://127.0.0.1:9/x` with the server down",
        "acceptance_criteria": "tests/test_net.py::test_retry passes",
    }
    assert score_prompt(fold_answers(VAGUE, answers)).score > score_prompt(VAGUE).score + 0.2


def test_blank_answers_leave_the_prompt_unchanged() -> None:
    """Empty or whitespace answers are skipped; nothing to fold returns the prompt as is."""
    assert fold_answers(VAGUE, {"location": "  ", "goal": ""}) == VAGUE
    assert fold_answers(VAGUE, {}) == VAGUE


def test_unknown_blank_is_invalid_input() -> None:
    """An answer keyed by something that is not a blank is refused naming it."""
    with pytest.raises(InvalidInput) as info:
        fold_answers(VAGUE, {"colour": "blue"})
    assert info.value.field == "answers.colour"


def test_non_text_answer_is_invalid_input() -> None:
    """An answer that is not a string is refused."""
    with pytest.raises(InvalidInput) as info:
        fold_answers(VAGUE, {"location": 3})  # type: ignore[dict-item]
    assert info.value.field == "answers.location"


def test_hash_is_sha256_of_the_normalised_prompt() -> None:
    """Whitespace runs collapse and ends are trimmed before hashing."""
    expected = hashlib.sha256(b"fix the download bug").hexdigest()
    assert prompt_hash("  fix  the\n download\tbug ") == expected


def test_hash_tells_different_prompts_apart() -> None:
    """Different words give different hashes; case is kept."""
    assert prompt_hash("fix it") != prompt_hash("Fix it")
    assert len(prompt_hash("")) == 64


def test_hash_collapses_every_unicode_space_as_the_stored_hashes_did() -> None:
    """Stored hashes were made with ``re.sub(r"\\s+", " ", ...)``: every whitespace character
    Unicode knows (NEL, the file separators, the ideographic space, ...) still collapses the
    same way, so a prompt hashes as it always did."""
    spaces = [chr(c) for c in range(0x3001) if chr(c).isspace()]
    rng = random.Random(7)
    alphabet = [*spaces, "a", "é", "ﬁ", "Ⅻ", "\u200b", "-", " "]
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        before = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()
        assert prompt_hash(text) == hashlib.sha256(before.encode()).hexdigest(), repr(text)
