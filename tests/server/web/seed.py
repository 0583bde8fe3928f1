"""A database with something on every dashboard page: a scored and replanned plan, loops,
scored prompts with ratings, and learned priors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loopcore.history import HistoryService
from loopcore.loops import LoopService, Priors
from loopcore.plans import PlanService
from loopcore.store import Store
from loopcore.store.observations import LoopObservation

PROJECT = "/work/demo-project"
OTHER_PROJECT = "/work/other-project"

TASKS: list[dict[str, Any]] = [
    {"id": "spec", "title": "Write the spec", "acceptance": {"type": "length", "min_words": 3}},
    {"id": "schema", "title": "Design the schema", "depends_on": ["spec"]},
    {"id": "api", "title": "Build the API", "depends_on": ["schema"],
     "acceptance": {"type": "regex", "required": [r"def \w+\("]}},
    {"id": "ui", "title": "Build the UI", "depends_on": ["schema"]},
    {"id": "tests", "title": "Write the tests", "depends_on": ["api", "ui"],
     "acceptance": {"type": "evidence", "preset": "tests"}},
    {"id": "docs", "title": "Write the docs", "depends_on": ["spec"]},
]  # fmt: skip


@dataclass(frozen=True)
class Seeded:
    """Ids of what was seeded."""

    plan_id: str
    loop_id: str
    bayes_loop_id: str
    other_plan_id: str


def seed(store: Store) -> Seeded:
    """Fill ``store``; the plan is left with ``api`` and ``ui`` ready and ``docs`` failed."""
    plans = PlanService(store)
    plan_id = plans.create(PROJECT, "Ship the billing service", TASKS).plan.id
    plans.record(plan_id, "spec", prompt_score=0.8, output="the billing service spec text")
    plans.record(plan_id, "docs", prompt_score=0.4, output_score=0.3)
    plans.replan(plan_id, "docs scored low", update=[{"id": "docs", "title": "Rewrite the docs"}])
    plans.record(plan_id, "schema", prompt_score=0.9, output_score=0.95)
    other = plans.create(OTHER_PROJECT, "Another project's plan", [{"id": "x", "title": "X"}])
    loops = LoopService(store)
    loop_id = loops.start(PROJECT, "Summarise the design", {"type": "length", "min_words": 8}).id
    for text in ("too short", "a little longer now", "this one has enough words to pass the check"):
        loops.step(loop_id, text)
    loops.end(loop_id, "good enough")
    history = HistoryService(store)
    for i, (score, grade) in enumerate([(0.42, "D"), (0.55, "C"), (0.61, "C"), (0.78, "B")]):
        dims = {"clarity": score, "specificity": min(1.0, score + 0.1), "context": score - 0.1}
        hid = history.record_intercept(PROJECT, f"h{i}", score, grade, dims, "proceed", None)
        if i % 2:
            history.record_feedback(hid, 3 + i // 2, f"rating {i}")
    for scores in ((0.3, 0.6, 0.9), (0.4, 0.7), (0.2, 0.5, 0.6)):
        store.record_observation(
            LoopObservation(task_type="code", model="m", scores=scores, threshold=0.85,
                            converged=scores[-1] >= 0.85)
        )  # fmt: skip
    return Seeded(
        plan_id=plan_id,
        loop_id=loop_id,
        bayes_loop_id=_bayes_loop(store),
        other_plan_id=other.plan.id,
    )


def _bayes_loop(store: Store) -> str:
    """A 'docs' loop the Bayesian exit stops at iteration 2: its peers never got far."""
    for i in range(30):
        scores = (0.10, 0.12 + 0.001 * i, 0.13, 0.13, 0.13)
        obs = LoopObservation(task_type="docs", scores=scores, threshold=0.85, converged=False)
        store.record_observation(obs)
    loops = LoopService(store)
    loop = loops.start(PROJECT, "Document every endpoint", {"type": "length", "min_words": 50},
                       task_type="docs")  # fmt: skip
    stop = Priors.from_stats(*store.load_prior_stats()).stop_condition("docs", None)
    for text in ("a b c d e", "a b c d e f g h"):
        loops.step(loop.id, text, conditions=(stop,))
    return loop.id
