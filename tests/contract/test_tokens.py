"""API tokens in the store (``TokenStore``), on every store; hashing and scopes in
``tickwork.tokens``."""

from __future__ import annotations

import pytest

from tickwork.errors import InvalidSpecError
from tickwork.store import Store
from tickwork.store.api_base import TokenStore
from tickwork.tokens import (
    Principal,
    create_token,
    hash_token,
    list_tokens,
    revoke_token,
    verify_token,
)

from .conftest import MINUTE, T0


@pytest.fixture
def tokens(store: Store) -> TokenStore:
    assert isinstance(store, TokenStore)
    return store


def test_a_created_token_verifies_with_its_scopes_implied(tokens: TokenStore) -> None:
    plaintext, info = create_token(tokens, "bot", "write", now=T0)
    assert info.scopes == ("write",)
    assert info.created_at == T0
    assert not info.revoked
    principal = verify_token(tokens, plaintext, now=T0)
    assert principal == Principal("bot", frozenset({"read", "write"}))
    assert principal.can("read")
    assert principal.can("write")
    assert not principal.can("admin")


def test_only_the_hash_is_stored(tokens: TokenStore) -> None:
    plaintext, _ = create_token(tokens, "bot", "read", now=T0)
    (row,) = tokens.list_tokens()
    assert row.token_hash == hash_token(plaintext) != plaintext
    assert plaintext not in repr(row)


@pytest.mark.parametrize("given", ["", "tw_", "tw_not-a-token", "Bearer x", "x" * 500], ids=repr)
def test_unknown_or_malformed_tokens_verify_to_none(tokens: TokenStore, given: str) -> None:
    create_token(tokens, "bot", "admin", now=T0)
    assert verify_token(tokens, given, now=T0) is None


def test_a_revoked_token_no_longer_verifies_and_its_name_can_be_reused(
    tokens: TokenStore,
) -> None:
    old, _ = create_token(tokens, "bot", "admin", now=T0)
    info = revoke_token(tokens, "bot", now=T0 + MINUTE)
    assert info.revoked_at == T0 + MINUTE
    assert revoke_token(tokens, "bot", now=T0 + 2 * MINUTE).revoked_at == T0 + MINUTE
    assert verify_token(tokens, old, now=T0 + 2 * MINUTE) is None
    new, again = create_token(tokens, "bot", "read", now=T0 + 3 * MINUTE)
    assert again.scopes == ("read",)
    assert not again.revoked
    assert verify_token(tokens, new, now=T0 + 3 * MINUTE) == Principal("bot", frozenset({"read"}))
    assert verify_token(tokens, old, now=T0 + 3 * MINUTE) is None


def test_a_live_name_is_refused_and_nothing_changes(tokens: TokenStore) -> None:
    first, _ = create_token(tokens, "bot", "read", now=T0)
    before = tokens.list_tokens()
    with pytest.raises(InvalidSpecError) as caught:
        create_token(tokens, "bot", "admin", now=T0 + MINUTE)
    assert caught.value.field == "name"
    assert tokens.list_tokens() == before
    assert verify_token(tokens, first, now=T0 + MINUTE) is not None


@pytest.mark.parametrize(
    ("name", "scopes", "field"),
    [
        ("bot", "root", "scope"),
        ("bot", [], "scope"),
        ("bot", ["read", "sudo"], "scope"),
        ("", "read", "name"),
        ("two words", "read", "name"),
        ("x" * 201, "read", "name"),
    ],
    ids=["unknown-scope", "no-scope", "one-bad-scope", "empty-name", "space", "long-name"],
)
def test_bad_names_and_scopes_are_refused_before_anything_is_written(
    tokens: TokenStore, name: str, scopes: object, field: str
) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        create_token(tokens, name, scopes, now=T0)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert tokens.list_tokens() == []


def test_revoking_an_unknown_name_says_so(tokens: TokenStore) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        revoke_token(tokens, "ghost", now=T0)
    assert caught.value.field == "name"
    assert "ghost" in str(caught.value)


def test_use_is_recorded_at_most_once_a_minute(tokens: TokenStore) -> None:
    plaintext, _ = create_token(tokens, "bot", "read", now=T0)
    verify_token(tokens, plaintext, now=T0 + MINUTE)
    verify_token(tokens, plaintext, now=T0 + MINUTE + MINUTE / 2)
    assert [t.last_used_at for t in list_tokens(tokens)] == [T0 + MINUTE]
    verify_token(tokens, plaintext, now=T0 + 2 * MINUTE)
    assert [t.last_used_at for t in list_tokens(tokens)] == [T0 + 2 * MINUTE]


def test_tokens_are_listed_by_name_without_plaintext(tokens: TokenStore) -> None:
    b, _ = create_token(tokens, "b", ["read", "admin"], now=T0)
    create_token(tokens, "a", "read", now=T0)
    listed = list_tokens(tokens)
    assert [(t.name, t.scopes) for t in listed] == [("a", ("read",)), ("b", ("read", "admin"))]
    assert b not in repr(listed)
