"""``tickwork token create|list|revoke``: the bearer tokens of the HTTP API and dashboard."""

from __future__ import annotations

import click

from tickwork.cli.common import (
    config_option,
    emit_json,
    errors_to_exit_codes,
    from_parents,
    json_option,
    load_app,
    local,
    table,
)
from tickwork.tokens import SCOPES, TokenInfo, create_token, list_tokens, revoke_token


def token_json(info: TokenInfo) -> dict[str, object]:
    return {
        "name": info.name,
        "scopes": list(info.scopes),
        "created_at": info.created_at,
        "last_used_at": info.last_used_at,
        "revoked_at": info.revoked_at,
    }


@click.group("token")
def token_group() -> None:
    """API tokens: create (shown once), list, revoke. Scopes nest: admin ⊇ write ⊇ read."""


@token_group.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scope",
    type=click.Choice(SCOPES),
    default="read",
    show_default=True,
    help="read: see everything; write: also pause, resume, trigger, cancel and retry; "
    "admin: also create, replace and delete schedules through the API.",
)
@config_option
def token_create(name: str, scope: str, config_path: str | None) -> None:
    """Create a token called NAME. The token is printed once, on the last line; only its
    sha256 is stored."""
    tw = load_app(config_path)
    try:
        with errors_to_exit_codes():
            plaintext, info = create_token(tw, name, scope)
        click.echo(f"token {info.name!r} created with scope {scope}; it is shown only now:")
        click.echo(plaintext)
    finally:
        tw.close()


@token_group.command("list")
@config_option
@json_option
def token_list(config_path: str | None, as_json: bool) -> None:
    """Every token (revoked ones too), never the tokens themselves."""
    tw = load_app(config_path, existing=True)
    try:
        with errors_to_exit_codes():
            found = list_tokens(tw)
        if from_parents("as_json", as_json):
            emit_json([token_json(t) for t in found])
            return
        table(
            None,
            ["name", "scopes", "created", "last used", "state"],
            [
                (
                    t.name,
                    " ".join(t.scopes),
                    local(t.created_at),
                    local(t.last_used_at),
                    f"revoked {local(t.revoked_at)}" if t.revoked else "active",
                )
                for t in found
            ],
        )
    finally:
        tw.close()


@token_group.command("revoke")
@click.argument("name")
@config_option
@json_option
def token_revoke(name: str, config_path: str | None, as_json: bool) -> None:
    """Revoke the token called NAME: it is refused from now on (the row is kept)."""
    tw = load_app(config_path, existing=True)
    try:
        with errors_to_exit_codes():
            info = revoke_token(tw, name)
        if from_parents("as_json", as_json):
            emit_json(token_json(info))
        else:
            click.echo(f"token {name!r} revoked at {local(info.revoked_at)}")
    finally:
        tw.close()
