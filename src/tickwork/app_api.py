"""The operations of the HTTP API, as methods of the ``Tickwork`` facade (it inherits
``APIOperations``): schedules owned by the API, pages, preview, idempotent trigger, cancel
and retry. Routes (``tickwork.web.api``) stay thin over these.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Container, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from tickwork.errors import ConfigError, InvalidSpecError, NotPermittedError
from tickwork.model import Run, ScheduleRow
from tickwork.scheduler import Scheduler, first_fire
from tickwork.spec import KEYS, ScheduleSpec, validate_schedule
from tickwork.store.api_base import (
    APIStore,
    IdempotentOutcome,
    KeyedSchedulePage,
    ScheduleChange,
    SchedulePage,
    StoredResponse,
)
from tickwork.store.base import ScheduleUpsert
from tickwork.store.overview_base import OverviewStore, ScheduleCounts
from tickwork.triggers import fires
from tickwork.triggers.describe import describe

if TYPE_CHECKING:
    from tickwork.clock import Clock
    from tickwork.config import Settings
    from tickwork.engine import Engine
    from tickwork.store.base import Store
    from tickwork.tasks import TaskRegistry

__all__ = ["APIOperations", "APIScheduleEdit", "Preview"]

PREVIEW_NAME = "preview"
MAX_PREVIEW = 100  # fires one preview may list
IDEMPOTENCY_KEEP = timedelta(hours=24)
TRIGGER_KEYS = ("cron", "every", "at", "tz", "start_at", "end_at")


@dataclass(frozen=True, slots=True)
class APIScheduleEdit:
    """One change asked for through the API: ``table`` (the keys of a tickwork.toml
    [[schedule]] table, ``name`` included) to create (``create=True``) or replace, or None
    to delete. ``expect_version``: refuse unless the stored version is this one."""

    name: str
    table: Mapping[str, Any] | None
    create: bool = False
    expect_version: int | None = None


@dataclass(frozen=True, slots=True)
class Preview:
    fires: tuple[datetime, ...]  # in the schedule's zone
    description: str
    spec: dict[str, Any]


class APIOperations:
    """Mixed into ``Tickwork``; uses its settings, clock, store, tasks and engine."""

    settings: Settings
    clock: Clock
    tasks: TaskRegistry
    _engine: Engine | None

    if TYPE_CHECKING:

        @property
        def store(self) -> Store: ...  # Tickwork's

    @property
    def api_store(self) -> APIStore:
        """The store, as the API's store (both SQL stores are)."""
        return cast(APIStore, _checked(self.store, APIStore, "the API"))

    @property
    def overview_store(self) -> OverviewStore:
        """The store, as the dashboard's store (both SQL stores are)."""
        return cast(OverviewStore, _checked(self.store, OverviewStore, "the dashboard"))

    # -- schedules -------------------------------------------------------------------------

    def change_api_schedules(
        self, edits: Sequence[APIScheduleEdit], *, actor: str
    ) -> list[ScheduleRow | None]:
        """Every change to API-owned schedules goes through here: each definition is
        validated as in tickwork.toml (``ConfigError`` listing every problem), ``task`` must
        name a task registered in code, ``command`` needs ``Settings.api_commands``
        (``NotPermittedError``), then all are applied in one transaction or none, after a
        scheduler pass has accounted for the fires already due.
        Schedules of config or code stay read-only (``NotPermittedError``). ``actor``
        (a token name) says who asked; the revision recorded with the change names it."""
        now = self.clock.now()
        # As ``Tickwork.sync`` does: fires already due under the old definitions are run or
        # recorded first, so a change or delete never makes them disappear (promise 2).
        scheduler = Scheduler(self.store)
        while scheduler.run_once(now).schedules >= scheduler.batch:
            pass
        changes = []
        for edit in edits:
            upsert = None
            if edit.table is not None:
                spec = self._api_spec(edit.name, edit.table)
                # As in ``Tickwork.sync``: a schedule keeps its anchor when redefined.
                row = None if edit.create else self.store.get_schedule(edit.name)
                parsed = ScheduleSpec.from_stored(spec)
                anchor = row.anchor if row is not None else None
                anchor = anchor or parsed.start_at or now.replace(microsecond=0)
                upsert = ScheduleUpsert(spec["name"], spec, first_fire(parsed, anchor, now), anchor)
            changes.append(
                ScheduleChange(edit.name, upsert, edit.expect_version, create=edit.create)
            )
        applied_by = f"API token {actor!r} on {socket.gethostname()}"
        rows = self.api_store.change_api_schedules(changes, now, applied_by=applied_by)
        self._wake()
        return rows

    def _api_spec(self, name: str, table: Mapping[str, Any]) -> dict[str, Any]:
        given = dict(table)
        if given.setdefault("name", name) != name:
            raise ConfigError(
                [
                    InvalidSpecError(
                        "name",
                        given["name"],
                        f"the name in the URL ({name!r}) or no name",
                        message=f"the body names {given['name']!r}, the URL {name!r}",
                    )
                ],
                source=f"schedule {name!r}",
            )
        spec = validate_schedule(given, default_tz=self.settings.timezone)
        if "command" in spec and not self.settings.api_commands:
            raise NotPermittedError(
                "schedules that run a shell command cannot be created or changed through the "
                "API unless the config enables it (api_commands = true in [tickwork])",
                "a schedule with task = the name of a task registered in code",
                field="command",
                got=spec["command"],
            )
        if "task" in spec and spec["task"] not in self.tasks:
            known = ", ".join(self.tasks.names()) or "none are registered in this process"
            raise NotPermittedError(
                f"task {spec['task']!r} is not registered in code; through the API a "
                "schedule can only run a registered task (never import an arbitrary one)",
                f"one of: {known}",
                field="task",
                got=spec["task"],
            )
        return spec

    def schedule_page(
        self,
        *,
        after: str | None,
        limit: int,
        source: str | None = None,
        paused: bool | None = None,
        include_retired: bool = False,
        prefix: str | None = None,
    ) -> SchedulePage:
        return self.api_store.schedule_page(
            after=after,
            limit=limit,
            source=source,
            paused=paused,
            include_retired=include_retired,
            prefix=prefix,
        )

    def schedule_page_keyed(
        self,
        *,
        after: str | None,
        limit: int,
        source: str | None = None,
        paused: bool | None = None,
        include_retired: bool = False,
        prefix: str | None = None,
        known: Container[Hashable] = (),
    ) -> KeyedSchedulePage:
        """``schedule_page`` as keys, with the rows only when a key is not ``known``
        (``KeyedSchedulePage``): what the API's listing reads on every request."""
        return self.api_store.schedule_page_keyed(
            after=after,
            limit=limit,
            source=source,
            paused=paused,
            include_retired=include_retired,
            prefix=prefix,
            known=known,
        )

    def recent_runs(self, names: Sequence[str], per_schedule: int) -> dict[str, list[Run]]:
        """The latest ``per_schedule`` runs of each named schedule, newest first (one read)."""
        return self.overview_store.recent_runs(names, per_schedule)

    def next_up(self, limit: int) -> list[ScheduleRow]:
        """The ``limit`` live, unpaused schedules that fire soonest (from the index)."""
        return self.overview_store.next_up(limit)

    def schedule_counts(self) -> ScheduleCounts:
        """How many schedules are live, and how many of those are paused."""
        return self.overview_store.schedule_counts()

    def preview(self, trigger: Mapping[str, Any], count: int) -> Preview:
        """The next ``count`` fires after now of a trigger not stored (``cron``/``every``/
        ``at``, ``tz``, ``start_at``, ``end_at``), validated like a schedule; described."""
        problems = [
            InvalidSpecError(k, trigger[k], "one of " + ", ".join(TRIGGER_KEYS))
            for k in trigger
            if k not in TRIGGER_KEYS
        ]
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PREVIEW:
            problems.append(
                InvalidSpecError(
                    "count",
                    count,
                    f"a whole number from 1 to {MAX_PREVIEW}",
                    message=f"preview, key 'count': {count!r} is not from 1 to {MAX_PREVIEW}",
                )
            )
        table = {k: v for k, v in trigger.items() if k in TRIGGER_KEYS}
        table |= {"name": PREVIEW_NAME, "task": "preview:preview"}
        try:
            spec = validate_schedule(table, default_tz=self.settings.timezone, where="preview")
        except ConfigError as err:
            problems.extend(err.problems)
        if problems:  # every bad parameter at once
            raise ConfigError(problems, source="preview")
        now = self.clock.now()
        parsed = ScheduleSpec.from_stored(spec)
        anchor = parsed.start_at or now.replace(microsecond=0)
        built = parsed.trigger(anchor)
        found = tuple(f.astimezone(parsed.tz) for f in fires(built, now, count))
        shown = {k: spec[k] for k in TRIGGER_KEYS if k in spec}
        return Preview(found, describe(built), shown)

    # -- runs --------------------------------------------------------------------------------

    def trigger_once(
        self,
        name: str,
        *,
        principal: str,
        route: str,
        key: str,
        request_hash: str,
        respond: Callable[[Run], tuple[int, Any]],
    ) -> IdempotentOutcome:
        """``trigger`` at most once per (principal, route, key), safe under concurrency."""
        outcome = self.api_store.trigger_idempotent(
            name,
            self.clock.now(),
            principal=principal,
            route=route,
            key=key,
            request_hash=request_hash,
            respond=respond,
        )
        if outcome.run is not None:
            self._wake()
        return outcome

    def stored_response(self, principal: str, route: str, key: str) -> StoredResponse | None:
        return self.api_store.stored_response(principal, route, key)

    def remember_response(
        self, principal: str, route: str, key: str, response: StoredResponse
    ) -> StoredResponse:
        return self.api_store.remember_response(principal, route, key, response, self.clock.now())

    def forget_idempotency_keys(self, older_than: timedelta = IDEMPOTENCY_KEEP) -> int:
        """Delete the answers stored for ``Idempotency-Key`` more than ``older_than`` ago
        (default 24 hours, as long as a client should retry); how many were deleted."""
        store, before, total = self.api_store, self.clock.now() - older_than, 0
        while (done := store.forget_idempotency_keys(before)) > 0:
            total += done
        return total

    def cancel_run(self, run_id: int, *, actor: str) -> Run:
        """Cancel a waiting or running run (a running one's worker stops it at its next
        heartbeat, within lease/3, at most 5 s, and its result is dropped)."""
        return self.api_store.cancel_run(run_id, self.clock.now(), f"cancelled by {actor}")

    def retry_run(self, run_id: int) -> Run:
        """Queue a failed, timed-out or cancelled run again: same nominal fire, so the same
        idempotency key; one more attempt allowed."""
        run = self.api_store.retry_run(run_id, self.clock.now())
        self._wake()
        return run

    def _wake(self) -> None:
        if self._engine is not None:
            self._engine.wake()


assert set(TRIGGER_KEYS) <= set(KEYS)


def _checked(store: object, capability: type, who: str) -> object:
    """``store`` once it is an instance of the runtime-checkable protocol ``capability``.
    ``isinstance`` of a protocol looks up each of its methods (~0.15 ms for ``APIStore``,
    on every API request), so each (type, protocol) pair is checked once per process."""
    if (type(store), capability) not in _CHECKED:
        if not isinstance(store, capability):
            raise TypeError(f"{type(store).__name__} does not store what {who} needs")
        _CHECKED.add((type(store), capability))
    return store


_CHECKED: set[tuple[type, type]] = set()  # (store type, protocol) pairs already checked
