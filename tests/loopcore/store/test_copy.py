"""``loopcore db copy``: a SQLite file up to PostgreSQL and back, with every table's rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loopcore.clock import FixedClock
from loopcore.errors import InvalidInput
from loopcore.history import HistoryService
from loopcore.loops import LoopService
from loopcore.plans import PlanService
from loopcore.store import Store, open_store
from loopcore.store.copy import TABLES, copy_database, table_counts

ROOT = Path(__file__).resolve().parents[3]


def _fill(store: Store) -> str:
    """A plan with claims, records, a replan and a delete; loops with steps; history."""
    clock = FixedClock(1_700_000_000.0)
    plans, loops, history = (
        PlanService(store, clock),
        LoopService(store, clock),
        HistoryService(store, clock),
    )
    tasks = [
        {"id": f"t{i}", "title": f"task {i}", "depends_on": ["t0"] if i else []} for i in range(4)
    ]
    plan_id = plans.create("proj", "ship it", tasks).plan.id
    plans.next_task(plan_id, agent="a")
    plans.record(plan_id, "t0", prompt_score=0.8, output_score=0.9, agent="a")
    plans.next_task(plan_id, agent="b")
    plans.replan(plan_id, "scope", add=[{"id": "t9", "title": "more"}])
    gone = plans.create("proj", "gone", [{"id": "x", "title": "x"}]).plan.id
    plans.delete(gone)
    for n in range(2):
        loop = loops.start("proj", f"loop {n}", {"type": "length", "min_chars": 3})
        loops.step(loop.id, "hello world")
        loops.end(loop.id, outcome="accepted")
    hid = history.record_intercept("proj", "h" * 64, 0.7, "B", {"clarity": 0.7}, "direct", None)
    history.record_feedback(hid, 4, "fine")
    return plan_id


def _counts(where: str | Path) -> dict[str, int]:
    store, _ = open_store(where, FixedClock())
    try:
        with store.read() as tx:
            return table_counts(tx)
    finally:
        store.close()


def _export(where: str | Path, plan_id: str) -> dict[str, object]:
    store, _ = open_store(where, FixedClock())
    try:
        out = PlanService(store, FixedClock()).export_json(plan_id)
        with store.read() as tx:
            journal = [
                (e.seq, e.kind, e.task_id, dict(e.detail)) for e in tx.read_journal(plan_id=plan_id)
            ]
            priors = tx.load_prior_stats()
        return {
            "plan": json.loads(json.dumps(out, default=list)),
            "journal": journal,
            "priors": priors,
        }
    finally:
        store.close()


def test_sqlite_to_postgres_and_back_keeps_every_row(tmp_path: Path, pg_url: str) -> None:
    src = tmp_path / "one.db"
    store, _ = open_store(src, FixedClock())
    plan_id = _fill(store)
    store.close()
    before = _counts(src)
    assert all(before[t] > 0 for t, _ in TABLES), before

    up = copy_database(src, pg_url)
    assert up.rows == before and _counts(pg_url) == before
    back = tmp_path / "back.db"
    down = copy_database(pg_url, back)
    assert down.rows == before and _counts(back) == before
    assert _export(src, plan_id) == _export(pg_url, plan_id) == _export(back, plan_id)

    # The copied database goes on working: new ids continue after the copied ones.
    pg, _ = open_store(pg_url, FixedClock(1_800_000_000.0))
    try:
        plans = PlanService(pg, FixedClock(1_800_000_000.0))
        plans.next_task(plan_id, agent="c")
        with pg.read() as tx:
            entries = tx.read_journal(plan_id=plan_id, limit=1000)
        copied = [e[0] for e in _export(src, plan_id)["journal"]]  # type: ignore[attr-defined]
        assert [e.seq for e in entries][: len(copied)] == copied
        new = entries[len(copied) :]
        assert [e.kind for e in new] == ["lease_expired", "claimed"]
        assert min(e.seq for e in new) > max(copied)
        hid = HistoryService(pg, FixedClock()).record_intercept(
            "proj", "k" * 64, 0.5, "C", {}, "r", None
        )
        assert HistoryService(pg, FixedClock()).record_feedback(hid, 2).id > 1
    finally:
        pg.close()


def test_a_non_empty_target_is_refused_and_left_as_it_was_unless_forced(
    tmp_path: Path, pg_url: str
) -> None:
    src = tmp_path / "one.db"
    store, _ = open_store(src, FixedClock())
    _fill(store)
    store.close()
    target, _ = open_store(pg_url, FixedClock())
    PlanService(target, FixedClock()).create("other", "mine", [{"id": "m", "title": "m"}])
    target.close()
    held = _counts(pg_url)

    with pytest.raises(InvalidInput, match=r"already holds rows \(plans 1, tasks 1.*--force"):
        copy_database(src, pg_url)
    assert _counts(pg_url) == held

    report = copy_database(src, pg_url, force=True)
    assert report.replaced["plans"] == 1
    assert _counts(pg_url) == _counts(src)


def test_same_database_and_missing_source_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="same database"):
        copy_database(tmp_path / "a.db", tmp_path / "a.db")
    with pytest.raises(InvalidInput, match="does not exist"):
        copy_database(tmp_path / "missing.db", tmp_path / "b.db")
    assert not (tmp_path / "b.db").exists()


@pytest.mark.slow
def test_the_cli_verb_copies_and_prints_the_counts(tmp_path: Path, pg_url: str) -> None:
    src = tmp_path / "one.db"
    store, _ = open_store(src, FixedClock())
    _fill(store)
    store.close()
    # `-c` from the repository root imports this checkout's code (not another editable install).
    main = "import sys; from server.cli import main; sys.exit(main())"
    argv = [sys.executable, "-c", main, "db", "copy", str(src), pg_url]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert (
        "plans                     1" in done.stdout
        and "prompt_feedback           1" in done.stdout
    )
    again = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert again.returncode == 1
    assert "already holds rows" in again.stderr and "--force" in again.stderr
    forced = subprocess.run(
        [*argv, "--force"], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )
    assert forced.returncode == 0, forced.stderr
    assert "replaced the target's rows (--force)" in forced.stdout
