"""The commented starter plan written by `golive init`: it passes `golive check` as written."""

from __future__ import annotations

import datetime as dt

STARTER = """\
# A golive plan. Check it with `golive check {filename}`, outline it with `golive show`,
# rehearse it with `golive run {filename} --env staging`.
# Editor completion: `golive schema > golive.schema.json` (see the README).

golive: {plan_id}                   # the go-live's id: letters, digits, - _ .
title: {title}
timezone: {timezone}                 # every time below is local to this zone

window:                             # when the go-live may happen
  start: {start}
  end: {end}

policy:
  never_on: [friday]                # a Friday go-live forces a weekend of fixes
  quiet_hours: "20:00-06:00"        # the whole window must stay inside these hours
  # holidays: BE                    # public holidays of a country are no-go days
  # freeze: [2026-12-21..2027-01-04]
  rehearsals: 1                     # dress rehearsals needed before production
  rollback_rehearsed: true          # the rollback must have run once, on staging
  rollback_within: 15m

people:                             # everyone on the go-live call, with a role
  you: {{name: Release Manager, role: release manager, contact: you@example.com}}

objectives:                         # what success means, measurably
  - id: app-up
    title: The new version answers its health check
    check: {{step: smoke}}

checklist:                          # before the day: every item has an owner and a deadline
  - id: backup
    title: Backup taken and its restore tested
    owner: you
    due: {due}

environments:
  staging:
    vars:
      app_dir: /tmp/golive-demo/staging
  production:
    vars:
      app_dir: /tmp/golive-demo/production
    # secrets:                      # read at run time, never written anywhere
    #   DB_PASSWORD: {{env: APP_DB_PASSWORD}}

steps:                              # the deployment plan: a graph of steps
  - id: deploy
    title: Install release {{{{ release }}}}
    owner: you
    run: >-
      mkdir -p {{{{ vars.app_dir }}}} &&
      echo "{{{{ release }}}}" > {{{{ vars.app_dir }}}}/release
    undo: rm -f {{{{ vars.app_dir }}}}/release
    estimate: 2m
    timeout: 10m

  - id: smoke
    title: Smoke test the new release
    owner: you
    needs: [deploy]
    check: {{run: "test -s {{{{ vars.app_dir }}}}/release"}}
    estimate: 1m

  - id: go-no-go
    gate: Go / No-Go for opening to users
    needs: [smoke]
    approvers: [you]
    quorum: all

  - id: announce
    title: Tell users the new version is live
    owner: you
    needs: [go-no-go]
    manual: Post the announcement on the status page
    estimate: 5m

failure: pause                      # on a failed step: pause | rollback | continue

hypercare:                          # after go-live: watch closely
  duration: 48h
  escalation:
    - {{after: 0m, notify: [you]}}
"""


def next_window(today: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A Sunday evening, 20:00-23:00, at least two weeks ahead."""
    day = today + dt.timedelta(days=14)
    day += dt.timedelta(days=(6 - day.weekday()) % 7)
    start = dt.datetime.combine(day, dt.time(20, 0))
    return start, start + dt.timedelta(hours=3)


def render_starter(*, plan_id: str, filename: str, timezone: str, today: dt.date) -> str:
    start, end = next_window(today)
    due = (start - dt.timedelta(days=2)).date()
    return STARTER.format(
        plan_id=plan_id,
        filename=filename,
        title=f"{plan_id} go-live",
        timezone=timezone,
        start=f"{start:%Y-%m-%d %H:%M}",
        end=f"{end:%Y-%m-%d %H:%M}",
        due=due,
    )
