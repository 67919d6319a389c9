"""The token of a run's public feedback link, kept in the state store beside the run.

The token is 32 random bytes (URL-safe base64), made when the link is first asked for. It is a
capability, not a password: it lets whoever holds the link report a problem in that one run, so
it is kept as it is (the run page shows the link to the run's managers again and again).
"""

from __future__ import annotations

import hmac
import secrets

import sqlalchemy as sa

from golive.errors import StoreError
from golive.store import schema
from golive.store.event_store import EventStore

TOKEN_BYTES = 32


def feedback_token(*, store: EventStore, run_id: str, create: bool = False) -> str | None:
    """The run's feedback token; with `create`, one is made if the run has none yet."""
    table = schema.feedback_tokens
    query = sa.select(table.c.token).where(table.c.run_id == run_id)
    with store.transaction(f"read the feedback token of run {run_id} from") as connection:
        found: str | None = connection.execute(query).scalar()
    if found is not None or not create:
        return found
    token = secrets.token_urlsafe(TOKEN_BYTES)
    values = {"run_id": run_id, "token": token, "created_at": store.now()}
    try:
        with store.transaction(f"store a feedback token of run {run_id} in", write=True) as c:
            c.execute(table.insert().values(values))
    except StoreError:  # another server made it at the same time: theirs holds
        again = feedback_token(store=store, run_id=run_id)
        if again is None:
            raise
        return again
    return token


def token_matches(*, store: EventStore, run_id: str, token: str) -> bool:
    """Whether `token` is the run's feedback token (compared in constant time)."""
    expected = feedback_token(store=store, run_id=run_id)
    return expected is not None and hmac.compare_digest(expected.encode(), token.encode())
