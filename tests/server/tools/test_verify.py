"""verify_output in memory, in both protocol eras."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from server.app import build_server
from tests.loopcore.providers.chat_server import chat_reply, running_chat_server
from tests.server.helpers import ERAS, REGEX_DEF, err, make_settings, new_plan, ok
from tests.server.prompt_helpers import HostModel, served


@pytest.mark.anyio
@ERAS
async def test_passing_output_scores_one(tmp_path: Path, mode: str) -> None:
    """An output matching every required pattern passes with score 1."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        res = await ok(c, "verify_output", {"output": "def f(x): ...", "evaluator": REGEX_DEF})
    assert (res["score"], res["passed"], res["deficiencies"]) == (1.0, True, [])


@pytest.mark.anyio
@ERAS
async def test_failing_output_lists_deficiencies(tmp_path: Path, mode: str) -> None:
    """An output missing a required pattern fails and the feedback names the pattern."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        res = await ok(c, "verify_output", {"output": "no code", "evaluator": REGEX_DEF})
    assert res["passed"] is False
    assert res["score"] < 1.0
    assert "feedback" not in res  # the deficiencies say it once
    assert any("def" in d for d in res["deficiencies"])


@pytest.mark.anyio
async def test_a_costly_pattern_is_answered_under_its_own_budget(tmp_path: Path) -> None:
    """A spec tried on the event loop first still answers with the server's budget, not
    the attempt's deadline."""
    settings = make_settings(tmp_path, evaluation_budget_s=0.3)
    spec = {"type": "regex", "required": ["(a|aa)+$"]}
    async with Client(build_server(settings)) as c:
        res = await ok(c, "verify_output", {"output": "a" * 5_000 + "!", "evaluator": spec})
        cheap = await ok(c, "verify_output", {"output": "def f(x): ...", "evaluator": REGEX_DEF})
    assert res["passed"] is False
    assert "time budget of 0.3 s ran out" in res["deficiencies"][0]
    assert cheap["passed"] is True


@pytest.mark.anyio
@ERAS
async def test_unknown_evaluator_type_names_the_field(tmp_path: Path, mode: str) -> None:
    """An unknown spec type is an invalid-input error listing the known types."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "verify_output", {"output": "x", "evaluator": {"type": "magic"}})
    assert "invalid input" in text
    assert "type" in text
    assert "regex" in text


@pytest.mark.anyio
@ERAS
async def test_evaluator_required_without_a_task(tmp_path: Path, mode: str) -> None:
    """Without plan and task ids the evaluator spec is required."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "verify_output", {"output": "x"})
    assert "evaluator" in text


@pytest.mark.anyio
@ERAS
async def test_plan_id_without_task_id_is_refused(tmp_path: Path, mode: str) -> None:
    """plan_id and task_id go together."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(
            c, "verify_output", {"output": "x", "evaluator": REGEX_DEF, "plan_id": "pl_x"}
        )
    assert "task_id" in text


@pytest.mark.anyio
@ERAS
async def test_oversized_output_is_refused_with_its_limit(tmp_path: Path, mode: str) -> None:
    """An output over 200,000 characters is rejected by the schema, naming the limit."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "verify_output", {"output": "x" * 200_001, "evaluator": REGEX_DEF})
    assert "200000" in text


@pytest.mark.anyio
@ERAS
async def test_checking_a_task_draft_records_nothing(tmp_path: Path, mode: str) -> None:
    """With plan and task ids the task's spec scores the draft; plan and task stay as they were."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        before = await ok(c, "plan_status", {"plan_id": plan_id, "verbose": True})
        draft = await ok(c, "verify_output", {"output": "two", "plan_id": plan_id, "task_id": "a"})
        fixed = await ok(
            c, "verify_output", {"output": "three good words", "plan_id": plan_id, "task_id": "a"}
        )
        after = await ok(c, "plan_status", {"plan_id": plan_id, "verbose": True})
        journal = await ok(c, "plan_explain", {"plan_id": plan_id})
        rec = await ok(
            c, "plan_record", {"plan_id": plan_id, "task_id": "a", "output": "three good words"}
        )
    assert (draft["passed"], fixed["passed"]) == (False, True)
    assert (
        set(draft)
        == {"score", "passed", "deficiencies", "feedback", "sub_scores", "details"}
        - (set() if draft.get("details") else {"details"})
        - (set() if draft.get("sub_scores") else {"sub_scores"})
        or "task" not in draft
    )
    assert after == before
    assert not any("scored" in line for line in journal["lines"])
    assert rec["task"]["status"] == "done"
    assert rec["needs_replan"] is False


@pytest.mark.anyio
@ERAS
async def test_task_without_acceptance_needs_an_evaluator(tmp_path: Path, mode: str) -> None:
    """A task with no acceptance spec cannot be verified without an evaluator."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        text = await err(c, "verify_output", {"output": "x", "plan_id": plan_id, "task_id": "b"})
    assert "acceptance" in text
    assert "evaluator" in text


@pytest.mark.anyio
@ERAS
async def test_unknown_task_is_not_found(tmp_path: Path, mode: str) -> None:
    """An unknown task id is a not-found error, never a silent pass."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        text = await err(
            c,
            "verify_output",
            {"output": "x", "evaluator": REGEX_DEF, "plan_id": plan_id, "task_id": "zz"},
        )
    assert "not found" in text
    assert "zz" in text


@pytest.mark.anyio
@ERAS
async def test_session_works_after_an_error(tmp_path: Path, mode: str) -> None:
    """A failed call leaves the session usable for the next one."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        await err(c, "verify_output", {"output": "x", "evaluator": {"type": "nope"}})
        res = await ok(c, "verify_output", {"output": "def g(): ...", "evaluator": REGEX_DEF})
    assert res["passed"] is True


# --- the judge evaluator -------------------------------------------------------------------


def _judge_spec(rubric: str) -> dict[str, object]:
    return {"type": "judge", "rubric": rubric, "check": REGEX_DEF}


def _verdict(score: float, passed: bool, *reasons: str) -> str:
    return json.dumps({"score": score, "passed": passed, "reasons": list(reasons)})


@pytest.mark.anyio
async def test_a_host_judge_saying_one_does_not_pass_a_failing_check(tmp_path: Path) -> None:
    """Legacy host with sampling: the judge says 1.0, the regex fails: not passed, judged."""
    host = HostModel([_verdict(1.0, True, "great")], model="host-judge")
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode="legacy", sampling_callback=host) as c:
            args = {"output": "no function here", "evaluator": _judge_spec("server probe one")}
            out = await ok(c, "verify_output", args)
    assert (out["score"], out["passed"]) == (0.0, False)
    assert out["details"]["judge"]["score"] == 1.0
    assert out["details"]["deterministic"] is False
    assert len(host.seen) == 1
    assert "server probe one" in str(host.seen[0].messages[0].content)


@pytest.mark.anyio
async def test_a_host_judge_answering_nonsense_is_a_clear_deficiency(tmp_path: Path) -> None:
    """A host model that answers prose: score 0 and a deficiency saying it could not be read."""
    host = HostModel(["I think this is fine."])
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode="legacy", sampling_callback=host) as c:
            args = {"output": "def f(x): return x", "evaluator": _judge_spec("server probe two")}
            out = await ok(c, "verify_output", args)
    assert (out["score"], out["passed"]) == (0.0, False)
    assert any("could not be read" in d for d in out["deficiencies"])


@pytest.mark.anyio
async def test_a_configured_provider_judges_over_http(tmp_path: Path) -> None:
    """2026-07-28 client, no sampling: the configured provider judges through real HTTP."""
    with running_chat_server() as chat:
        chat.script(chat_reply(_verdict(0.9, True, "explains why")))
        settings = {"provider_base_url": chat.base_url, "provider_model": "judge-model"}
        with served(tmp_path, **settings) as (srv, _):
            async with Client(srv, mode="2026-07-28") as c:
                args = {
                    "output": "def f(x):\n    # why: callers pass None\n    return x",
                    "evaluator": _judge_spec("server probe three"),
                }
                out = await ok(c, "verify_output", args)
    assert (out["score"], out["passed"]) == (0.9, True)
    assert out["details"]["judge"]["model"] == "openai_compat:judge-model"
    assert len(chat.seen) == 1


@pytest.mark.anyio
async def test_a_judge_without_any_model_is_refused(tmp_path: Path) -> None:
    """No sampling and no provider: a clear error when the spec is built, no pass."""
    async with Client(build_server(make_settings(tmp_path)), mode="2026-07-28") as c:
        args = {"output": "def f(): pass", "evaluator": _judge_spec("server probe four")}
        text = await err(c, "verify_output", args)
    assert "no model is available to judge" in text
