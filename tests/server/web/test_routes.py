"""The dashboard's routes over real HTTP: pages, fragments, the change marker, hosts, token."""

from __future__ import annotations

import re

import httpx

from loopcore.plans import PlanService
from loopcore.store import SqliteStore
from server.web import dashboard_app
from server.web.auth import COOKIE, TokenGate
from tests.server.web.conftest import Served
from tests.server.web.seed import OTHER_PROJECT, PROJECT, Seeded


def _app(store: SqliteStore) -> Served:
    return Served(dashboard_app(lambda: store, allowed_hosts=["127.0.0.1", "localhost"]))


def test_every_page_answers_with_its_content(store: SqliteStore, seeded: Seeded) -> None:
    """/, a plan, a loop and /intercepts answer 200 with what they are about."""
    with _app(store) as base:
        home = httpx.get(base + "/")
        plan = httpx.get(f"{base}/plans/{seeded.plan_id}")
        loop = httpx.get(f"{base}/loops/{seeded.bayes_loop_id}")
        intercepts = httpx.get(base + "/intercepts")
    assert [r.status_code for r in (home, plan, loop, intercepts)] == [200, 200, 200, 200]
    assert "Ship the billing service" in home.text and seeded.bayes_loop_id in home.text
    assert len(re.findall(r'<tr data-task-id="', plan.text)) == 6
    assert 'id="confidence-chart"' in plan.text and "replan r2" in plan.text
    assert "Bayesian exit" in loop.text and "id='forecast'" in loop.text
    assert 'id="trend-chart"' in intercepts.text and "4/5" in intercepts.text


def test_the_project_picker_switches_project(store: SqliteStore, seeded: Seeded) -> None:
    """?project= shows that project's plans and selects it in the picker."""
    with _app(store) as base:
        page = httpx.get(base + "/", params={"project": OTHER_PROJECT})
    assert "Another project&#x27;s plan" in page.text
    assert "Ship the billing service" not in page.text
    assert f'<option value="{OTHER_PROJECT}" selected>' in page.text
    assert f'<option value="{PROJECT}">' in page.text


def test_unknown_ids_are_404(store: SqliteStore, seeded: Seeded) -> None:
    """An unknown plan or loop is a 404 page, not an error."""
    with _app(store) as base:
        plan = httpx.get(base + "/plans/pl_nope")
        loop = httpx.get(base + "/loops/lp_nope")
    assert (plan.status_code, loop.status_code) == (404, 404)
    assert "no plan &#x27;pl_nope&#x27;" in plan.text


def test_a_fragment_is_only_the_main_content(store: SqliteStore, seeded: Seeded) -> None:
    """?fragment=1 answers the content of <main>, without the page around it."""
    with _app(store) as base:
        frag = httpx.get(f"{base}/plans/{seeded.plan_id}", params={"fragment": "1"})
    assert frag.text.startswith("<h1>Ship the billing service</h1>")
    assert "<html" not in frag.text and "<main" not in frag.text


def test_the_change_marker_moves_with_a_write(store: SqliteStore, seeded: Seeded) -> None:
    """/api/changes answers a new marker after a plan_record-like write by the service."""
    with _app(store) as base:
        before = httpx.get(base + "/api/changes").json()["marker"]
        PlanService(store).record(seeded.plan_id, "api", output_score=0.9)
        after = httpx.get(base + "/api/changes").json()["marker"]
        page = httpx.get(f"{base}/plans/{seeded.plan_id}", params={"fragment": "1"})
    assert before != after
    assert re.search(r'data-task-id="api" data-status="done"', page.text)


def test_pages_forbid_inline_script_and_framing(store: SqliteStore, seeded: Seeded) -> None:
    """Every page has a CSP with script-src 'self' and frame-ancestors 'none', and no inline JS."""
    with _app(store) as base:
        page = httpx.get(base + "/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert re.findall(r"<script[^>]*>", page.text) == ['<script defer src="/static/dashboard.js">']


def test_a_foreign_host_header_is_refused(store: SqliteStore, seeded: Seeded) -> None:
    """DNS-rebinding protection: a Host that is not this machine gets 400."""
    with _app(store) as base:
        evil = httpx.get(base + "/api/changes", headers={"host": "evil.example"})
    assert evil.status_code == 400


def test_the_token_gate_takes_a_bearer_header_or_the_login_cookie(
    store: SqliteStore, seeded: Seeded
) -> None:
    """No token: 401; the bearer header: 200; /login with the token sets a cookie that works."""
    app = TokenGate(dashboard_app(lambda: store, allowed_hosts=["127.0.0.1"]), "s3cret")
    with Served(app) as base:
        bare = httpx.get(base + "/")
        bearer = httpx.get(base + "/", headers={"authorization": "Bearer s3cret"})
        wrong = httpx.get(base + "/login", params={"token": "nope"})
        with httpx.Client(base_url=base) as browser:
            login = browser.get("/login", params={"token": "s3cret"})
            after = browser.get("/")
    assert (bare.status_code, bearer.status_code, wrong.status_code) == (401, 200, 401)
    assert login.status_code == 303 and login.headers["location"] == "/"
    assert login.headers["set-cookie"].startswith(f"{COOKIE}=s3cret; HttpOnly; SameSite=Strict")
    assert after.status_code == 200 and "Ship the billing service" in after.text


def test_a_team_member_sees_only_their_projects(store: SqliteStore, seeded: Seeded) -> None:
    """Under a member's identity (set by server.team.TeamAuth), other projects are absent."""
    from starlette.types import ASGIApp, Receive, Scope, Send

    from server.team import Identity, current_identity

    inner = dashboard_app(lambda: store, allowed_hosts=["127.0.0.1", "localhost"])

    async def as_member(scope: Scope, receive: Receive, send: Send) -> None:
        who = Identity(member="ann", project=OTHER_PROJECT, projects=(OTHER_PROJECT,))
        reset = current_identity.set(who)
        try:
            await inner(scope, receive, send)
        finally:
            current_identity.reset(reset)

    app: ASGIApp = as_member
    with Served(app) as base:
        home = httpx.get(base + "/")
        mine = httpx.get(f"{base}/plans/{seeded.other_plan_id}")
        theirs = httpx.get(f"{base}/plans/{seeded.plan_id}")
        loop = httpx.get(f"{base}/loops/{seeded.bayes_loop_id}")
    assert f'<option value="{PROJECT}"' not in home.text
    assert "Ship the billing service" not in home.text
    assert (mine.status_code, theirs.status_code, loop.status_code) == (200, 404, 404)
