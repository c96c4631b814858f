"""SQL of ``OverviewStore``: a mixin of both SQL stores (through ``APISQLMixin``).

``recent_runs`` is one ``UNION ALL`` of one small ``ORDER BY id DESC LIMIT n`` per schedule,
each an index range on ``tw_runs (schedule, id)``: portable (SQLite has no ``LATERAL``), and
unlike ``ROW_NUMBER() OVER (PARTITION BY schedule)`` it never reads a schedule's older runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import case, false, func, select, union_all
from sqlalchemy.engine import Connection

from tickwork.errors import InvalidSpecError
from tickwork.model import Run, ScheduleRow
from tickwork.store.overview_base import ScheduleCounts
from tickwork.store.schema import runs, schedules
from tickwork.store.sql import _run, _schedule

__all__ = ["SQLOverviewQueries"]

MAX_NAMES = 500  # schedules per recent_runs call (one sub-select each)


class SQLOverviewQueries:
    """``OverviewStore`` for ``SQLStore`` (which provides ``_transaction``)."""

    _transaction: Any  # SQLStore._transaction(action, *, write) -> context of a Connection

    def _read(self, action: str) -> AbstractContextManager[Connection]:
        transaction: AbstractContextManager[Connection] = self._transaction(action, write=False)
        return transaction

    def recent_runs(self, names: Sequence[str], per_schedule: int) -> dict[str, list[Run]]:
        """See ``OverviewStore.recent_runs``. Raises ``InvalidSpecError`` for
        ``per_schedule`` < 1 or more than ``MAX_NAMES`` names (nothing read)."""
        if per_schedule < 1:
            raise InvalidSpecError("per_schedule", per_schedule, "a positive number of runs")
        wanted = list(dict.fromkeys(names))
        if len(wanted) > MAX_NAMES:
            raise InvalidSpecError(
                "names", len(wanted), f"at most {MAX_NAMES} schedules at a time (a page)"
            )
        found: dict[str, list[Run]] = {name: [] for name in wanted}
        if not wanted:
            return found
        # Each member in a sub-select of its own: SQLite allows ORDER BY/LIMIT only there.
        parts = [
            select(
                select(runs)
                .where(runs.c.schedule == name)
                .order_by(runs.c.id.desc())
                .limit(per_schedule)
                .subquery()
            )
            for name in wanted
        ]
        stmt = parts[0] if len(parts) == 1 else union_all(*parts)
        with self._read("read the latest runs of schedules") as conn:
            rows = [_run(r) for r in conn.execute(stmt).mappings()]
        for run in sorted(rows, key=lambda r: r.id, reverse=True):
            found[run.schedule].append(run)
        return found

    def next_up(self, limit: int) -> list[ScheduleRow]:
        """See ``OverviewStore.next_up``."""
        if limit < 1:
            raise InvalidSpecError("limit", limit, "a positive number of schedules")
        stmt = (
            select(schedules)
            .where(
                schedules.c.next_fire_at.is_not(None),
                schedules.c.paused.is_(False),
                schedules.c.retired.is_(False),
            )
            .order_by(schedules.c.next_fire_at, schedules.c.name)
            .limit(limit)
        )
        with self._read("read the next schedules to fire") as conn:
            return [_schedule(r) for r in conn.execute(stmt).mappings()]

    def schedule_counts(self) -> ScheduleCounts:
        """See ``OverviewStore.schedule_counts``."""
        paused = func.coalesce(func.sum(case((schedules.c.paused.is_(True), 1), else_=0)), 0)
        stmt = select(func.count(), paused).where(schedules.c.retired.is_(false()))
        with self._read("count schedules") as conn:
            live, paused_count = conn.execute(stmt).one()
        return ScheduleCounts(int(live), int(paused_count))
