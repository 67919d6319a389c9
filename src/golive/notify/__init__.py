"""Notifications: what golive tells people beyond mission control, and how it gets there.

`rules` decides, from a run's events (and the time, for escalation ladders), which
notifications are owed: a pure function, so every process decides the same ones with the same
ids. `outbox` reads what happened to them from the same log (claimed, sent, failed) and takes
claims. `delivery` renders the URLs (secrets only here, never stored) and sends through apprise;
`courier` is the background worker that delivers without ever holding up the engine.
"""
