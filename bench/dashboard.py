"""Server time to render the dashboard's page of a 500-task plan and its journal.

A 500-task plan in ten interleaved dependency chains, 300 tasks scored (one replan on
the way), so the page draws 500 graph nodes, 500 task rows, the confidence path of
300 scorings and the newest 300 of its ~700 journal lines. Timed, round-robin in blocks
so machine load falls on every row alike:

- in process: reading the page's data through the ``Store`` protocol (``plan_view``),
  rendering it to HTML (``plan_fragment`` + ``page``), and both together;
- over real HTTP (``loopcore dashboard``'s app under uvicorn on 127.0.0.1): the whole
  page, its live fragment, the ``/api/changes`` poll, and the floor: an empty 204
  answer from the same server (what any request costs before loopcore does anything).

Run: ``python bench/dashboard.py`` (``--quick`` for the smoke test).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common  # noqa: F401 - puts the checkout on sys.path when loopcore is not installed
import httpx
import uvicorn
from _common import machine_line, ms, p50_p95, print_command, print_table

from loopcore.plans import PlanLimits, PlanService
from loopcore.store import SqliteStore, open_store
from server.web import dashboard_app, pages, views

PROJECT = "bench"


def _tasks(n: int, chains: int = 10) -> list[dict[str, Any]]:
    return [
        {"id": f"t{i}", "title": f"task {i}", "description": "do the thing and check it " * 4,
         "depends_on": [f"t{i - chains}"] if i >= chains else [],
         "acceptance": {"type": "length", "min_words": 3}}
        for i in range(n)
    ]  # fmt: skip


def build_plan(store: SqliteStore, n: int, scored: int) -> str:
    """A plan of ``n`` tasks with the first ``scored`` recorded (a replan halfway)."""
    plans = PlanService(store, limits=PlanLimits(max_tasks=max(n, 1)))
    plan_id = plans.create(PROJECT, "a large plan", _tasks(n)).plan.id
    for i in range(scored):
        if i % 7 == 3:  # a weak first result, then the retry its dependents wait for
            plans.record(plan_id, f"t{i}", prompt_score=0.8, output_score=0.4)
        plans.record(plan_id, f"t{i}", prompt_score=0.8, output_score=0.9)
        if i == scored // 2:
            plans.replan(plan_id, "halfway review")
    return plan_id


class _Served:
    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(reps: int, block: int, n: int, scored: int) -> None:
    """Build the plan, time every case round-robin and print the table."""
    with tempfile.TemporaryDirectory() as tmp:
        store, _ = open_store(Path(tmp) / "bench.db")
        plan_id = build_plan(store, n, scored)
        shell = pages.Shell("", views.projects(store), PROJECT)
        view = views.plan_view(store, plan_id)
        html = pages.page(
            shell, title="p", path="/", marker="m", body=pages.plan_fragment(shell, view)
        )

        def render_only() -> str:
            return pages.page(
                shell, title="p", path="/", marker="m", body=pages.plan_fragment(shell, view)
            )

        def render() -> str:
            fresh = views.plan_view(store, plan_id)
            return pages.page(
                shell, title="p", path="/", marker="m", body=pages.plan_fragment(shell, fresh)
            )

        with _Served(dashboard_app(lambda: store)) as base, httpx.Client(base_url=base) as http:

            def get(path: str, **params: str) -> Callable[[], object]:
                return lambda: http.get(path, params=params).raise_for_status()

            page_url = f"/plans/{plan_id}"
            cases: dict[str, tuple[str, Callable[[], object]]] = {
                "floor: empty 204": ("http", get("/favicon.ico")),
                "read (plan_view)": ("in process", lambda: views.plan_view(store, plan_id)),
                "render HTML (from read data)": ("in process", render_only),
                "read + render": ("in process", render),
                "GET plan page": ("http", get(page_url)),
                "GET live fragment": ("http", get(page_url, fragment="1")),
                "GET /api/changes (poll)": ("http", get("/api/changes")),
            }
            samples: dict[str, list[float]] = {name: [] for name in cases}
            for fn in (c[1] for c in cases.values()):
                fn()  # warm up
            for _ in range(max(1, reps // block)):
                for name, (_, fn) in cases.items():
                    samples[name] += [_timed(fn) for _ in range(block)]
        store.close()
    floor = p50_p95(samples["floor: empty 204"])[0]
    rows = []
    for name, (where, _) in cases.items():
        p50, p95 = p50_p95(samples[name])
        rows.append([where, name, len(samples[name]), ms(p50), ms(p95), f"{p50 / floor:.1f}x"])
    print_table(
        f"Dashboard plan page: {n} tasks, {scored} scored, {len(view.lines)} of "
        f"{view.journal_total} journal lines shown, {len(html) // 1024} KiB of HTML",
        ["where", "case", "samples", "p50 ms", "p95 ms", "x floor p50"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100, help="samples per case")
    parser.add_argument("--block", type=int, default=10, help="samples per case per round")
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--scored", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.reps, args.block, args.tasks, args.scored = 4, 2, 40, 20
    print_command()
    print(machine_line())
    run(args.reps, args.block, args.tasks, min(args.scored, args.tasks))


if __name__ == "__main__":
    main()
