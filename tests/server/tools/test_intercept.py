"""intercept (elicitation in both eras, the optional model judge), prompt_stats, prompt_feedback."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError

from loopcore.intercept import prompt_hash, score_prompt
from server.app import build_server
from tests.loopcore.providers.chat_server import chat_reply, running_chat_server
from tests.server.helpers import make_settings, new_plan, ok
from tests.server.prompt_helpers import GOOD_RUBRIC, MODES, HostModel, User, served

VAGUE = "fix the download bug"
PRECISE = "add retry with backoff to download() in src/net.py; raise after 3 tries"


def text_of(result: Any) -> str:
    """The first text block of a tool result."""
    return str(result.content[0].text)


def out_of(result: Any) -> dict[str, Any]:
    """The structured result of a successful call."""
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return dict(result.structured_content)


# ---- heuristic, history ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_default_is_the_heuristic_score(tmp_path: Path) -> None:
    """Without options intercept returns the deterministic heuristic score, nothing asked."""
    user = User()
    with served(tmp_path) as (srv, _):
        async with Client(srv, elicitation_callback=user) as c:
            out = out_of(await c.call_tool("intercept", {"prompt": VAGUE}))
    expected = score_prompt(VAGUE)
    assert (out["score"], out["grade"], out["route"]) == (
        round(expected.score, 3),
        expected.grade,
        expected.route,
    )
    assert [q["blank"] for q in out["questions"]] == [q.blank for q in expected.questions]
    assert (out["judge"], out["judge_source"], out["elicitation"]) == (
        "heuristic",
        "heuristic",
        "not_requested",
    )
    assert user.seen == []


@pytest.mark.anyio
async def test_history_keeps_the_hash_not_the_text_by_default(tmp_path: Path) -> None:
    """The stored intercept has the prompt's hash and score; the text only when opted in."""
    with served(tmp_path) as (srv, store):
        async with Client(srv) as c:
            out = out_of(await c.call_tool("intercept", {"prompt": PRECISE}))
        with store.read() as tx:
            rec = tx.get_intercept(out["history_id"])
    assert rec is not None
    assert rec.score == pytest.approx(out["score"], abs=5e-4)
    assert (rec.prompt_hash, rec.prompt_text, rec.project) == (
        prompt_hash(PRECISE),
        None,
        "proj",
    )
    assert out["prompt_stored"] is False


@pytest.mark.anyio
async def test_prompt_text_is_stored_when_the_setting_is_on(tmp_path: Path) -> None:
    """With store_prompts (LOOPCORE_STORE_PROMPTS) the text itself is kept."""
    with served(tmp_path, store_prompts=True) as (srv, store):
        async with Client(srv) as c:
            out = out_of(await c.call_tool("intercept", {"prompt": PRECISE}))
        with store.read() as tx:
            rec = tx.get_intercept(out["history_id"])
    assert rec is not None and rec.prompt_text == PRECISE
    assert out["prompt_stored"] is True


@pytest.mark.anyio
async def test_plan_task_gets_the_prompt_score(tmp_path: Path) -> None:
    """With plan_id and task_id the score is recorded on that task."""
    with served(tmp_path) as (srv, _):
        async with Client(srv) as c:
            plan = out_of(
                await c.call_tool(
                    "plan_create", {"goal": "ship it", "tasks": [{"id": "t1", "title": "retry"}]}
                )
            )
            args = {"prompt": PRECISE, "plan_id": plan["plan_id"], "task_id": "t1"}
            out = out_of(await c.call_tool("intercept", args))
            status = out_of(
                await c.call_tool("plan_status", {"plan_id": plan["plan_id"], "verbose": True})
            )
    assert out["task_prompt_score"] == out["score"]
    assert status["tasks"][0]["prompt_score"] == out["score"]


@pytest.mark.anyio
async def test_plan_id_without_task_id_is_refused(tmp_path: Path) -> None:
    """plan_id and task_id go together."""
    with served(tmp_path) as (srv, _):
        async with Client(srv) as c:
            r = await c.call_tool("intercept", {"prompt": PRECISE, "plan_id": "p1"})
    assert r.is_error and "task_id" in text_of(r)


@pytest.mark.anyio
async def test_prompt_stats_summarise_the_window(tmp_path: Path) -> None:
    """prompt_stats counts the recent intercepts, their mean and their grades."""
    with served(tmp_path) as (srv, _):
        async with Client(srv) as c:
            a = out_of(await c.call_tool("intercept", {"prompt": VAGUE}))
            b = out_of(await c.call_tool("intercept", {"prompt": PRECISE}))
            st = out_of(await c.call_tool("prompt_stats", {"window": 10}))
    assert (st["count"], st["window"], st["project"]) == (2, 10, "proj")
    assert st["mean"] == pytest.approx((a["score"] + b["score"]) / 2, abs=1e-3)
    assert st["trend"] == pytest.approx(b["score"] - a["score"], abs=2e-3)  # each rounded
    assert sum(st["grades"].values()) == 2
    assert len(st["weakest"]) == 3


@pytest.mark.anyio
@pytest.mark.parametrize("window", [0, 1001])
async def test_prompt_stats_window_is_bounded(tmp_path: Path, window: int) -> None:
    """window must be 1..1000."""
    with served(tmp_path) as (srv, _):
        async with Client(srv) as c:
            r = await c.call_tool("prompt_stats", {"window": window})
    assert r.is_error and "window" in text_of(r)


@pytest.mark.anyio
async def test_feedback_is_stored_apart_from_the_priors(tmp_path: Path) -> None:
    """A rating lands in its own table; the loop priors stay empty."""
    with served(tmp_path) as (srv, store):
        async with Client(srv) as c:
            hid = out_of(await c.call_tool("intercept", {"prompt": VAGUE}))["history_id"]
            fb = out_of(
                await c.call_tool(
                    "prompt_feedback", {"history_id": hid, "rating": 2, "comment": "too kind"}
                )
            )
            sug = out_of(await c.call_tool("suggest_config", {"task_type": "general"}))
        iterations, outcomes = store.load_prior_stats()
    db = sqlite3.connect(tmp_path / "loopcore.db")
    try:
        rows = db.execute("SELECT rating, comment FROM prompt_feedback").fetchall()
    finally:
        db.close()
    assert (fb["history_id"], fb["rating"], fb["comment"]) == (hid, 2, "too kind")
    assert rows == [(2, "too kind")]
    assert (iterations, outcomes, sug["based_on_loops"]) == ([], [], 0)


@pytest.mark.anyio
async def test_feedback_on_an_unknown_intercept_is_not_found(tmp_path: Path) -> None:
    """An unknown history id is a not-found error."""
    with served(tmp_path) as (srv, _):
        async with Client(srv) as c:
            r = await c.call_tool("prompt_feedback", {"history_id": "ih_nope", "rating": 3})
    assert r.is_error and "not found" in text_of(r)


@pytest.mark.anyio
@pytest.mark.parametrize("rating", [0, 6])
async def test_feedback_rating_is_bounded(tmp_path: Path, rating: int) -> None:
    """rating must be 1..5."""
    with served(tmp_path) as (srv, _):
        async with Client(srv) as c:
            r = await c.call_tool("prompt_feedback", {"history_id": "ih_x", "rating": rating})
    assert r.is_error and "rating" in text_of(r)


# ---- elicitation -------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_accepted_answers_are_folded_and_scored_again(tmp_path: Path, mode: str) -> None:
    """The user answers the top questions: improved_prompt holds them and scores higher."""
    user = User()
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode=mode, elicitation_callback=user) as c:
            out = out_of(await c.call_tool("intercept", {"prompt": VAGUE, "ask_user": True}))
    asked = list(user.seen[0].requested_schema["properties"])  # type: ignore[union-attr]
    assert asked == [q["blank"] for q in out["questions"][:3]]
    assert out["elicitation"] == "accepted"
    assert out["improved_prompt"].startswith(VAGUE) and user.answer in out["improved_prompt"]
    assert out["improved"]["score"] > out["score"]
    assert out["improved"]["history_id"] != out["history_id"]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_declined_or_cancelled_returns_the_questions(
    tmp_path: Path, mode: str, action: str
) -> None:
    """A user who declines or cancels gets the questions back, never an error."""
    user = User(action=action)
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode=mode, elicitation_callback=user) as c:
            out = out_of(await c.call_tool("intercept", {"prompt": VAGUE, "ask_user": True}))
    assert len(user.seen) == 1
    assert out["elicitation"] == {"decline": "declined", "cancel": "cancelled"}[action]
    assert "improved_prompt" not in out and out["questions"]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_host_without_elicitation_gets_the_questions(tmp_path: Path, mode: str) -> None:
    """No elicitation capability: nothing is sent, the questions come back with a note."""
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode=mode) as c:
            out = out_of(await c.call_tool("intercept", {"prompt": VAGUE, "ask_user": True}))
    assert out["elicitation"] == "unsupported"
    assert "ask the questions yourself" in out["elicitation_note"]
    assert out["questions"] and "improved_prompt" not in out


@pytest.mark.anyio
async def test_empty_answers_leave_the_prompt_as_it_was(tmp_path: Path) -> None:
    """Accepting with every field empty is reported as such; no improved prompt."""
    user = User(answer="   ")
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode="legacy", elicitation_callback=user) as c:
            out = out_of(await c.call_tool("intercept", {"prompt": VAGUE, "ask_user": True}))
    assert (out["elicitation"], out.get("improved_prompt")) == ("empty", None)


@pytest.mark.anyio
async def test_improved_prompt_score_goes_on_the_task(tmp_path: Path) -> None:
    """With answers and a plan task, the task carries the improved prompt's score."""
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode="legacy", elicitation_callback=User()) as c:
            plan = out_of(
                await c.call_tool(
                    "plan_create", {"goal": "g", "tasks": [{"id": "t1", "title": "x"}]}
                )
            )
            args = {"prompt": VAGUE, "ask_user": True, "plan_id": plan["plan_id"], "task_id": "t1"}
            out = out_of(await c.call_tool("intercept", args))
    assert out["task_prompt_score"] == out["improved"]["score"] != out["score"]


# ---- model judge -------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_model_judge_through_host_sampling(tmp_path: Path, mode: str) -> None:
    """A host model that answers the rubric is combined with the heuristic, in both eras."""
    host = HostModel([GOOD_RUBRIC])
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode=mode, sampling_callback=host) as c:
            out = out_of(await c.call_tool("intercept", {"prompt": VAGUE, "judge": "model"}))
    heuristic = score_prompt(VAGUE).score
    assert (out["judge"], out["judge_source"]) == ("model", "sampling")
    assert out["score"] > heuristic
    assert "combined at model weight" in out["judge_note"]
    assert "Request:" in host.seen[0].messages[0].content.text  # type: ignore[union-attr]
    assert len(host.seen) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_nonsense_judge_answer_keeps_the_heuristic(tmp_path: Path, mode: str) -> None:
    """An answer that is not the rubric's JSON falls back with a note, never an error."""
    host = HostModel(["Sure! The request looks fine to me."])
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode=mode, sampling_callback=host) as c:
            out = out_of(await c.call_tool("intercept", {"prompt": VAGUE, "judge": "model"}))
    assert (out["judge"], out["judge_source"]) == ("heuristic", "heuristic")
    assert out["score"] == round(score_prompt(VAGUE).score, 3)
    assert "did not follow the rubric" in out["judge_note"]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_judge_without_sampling_or_provider_keeps_the_heuristic(
    tmp_path: Path, mode: str
) -> None:
    """No sampling, no configured provider: heuristic score, and the note says why."""
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode=mode) as c:
            out = out_of(await c.call_tool("intercept", {"prompt": VAGUE, "judge": "model"}))
    assert out["judge"] == "heuristic"
    assert "the host did not offer sampling" in out["judge_note"]
    assert "heuristic score stands" in out["judge_note"]


@pytest.mark.anyio
async def test_host_refusing_to_sample_keeps_the_heuristic(tmp_path: Path) -> None:
    """Legacy host that refuses the sampling request: heuristic with a note."""
    host = HostModel([GOOD_RUBRIC], error="user said no")
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode="legacy", sampling_callback=host) as c:
            out = out_of(await c.call_tool("intercept", {"prompt": VAGUE, "judge": "model"}))
    assert out["judge"] == "heuristic" and "user said no" in out["judge_note"]


@pytest.mark.anyio
async def test_model_judge_through_the_configured_provider(tmp_path: Path) -> None:
    """Without host sampling, the configured HTTP provider answers the rubric."""
    with running_chat_server() as chat:
        chat.script(chat_reply(GOOD_RUBRIC))
        settings = {"provider_base_url": chat.base_url, "provider_model": "judge-m"}
        with served(tmp_path, **settings) as (srv, _):
            async with Client(srv, mode="2026-07-28") as c:
                out = out_of(await c.call_tool("intercept", {"prompt": VAGUE, "judge": "model"}))
    assert (out["judge"], out["judge_source"]) == ("model", "configured")
    assert chat.seen[0].body["temperature"] == 0.0


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_judge_and_questions_together(tmp_path: Path, mode: str) -> None:
    """judge=model and ask_user=true in one call: both run, in either era."""
    host, user = HostModel([GOOD_RUBRIC]), User()
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode=mode, sampling_callback=host, elicitation_callback=user) as c:
            args = {"prompt": VAGUE, "judge": "model", "ask_user": True}
            out = out_of(await c.call_tool("intercept", args))
    assert (out["judge"], out["elicitation"]) == ("model", "accepted")
    assert (len(host.seen), len(user.seen)) == (1, 1)


@pytest.mark.anyio
async def test_modern_host_refusing_the_sampling_round_aborts_on_the_client(tmp_path: Path) -> None:
    """Observed SDK behaviour on 2026-07-28: a sampling callback that answers an error makes
    the client's input-required driver raise MCPError before the server sees a reply, so the
    server cannot fall back there (on the legacy handshake it does; see the test above)."""
    host = HostModel([GOOD_RUBRIC], error="user said no")
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode="2026-07-28", sampling_callback=host) as c:
            with pytest.raises(MCPError, match="user said no"):
                await c.call_tool("intercept", {"prompt": VAGUE, "judge": "model"})


@pytest.mark.anyio
async def test_a_multi_feature_request_decomposes_with_named_dimensions(tmp_path: Path) -> None:
    """Several features route to decompose over the protocol; clarity, not ambiguity."""
    prompt = (
        "Build a user auth system with signup, login, password reset, OAuth via Google and "
        "GitHub, admin dashboard..."
    )
    with served(tmp_path) as (srv, _):
        async with Client(srv) as c:
            out = out_of(await c.call_tool("intercept", {"prompt": prompt}))
    assert out["route"] == "decompose"
    assert list(out["dimensions"]) == [
        "specificity",
        "context",
        "reproducibility",
        "acceptance_criteria",
        "constraints",
        "clarity",
    ]
    assert out["questions"][0]["blank"] == "scope"
    # No question about a product name taken for a part of the program.
    assert not any("`GitHub`" in q["text"] for q in out["questions"])


def test_the_fast_path_takes_the_same_arguments_as_intercept(tmp_path: Path) -> None:
    """intercept's resolver-free twin publishes and validates exactly intercept's parameters."""
    srv = build_server(make_settings(tmp_path))
    srv.lazy_tools.load()  # registers the tools and their twins
    route = srv.deps.fast_paths["intercept"]
    full = srv._tool_manager.get_tool("intercept")
    untitled = {k: v for k, v in route.tool.parameters.items() if k != "title"}
    assert full is not None and untitled == {
        k: v for k, v in full.parameters.items() if k != "title"
    }
    assert route.when({"prompt": "x"}, None) and route.when(
        {"prompt": "x", "ask_user": False}, None
    )
    assert not route.when({"prompt": "x", "ask_user": True}, None)
    assert not route.when({"prompt": "x", "judge": "model"}, None)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_an_intercept_is_rated_right_after_its_answer(tmp_path: Path, mode: str) -> None:
    """The history row is written behind the answer, yet prompt_feedback finds it at once."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        for i in range(5):
            seen = await ok(c, "intercept", {"prompt": f"Fix the parser bug number {i}."})
            rated = await ok(c, "prompt_feedback", {"history_id": seen["history_id"], "rating": 5})
            assert rated["history_id"] == seen["history_id"]
        stats = await ok(c, "prompt_stats", {})
    assert stats["count"] == 5


# ---- a history write that fails ----------------------------------------------------------------


@contextmanager
def _unwritable_history(db: Path) -> Iterator[None]:
    """Writes to ``db`` fail for real: its WAL made immutable (root), else its writer lock held."""
    if os.geteuid() == 0 and shutil.which("chattr"):
        wal = db.with_name(db.name + "-wal")
        subprocess.run(["chattr", "+i", str(wal)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(wal)], check=True)
        return
    with open(db.with_name(db.name + ".lock"), "a+b") as lock:  # past the 5 s busy timeout
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        yield


@pytest.mark.anyio
async def test_intercept_answers_when_its_history_write_fails(tmp_path: Path) -> None:
    """The store cannot be written: the score is still answered, saying it was not kept.

    On a plan task the row is written before the answer (so a failure is known); a
    task-less intercept is written behind its answer, and a failure there is logged.
    """
    settings = make_settings(tmp_path)
    async with Client(build_server(settings)) as c:
        plan_id = await new_plan(c)
        ids = {"plan_id": plan_id, "task_id": "a"}
        kept = out_of(await c.call_tool("intercept", {"prompt": VAGUE, **ids}))
        assert settings.db is not None
        with _unwritable_history(Path(settings.db)):
            lost = out_of(await c.call_tool("intercept", {"prompt": VAGUE, **ids}))
    assert kept["history_id"] is not None
    assert lost["history_id"] is None
    assert (lost["score"], lost["route"]) == (kept["score"], kept["route"])
