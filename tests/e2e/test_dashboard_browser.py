"""The dashboard in headless Chromium (Debian's, driven by Playwright) against a real
``loopcore dashboard`` on a real database, changed by a real ``loopcore serve`` over stdio.

Screenshots of every page are written to ``tests/artifacts/dashboard/``. Without
Chromium or the playwright package these tests skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from loopcore.store import open_store
from server.mcp.apps import PLAN_VIEW_HTML
from tests.e2e.dashboard import CLI, ROOT, dashboard, dashboard_env
from tests.e2e.serving import free_port
from tests.server.web.seed import PROJECT, Seeded, seed

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts" / "dashboard"


def _need_browser() -> None:
    missing = [
        what
        for what, ok in (
            ("the playwright package", importlib.util.find_spec("playwright") is not None),
            (str(CHROMIUM), CHROMIUM.exists()),
        )
        if not ok
    ]
    if missing:
        reason = f"browser tests need {' and '.join(missing)} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Debian Chromium."""
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM))
        yield b
        b.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Seeded, Path]]:
    """A seeded database and a ``loopcore dashboard`` on it: (base URL, ids, db path)."""
    db = tmp_path / "loopcore.db"
    store, _ = open_store(db)
    seeded = seed(store)
    store.close()
    port = free_port()
    with dashboard(tmp_path, "--port", str(port)) as (_, line):
        assert line.endswith(f":{port}/"), line
        yield f"http://127.0.0.1:{port}", seeded, db
    ARTIFACTS.mkdir(parents=True, exist_ok=True)


def _in_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in its own thread (the sync Playwright API owns this thread's event loop)."""
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(fn()))
    worker.start()
    worker.join(120)
    assert out, "the MCP client did not finish"
    return out[0]


async def _mcp(db: Path, tmp_path: Path, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Tool calls through the official client over stdio against ``loopcore serve`` on ``db``."""
    env = dashboard_env(tmp_path, LOOPCORE_PROJECT=PROJECT)
    params = StdioServerParameters(command=CLI[0], args=[*CLI[1:], "serve"], env=env, cwd=str(ROOT))
    apps = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]
    results = []
    async with Client(params, extensions=apps) as client:
        for tool, args in calls:
            result = await client.call_tool(tool, args)
            assert not result.is_error, result.content
            results.append(result.structured_content)
            results.append(time.time())  # when the call returned (wall clock, as the page's)
        journal = await client.read_resource(f"loopcore://plans/{args['plan_id']}/journal")
        results.append(getattr(journal.contents[0], "text", ""))
    return results


# Marks the document (a reload would lose the mark) and notes when the api row says "done".
_WATCH = """() => {
  window.sameDocument = true;
  new MutationObserver(() => {
    const s = document.querySelector('tr[data-task-id="api"] [data-role="status"]');
    if (s && s.textContent === "done" && !window.apiDoneAt) { window.apiDoneAt = Date.now(); }
  }).observe(document.getElementById("live"), {childList: true, subtree: true});
}"""


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_the_plan_page_goes_live_on_a_plan_record(browser: Any, site: Any, tmp_path: Path) -> None:
    """Tasks listed, chart drawn; a plan_record by another process shows up without a reload."""
    from playwright.sync_api import expect

    base, seeded, db = site
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{base}/plans/{seeded.plan_id}")
    page.wait_for_selector("#confidence-chart polyline")
    assert page.locator("tr[data-task-id]").count() == 6
    assert page.locator("#confidence-chart circle").count() == 4
    api = page.locator('tr[data-task-id="api"] [data-role="status"]')
    expect(api).to_have_text("pending, ready")
    _shot(page, "plan")
    page.evaluate(_WATCH)
    record = {"plan_id": seeded.plan_id, "task_id": "api", "output": "def charge(card): ..."}
    _, returned_at, _ = _in_thread(lambda: anyio.run(_mcp, db, tmp_path, [("plan_record", record)]))
    expect(api).to_have_text("done", timeout=10_000)
    assert page.evaluate("window.sameDocument") is True  # no reload happened
    seen_after = page.evaluate("window.apiDoneAt") / 1000 - returned_at
    expect(page.locator('svg.graph g[data-task-id="api"] .nst')).to_have_text("done")
    expect(page.locator("#confidence-chart circle")).to_have_count(5)
    (ARTIFACTS / "live_update.txt").write_text(
        f"the page showed the plan_record {seen_after:+.3f} s after the call returned"
        " (negative: before the client had read the answer)\n"
    )
    _shot(page, "plan-after-record")


def test_every_page_renders_and_is_screenshotted(browser: Any, site: Any) -> None:
    """/, a loop with a Bayesian exit, a finished loop and /intercepts draw their charts."""
    base, seeded, _ = site
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    checks = {
        "plans": ("/", "#plans tr[data-plan-id]"),
        "loop-bayesian": (f"/loops/{seeded.bayes_loop_id}", "#score-chart polyline"),
        "loop": (f"/loops/{seeded.loop_id}", "#score-chart polyline"),
        "intercepts": ("/intercepts", "#trend-chart g.series"),
    }
    for name, (path, selector) in checks.items():
        page.goto(base + path)
        page.wait_for_selector(selector)
        _shot(page, name)
    page.goto(f"{base}/loops/{seeded.bayes_loop_id}")
    assert "Bayesian exit" in page.locator("#forecast").inner_text()
    page.goto(base + "/intercepts")
    assert page.locator("#trend-chart g.series").count() == 4  # score + three dimensions
    assert errors == []


def test_a_narrow_window_does_not_scroll_sideways(browser: Any, site: Any) -> None:
    """At 420 px wide the page itself never overflows; wide parts scroll in their own boxes."""
    base, seeded, _ = site
    page = browser.new_page(viewport={"width": 420, "height": 800})
    for name, path in (("narrow-plans", "/"), ("narrow-plan", f"/plans/{seeded.plan_id}")):
        page.goto(base + path)
        page.wait_for_selector("main h1")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 420, f"{path} is {width}px wide"
        _shot(page, name)


def test_the_keyboard_reaches_the_picker_and_the_plans(browser: Any, site: Any) -> None:
    """Tab walks: skip link, navigation, project picker, then the plan link; Enter opens it."""
    base, seeded, _ = site
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(base + "/")
    seen = []
    for _ in range(8):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.textContent.trim().slice(0, 40)"))
        if seen[-1] == "Ship the billing service":
            break
    assert seen[0] == "Skip to content"
    assert "Intercepts" in seen and seen[-1] == "Ship the billing service"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/plans/{seeded.plan_id}")


def test_the_mcp_app_draws_the_plan_from_a_tool_result(
    browser: Any, site: Any, tmp_path: Path
) -> None:
    """The ui:// view, handed a real plan_status result, draws the graph and the journal's
    confidence path; the host side of the bridge is played by the test page."""
    _, seeded, db = site
    status, _, journal = _in_thread(
        lambda: anyio.run(_mcp, db, tmp_path, [("plan_status", {"plan_id": seeded.plan_id})])
    )
    assert [t["id"] for t in status["tasks"]] == ["spec", "schema", "api", "ui", "tests", "docs"]
    page = browser.new_page(viewport={"width": 900, "height": 700})
    page.set_content(PLAN_VIEW_HTML)
    page.evaluate(
        """([status, journal]) => {
          window.addEventListener("message", (e) => {
            const m = e.data;
            if (m && m.method === "resources/read") {
              window.postMessage({jsonrpc: "2.0", id: m.id,
                result: {contents: [{uri: m.params.uri, text: journal}]}}, "*");
            }
          });
          window.postMessage({jsonrpc: "2.0", method: "ui/notifications/tool-result",
            params: {structuredContent: status}}, "*");
        }""",
        [status, journal],
    )
    page.wait_for_selector('#graph g[data-task-id="tests"]')
    page.wait_for_function(
        "document.querySelector('#confidence-chart polyline')"
        ".getAttribute('points').split(' ').length === 4"
    )
    assert page.locator("#graph g.ready").count() == 2
    assert "ready" in (page.locator('#graph g[data-task-id="api"]').text_content() or "")
    assert json.loads(journal)["plan_id"] == seeded.plan_id
    _shot(page, "mcp-app-plan")
