"""Mission control's accounts, kept in the state store beside the runs: users, API tokens,
login sessions and role grants.

No secret is stored: a password as its argon2 hash, an API token and a session id as the
SHA-256 of their random value (they carry 256 random bits, so a fast hash is enough). What
`create_token` and `create_session` return is the only copy of the secret.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from golive.errors import UsageError
from golive.store import schema
from golive.store.event_store import EventStore

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
TOKEN_PREFIX = "glt_"
SESSION_LIFETIME = dt.timedelta(hours=12)
MIN_PASSWORD = 8

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so that a wrong name costs as long as a
    wrong password (no user enumeration by timing)."""
    return _hasher.hash(secrets.token_hex(16))


class Role(StrEnum):
    """What a user may do in a go-live: a manager everything, an approver vote at their gates,
    an owner act on their steps and checklist items, an observer read."""

    manager = "manager"
    approver = "approver"
    owner = "owner"
    observer = "observer"


@dataclass(frozen=True)
class User:
    name: str
    person: str | None
    admin: bool


@dataclass(frozen=True)
class Grant:
    role: Role
    plan_id: str | None  # None: every go-live


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise UsageError(
            f"user name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return name


def _user(row: Any) -> User | None:
    return None if row is None else User(row[0], row[1], bool(row[2]))


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Accounts:
    """The accounts of one state store."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def add_user(
        self, name: str, *, password: str, person: str | None = None, admin: bool = False
    ) -> User:
        """Create a user; UsageError if the name is taken or the password too short."""
        check_name(name)
        if len(password) < MIN_PASSWORD:
            raise UsageError(f"the password must have at least {MIN_PASSWORD} characters")
        if self.get_user(name) is not None:
            raise UsageError(f"a user {name!r} exists already: choose another name")
        values = {
            "name": name,
            "person": person,
            "admin": admin,
            "password_hash": _hasher.hash(password),
            "created_at": self.store.now(),
        }
        with self.store.transaction(f"add user {name} to", write=True) as connection:
            connection.execute(schema.users.insert().values(values))
        return User(name, person, admin)

    def get_user(self, name: str) -> User | None:
        table = schema.users
        query = sa.select(table.c.name, table.c.person, table.c.admin).where(table.c.name == name)
        with self.store.transaction(f"read user {name} from") as connection:
            return _user(connection.execute(query).first())

    def require_user(self, name: str) -> User:
        user = self.get_user(name)
        if user is None:
            raise UsageError(f"no user {name!r}: add one with `golive user add {name}`")
        return user

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password is theirs, else None (in about the same time either way)."""
        table = schema.users
        query = sa.select(table.c.name, table.c.person, table.c.admin, table.c.password_hash)
        with self.store.transaction("check a password in") as connection:
            row = connection.execute(query.where(table.c.name == name)).first()
        try:
            _hasher.verify(row[3] if row is not None else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        return None if row is None else User(row[0], row[1], bool(row[2]))

    def grant(self, name: str, role: Role, *, plan_id: str | None = None) -> Grant:
        """Give `name` a role on one go-live (or all of them); granting twice changes nothing."""
        self.require_user(name)
        if Grant(role, plan_id) in self.grants(name):
            return Grant(role, plan_id)
        values = {"user_name": name, "role": role.value, "plan_id": plan_id}
        with self.store.transaction(f"grant {role} to {name} in", write=True) as connection:
            connection.execute(schema.grants.insert().values(values))
        return Grant(role, plan_id)

    def grants(self, name: str) -> list[Grant]:
        table = schema.grants
        query = (
            sa.select(table.c.role, table.c.plan_id)
            .where(table.c.user_name == name)
            .order_by(table.c.id)
        )
        with self.store.transaction(f"read the grants of {name} from") as connection:
            rows = connection.execute(query).all()
        return [Grant(Role(r[0]), r[1]) for r in rows if r[0] in Role._value2member_map_]

    def create_token(self, name: str) -> str:
        """A new API token for the user; the only copy of it is what this returns."""
        self.require_user(name)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        values = {
            "token_hash": secret_hash(token),
            "user_name": name,
            "created_at": self.store.now(),
        }
        with self.store.transaction(f"create a token for {name} in", write=True) as connection:
            connection.execute(schema.api_tokens.insert().values(values))
        return token

    def user_for_token(self, token: str) -> User | None:
        users, tokens = schema.users, schema.api_tokens
        query = (
            sa.select(users.c.name, users.c.person, users.c.admin)
            .join(tokens, tokens.c.user_name == users.c.name)
            .where(tokens.c.token_hash == secret_hash(token))
        )
        with self.store.transaction("check a token in") as connection:
            return _user(connection.execute(query).first())

    def create_session(self, name: str) -> str:
        """A new login session for the user; returns its id (the cookie's value)."""
        session = secrets.token_urlsafe(32)
        now = self.store.now()
        values = {
            "session_hash": secret_hash(session),
            "user_name": name,
            "created_at": now,
            "expires_at": now + SESSION_LIFETIME,
        }
        table = schema.web_sessions
        with self.store.transaction(f"log {name} in to", write=True) as connection:
            # expired sessions are of no use to anyone: each login clears them away
            connection.execute(table.delete().where(table.c.expires_at <= now))
            connection.execute(table.insert().values(values))
        return session

    def user_for_session(self, session: str) -> User | None:
        users, sessions = schema.users, schema.web_sessions
        query = (
            sa.select(users.c.name, users.c.person, users.c.admin, sessions.c.expires_at)
            .join(sessions, sessions.c.user_name == users.c.name)
            .where(sessions.c.session_hash == secret_hash(session))
        )
        with self.store.transaction("check a login session in") as connection:
            row = connection.execute(query).first()
        if row is None or _aware(row[3]) <= self.store.now():
            return None
        return User(row[0], row[1], bool(row[2]))

    def end_session(self, session: str) -> None:
        table = schema.web_sessions
        with self.store.transaction("log out of", write=True) as connection:
            connection.execute(table.delete().where(table.c.session_hash == secret_hash(session)))
