"""Plans and revisions, pure: no I/O, no clock reads (``now`` is passed in).

A *plan* compares the stored schedules with the wanted definitions of the sources it
manages and says what applying would do: schedules added, changed (field by field) and
retired, each with its next fires before and after in its own zone. A *revision* is a
recorded change; ``state_at`` rebuilds the schedule set of an earlier revision by undoing
the later ones, which is what ``rollback`` restores.

Ownership: a plan only retires schedules of the sources it manages. A plan made from a
config manages ``config`` schedules only, so it never retires one defined in code or
through the API; wanting a name another source owns is a problem, not a takeover.

Fires across a change (DESIGN.md, promise 2): each fire instant belongs to the definition
in force at that instant. Before a change is applied the scheduler accounts for every fire
already due under the old definition (run, or recorded missed by its catch-up policy); the
new definition then fires strictly after the change and keeps the schedule's anchor
(``changes_for``), so no fire is doubled and none disappears.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from tickwork.errors import ConfigError, InvalidSpecError
from tickwork.model import ScheduleRow
from tickwork.redaction import redact_env, redact_text
from tickwork.scheduler import first_fire
from tickwork.spec import DEFAULTS, ScheduleSpec
from tickwork.store.base import DefinitionChange, Revision
from tickwork.triggers import fires

__all__ = [
    "FIRES_SHOWN",
    "Definition",
    "FieldChange",
    "Plan",
    "PlannedChange",
    "changes_for",
    "current_set",
    "field_changes",
    "make_plan",
    "plan_json",
    "planned_set",
    "render_plan",
    "render_revision",
    "revision_json",
    "state_at",
]

ChangeKind = Literal["added", "changed", "retired"]
FIRES_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Definition:
    """A schedule as revisions record it: its validated spec and its owner."""

    spec: dict[str, Any]
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"spec": self.spec, "source": self.source}

    @staticmethod
    def from_json(value: Mapping[str, Any]) -> Definition:
        return Definition(dict(value["spec"]), str(value["source"]))


@dataclass(frozen=True, slots=True)
class FieldChange:
    key: str
    before: Any  # None: the key was not set
    after: Any


@dataclass(frozen=True, slots=True)
class PlannedChange:
    name: str
    kind: ChangeKind
    source: str
    before: dict[str, Any] | None  # the stored spec (None when added)
    after: dict[str, Any] | None  # the wanted spec (None when retired)
    fields: tuple[FieldChange, ...]
    fires_before: tuple[datetime, ...]  # next fires as stored, aware in the schedule's zone
    fires_after: tuple[datetime, ...]  # next fires once applied


@dataclass(frozen=True, slots=True)
class Plan:
    """What applying would change, made against revision ``base_revision`` at ``made_at``."""

    base_revision: int
    made_at: datetime
    manages: frozenset[str]
    changes: tuple[PlannedChange, ...] = ()
    unchanged: tuple[str, ...] = ()
    label: str = ""  # what the plan compares: "config tickwork.toml", "revision 3"

    @property
    def empty(self) -> bool:
        return not self.changes

    def names(self, kind: ChangeKind) -> list[str]:
        return [c.name for c in self.changes if c.kind == kind]

    def summary(self) -> dict[str, list[str]]:
        return {kind: self.names(kind) for kind in ("added", "changed", "retired")}

    def summary_text(self) -> str:
        counts = {kind: len(names) for kind, names in self.summary().items()}
        return (
            f"{counts['added']} to add, {counts['changed']} to change, "
            f"{counts['retired']} to retire, {len(self.unchanged)} unchanged"
        )


# -- making plans --------------------------------------------------------------------------


def current_set(rows: Iterable[ScheduleRow]) -> dict[str, Definition]:
    """The schedule set as stored: every schedule not retired."""
    return {r.name: Definition(r.spec, r.source) for r in rows if not r.retired}


def make_plan(
    rows: Sequence[ScheduleRow],
    wanted: Mapping[str, Definition],
    *,
    manages: Iterable[str],
    now: datetime,
    base_revision: int,
    label: str = "",
    fires_shown: int = FIRES_SHOWN,
) -> Plan:
    """The plan that makes the stored schedules of the ``manages`` sources equal to
    ``wanted``, with ``fires_shown`` next fires before and after each change (0 when
    nobody reads them: a sync at start). Raises ``ConfigError`` listing every wanted name
    another source owns."""
    managed = frozenset(manages)
    stored = {r.name: r for r in rows}
    problems = [
        InvalidSpecError(
            "name",
            name,
            f"a name no other source uses (it is defined by {stored[name].source})",
            message=f"schedule {name!r} is defined by {stored[name].source}, not {d.source}",
        )
        for name, d in wanted.items()
        if name in stored and stored[name].source != d.source
    ]
    problems += [
        InvalidSpecError(
            "source", d.source, "one of " + ", ".join(sorted(managed)), message=f"{name!r}"
        )
        for name, d in wanted.items()
        if d.source not in managed
    ]
    if problems:
        raise ConfigError(problems, source=label or "plan")
    changes: list[PlannedChange] = []
    unchanged: list[str] = []
    for name in sorted(set(wanted) | {n for n, r in stored.items() if r.source in managed}):
        row, want = stored.get(name), wanted.get(name)
        active = row is not None and not row.retired
        if want is None:
            if active:
                assert row is not None
                changes.append(_change(name, "retired", row, None, now, fires_shown))
            continue
        if not active:
            changes.append(_change(name, "added", row, want, now, fires_shown))
        elif _same(row.spec if row else None, want.spec):
            unchanged.append(name)
        else:
            changes.append(_change(name, "changed", row, want, now, fires_shown))
    return Plan(base_revision, now, managed, tuple(changes), tuple(unchanged), label)


def _change(
    name: str,
    kind: ChangeKind,
    row: ScheduleRow | None,
    want: Definition | None,
    now: datetime,
    shown: int,
) -> PlannedChange:
    active = row is not None and not row.retired
    before = row.spec if active and row is not None else None
    after = want.spec if want is not None else None
    source = want.source if want is not None else (row.source if row else "config")
    return PlannedChange(
        name=name,
        kind=kind,
        source=source,
        before=before,
        after=after,
        fields=field_changes(before, after),
        fires_before=_stored_fires(row, shown) if active and row is not None and shown else (),
        fires_after=_new_fires(after, row, now, shown) if after is not None and shown else (),
    )


def field_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[FieldChange, ...]:
    """Every key whose value differs, in key order (None: the key is not set)."""
    b, a = before or {}, after or {}
    return tuple(
        FieldChange(key, b.get(key), a.get(key))
        for key in sorted(set(b) | set(a))
        if not _same(b.get(key), a.get(key)) or (key in b) != (key in a)
    )


def _same(left: Any, right: Any) -> bool:
    return _canonical(left) == _canonical(right)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _stored_fires(row: ScheduleRow, shown: int) -> tuple[datetime, ...]:
    if row.next_fire_at is None:
        return ()
    try:
        spec = ScheduleSpec.from_stored(row.spec)
        trigger = spec.trigger(row.anchor)
    except InvalidSpecError:  # e.g. a zone gone from the tz database: nothing to show
        return ()
    later = list(fires(trigger, row.next_fire_at, shown - 1))
    return tuple(f.astimezone(spec.tz) for f in [row.next_fire_at, *later])


def _anchor(spec: ScheduleSpec, row: ScheduleRow | None, now: datetime) -> datetime:
    # A schedule keeps its anchor across changes (an interval keeps its phase); a new one
    # is anchored at start_at or now, in whole seconds like Tickwork.sync.
    if row is not None:
        return row.anchor
    return spec.start_at or now.replace(microsecond=0)


def _new_fires(
    after: dict[str, Any], row: ScheduleRow | None, now: datetime, shown: int
) -> tuple[datetime, ...]:
    spec = ScheduleSpec.from_stored(after)
    anchor = _anchor(spec, row, now)
    first = first_fire(spec, anchor, now)
    if first is None:
        return ()
    later = list(fires(spec.trigger(anchor), first, shown - 1))
    return tuple(f.astimezone(spec.tz) for f in [first, *later])


def changes_for(plan: Plan, rows: Sequence[ScheduleRow], now: datetime) -> list[DefinitionChange]:
    """The store changes that carry out ``plan`` at ``now`` (the instant it is applied,
    which may be later than ``plan.made_at``): a new or changed spec keeps the schedule's
    anchor and first fires strictly after ``now``; a retired one gets ``spec=None``."""
    stored = {r.name: r for r in rows}
    out: list[DefinitionChange] = []
    for change in plan.changes:
        if change.after is None:
            out.append(DefinitionChange(change.name, change.source, None))
            continue
        spec = ScheduleSpec.from_stored(change.after)
        anchor = _anchor(spec, stored.get(change.name), now)
        out.append(
            DefinitionChange(
                change.name, change.source, change.after, first_fire(spec, anchor, now), anchor
            )
        )
    return out


def planned_set(current: Mapping[str, Definition], plan: Plan) -> dict[str, Definition]:
    """The schedule set ``plan`` leaves when applied to ``current``."""
    result = dict(current)
    for change in plan.changes:
        if change.after is None:
            result.pop(change.name, None)
        else:
            result[change.name] = Definition(change.after, change.source)
    return result


def state_at(current: Mapping[str, Definition], later: Iterable[Revision]) -> dict[str, Definition]:
    """The schedule set as it was at a revision, from the ``current`` set and every
    revision recorded after it: each is undone, newest first (a name missing from a
    revision's ``before`` did not exist then)."""
    result = dict(current)
    for revision in sorted(later, key=lambda r: r.number, reverse=True):
        for name in set(revision.before) | set(revision.after):
            old = revision.before.get(name)
            if old is None:
                result.pop(name, None)
            else:
                result[name] = Definition.from_json(old)
    return result


# -- rendering -----------------------------------------------------------------------------

_MARKS = {"added": "+", "changed": "~", "retired": "-"}


def render_plan(plan: Plan) -> str:
    """The plan as a reviewer reads it: per schedule the fields that change (for a new one,
    those not at their defaults) and the next fires before and after, in its zone."""
    lines = [
        f"Plan: {plan.label or 'schedules'} against revision {plan.base_revision} "
        f"(at {_utc(plan.made_at)})",
        "",
    ]
    for change in plan.changes:
        lines.append(f"{_MARKS[change.kind]} {change.name} ({change.kind}, {change.source})")
        if change.kind == "added":
            lines += [
                f"    {f.key} = {_shown(f.key, f.after)}"
                for f in change.fields
                if f.key != "name" and (f.key == "tz" or not _same(f.after, DEFAULTS.get(f.key)))
            ]
        elif change.kind == "changed":
            lines += [
                f"    {f.key}: {_shown(f.key, f.before)} -> {_shown(f.key, f.after)}"
                for f in change.fields
            ]
        if change.kind != "added":
            lines.append("    next fires before: " + _fires_text(change.fires_before))
        if change.kind != "retired":
            lines.append("    next fires after:  " + _fires_text(change.fires_after))
        else:
            lines.append("    next fires after:  none (retired; its history is kept)")
    if plan.empty:
        lines.append("No changes: the store already matches.")
    lines += ["", plan.summary_text() + "."]
    return "\n".join(lines)


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "label": plan.label,
        "base_revision": plan.base_revision,
        "made_at": plan.made_at.isoformat(),
        "changed": not plan.empty,
        "summary": {**plan.summary(), "unchanged": list(plan.unchanged)},
        "changes": [
            {
                "name": c.name,
                "kind": c.kind,
                "source": c.source,
                "fields": [
                    {
                        "key": f.key,
                        "before": _public(f.key, f.before),
                        "after": _public(f.key, f.after),
                    }
                    for f in c.fields
                ],
                "fires_before": [f.isoformat() for f in c.fires_before],
                "fires_after": [f.isoformat() for f in c.fires_after],
            }
            for c in plan.changes
        ],
    }


def render_revision(revision: Revision) -> str:
    """A revision as a diff of the definitions it changed."""
    lines = [
        f"Revision {revision.number} ({revision.source}) at {_utc(revision.applied_at)}, "
        f"applied by {revision.applied_by}",
    ]
    for name in sorted(set(revision.before) | set(revision.after)):
        old, new = revision.before.get(name), revision.after.get(name)
        kind = "added" if old is None else "retired" if new is None else "changed"
        source = (new or old or {}).get("source", "?")
        lines.append(f"{_MARKS[kind]} {name} ({kind}, {source})")
        for f in field_changes((old or {}).get("spec"), (new or {}).get("spec")):
            if f.key == "name":
                continue
            if kind == "added":
                lines.append(f"    + {f.key} = {_shown(f.key, f.after)}")
            elif kind == "retired":
                lines.append(f"    - {f.key} = {_shown(f.key, f.before)}")
            else:
                lines.append(
                    f"    ~ {f.key}: {_shown(f.key, f.before)} -> {_shown(f.key, f.after)}"
                )
    return "\n".join(lines)


def revision_json(revision: Revision) -> dict[str, Any]:
    def public(defs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        return {
            name: {**d, "spec": {k: _public(k, v) for k, v in d.get("spec", {}).items()}}
            for name, d in defs.items()
        }

    return {
        "number": revision.number,
        "applied_at": revision.applied_at.isoformat(),
        "applied_by": revision.applied_by,
        "source": revision.source,
        "summary": revision.summary,
        "before": public(revision.before),
        "after": public(revision.after),
    }


def _public(key: str, value: Any) -> Any:
    """A spec value fit to print: env secrets and URL credentials hidden."""
    if value is None:
        return None
    if key == "env" and isinstance(value, Mapping):
        return redact_env({str(k): str(v) for k, v in value.items()})
    if isinstance(value, str):
        return redact_text(value)
    return value


def _shown(key: str, value: Any) -> str:
    return "(not set)" if value is None else json.dumps(_public(key, value), sort_keys=True)


def _fires_text(found: Sequence[datetime]) -> str:
    if not found:
        return "none"
    return ", ".join(
        f.strftime("%a %Y-%m-%d %H:%M:%S %Z" if f.second else "%a %Y-%m-%d %H:%M %Z") for f in found
    )


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
