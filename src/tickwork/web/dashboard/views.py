"""What each page shows, read through the ``Tickwork`` facade and its store (no SQL here).

Each function takes the app and the one ``now`` of the request and returns plain data for
a template; the templates only lay it out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tickwork.app import Tickwork
from tickwork.durations import format_duration
from tickwork.errors import TickworkError
from tickwork.model import TERMINAL_STATES, Run, RunEvent, RunState, ScheduleRow, WorkerInfo
from tickwork.spec import ScheduleSpec, trigger_text
from tickwork.store.base import RunFilter
from tickwork.store.ops import ScheduleHealth
from tickwork.store.overview_base import ScheduleCounts
from tickwork.trigger_views import trigger_view

__all__ = [
    "ACTIVE_STATES",
    "STATE_MARKS",
    "Overview",
    "ScheduleDetail",
    "ScheduleLine",
    "ScheduleLines",
    "WorkerLine",
    "overview",
    "relative",
    "run_attempts",
    "schedule_detail",
    "schedule_lines",
    "worker_lines",
]

# A glyph and a word for each state: the colour is never the only sign (the CSS colours
# the glyph; the word is its title and its accessible name).
STATE_MARKS: dict[str, str] = {
    RunState.succeeded: "✓",
    RunState.failed: "✗",
    RunState.timed_out: "⏱",
    RunState.cancelled: "⊘",
    RunState.running: "▶",
    RunState.queued: "•",
    RunState.retrying: "↻",
    RunState.skipped: "»",
    RunState.missed: "!",
    RunState.shadowed: "◌",
}
ACTIVE_STATES = frozenset({RunState.queued, RunState.running, RunState.retrying})
# Outcomes of an attempt that ran: what "failing" is judged on (skipped/missed are records).
RESULT_STATES = frozenset(
    {RunState.succeeded, RunState.failed, RunState.timed_out, RunState.cancelled}
)
FAILED_STATES = frozenset({RunState.failed, RunState.timed_out})
RETRYABLE_STATES = FAILED_STATES | {RunState.cancelled}
STRIP_LENGTH = 20
NEXT_UP = 10
SCHEDULES_PAGE = 50


def relative(instant: datetime | None, now: datetime) -> str:
    """``in 4m``, ``3h ago``: whole units, the largest two."""
    if instant is None:
        return "—"
    delta = instant - now
    seconds = abs(delta.total_seconds())
    if seconds < 1:
        return "now"
    text = format_duration(timedelta(seconds=int(seconds)))
    # At most two units: 1d3h, not 1d3h12m5s.
    units = [u for u in _split_units(text)][:2]
    text = "".join(units)
    return f"in {text}" if delta.total_seconds() > 0 else f"{text} ago"


def _split_units(text: str) -> Iterable[str]:
    part = ""
    for ch in text:
        part += ch
        if ch.isalpha():
            yield part
            part = ""


@dataclass(frozen=True, slots=True)
class ScheduleLine:
    row: ScheduleRow
    description: str
    trigger: str
    tz: str
    strip: list[Run]  # newest last
    last: Run | None  # the latest run that ran (succeeded/failed/timed out/cancelled)

    @property
    def failing(self) -> bool:
        return self.last is not None and self.last.state in FAILED_STATES


def _describe(row: ScheduleRow) -> tuple[str, str, str]:
    try:
        view = trigger_view(row.spec, row.anchor)  # parsed and described once per definition
        return view.description, view.text, view.tz.key
    except (TickworkError, ValueError) as exc:  # a stored spec this version cannot read
        return f"(cannot read this schedule's trigger: {exc})", trigger_text(row.spec), "?"


def _line(row: ScheduleRow, runs: list[Run]) -> ScheduleLine:
    """``runs``: the schedule's latest runs, newest first."""
    last = next((r for r in runs if r.state in RESULT_STATES), None)
    description, trigger, tz = _describe(row)
    return ScheduleLine(row, description, trigger, tz, list(reversed(runs)), last)


def _lines(tw: Tickwork, rows: Sequence[ScheduleRow]) -> list[ScheduleLine]:
    """A line per row, the results strips of all of them read in one query."""
    strips = tw.recent_runs([row.name for row in rows], STRIP_LENGTH) if rows else {}
    return [_line(row, strips.get(row.name, [])) for row in rows]


@dataclass(frozen=True, slots=True)
class ScheduleLines:
    lines: list[ScheduleLine]
    next_after: str | None  # the ``after`` of the next page, None on the last one
    counts: ScheduleCounts


def schedule_lines(
    tw: Tickwork, *, after: str | None = None, page: int = SCHEDULES_PAGE
) -> ScheduleLines:
    """A page of live schedules by name, after ``after`` (the API's keyset page), with their
    last results: two queries whatever the number of schedules, plus the counts."""
    found = tw.schedule_page(after=after, limit=page)
    rows = list(found.rows)
    more = rows[-1].name if rows and found.more else None
    return ScheduleLines(_lines(tw, rows), more, tw.schedule_counts())


@dataclass(frozen=True, slots=True)
class Overview:
    failing: list[ScheduleLine]
    active: list[Run]  # queued, running and retrying runs, oldest first
    next_up: list[ScheduleRow]
    counts: dict[str, int]
    schedules: int
    paused: int
    overdue: list[ScheduleHealth] = field(default_factory=list)  # longest overdue first


OVERDUE_SHOWN = 20


def active_runs(tw: Tickwork, limit: int = 50) -> list[Run]:
    runs = tw.store.list_runs(RunFilter(states=ACTIVE_STATES, limit=limit))
    return sorted(runs, key=lambda r: (r.state != RunState.running, r.due_at, r.id))


def overview(tw: Tickwork, now: datetime) -> Overview:
    """Failing schedules (their latest result failed or timed out), live runs, next up.
    Every read is bounded by what is shown, not by the number of schedules."""
    # Candidates: schedules with a recent failure; each is failing if its latest result is
    # one (their strips in one query; a row read only for those failing).
    recent = tw.store.list_runs(RunFilter(states=FAILED_STATES, limit=200))
    candidates = list(dict.fromkeys(r.schedule for r in recent))
    strips = tw.recent_runs(candidates, STRIP_LENGTH) if candidates else {}
    failing: list[ScheduleLine] = []
    for name in candidates:
        runs = strips.get(name, [])
        last = next((r for r in runs if r.state in RESULT_STATES), None)
        if last is None or last.state not in FAILED_STATES:
            continue
        row = tw.store.get_schedule(name)
        if row is not None and not row.retired:
            failing.append(_line(row, runs))
    counts = {state.value: n for state, n in tw.store.count_runs().items() if n}
    schedules = tw.schedule_counts()
    return Overview(
        failing=failing,
        active=active_runs(tw),
        next_up=tw.next_up(NEXT_UP),
        counts=counts,
        schedules=schedules.live,
        paused=schedules.paused,
        overdue=tw.ops_store.list_overdue(OVERDUE_SHOWN),
    )


# Zone names whose offset is always zero (the tz database's aliases of UTC).
UTC_NAMES = frozenset(
    {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"}
    | {"GMT", "Etc/GMT", "Etc/GMT0", "GMT0", "Etc/GMT+0", "Etc/GMT-0", "GMT+0", "GMT-0"}
    | {"Etc/Greenwich", "Greenwich"}
)


@dataclass(frozen=True, slots=True)
class ScheduleDetail:
    line: ScheduleLine
    spec: ScheduleSpec | None
    fires: list[tuple[datetime, datetime]]  # (in its zone, in UTC)
    history: list[Run]
    more_before: int | None  # cursor for the next page of history
    counts: dict[str, int]
    durations: list[Run]  # finished runs with a start, oldest first
    settings: list[tuple[str, str]] = field(default_factory=list)

    @property
    def in_utc(self) -> bool:
        """The zone is UTC (under any of its names): one column of fires is enough."""
        return self.line.tz in UTC_NAMES


def _settings(spec: ScheduleSpec) -> list[tuple[str, str]]:
    what = f"command: {spec.command}" if spec.command else f"task: {spec.task}"
    timeout = format_duration(spec.timeout) if spec.timeout else "none"
    window = format_duration(spec.catchup_window) if spec.catchup_window else "none"
    return [
        ("runs", what),
        ("attempts", f"{spec.retry.max_attempts} (backoff {format_duration(spec.retry.backoff)})"),
        ("timeout", timeout),
        ("overlap", spec.overlap.value),
        ("catch-up", f"{spec.catchup.value} (window {window})"),
        ("jitter", format_duration(spec.jitter)),
    ]


def schedule_detail(
    tw: Tickwork, row: ScheduleRow, *, before: int | None = None, page: int = 50
) -> ScheduleDetail:
    try:
        spec: ScheduleSpec | None = ScheduleSpec.from_stored(row.spec)
    except (TickworkError, ValueError):
        spec = None
    fires = [] if row.retired or spec is None else tw.next_fires(row.name, 10)
    history = tw.store.list_runs(RunFilter(schedule=row.name, before_id=before, limit=page + 1))
    more = history[page - 1].id if len(history) > page else None
    finished = [
        r
        for r in tw.store.list_runs(RunFilter(schedule=row.name, states=RESULT_STATES, limit=50))
        if r.started_at is not None and r.finished_at is not None
    ]
    return ScheduleDetail(
        line=_line(row, tw.recent_runs([row.name], STRIP_LENGTH)[row.name]),
        spec=spec,
        fires=[(f, f.astimezone(UTC)) for f in fires],
        history=history[:page],
        more_before=more,
        counts={s.value: n for s, n in tw.store.count_runs(row.name).items() if n},
        durations=list(reversed(finished)),
        settings=_settings(spec) if spec is not None else [],
    )


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    started: datetime | None
    ended: datetime | None
    outcome: str  # the state the attempt ended in, or "running"
    worker: str | None
    detail: dict[str, Any]


def run_attempts(run: Run, events: list[RunEvent]) -> list[Attempt]:
    """One line per attempt, from the run's events: claimed at, ended at, how it ended."""
    attempts: dict[int, dict[str, Any]] = {}
    for ev in events:
        if ev.attempt < 1:
            continue
        a = attempts.setdefault(
            ev.attempt,
            {"started": None, "ended": None, "outcome": "running", "worker": None, "detail": {}},
        )
        if ev.event == "run_claimed":
            a["started"] = ev.at
            a["worker"] = ev.detail.get("worker")
        elif ev.state != RunState.running:
            a["ended"] = ev.at
            a["outcome"] = ev.state.value
            a["detail"] = ev.detail
    if run.state in ACTIVE_STATES - {RunState.running}:
        for a in attempts.values():  # a waiting run has no attempt still running
            if a["outcome"] == "running":
                a["outcome"] = "interrupted"
    return [Attempt(n, **attempts[n]) for n in sorted(attempts)]


@dataclass(frozen=True, slots=True)
class WorkerLine:
    info: WorkerInfo
    alive: bool
    running: int


def worker_lines(tw: Tickwork, now: datetime) -> list[WorkerLine]:
    """Registered processes; alive when seen within a lease (heartbeats come every lease/3)."""
    running = tw.store.list_runs(RunFilter(states=frozenset({RunState.running}), limit=1000))
    per_worker: dict[str, int] = {}
    for run in running:
        if run.lease_owner:
            per_worker[run.lease_owner] = per_worker.get(run.lease_owner, 0) + 1
    return [
        WorkerLine(w, now - w.heartbeat_at <= tw.settings.lease, per_worker.get(w.id, 0))
        for w in sorted(tw.store.list_workers(), key=lambda w: (w.host, w.pid, w.id))
    ]


def is_terminal(run: Run) -> bool:
    return run.state in TERMINAL_STATES


def in_zone(instant: datetime | None, tz: str) -> datetime | None:
    if instant is None:
        return None
    try:
        return instant.astimezone(ZoneInfo(tz))
    except (KeyError, ValueError):
        return instant
