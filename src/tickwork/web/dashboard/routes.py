"""The dashboard's routes: pages, htmx partials, actions, login and its static files.

Every URL a page contains is made with ``request.url_for`` (route names start with
``dashboard.``), so the router works at the root or included under any prefix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from tickwork.app import Tickwork
from tickwork.errors import RunNotFoundError, ScheduleNotFoundError, TickworkError
from tickwork.model import Run
from tickwork.web.dashboard import views
from tickwork.web.dashboard.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    DashboardAuth,
    Session,
    Verifier,
)
from tickwork.web.dashboard.chart import DurationPoint, duration_chart
from tickwork.web.observed import observed_route_class

__all__ = ["build_router"]

HERE = Path(__file__).parent
STATIC = {
    "htmx.min.js": "text/javascript",
    "dashboard.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
# The pages hold private data, and scripts and styles come from the dashboard only.
PAGE_HEADERS = {
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
NOTICES = {
    "paused": "Paused: no new runs until it is resumed (fires meanwhile are recorded skipped).",
    "resumed": "Resumed.",
    "triggered": "Run queued.",
    "retried": "Retry queued.",
    "logged_out": "Logged out.",
}


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["marks"] = views.STATE_MARKS
    env.globals["relative"] = views.relative
    env.globals["in_zone"] = views.in_zone
    env.filters["when"] = _when
    return env


def _when(instant: datetime | None) -> str:
    """UTC instants without an offset (pages say times are UTC); others with theirs."""
    if instant is None:
        return "—"
    if instant.utcoffset() == timedelta(0):
        return instant.strftime("%Y-%m-%d %H:%M:%S")
    return instant.isoformat(sep=" ", timespec="seconds")


class Pages:
    """The state every handler shares: the app, the templates and the login."""

    def __init__(self, tw: Tickwork, verify: Verifier) -> None:
        self.tw = tw
        self.env = _environment()
        self.auth = DashboardAuth(tw, verify)

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def url(
        request: Request, route: str, query: dict[str, Any] | None = None, /, **params: Any
    ) -> str:
        # Starlette puts path parameters in as they are: quote them (a name is text).
        path = request.url_for(route, **{k: quote(str(v), safe="") for k, v in params.items()}).path
        if query:
            path += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        return path

    def root(self, request: Request) -> str:
        return self.url(request, "dashboard.overview")

    def render(
        self,
        request: Request,
        template: str,
        session: Session | None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        now = self.tw.clock.now()

        def url(route: str, query: dict[str, Any] | None = None, /, **params: Any) -> str:
            return self.url(request, route, query, **params)

        context.setdefault("page", None)
        context.setdefault("notice", None)
        html = self.env.get_template(template).render(
            url=url,
            session=session,
            auth_required=self.auth.required,
            now=now,
            csrf_field=CSRF_FIELD,
            csrf_header=CSRF_HEADER,
            request_path=request.url.path,
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
        if session is not None:
            self.auth.set_csrf_cookie(response, request, session, self.root(request))
        return response

    def to_login(self, request: Request) -> Response:
        login = self.url(request, "dashboard.login", {"next": request.url.path})
        if request.headers.get("HX-Request"):
            # htmx follows HX-Redirect with a full page load (a partial's session ended).
            return Response(status_code=401, headers={"HX-Redirect": login, **PAGE_HEADERS})
        return RedirectResponse(login, status_code=303, headers=PAGE_HEADERS)

    def forbidden(self, request: Request, session: Session, why: str) -> HTMLResponse:
        return self.render(request, "error.html", session, 403, title="Not allowed", message=why)

    def not_found(self, request: Request, session: Session, what: str) -> HTMLResponse:
        return self.render(request, "error.html", session, 404, title="Not found", message=what)

    async def checked_post(self, request: Request, scope: str) -> Session | Response:
        """The session of a POST that may act: logged in, CSRF token right, scope held."""
        session = self.auth.session(request)
        if session is None:
            return self.to_login(request)
        form = await request.form()
        sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
        if not self.auth.csrf_ok(session, sent if isinstance(sent, str) else None):
            return self.render(
                request,
                "error.html",
                session,
                403,
                title="Refused: the form's security token is missing or wrong",
                message="Nothing was changed. Reload the page and try again.",
            )
        if not session.can(scope):
            return self.forbidden(
                request, session, f"This needs a token with the '{scope}' scope; nothing changed."
            )
        return session

    def duration_svg(self, request: Request, runs: list[Run]) -> Markup:
        points = [
            DurationPoint(
                run.id,
                (run.finished_at - run.started_at).total_seconds(),
                run.state.value,
                _when(run.started_at),
            )
            for run in runs
            if run.finished_at is not None and run.started_at is not None
        ]
        return duration_chart(points, lambda run_id: self.url(request, "dashboard.run", id=run_id))


def build_router(tw: Tickwork, verify: Verifier) -> APIRouter:
    pages = Pages(tw, verify)
    router = APIRouter(include_in_schema=False, route_class=observed_route_class(tw.metrics))

    def page(template: str, build: Callable[[Request, Session], dict[str, Any] | Response]) -> Any:
        async def handler(request: Request) -> Response:
            session = await asyncio.to_thread(pages.auth.session, request)
            if session is None:
                return pages.to_login(request)
            context = await asyncio.to_thread(build, request, session)
            if isinstance(context, Response):
                return context
            return pages.render(request, template, session, **context)

        return handler

    # -- pages ---------------------------------------------------------------------------

    def overview(request: Request, session: Session) -> dict[str, Any]:
        return {"page": "overview", "ov": views.overview(tw, tw.clock.now())}

    def schedules(request: Request, session: Session) -> dict[str, Any]:
        after = request.query_params.get("after") or None
        if after is not None and len(after) > 200:  # longer than any name: no page after it
            after = None
        found = views.schedule_lines(tw, after=after)
        return {
            "page": "schedules",
            "lines": found.lines,
            "counts": found.counts,
            "after": after,
            "next_after": found.next_after,
        }

    def schedule(request: Request, session: Session) -> dict[str, Any] | Response:
        name = request.path_params["name"]
        row = tw.store.get_schedule(name)
        if row is None:
            return pages.not_found(request, session, f"No schedule is named {name!r}.")
        detail = views.schedule_detail(tw, row, before=_id_param(request, "before"))
        triggered = _id_param(request, "run")
        return {
            "page": "schedules",
            "d": detail,
            "chart": pages.duration_svg(request, detail.durations),
            "notice": None if triggered else _notice(request),
            "triggered_run": triggered,
        }

    def run(request: Request, session: Session) -> dict[str, Any] | Response:
        run_id = request.path_params["id"]
        found = tw.store.get_run(run_id)
        if found is None:
            return pages.not_found(request, session, f"No run has the id {run_id}.")
        events = tw.store.run_events(run_id)
        return {
            "page": "runs",
            "run": found,
            "events": events,
            "attempts": views.run_attempts(found, events),
            "can_retry": _can_retry(tw, found),
            "notice": _notice(request),
        }

    def workers(request: Request, session: Session) -> dict[str, Any]:
        now = tw.clock.now()
        return {"page": "workers", "workers": views.worker_lines(tw, now)}

    router.add_api_route("/", page("overview.html", overview), name="dashboard.overview")
    router.add_api_route(
        "/schedules", page("schedules.html", schedules), name="dashboard.schedules"
    )
    router.add_api_route(
        "/schedules/{name}", page("schedule.html", schedule), name="dashboard.schedule"
    )
    router.add_api_route("/runs/{id:int}", page("run.html", run), name="dashboard.run")
    router.add_api_route("/workers", page("workers.html", workers), name="dashboard.workers")

    # -- htmx partials (polled while something runs) ---------------------------------------

    def active(request: Request, session: Session) -> dict[str, Any]:
        return {"runs": views.active_runs(tw)}

    def history(request: Request, session: Session) -> dict[str, Any] | Response:
        name = request.path_params["name"]
        row = tw.store.get_schedule(name)
        if row is None:
            return pages.not_found(request, session, f"No schedule is named {name!r}.")
        return {"d": views.schedule_detail(tw, row)}

    def run_state(request: Request, session: Session) -> dict[str, Any] | Response:
        found = tw.store.get_run(request.path_params["id"])
        if found is None:
            return pages.not_found(request, session, "No such run.")
        events = tw.store.run_events(found.id)
        return {
            "run": found,
            "events": events,
            "attempts": views.run_attempts(found, events),
            "can_retry": _can_retry(tw, found),
        }

    router.add_api_route(
        "/partials/active", page("partials/active.html", active), name="dashboard.partial_active"
    )
    router.add_api_route(
        "/partials/schedules/{name}/history",
        page("partials/history.html", history),
        name="dashboard.partial_history",
    )
    router.add_api_route(
        "/partials/runs/{id:int}",
        page("partials/run_state.html", run_state),
        name="dashboard.partial_run",
    )

    # -- actions -------------------------------------------------------------------------

    def schedule_action(verb: str, act: Callable[[str], Any]) -> Any:
        async def handler(request: Request, name: str) -> Response:
            checked = await pages.checked_post(request, "write")
            if isinstance(checked, Response):
                return checked
            try:
                result = await asyncio.to_thread(act, name)
            except ScheduleNotFoundError:
                return pages.not_found(request, checked, f"No schedule is named {name!r}.")
            except TickworkError as exc:
                return pages.render(
                    request, "error.html", checked, 409, title=f"Could not {verb}", message=str(exc)
                )
            query: dict[str, Any] = {"did": verb}
            if isinstance(result, Run):
                query["run"] = result.id
            target = pages.url(request, "dashboard.schedule", query, name=name)
            return RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)

        return handler

    router.add_api_route(
        "/schedules/{name}/pause",
        schedule_action("paused", tw.pause),
        methods=["POST"],
        name="dashboard.pause",
    )
    router.add_api_route(
        "/schedules/{name}/resume",
        schedule_action("resumed", tw.resume),
        methods=["POST"],
        name="dashboard.resume",
    )
    router.add_api_route(
        "/schedules/{name}/trigger",
        schedule_action("triggered", tw.trigger),
        methods=["POST"],
        name="dashboard.trigger",
    )

    @router.post("/runs/{id:int}/retry", name="dashboard.retry")
    async def retry_run(request: Request, id: int) -> Response:
        checked = await pages.checked_post(request, "write")
        if isinstance(checked, Response):
            return checked
        try:
            run = await asyncio.to_thread(tw.retry_run, id)
        except RunNotFoundError:
            return pages.not_found(request, checked, f"No run has the id {id}.")
        except TickworkError as exc:
            return pages.render(
                request, "error.html", checked, 409, title="Could not retry", message=str(exc)
            )
        target = pages.url(request, "dashboard.run", {"did": "retried"}, id=run.id)
        return RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)

    # -- login ---------------------------------------------------------------------------

    @router.get("/login", name="dashboard.login")
    async def login_form(request: Request) -> Response:
        if not pages.auth.required:
            return RedirectResponse(pages.root(request), status_code=303)
        return pages.render(
            request,
            "login.html",
            None,
            page="login",
            next=_safe_next(request.query_params.get("next"), pages.root(request)),
            error=None,
            notice=_notice(request),
        )

    @router.post("/login", name="dashboard.login_submit")
    async def login(request: Request) -> Response:
        root = pages.root(request)
        form = await request.form()
        token = form.get("token")
        target = _safe_next(form.get("next"), root)
        viewer = None
        if isinstance(token, str) and token.strip():
            viewer = await asyncio.to_thread(pages.auth.login, token.strip())
        if viewer is None or not isinstance(token, str):
            return pages.render(
                request,
                "login.html",
                None,
                401,
                page="login",
                next=target,
                error="That token is not valid (unknown, revoked, expired or without the "
                "'read' scope).",
                notice=None,
            )
        response = RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
        pages.auth.set_session(response, request, token.strip(), root)
        return response

    @router.post("/logout", name="dashboard.logout")
    async def logout(request: Request) -> Response:
        checked = await pages.checked_post(request, "read")
        if isinstance(checked, Response):
            return checked
        target = pages.url(request, "dashboard.login", {"did": "logged_out"})
        response = RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
        pages.auth.clear_session(response, request, pages.root(request))
        return response

    # -- static files (a route, not a mount: include_router keeps routes only) ------------

    @router.get("/static/{file}", name="dashboard.static")
    async def static(file: str) -> Response:
        media = STATIC.get(file)
        if media is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(
            HERE / "static" / file,
            media_type=media,
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @router.get("/favicon.ico", name="dashboard.favicon", include_in_schema=False)
    async def favicon() -> Response:
        """The icon a browser asks for by itself (pages link favicon.svg; not every client
        reads the link): the same SVG, which browsers take whatever the name ends with."""
        return await static("favicon.svg")

    return router


def _id_param(request: Request, key: str) -> int | None:
    value = request.query_params.get(key)
    if value is None or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def _notice(request: Request) -> str | None:
    did = request.query_params.get("did")
    return NOTICES.get(did) if did else None


def _safe_next(value: object, root: str) -> str:
    """Where to go after login: a path inside the dashboard, never another site."""
    if (
        isinstance(value, str)
        and value.startswith(root)
        and not value.startswith("//")
        and not any(c in value for c in "\\\r\n")
    ):
        return value
    return root


def _can_retry(tw: Tickwork, run: Run) -> bool:
    """Failed, timed out or cancelled: what ``Tickwork.retry_run`` accepts."""
    return run.state in views.RETRYABLE_STATES
