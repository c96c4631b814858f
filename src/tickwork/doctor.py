"""``tickwork doctor``: is this deployment healthy? Each check is OK or a specific problem with
its fix. Reads only: the schema is not migrated here, nothing is synced or written.

Checks: the database is reachable and at the newest revision; the host clock agrees with the
database's (PostgreSQL); processes are alive (a scheduler and a worker heartbeating); no
schedule is overdue; no schedule's latest runs failed (paused after failures included); the
config file's schedules are the ones stored. The last compares
specs directly; ``tickwork plan`` (another part of the CLI) gives the full picture.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from tickwork.clock import SystemClock
from tickwork.config import Settings
from tickwork.errors import StoreUnavailableError
from tickwork.store import Store, open_store
from tickwork.store.base import TimekeepingStore
from tickwork.store.ops import OperationsStore

__all__ = ["MAX_SKEW", "STALE_AFTER", "Check", "Diagnosis", "diagnose"]

MAX_SKEW = timedelta(seconds=1)
# A process that has not heartbeated for this long is taken for dead (heartbeats come every
# few seconds; the lease, 30 s by default, is how long its runs stay leased).
STALE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    message: str
    fix: str | None = None

    def line(self) -> str:
        head = f"{'OK' if self.ok else 'PROBLEM':<8}{self.name:<10}{self.message}"
        return head if self.fix is None else f"{head}\n{'':<18}fix: {self.fix}"


@dataclass(frozen=True, slots=True)
class Diagnosis:
    checks: list[Check] = field(default_factory=list)
    reachable: bool = True

    @property
    def ok(self) -> bool:
        return self.reachable and all(c.ok for c in self.checks)


def diagnose(
    settings: Settings,
    *,
    host_now: Callable[[], datetime] | None = None,
    store: Store | None = None,
) -> Diagnosis:
    """Run every check against the database of ``settings`` (or ``store``); ``host_now``
    reads this host's clock (default: the system clock)."""
    host_now = host_now or SystemClock().now
    missing = _missing_sqlite_file(settings.database_url)
    if store is None and missing is not None:
        return Diagnosis(
            [
                Check(
                    "database",
                    False,
                    f"no SQLite database at {missing}",
                    "run `tickwork db upgrade` or start `tickwork run` here, or point "
                    "--config / TICKWORK_DATABASE_URL at the database in use",
                )
            ],
            reachable=False,
        )
    opened = store or open_store(settings.database_url, connections=1)
    try:
        return _diagnose(settings, opened, host_now)
    finally:
        if store is None:
            opened.close()


def _diagnose(settings: Settings, store: Store, host_now: Callable[[], datetime]) -> Diagnosis:
    checks: list[Check] = []
    try:
        database = _schema(store)
    except StoreUnavailableError as err:
        return Diagnosis(
            [
                Check(
                    "database",
                    False,
                    f"not reachable: {err}",
                    "check that the database server runs and database_url is right "
                    "(host, port, credentials, network)",
                )
            ],
            reachable=False,
        )
    checks.append(database)
    if not database.ok:
        return Diagnosis(checks)
    now, clock = _clock(store, host_now)
    checks.append(clock)
    checks.append(_workers(store, now))
    checks.append(_overdue(store))
    checks.append(_failing(store))
    checks.append(_config(settings, store))
    return Diagnosis(checks)


def _schema(store: Store) -> Check:
    if not isinstance(store, OperationsStore):
        return Check("database", True, f"reachable ({store!r})")
    current, head = store.schema_revision()
    if current is None:
        return Check(
            "database",
            False,
            "reachable, but the schema is not created",
            "run `tickwork db upgrade`",
        )
    if current != head:
        return Check(
            "database",
            False,
            f"reachable, schema at revision {current}, this tickwork needs {head}",
            "run `tickwork db upgrade` (stop older tickwork versions first if the upgrade "
            "is not backwards compatible)",
        )
    return Check("database", True, f"reachable, schema at the latest revision ({head})")


def _clock(store: Store, host_now: Callable[[], datetime]) -> tuple[datetime, Check]:
    if not isinstance(store, TimekeepingStore):
        now = host_now()
        return now, Check(
            "clock", True, "SQLite: the database and tickwork share this host's clock"
        )
    before = host_now()
    server = store.database_now()
    after = host_now()
    host = before + (after - before) / 2
    skew = host - server
    seconds = skew.total_seconds()
    if abs(skew) <= MAX_SKEW:
        return server, Check("clock", True, f"host and database clocks agree ({seconds:+.3f} s)")
    side = "ahead of" if seconds > 0 else "behind"
    return server, Check(
        "clock",
        False,
        f"the host clock is {abs(seconds):.1f} s {side} the database's",
        "sync this host with NTP (chronyd, systemd-timesyncd); the engine follows the "
        "database clock, but logs and times typed on this host use the host's",
    )


def _workers(store: Store, now: datetime) -> Check:
    workers = store.list_workers()
    if not workers:
        return Check(
            "workers",
            False,
            "no tickwork process is registered",
            "start `tickwork run` (or `tickwork scheduler` and `tickwork worker`)",
        )
    alive = [w for w in workers if now - w.heartbeat_at <= STALE_AFTER]
    stale = [w for w in workers if w not in alive]
    roles = {role for w in alive for role in w.roles.split(",")}
    wanting = [r for r in ("scheduler", "worker") if r not in roles]
    if wanting:
        return Check(
            "workers",
            False,
            f"no live process with the role {' or '.join(wanting)} ({len(alive)} alive, "
            f"{len(stale)} silent for more than {int(STALE_AFTER.total_seconds())} s)",
            "start `tickwork run`, or `tickwork "
            + " and `tickwork ".join(f"{r}`" for r in wanting),
        )
    note = f", {len(stale)} silent (stopped without deregistering)" if stale else ""
    return Check("workers", True, f"{len(alive)} alive ({', '.join(sorted(roles))}){note}")


def _overdue(store: Store) -> Check:
    if not isinstance(store, OperationsStore):
        return Check("overdue", True, "not tracked by this store")
    late = [h for h in store.list_health() if h.overdue_since is not None]
    if not late:
        return Check("overdue", True, "no schedule is overdue")
    shown = ", ".join(
        f"{h.schedule} (fire {_iso(h.overdue_fire)}, overdue since {_iso(h.overdue_since)})"
        for h in late[:5]
    )
    more = f" and {len(late) - 5} more" if len(late) > 5 else ""
    return Check(
        "overdue",
        False,
        f"{len(late)} schedule{'s' if len(late) != 1 else ''} overdue: {shown}{more}",
        "see why with `tickwork runs --schedule NAME`; a fire that ran long or failed "
        "recovers on its next success; raise overdue_after for slow jobs",
    )


def _failing(store: Store) -> Check:
    if not isinstance(store, OperationsStore):
        return Check("failing", True, "not tracked by this store")
    active = {row.name: row for row in store.list_schedules()}
    failing = [
        h for h in store.list_health() if h.consecutive_failures > 0 and h.schedule in active
    ]
    if not failing:
        return Check("failing", True, "no schedule's latest runs failed")
    shown = ", ".join(
        f"{h.schedule} ({h.consecutive_failures} in a row"
        + (", paused)" if active[h.schedule].paused else ")")
        for h in failing[:5]
    )
    more = f" and {len(failing) - 5} more" if len(failing) > 5 else ""
    paused = [h.schedule for h in failing if active[h.schedule].paused]
    fix = "see the errors with `tickwork runs --schedule NAME` and `tickwork runs show ID`"
    if paused:
        fix += f"; once fixed, `tickwork resume {paused[0]}`"
    return Check(
        "failing",
        False,
        f"{len(failing)} schedule{'s' if len(failing) != 1 else ''} failing: {shown}{more}",
        fix,
    )


def _config(settings: Settings, store: Store) -> Check:
    if settings.path is None:
        return Check("config", True, "no config file read: nothing to compare")
    stored = {
        row.name: row
        for row in store.list_schedules(include_retired=True)
        if row.source == "config"
    }
    wanted = {spec["name"]: spec for spec in settings.schedules}
    missing = sorted(n for n in wanted if n not in stored or stored[n].retired)
    changed = sorted(
        n
        for n, spec in wanted.items()
        if n in stored and not stored[n].retired and _same(spec, stored[n].spec) is False
    )
    extra = sorted(n for n, row in stored.items() if not row.retired and n not in wanted)
    if not (missing or changed or extra):
        return Check("config", True, f"{settings.path}: {len(wanted)} schedules, all applied")
    parts = [
        f"{label}: {', '.join(names)}"
        for label, names in (
            ("not stored", missing),
            ("different", changed),
            ("stored but not in the file", extra),
        )
        if names
    ]
    return Check(
        "config",
        False,
        f"{settings.path} differs from the store ({'; '.join(parts)})",
        "restart `tickwork run`/`tickwork scheduler` with this config (it syncs on start), "
        "or review the change with `tickwork plan` first",
    )


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _iso(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds")


def _missing_sqlite_file(url: str) -> str | None:
    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return None if Path(parsed.database).exists() else parsed.database
