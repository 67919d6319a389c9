"""Mission control's accounts, kept in the state store beside the runs: users, API tokens,
login sessions, role grants, and the person a user is in each go-live.

A person id means something only in one go-live's plan (two plans may both have a person
`own`), so a user is linked to a person per go-live (`link`). A disabled user cannot log in,
and their sessions and tokens are refused until they are enabled again; a token is revoked by
its id (the first 12 hex digits of its SHA-256, which `list_tokens` shows).

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
TOKEN_ID_LENGTH = 12
MIN_TOKEN_ID = 6  # a shorter prefix could name the wrong token

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
    """A user: admin or not, and the person they are in each go-live they are linked to."""

    name: str
    admin: bool
    links: tuple[tuple[str, str], ...] = ()  # (go-live id, person id), sorted
    unbound_person: str | None = None  # linked before links named a go-live: grants nothing
    disabled: bool = False

    def person_in(self, plan_id: str) -> str | None:
        """The user's person id in the go-live `plan_id`, if they are linked to one there."""
        return dict(self.links).get(plan_id)


@dataclass(frozen=True)
class TokenInfo:
    """An API token as it may be shown: its id (a prefix of its hash), never the token."""

    id: str
    user_name: str
    created_at: dt.datetime


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


def token_id(token: str) -> str:
    """The public id of a token: enough to name it, nothing to use it with."""
    return secret_hash(token)[:TOKEN_ID_LENGTH]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Accounts:
    """The accounts of one state store."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def add_user(
        self,
        name: str,
        *,
        password: str,
        person: str | None = None,
        plan_id: str | None = None,
        admin: bool = False,
    ) -> User:
        """Create a user, linked to `person` in go-live `plan_id` if given; UsageError if the
        name is taken, the password too short, or a person is given without its go-live."""
        check_name(name)
        if len(password) < MIN_PASSWORD:
            raise UsageError(f"the password must have at least {MIN_PASSWORD} characters")
        if person is not None and plan_id is None:
            raise UsageError(_needs_plan(person))
        if self.get_user(name) is not None:
            raise UsageError(f"a user {name!r} exists already: choose another name")
        values = {
            "name": name,
            "person": None,
            "admin": admin,
            "disabled": False,
            "password_hash": _hasher.hash(password),
            "created_at": self.store.now(),
        }
        with self.store.transaction(f"add user {name} to", write=True) as connection:
            connection.execute(schema.users.insert().values(values))
        if person is not None and plan_id is not None:
            self.link(name, plan_id=plan_id, person=person)
        return self.require_user(name)

    def link(self, name: str, *, plan_id: str, person: str) -> None:
        """Make `name` the person `person` in go-live `plan_id` (replacing a link there)."""
        self.require_user(name)
        table = schema.person_links
        mine = (table.c.user_name == name) & (table.c.plan_id == plan_id)
        values = {"user_name": name, "plan_id": plan_id, "person": person}
        with self.store.transaction(f"link {name} to {person} in", write=True) as connection:
            connection.execute(table.delete().where(mine))
            connection.execute(table.insert().values(values))
            if person == self._unbound(connection, name):  # now bound: it means this go-live
                update = schema.users.update().where(schema.users.c.name == name)
                connection.execute(update.values(person=None))

    def unlink(self, name: str, *, plan_id: str) -> bool:
        """Remove the user's person in go-live `plan_id`; False if there was none."""
        self.require_user(name)
        table = schema.person_links
        mine = (table.c.user_name == name) & (table.c.plan_id == plan_id)
        with self.store.transaction(f"unlink {name} in", write=True) as connection:
            return bool(connection.execute(table.delete().where(mine)).rowcount)

    def _unbound(self, connection: sa.Connection, name: str) -> str | None:
        query = sa.select(schema.users.c.person).where(schema.users.c.name == name)
        found: str | None = connection.execute(query).scalar()
        return found

    def _user(self, connection: sa.Connection, row: Any) -> User:
        """The User of a row (name, person, admin, disabled), with its links."""
        table = schema.person_links
        query = (
            sa.select(table.c.plan_id, table.c.person)
            .where(table.c.user_name == row[0])
            .order_by(table.c.plan_id)
        )
        links = tuple((str(p), str(q)) for p, q in connection.execute(query).all())
        return User(row[0], bool(row[2]), links, row[1], bool(row[3]))

    def _columns(self) -> list[sa.ColumnElement[Any]]:
        users = schema.users
        return [users.c.name, users.c.person, users.c.admin, users.c.disabled]

    def get_user(self, name: str) -> User | None:
        query = sa.select(*self._columns()).where(schema.users.c.name == name)
        with self.store.transaction(f"read user {name} from") as connection:
            row = connection.execute(query).first()
            return None if row is None else self._user(connection, row)

    def require_user(self, name: str) -> User:
        user = self.get_user(name)
        if user is None:
            raise UsageError(f"no user {name!r}: add one with `golive user add {name}`")
        return user

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password is theirs and they are not disabled, else None (in about
        the same time either way)."""
        query = sa.select(*self._columns(), schema.users.c.password_hash)
        with self.store.transaction("check a password in") as connection:
            row = connection.execute(query.where(schema.users.c.name == name)).first()
            user = None if row is None else self._user(connection, row)
        try:
            _hasher.verify(row[4] if row is not None else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        return None if user is None or user.disabled else user

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable a user (their sessions end: logging in again is refused) or enable them."""
        self.require_user(name)
        users, sessions = schema.users, schema.web_sessions
        what = "disable" if disabled else "enable"
        with self.store.transaction(f"{what} {name} in", write=True) as connection:
            connection.execute(users.update().where(users.c.name == name).values(disabled=disabled))
            if disabled:
                connection.execute(sessions.delete().where(sessions.c.user_name == name))

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

    def list_tokens(self, name: str | None = None) -> list[TokenInfo]:
        """The tokens (of one user, or all), oldest first, by id."""
        table = schema.api_tokens
        query = sa.select(table.c.token_hash, table.c.user_name, table.c.created_at)
        if name is not None:
            self.require_user(name)
            query = query.where(table.c.user_name == name)
        with self.store.transaction("list the tokens of") as connection:
            rows = connection.execute(query.order_by(table.c.created_at)).all()
        return [TokenInfo(r[0][:TOKEN_ID_LENGTH], r[1], _aware(r[2])) for r in rows]

    def revoke_token(self, token_id_prefix: str) -> TokenInfo:
        """Delete the one token whose id starts with the prefix; UsageError if none or several."""
        prefix = token_id_prefix.strip().lower()
        if len(prefix) < MIN_TOKEN_ID or not re.fullmatch(r"[0-9a-f]+", prefix):
            raise UsageError(
                f"token id {token_id_prefix!r}: give at least {MIN_TOKEN_ID} hex digits of an id "
                "that `golive token list` shows"
            )
        found = [t for t in self.list_tokens() if t.id.startswith(prefix[:TOKEN_ID_LENGTH])]
        if len(found) != 1:
            why = "no token has" if not found else f"{len(found)} tokens have"
            raise UsageError(f"{why} an id starting with {prefix}: see `golive token list`")
        table = schema.api_tokens
        with self.store.transaction("revoke a token in", write=True) as connection:
            connection.execute(table.delete().where(table.c.token_hash.startswith(found[0].id)))
        return found[0]

    def revoke_tokens(self, name: str) -> int:
        """Delete every token of the user; how many there were."""
        self.require_user(name)
        table = schema.api_tokens
        with self.store.transaction(f"revoke the tokens of {name} in", write=True) as connection:
            return int(connection.execute(table.delete().where(table.c.user_name == name)).rowcount)

    def user_for_token(self, token: str) -> User | None:
        users, tokens = schema.users, schema.api_tokens
        query = (
            sa.select(*self._columns())
            .join(tokens, tokens.c.user_name == users.c.name)
            .where(tokens.c.token_hash == secret_hash(token))
        )
        with self.store.transaction("check a token in") as connection:
            row = connection.execute(query).first()
            user = None if row is None else self._user(connection, row)
        return None if user is None or user.disabled else user

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
            sa.select(*self._columns(), sessions.c.expires_at)
            .join(sessions, sessions.c.user_name == users.c.name)
            .where(sessions.c.session_hash == secret_hash(session))
        )
        with self.store.transaction("check a login session in") as connection:
            row = connection.execute(query).first()
            if row is None or _aware(row[4]) <= self.store.now():
                return None
            user = self._user(connection, row)
        return None if user.disabled else user

    def live_credentials(self, hashes: set[str]) -> set[str]:
        """Of these token and session hashes, those still valid now: not revoked, logged out
        or expired, and of a user who is not disabled (one look for every open stream)."""
        if not hashes:
            return set()
        users, tokens, sessions = schema.users, schema.api_tokens, schema.web_sessions
        by_token = (
            sa.select(tokens.c.token_hash)
            .join(users, tokens.c.user_name == users.c.name)
            .where(tokens.c.token_hash.in_(hashes), sa.not_(users.c.disabled))
        )
        by_session = (
            sa.select(sessions.c.session_hash)
            .join(users, sessions.c.user_name == users.c.name)
            .where(
                sessions.c.session_hash.in_(hashes),
                sessions.c.expires_at > self.store.now(),
                sa.not_(users.c.disabled),
            )
        )
        with self.store.transaction("check the credentials of the live streams in") as connection:
            found = set(connection.execute(by_token).scalars())
            found |= set(connection.execute(by_session).scalars())
        return {str(h) for h in found}

    def end_session(self, session: str) -> None:
        table = schema.web_sessions
        with self.store.transaction("log out of", write=True) as connection:
            connection.execute(table.delete().where(table.c.session_hash == secret_hash(session)))


def _needs_plan(person: str) -> str:
    return (
        f"--person {person} needs --plan GOLIVE_ID: a person id means something only in one "
        "go-live's plan (the `golive:` id at its top)"
    )
