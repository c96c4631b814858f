"""Dashboard login: a session cookie holding an API token, and CSRF tokens derived from it.

Stateless, so several uvicorn workers and replicas agree without shared memory:

- The login form takes an API token (``tickwork tokens create``); the session cookie holds
  it (HttpOnly, SameSite=Strict, Secure on https, Path = the dashboard's root). Every
  request verifies it again, so a revoked token ends its sessions at once.
- The CSRF token is ``HMAC-SHA256(key=session token, "tickwork-csrf")``: every form carries
  it (and htmx sends it as ``X-CSRF-Token``); every POST but the login checks it.
- ``api_auth = "none"`` (local development, said so on every page): nobody logs in, the
  viewer may do everything, and the CSRF key is a random value in a cookie of its own (a
  double-submit cookie), so another site still cannot post a form to the dashboard.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from tickwork.app import Tickwork

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "DashboardAuth",
    "LocalViewer",
    "Session",
    "Viewer",
    "csrf_token",
]

SESSION_COOKIE = "tickwork_session"
CSRF_COOKIE = "tickwork_csrf"  # api_auth = "none" only
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"


class Viewer(Protocol):
    """Who is looking: a token's principal (``tickwork.tokens.Principal``) or the local one."""

    @property
    def name(self) -> str: ...

    def can(self, scope: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class LocalViewer:
    """The viewer when ``api_auth = "none"``: no login, every action allowed."""

    name: str = "local (no login: api_auth = none)"

    def can(self, scope: str) -> bool:
        return True


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"tickwork-csrf", hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    viewer: Viewer
    csrf: str
    new_csrf_cookie: str | None = None  # api_auth = "none": set this cookie on the response

    def can(self, scope: str) -> bool:
        return self.viewer.can(scope)


Verifier = Callable[[Tickwork, str], Viewer | None]


class DashboardAuth:
    """Reads and writes the session of one request."""

    def __init__(self, tw: Tickwork, verify: Verifier) -> None:
        self.tw = tw
        self.verify = verify

    @property
    def required(self) -> bool:
        return self.tw.settings.api_auth != "none"

    def session(self, request: Request) -> Session | None:
        """The request's session, or None when it must log in (no or a refused token)."""
        if not self.required:
            secret = request.cookies.get(CSRF_COOKIE) or ""
            fresh = None
            if len(secret) < 32:
                secret = fresh = secrets.token_urlsafe(32)
            return Session(LocalViewer(), csrf_token(secret), fresh)
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        viewer = self.verify(self.tw, token)
        if viewer is None or not viewer.can("read"):
            return None
        return Session(viewer, csrf_token(token))

    def login(self, token: str) -> Viewer | None:
        """The viewer of ``token`` when it is valid and may read the dashboard."""
        viewer = self.verify(self.tw, token)
        return viewer if viewer is not None and viewer.can("read") else None

    @staticmethod
    def csrf_ok(session: Session, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(session.csrf, sent)

    def set_session(self, response: Response, request: Request, token: str, root: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            path=root,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    @staticmethod
    def clear_session(response: Response, request: Request, root: str) -> None:
        response.delete_cookie(
            SESSION_COOKIE,
            path=root,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    @staticmethod
    def set_csrf_cookie(response: Response, request: Request, session: Session, root: str) -> None:
        if session.new_csrf_cookie is not None:
            response.set_cookie(
                CSRF_COOKIE,
                session.new_csrf_cookie,
                path=root,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
