"""The facade's plans and revisions (docs/changes.md): ``Tickwork`` inherits them.

Every change to the set of schedules goes through ``apply_plan``: config sync at start
(``Tickwork.sync``), ``tickwork apply`` and ``rollback``, the HTTP API
(``define_schedules``) and code schedules synced at start. The decisions are pure
(``tickwork.revisions``); the store applies and records them in one transaction
(``RevisionStore.apply_revision``).
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tickwork import events
from tickwork.clock import Clock
from tickwork.config import Settings
from tickwork.errors import (
    ConfigError,
    InvalidSpecError,
    RevisionConflictError,
    RevisionNotFoundError,
)
from tickwork.model import ScheduleRow
from tickwork.revisions import (
    FIRES_SHOWN,
    Definition,
    Plan,
    changes_for,
    current_set,
    make_plan,
    state_at,
)
from tickwork.scheduler import Scheduler
from tickwork.spec import validate_schedule
from tickwork.store.api_base import APIStore
from tickwork.store.base import Revision, RevisionStore, Store

if TYPE_CHECKING:
    from tickwork.engine import Engine

__all__ = ["Revisions"]

log = logging.getLogger("tickwork")


ROWS_PAGE = 1000  # schedules read per page when a sync reads one source's rows
ROWS_BY_NAME = 200  # up to this many other names are read one by one


class Revisions:
    """Plans, applies and revisions; a part of ``Tickwork`` (which provides the store,
    clock, settings and code schedules used here)."""

    settings: Settings
    clock: Clock
    _engine: Engine | None
    _code_schedules: dict[str, dict[str, Any]]

    if TYPE_CHECKING:

        @property
        def store(self) -> Store: ...

    @property
    def revision_store(self) -> RevisionStore:
        store = self.store
        if not isinstance(store, RevisionStore):
            raise TypeError(f"{store!r} does not record revisions")
        return store

    def _rows_for(self, names: Iterable[str], sources: set[str]) -> list[ScheduleRow]:
        """The stored rows (retired included) of ``sources`` and of ``names``, never every
        schedule for a few names: a start-up sync of a handful of config schedules must not
        load a store of 10^6 API schedules (bench: scale)."""
        store = self.store
        found: dict[str, ScheduleRow] = {}
        for source in sorted(sources):
            if not isinstance(store, APIStore):
                break
            after: str | None = None
            while True:
                page = store.schedule_page(
                    after=after, limit=ROWS_PAGE, source=source, include_retired=True
                )
                found.update((row.name, row) for row in page.rows)
                if not page.more or not page.rows:
                    break
                after = page.rows[-1].name
        missing = sorted({name for name in names if name not in found})
        if len(missing) > ROWS_BY_NAME or (sources and not isinstance(store, APIStore)):
            wanted = set(missing)
            for row in store.list_schedules(include_retired=True):
                if row.name in wanted or row.source in sources:
                    found[row.name] = row
        else:
            for name in missing:
                named = store.get_schedule(name)
                if named is not None:
                    found[name] = named
        return list(found.values())

    def plan_config(
        self,
        now: datetime | None = None,
        settings: Settings | None = None,
        *,
        fires_shown: int = FIRES_SHOWN,
    ) -> Plan:
        """What applying the config (``settings``, default this app's) would change in the
        store. It manages config schedules only: it never retires a schedule defined in
        code or through the API. ``ConfigError`` when no config file was read or a name is
        owned by another source."""
        settings = settings or self.settings
        if settings.path is None:
            raise ConfigError(
                [
                    InvalidSpecError(
                        "config",
                        None,
                        "a tickwork.toml (or pyproject.toml with [tool.tickwork])",
                        message="no config file found",
                    )
                ]
            )
        wanted = {s["name"]: Definition(s, "config") for s in settings.schedules}
        label = f"config {settings.path}"
        return self._plan(wanted, {"config"}, now, label=label, fires_shown=fires_shown)

    def _plan_code(self, now: datetime) -> Plan:
        wanted = {n: Definition(s, "code") for n, s in self._code_schedules.items()}
        return self._plan(wanted, {"code"}, now, label="python code", fires_shown=0)

    def _plan(
        self,
        wanted: Mapping[str, Definition],
        manages: set[str],
        now: datetime | None,
        *,
        label: str,
        fires_shown: int = FIRES_SHOWN,
    ) -> Plan:
        store = self.revision_store
        base = store.latest_revision()
        rows = self._rows_for(wanted, manages)
        return make_plan(
            rows,
            wanted,
            manages=manages,
            now=now or self.clock.now(),
            base_revision=base,
            label=label,
            fires_shown=fires_shown,
        )

    def apply_plan(
        self,
        plan: Plan,
        *,
        applied_by: str | None = None,
        source: str = "apply",
        expect_revision: int | None = None,
        now: datetime | None = None,
    ) -> Revision | None:
        """Carry out ``plan`` as one transaction and record it as a revision (None when
        nothing changed). Fires already due under the old definitions are accounted for
        first; new and changed schedules keep their anchors and fire strictly after now.
        With ``expect_revision`` it raises ``RevisionConflictError`` (nothing changed)
        unless that is the latest revision."""
        at = now or self.clock.now()
        store = self.revision_store
        if plan.empty:
            if expect_revision is not None and store.latest_revision() != expect_revision:
                raise RevisionConflictError(expect_revision, store.latest_revision())
            return None
        self._account_for_due(at)
        touched = [*plan.names("added"), *plan.names("changed"), *plan.names("retired")]
        changes = changes_for(plan, self._rows_for(touched, set()), at)
        revision = store.apply_revision(
            changes,
            applied_by=applied_by or self._applied_by(plan.label or source),
            source=source,
            now=at,
            expect_revision=expect_revision,
        )
        if revision is not None:
            log.info(
                "revision %s applied",
                revision.number,
                extra={
                    "action": events.REVISION_APPLIED,
                    "revision": revision.number,
                    "source": source,
                    **{k: len(v) for k, v in revision.summary.items()},
                },
            )
            if self._engine is not None:
                self._engine.wake()
        return revision

    def define_schedules(
        self,
        definitions: Mapping[str, Mapping[str, Any] | None],
        *,
        owner: str = "api",
        applied_by: str,
        source: str = "api",
        expect_revision: int | None = None,
    ) -> Revision | None:
        """Set schedules of ``owner`` by name (a mapping of tickwork.toml keys; None
        retires it) and record the change as a revision of ``source``; the other
        schedules of ``owner`` are left as they are. The one entry point for schedule
        changes made through the HTTP API. ``ConfigError`` lists every invalid definition
        and names owned by another source; nothing is changed then."""
        problems: list[InvalidSpecError] = []
        wanted = {
            r.name: Definition(r.spec, owner)
            for r in self.store.list_schedules()
            if r.source == owner
        }
        for name, table in definitions.items():
            if table is None:
                wanted.pop(name, None)
                continue
            try:
                spec = validate_schedule({**table, "name": name}, default_tz=self.settings.timezone)
            except ConfigError as err:
                problems.extend(err.problems)
                continue
            wanted[name] = Definition(spec, owner)
        if problems:
            raise ConfigError(problems, source=source)
        plan = self._plan(wanted, {owner}, None, label=source)
        return self.apply_plan(
            plan, applied_by=applied_by, source=source, expect_revision=expect_revision
        )

    def plan_rollback(self, to: int | None = None, now: datetime | None = None) -> Plan:
        """The plan that makes the schedule set (every source) equal to revision ``to``
        (default: the one before the latest; 0: before the first revision). Apply it with
        ``source="rollback"`` and ``expect_revision=plan.base_revision``."""
        store = self.revision_store
        latest = store.latest_revision()
        target = latest - 1 if to is None else to
        if target < 0 or target > latest or latest == 0:
            raise RevisionNotFoundError(target, latest)
        later = store.list_revisions(after=target, limit=max(latest - target, 1))
        rows = self.store.list_schedules(include_retired=True)
        wanted = state_at(current_set(rows), later)
        return make_plan(
            rows,
            wanted,
            manages={"config", "code", "api"},
            now=now or self.clock.now(),
            base_revision=latest,
            label=f"rollback to revision {target}",
        )

    def revisions(self, *, limit: int = 100, before: int | None = None) -> list[Revision]:
        """Recorded revisions, newest first."""
        return self.revision_store.list_revisions(before=before, limit=limit)

    def revision(self, number: int) -> Revision:
        found = self.revision_store.get_revision(number)
        if found is None:
            raise RevisionNotFoundError(number)
        return found

    def _account_for_due(self, at: datetime) -> None:
        """Scheduler passes at ``at`` until nothing is due: fires due under the definitions
        in force are run or recorded missed before they change (after a long downtime,
        many short passes: ``Scheduler.fire_limit``)."""
        scheduler = Scheduler(self.store)
        while scheduler.run_once(at).schedules:
            pass

    def _applied_by(self, what: str) -> str:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no user name in a container without passwd entry
            user = str(os.getuid()) if hasattr(os, "getuid") else "?"
        return f"{what} by {user}@{socket.gethostname()}"
