"""Features read from text: each counts distinct evidence, in the direction reasoned for it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from loopcore.intercept._anchors import ANCHOR_KINDS, find_anchors
from loopcore.intercept._text import split_text
from loopcore.intercept.features import FEATURE_DOCS, extract, extract_features

# Words with names of code, links and code markers, for the property on where names are read.
_WORDS = """fix parse() in app.py line 3 `x` config.load_file(PATH) PATH_NAME snake_case
CamelCase GitHub --flag http://x.y/z https://github.com/a/b/blob/m/f.py#L3 GET /api 1.2.3
#12 ValueError: >>> ```"""
NAMES = [*_WORDS.split(), "\n", "\n\t\tx = f(1)", "\n    y = g[0]"]


def test_every_feature_is_documented() -> None:
    """The feature mapping has exactly the documented keys."""
    assert set(extract_features("add a test")) == set(FEATURE_DOCS)


def test_names_of_code_and_places_are_read() -> None:
    """Files, lines, calls, classes, settings and flags are anchors; a file is a location."""
    f = extract_features(
        "Fix parse() in src/app/config.py line 12: ConfigError when SECRET_KEY is unset; "
        "run with --strict"
    )
    assert f["anchors"] >= 5
    assert f["location"] == 1.0
    assert f["failure"] == 1.0


def test_a_function_name_is_a_location_of_lesser_strength() -> None:
    """Naming a function without a file gives location 0.8."""
    assert extract_features("make download() retry")["location"] == 0.8


def test_keyword_soup_has_no_prose_and_no_goal() -> None:
    """A list of keywords has no function words and no ask."""
    f = extract_features("json json json must should format list table code python")
    assert (f["prose"], f["goal"], f["anchors"]) == (0.0, 0.0, 0.0)


def test_observed_expected_and_reproduction_are_read() -> None:
    """A bug report's parts each light their feature."""
    text = (
        "Steps to reproduce:\n```\n>>> parse('')\nTraceback (most recent call last):\n"
        '  File "app.py", line 3\nKeyError: x\n```\nCurrently it raises; it should return {}.'
    )
    f = extract_features(text)
    assert (f["code"], f["repro_steps"], f["error_output"]) == (1.0, 1.0, 1.0)
    assert (f["observed"], f["expected"]) == (1.0, 1.0)


def test_hedges_count_distinct_phrases_not_occurrences() -> None:
    """'maybe' said three times is one hedge; 'I think' is another."""
    features, evidence = extract("maybe add it, maybe not, maybe later. I think so.")
    assert features["hedges"] == 2.0
    assert evidence.hedges == ("i think", "maybe")


def test_asks_are_distinct_verb_object_pairs() -> None:
    """Three different changes are three asks; the same change twice is one."""
    assert extract_features("Add logging. Fix the parser. Rename utils.py.")["asks"] == 3.0
    assert extract_features("Add logging. Add logging please.")["asks"] == 1.0


def test_bounds_and_tests_are_acceptance_evidence() -> None:
    """A number with a unit and a named test are read."""
    f = extract_features("raise after 3 tries; test_retry_gives_up must pass within 200ms")
    assert (f["bounds"], f["tests"], f["behaviour"]) == (1.0, 1.0, 1.0)


def test_unfilled_template_sections_are_dropped() -> None:
    """'### Expected behavior' with '_No response_' under it does not count as an expectation."""
    text = "Crash on start\n\n### Expected behavior\n\n_No response_\n\n### OS\n\nLinux"
    assert extract_features(text)["expected"] == 0.0


def test_an_unclosed_fence_is_read_as_prose() -> None:
    """A ``` that never closes does not hide the request behind it."""
    f = extract_features("```\nadd retry to download()")
    assert (f["code"], f["goal"]) == (0.0, 1.0)


def test_context_counts_only_what_it_adds() -> None:
    """A context repeating the prompt adds no words; a new fact adds its words and evidence."""
    prompt = "add retry to download()"
    assert extract_features(prompt, context=prompt) == extract_features(prompt)
    f = extract_features(prompt, context="Python 3.11.4, file src/net.py")
    assert f["context_words"] > 0
    assert f["versions"] >= 1.0
    assert f["location"] == 1.0


def test_context_does_not_add_asks_or_doubts() -> None:
    """Asks and hedges are the prompt's own, whatever the context says."""
    prompt = "add retry to download()"
    f = extract_features(prompt, context="maybe also fix the parser and rename utils.py")
    assert (f["asks"], f["hedges"]) == (1.0, 0.0)


def test_links_count_pages_other_than_code() -> None:
    """A link to a discussion is a link; a link to a file on a code host is a location."""
    f = extract_features(
        "Fix the parser as described in https://example.org/thread/42 and "
        "https://github.com/o/r/blob/main/src/parse.py#L10"
    )
    assert f["links"] == 1.0
    assert f["location"] == 1.0


def test_links_in_the_context_are_not_the_prompts_doubt() -> None:
    """Links the context adds do not count against the prompt."""
    prompt = "add retry to download()"
    f = extract_features(prompt, context="background: https://example.org/design")
    assert f["links"] == 0.0


def test_code_outside_fences_is_read_for_names_not_for_cue_phrases() -> None:
    """'print' in an interactive session is code, not an imperative; its names still count."""
    f = extract_features("The parser is slow on long input.\n>>> print(parse_all(data))")
    assert f["behaviour"] == 0.0
    assert f["anchors"] >= 1.0  # print()
    assert extract_features("print the parsed rows")["behaviour"] == 1.0


def test_desired_behaviour_is_told_apart_from_observed_only() -> None:
    """Saying what should happen sets desired; a failure with only what happens is open."""
    seen = extract_features("load() returns 0 for an empty file, which is wrong")
    wanted = extract_features("load() returns 0 for an empty file; it should return None")
    assert (seen["desired"], seen["only_observed"]) == (0.0, 1.0)
    assert (wanted["desired"], wanted["only_observed"]) == (1.0, 0.0)


def test_a_name_shown_in_quoted_code_is_grounded() -> None:
    """A function the prose names and the snippet calls is grounded; an unshown one is not."""
    shown = "parse_config() fails on empty files:\n```\nparse_config('')\n```"
    unshown = "parse_config() fails on empty files:\n```\nload('')\n```"
    assert extract_features(shown)["grounded"] == 1.0
    assert extract_features(unshown)["grounded"] == 0.0
    assert extract_features("parse_config() fails on empty files")["grounded"] == 0.0


def test_choices_left_open_are_decisions_not_hedges() -> None:
    """'whether to', 'or maybe' are decisions; 'I think' is a hedge; each counted once."""
    f = extract_features("I think it is slow. Not sure whether to cache, or maybe not. Or maybe.")
    assert f["decisions"] == 2.0
    assert f["hedges"] == 1.0


def test_conflicting_demands_are_read() -> None:
    """Words that say two demands conflict are counted as contradictions."""
    f = extract_features("Keep the old format but also emit the new one; this contradicts the spec")
    assert f["contradictions"] == 2.0
    assert extract_features("add a --json flag")["contradictions"] == 0.0


def test_names_pointed_at_in_the_prose_are_named_and_names_in_a_traceback_are_not() -> None:
    """A name written in a sentence counts as named; the frames of a pasted traceback do not."""
    trace = (
        "It crashes.\n```\nTraceback (most recent call last):\n"
        '  File "lib/core.py", line 9, in load_config\n    read_settings(path)\nKeyError: x\n```'
    )
    pointed = "load_config() in lib/core.py reads read_settings() before the path is set.\n"
    assert extract_features(trace)["named"] == 0.0
    assert extract_features(trace)["anchors"] >= 3.0
    assert extract_features(pointed + trace)["named"] >= 3.0


def test_length_reads_the_prose_so_a_pasted_log_adds_nothing() -> None:
    """Explaining more raises length; pasting a long log under the same sentence does not."""
    short = "The export fails on empty tables."
    log = "\n".join(f"    worker-{i} step={i} status=retry queue=q{i}" for i in range(60))
    longer = short + " It should write a header row and no data rows, as the CSV writer does."
    pasted = extract_features(f"{short}\n```\n{log}\n```")
    assert pasted["length"] == extract_features(short)["length"]
    assert extract_features(longer)["length"] > extract_features(short)["length"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(NAMES), max_size=30).map(" ".join))
def test_prose_and_code_read_apart_find_the_names_of_the_whole_text(text: str) -> None:
    """Reading prose and code apart finds the names that reading the text whole finds."""
    full = split_text(text).full
    anchors = find_anchors(full)
    assert extract_features(text)["anchors"] == sum(len(anchors[k]) for k in ANCHOR_KINDS)
