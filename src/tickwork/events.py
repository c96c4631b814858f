"""Stable names of run events and log actions, defined once (STYLE.md habit 10)."""

from __future__ import annotations

from typing import Final

RUN_ENQUEUED: Final = "run_enqueued"
RUN_TRIGGERED: Final = "run_triggered"  # manual or backfill run created
RUN_MISSED: Final = "run_missed"
RUN_SKIPPED: Final = "run_skipped"
RUN_CLAIMED: Final = "run_claimed"
RUN_SUCCEEDED: Final = "run_succeeded"
RUN_FAILED: Final = "run_failed"
RUN_TIMED_OUT: Final = "run_timed_out"
RUN_CANCELLED: Final = "run_cancelled"
RUN_RETRY_REQUESTED: Final = "run_retry_requested"  # a finished run queued again (API, CLI)
RUN_RETRY_SCHEDULED: Final = "run_retry_scheduled"
RUN_LEASE_EXPIRED: Final = "run_lease_expired"
RUN_RELEASED: Final = "run_released"
RUN_SHADOWED: Final = "run_shadowed"
RUN_FENCED_OUT: Final = "run_fenced_out"  # a worker's late write refused (log only)

SCHEDULES_SYNCED: Final = "schedules_synced"
REVISION_APPLIED: Final = "revision_applied"
SCHEDULER_TICK: Final = "scheduler_tick"
WORKER_STARTED: Final = "worker_started"
WORKER_STOPPING: Final = "worker_stopping"
WORKER_STOPPED: Final = "worker_stopped"
SHADOW_WORKERS_ALIVE: Final = "shadow_workers_alive"  # a live start saw shadow workers (log)
WEB_STARTED: Final = "web_started"  # the HTTP server listens (tickwork run, tickwork api)
WEB_STOPPED: Final = "web_stopped"
STORE_UNAVAILABLE: Final = "store_unavailable"
STORE_RECOVERED: Final = "store_recovered"
STORE_RETRIED: Final = "store_retried"  # a rolled-back transaction run again (debug)
STORE_LISTEN_LOST: Final = "store_listen_lost"  # LISTEN connection lost: polling only
STORE_LISTENING: Final = "store_listening"  # LISTEN connection back

# Operations (monitor, alerts, backfill, retention)
BACKFILL_CREATED: Final = "backfill_created"  # runs created by a backfill (log only)
BACKFILL_RELEASED: Final = "backfill_released"  # parked backfill runs made due
SCHEDULE_RECOVERED: Final = "schedule_recovered"  # no longer overdue
SCHEDULE_PAUSED_ON_FAILURE: Final = "schedule_paused_on_failure"
ALERT_CREATED: Final = "alert_created"
ALERT_DELIVERED: Final = "alert_delivered"
ALERT_RETRY_SCHEDULED: Final = "alert_retry_scheduled"
ALERT_FAILED: Final = "alert_failed"  # gave up after the last delivery attempt
RUNS_PRUNED: Final = "runs_pruned"
MONITOR_FAILED: Final = "monitor_failed"  # a monitor pass raised (logged, loop goes on)
