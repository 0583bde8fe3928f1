"""Questions only about blanks the request leaves; several features route to decompose.

The cases are the ones users hit (issue 20): a proper noun taken for a part of
the program, a multi-feature request that proceeded as one task, a vague
request with a perfect reproducibility, and a dimension whose name read
backwards.
"""

from __future__ import annotations

import random
import re

import pytest

from loopcore.intercept import DIMENSIONS, score_prompt
from loopcore.intercept._reasoning import BUILD_VERBS, PROPER_NOUNS, _build_verbs

AUTH = (
    "Build a user auth system with signup, login, password reset, OAuth via Google and "
    "GitHub, admin dashboard..."
)


def _questions(prompt: str) -> list[str]:
    return [q.text for q in score_prompt(prompt).questions]


@pytest.mark.parametrize(
    "prompt",
    [
        AUTH,
        "Add a Sign in with GitHub button to the login page",
        "Migrate the storage layer from MySQL to PostgreSQL",
        "Support macOS and iOS in the installer",
        "Port the frontend from JavaScript to TypeScript",
        "Embed YouTube videos in blog posts",
        "Use OAuth tokens from GitLab for the deploy step",
    ],
)
def test_no_question_treats_a_product_or_company_as_code(prompt: str) -> None:
    """No question quotes a product name as if it were a part of the program."""
    for text in _questions(prompt):
        assert not any(f"`{name}`" in text for name in PROPER_NOUNS), text
        assert "What exactly should" not in text


def test_a_product_name_is_not_a_name_of_code() -> None:
    """GitHub and PostgreSQL add no anchor: they say nothing about where to change."""
    assert score_prompt("Add a Sign in with GitHub button").features["anchors"] == 0.0
    assert score_prompt("Migrate from MySQL to PostgreSQL").features["anchors"] == 0.0


def test_a_camelcase_class_shown_in_code_is_quoted() -> None:
    """A CamelCase name the quoted code uses is code, and the question names it."""
    prompt = "Make AdminSite configurable\n```\nclass AdminSite:\n    name = 'admin'\n```"
    texts = [q.text for q in score_prompt(prompt).questions if q.blank == "expected_behaviour"]
    assert texts and "`AdminSite`" in texts[0]


def test_a_multi_feature_request_routes_to_decompose() -> None:
    """The auth system with five features is five tasks: decompose, scope asked first."""
    result = score_prompt(AUTH)
    assert result.route == "decompose"
    assert result.features["features_listed"] >= 5
    assert result.questions[0].blank == "scope"
    # The scope question already asks what "done" means for each feature.
    assert "expected_behaviour" not in {q.blank for q in result.questions}


def test_a_bulleted_feature_list_routes_to_decompose() -> None:
    """Features listed as bullets under a build request count the same as a comma list."""
    prompt = (
        "Create an admin panel with these parts:\n- user list with search\n"
        "- ban and unban users\n- audit log of admin actions\n- CSV export of users"
    )
    result = score_prompt(prompt)
    assert result.features["features_listed"] == 4
    assert result.route == "decompose"


def test_a_feature_list_after_a_request_lead_routes_to_decompose() -> None:
    """ "We need to create X with: a, b, c and d" lists four features too."""
    prompt = (
        "We need to create a sales dashboard with: charts of daily sales, a table of orders, "
        "CSV export and filters by user"
    )
    result = score_prompt(prompt)
    assert result.features["features_listed"] == 4
    assert result.route == "decompose"


@pytest.mark.parametrize(
    "prompt",
    [
        # A list of values, not of features.
        "Add support for int, float, str and bytes keys in cache_get()",
        # Steps to reproduce are not features.
        "The export crashes. Steps to reproduce:\n- open the app\n- click export now\n"
        "- pick the CSV format\n- press save twice",
        # One feature with three details.
        "Add a --retries flag to the fetch command",
        # A header line is no request ("set" in "Set-Cookie").
        "The response has\nSet-Cookie: messages=x; HttpOnly; Path=/; SameSite=Lax\n"
        "and the message is lost",
        # A numbered list under a line that is no build request ("scaffold" inside a name).
        "A reduced example from pyscaffold's code base:\n1. make a file.py with aliases\n"
        "2. build the html docs\n3. open the alias page\n4. compare both outputs",
    ],
)
def test_one_task_is_not_decomposed(prompt: str) -> None:
    """A list of values, reproduction steps, or one feature stay one task."""
    result = score_prompt(prompt)
    assert result.features["features_listed"] == 0
    assert result.route != "decompose"


@pytest.mark.parametrize(
    "prompt",
    [
        "make the app faster",
        "improve the app",
        "make it better",
        "clean up the code",
        "fix it",
        "json json json must should format list table code python",
        "",
    ],
)
def test_a_vague_request_never_has_a_perfect_reproducibility(prompt: str) -> None:
    """Nothing to start from is a blank, not a 1.0: reproducibility stays below 0.5."""
    assert score_prompt(prompt).dimensions["reproducibility"] < 0.5


def test_a_request_for_speed_asks_for_the_measurement_not_a_return_value() -> None:
    """ "make the app faster" asks what is slow and how it is measured, first."""
    result = score_prompt("make the app faster")
    assert result.dimensions["reproducibility"] == 0.0
    assert result.questions[0].blank == "reproduction"
    assert "measured" in result.questions[0].text
    assert "expected_behaviour" not in {q.blank for q in result.questions}
    assert result.route == "clarify"


def test_a_measured_speed_request_counts_its_measurement() -> None:
    """Saying what is slow, how slow, and the target raises reproducibility and the score."""
    vague = score_prompt("make the app faster")
    measured = score_prompt(
        "make load_report() in src/report.py faster: it takes 900 ms on the 10k-row fixture "
        "(pytest tests/test_report.py -k big); it should take under 200 ms"
    )
    assert measured.dimensions["reproducibility"] > vague.dimensions["reproducibility"]
    assert measured.score > vague.score
    assert "reproduction" not in {q.blank for q in measured.questions}


def test_a_reshaping_asks_what_must_not_change() -> None:
    """A migration keeps behaviour: the question is what must keep working, not what to do."""
    result = score_prompt("Migrate the storage layer from MySQL to PostgreSQL")
    blanks = [q.blank for q in result.questions]
    assert "expected_behaviour" not in blanks
    assert blanks[0] == "constraints"
    assert "keep working" in result.questions[0].text


def test_dimensions_say_higher_is_better_by_name() -> None:
    """The six dimensions, with clarity (not ambiguity) last; a clear request reads high."""
    assert DIMENSIONS == (
        "specificity",
        "context",
        "reproducibility",
        "acceptance_criteria",
        "constraints",
        "clarity",
    )
    clear = score_prompt(
        "Make download() retry 3 times when the connection drops, then raise DownloadError "
        "to the caller."
    )
    assert "ambiguity" not in clear.dimensions
    assert clear.dimensions["clarity"] == 1.0


def test_a_choice_left_to_the_implementer_lowers_clarity_more_than_a_doubt() -> None:
    """ "whether to ... or maybe" leaves the work open; "I think" only doubts a fact."""
    base = "Add a cache to load_user() in src/users.py."
    doubt = score_prompt(f"{base} I think it is slow.").dimensions["clarity"]
    choice = score_prompt(f"{base} Not sure whether to use Redis or maybe an LRU.")
    assert choice.dimensions["clarity"] < doubt < score_prompt(base).dimensions["clarity"]
    assert "ambiguity" in {q.blank for q in choice.questions}


def test_a_choice_left_open_is_asked_as_a_choice() -> None:
    """ "whether to ... or maybe" gets "which option do you want", quoting the words."""
    result = score_prompt("Add a cache to load_user(). Not sure whether to use Redis or maybe LRU.")
    texts = [q.text for q in result.questions if q.blank == "ambiguity"]
    assert texts == ["You wrote 'not sure whether', 'or maybe': which option do you want?"]


def test_a_guess_about_the_cause_is_asked_to_be_confirmed() -> None:
    """A hedged diagnosis asks whether it is confirmed, not "what exactly do you want"."""
    result = score_prompt(
        "download() in src/net.py deletes the partial file on a reset; it should keep it. "
        "I think the cleanup in _finish_partial() is the culprit."
    )
    texts = [q.text for q in result.questions if q.blank == "ambiguity"]
    assert texts == ["You wrote 'i think': is that confirmed, or should it be checked first?"]


def test_something_new_is_asked_where_it_should_live() -> None:
    """A new feature has no file yet: the place question asks where it should go."""
    result = score_prompt("Add a Sign in with GitHub button to the login page")
    texts = [q.text for q in result.questions if q.blank == "location"]
    assert texts == ["Where should this live: which module, package or file (or a new one)?"]


def test_a_bug_fix_is_not_asked_for_constraints() -> None:
    """Fixing a failure implies breaking nothing else: no generic "anything off limits?"."""
    result = score_prompt("the export crashes on empty files, please fix")
    assert "constraints" not in {q.blank for q in result.questions}
    assert "reproduction" in {q.blank for q in result.questions}


def test_build_verbs_are_found_where_the_word_pattern_finds_them() -> None:
    """The verb search gives exactly the matches of the regular expression it replaced: a
    build verb after neither a word character nor a hyphen, followed by a space or a tab."""
    pattern = re.compile(rf"(?<![\w-])(?:{'|'.join(sorted(BUILD_VERBS))})(?=[ \t])")
    rng = random.Random(11)
    alphabet = [*"adbuilcretmpkwsgnfoh -_'\t\n.|", "é", "²", "x", *BUILD_VERBS]
    texts = ["setup x set up", "re-add it", "readd it", "add", "please add\ta, b"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(60))) for _ in range(5000)]
    for text in texts:
        assert _build_verbs(text) == [m.start() for m in pattern.finditer(text)], repr(text)
