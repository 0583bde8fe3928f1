"""The process's one store and the services on it, shared by every session.

stdio and streamable HTTP run the server's lifespan once per process, SSE once
per connection; ``Runtime`` is reference-counted so every transport opens the
store once (migrated, restored, logged), shares it across concurrent sessions,
and closes it when the last session ends. A store passed in by the caller is
used as is and never closed here.

The services (and the domain modules they come from, and the evaluator factory's
options) are built on first use, not when the store opens: a server that has only
answered ``initialize`` and ``tools/list`` has opened and checked its store and
imported none of them.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from loopcore.clock import Clock
from loopcore.errors import StoreError
from loopcore.store import PoolOptions, RestoreReport, Store, open_store
from loopcore.store.sqlite import SqliteStore
from server.pool import EvaluationPool
from server.settings import Settings

if TYPE_CHECKING:  # imported when first used (see the module docstring)
    from loopcore.evaluators.base import Evaluator
    from loopcore.evaluators.factory import FactoryOptions
    from loopcore.evaluators.options import JudgeModel
    from loopcore.history import HistoryService
    from loopcore.loops.priors import PriorsCache
    from loopcore.loops.sessions import LoopService
    from loopcore.plans.service import PlanService

__all__ = ["Runtime", "Services", "factory_options"]

log = structlog.get_logger(__name__)


class Services:
    """The domain services over one open store (seen from one project, or from all), and the
    priors learned in it (shared by every project's view: priors are not per project).

    ``for_project`` gives the services the tools, resources and completions use:
    there, a plan or loop id of another project is not found, exactly as an
    unknown id (``loopcore.store.scoped``). The unscoped services serve the CLI's
    administration (``--all-projects``) and startup.
    """

    def __init__(self, store: Store, clock: Clock, options: FactoryOptions, settings: Settings):
        from loopcore.history import HistoryService
        from loopcore.loops.priors import PriorsCache
        from loopcore.loops.sessions import LoopService
        from loopcore.plans.service import PlanService

        self.store = store
        self.plans: PlanService = PlanService(
            store, clock, factory_options=options, approval_ttl_s=settings.approval_ttl_s
        )
        self.loops: LoopService = LoopService(store, clock, factory_options=options)
        self.history: HistoryService = HistoryService(store, clock)
        self.priors: PriorsCache = PriorsCache(store)
        self._args = (clock, options, settings)
        self._scoped: dict[str, Services] = {}
        self._lock = threading.Lock()

    def close_history(self) -> None:
        """Let every project's pending intercept rows land before the store closes."""
        with self._lock:
            scoped = list(self._scoped.values())
        for services in (*scoped, self):
            services.history.close()

    def for_project(self, project: str) -> Services:
        """The services as ``project`` sees them (built once per project)."""
        with self._lock:
            scoped = self._scoped.get(project)
            if scoped is None:
                from loopcore.store.scoped import ProjectStore  # with the first project's view

                view = ProjectStore(self.store, project).as_store()
                scoped = self._scoped[project] = Services(view, *self._args)
                scoped.priors = self.priors
            return scoped


class Runtime:
    """Owns the store's lifetime across sessions.

    Args:
        settings: the server settings (database path, evaluator limits).
        clock: the only source of time for the services.
        store: an already opened store to use instead of opening ``settings.db``.
    """

    def __init__(self, settings: Settings, clock: Clock, store: Store | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.project = settings.project_key
        # Evaluations and commands run here, never on the transports' threads (server.pool).
        self.pool = EvaluationPool(settings.eval_workers, settings.eval_session_share)
        self._given = store
        self._lock = threading.Lock()
        self._users = 0
        self._store: Store | None = None
        self._services: Services | None = None
        self.report: RestoreReport | None = None

    @functools.cached_property
    def options(self) -> FactoryOptions:
        """How evaluators are built under the settings (``factory_options``), on first use."""
        return factory_options(self.settings)

    def acquire(self) -> None:
        """Open the store if no session holds it yet (migrated, restored, checked writable);
        count one more user. The services are built when first asked for.

        Raises:
            StoreError: the database cannot be opened or is newer than this code.
        """
        with self._lock:
            if self._store is None:
                self._store = self._open()
            self._users += 1

    def release(self) -> None:
        """One user fewer; the last one closes a store this runtime opened."""
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users or self._store is None:
                return
            store, services = self._store, self._services
            self._store = self._services = None
        if services is not None:
            services.close_history()  # intercepts written behind their answers land first
        if self._given is None:
            store.close()
            log.info("store_closed", path=store.location)

    @property
    def services(self) -> Services:
        """The services while at least one session is open (built on first use).

        Raises:
            StoreError: no session holds the store (a tool called outside a session).
        """
        services = self._services
        if services is not None:
            return services
        with self._lock:
            if self._store is None:
                raise StoreError("the store is not open (no active session)")
            if self._services is None:
                self._services = Services(self._store, self.clock, self.options, self.settings)
            return self._services

    def evaluator(
        self,
        spec: dict[str, Any] | str,
        judge: JudgeModel | None = None,
        *,
        commands_approved: bool = False,
    ) -> Evaluator:
        """Build an evaluator from a spec with the server's limits and allowlist.

        ``judge`` is the model a ``judge`` spec asks on this call (the host's, through
        sampling); by default the configured provider, if any.
        """
        from loopcore.evaluators.factory import build_evaluator

        options = self.options if judge is None else replace(self.options, judge=judge)
        if commands_approved:
            options = replace(options, commands_approved=True)
        return build_evaluator(spec, options)

    def _open(self) -> Store:
        if self._given is not None:
            return self._given
        s = self.settings
        pool = PoolOptions(
            pool_size=s.db_pool_size,
            pool_timeout_s=s.db_pool_timeout_s,
            connect_timeout_s=s.db_connect_timeout_s,
            statement_timeout_s=s.db_statement_timeout_s,
        )
        store, report = open_store(s.db, self.clock, pool=pool)
        if isinstance(store, SqliteStore):  # a read-only file opens silently: refuse it now
            try:
                store.check_writable()
            except StoreError:
                store.close()
                raise
        self.report = report
        log.info("store_restored", project=self.project, **asdict(report))
        return store


def factory_options(settings: Settings) -> FactoryOptions:
    """How evaluators are built under ``settings``: time limits, allowlist, project root."""
    from loopcore.evaluators.factory import FactoryOptions
    from server.providers import configured_judge

    return FactoryOptions(
        regex_timeout_s=settings.regex_timeout_s,
        evaluation_budget_s=settings.evaluation_budget_s,
        allow_commands=settings.allow_commands,
        project_root=_project_root(settings),
        command_timeout_s=settings.command_timeout_s,
        environ=settings.command_environ,
        judge=configured_judge(settings),
    )


def _project_root(settings: Settings) -> Path:
    """Where command evaluators run: the project directory when it exists, else the cwd."""
    if settings.project and Path(settings.project).is_dir():
        return Path(settings.project).resolve()
    return Path.cwd().resolve()
