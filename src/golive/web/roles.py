"""Who may do what in a run: roles derived from the plan, plus the grants in the store.

Derived from the run's plan, for a user linked to a person id in that go-live (`golive user
link NAME --person ID --plan GOLIVE`; a link in another go-live counts for nothing here, even
if this plan has a person of the same id):

- every person of the plan is an **observer** (reads the run);
- a person who owns a step or a checklist item is an **owner**: they confirm and decide
  their own steps (retry, skip), and mark their own checklist items done;
- a person among a gate's approvers is an **approver**: they vote at their gates;
- the person who started the run (`golive run --as`) is its **manager**.

Granted (`golive user grant NAME ROLE [--plan ID]`): any role on one go-live or on all; an
admin (`--admin`) is manager everywhere. A **manager** does everything: posts, confirms any
step, decides (including rollback and abort), marks any item, resolves any issue. Votes are
the exception: only a gate's own approvers vote, as the engine counts no other ballot.
Everyone but an observer posts updates and raises and comments issues.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from golive.engine.events import Decision
from golive.plan.models import Plan, StepKind
from golive.store.accounts import Grant, Role, User

ROLE_ORDER = (Role.manager, Role.approver, Role.owner, Role.observer)


def derived_roles(plan: Plan, person: str | None, *, started_by: str) -> set[Role]:
    """The roles the plan gives a person in a run."""
    if person is None or person not in plan.people:
        return set()
    roles = {Role.observer}
    if any(s.owner == person for s in plan.steps) or any(i.owner == person for i in plan.checklist):
        roles.add(Role.owner)
    if any(person in s.approvers for s in plan.steps if s.kind is StepKind.gate):
        roles.add(Role.approver)
    if person == started_by:
        roles.add(Role.manager)
    return roles


@dataclass(frozen=True)
class Access:
    """A user's rights in one run."""

    user: User
    plan: Plan
    roles: frozenset[Role]

    @classmethod
    def of(cls, user: User, plan: Plan, *, started_by: str, grants: Iterable[Grant]) -> Access:
        roles = derived_roles(plan, user.person_in(plan.golive), started_by=started_by)
        roles |= {g.role for g in grants if g.plan_id in (None, plan.golive)}
        if user.admin:
            roles.add(Role.manager)
        return cls(user, plan, frozenset(roles))

    @property
    def person(self) -> str | None:
        """The user's person id in this plan, if they have one there."""
        person = self.user.person_in(self.plan.golive)
        return person if person is not None and person in self.plan.people else None

    @property
    def by(self) -> str:
        """The name events record for this user: their person id, else their user name."""
        return self.person or self.user.name

    @property
    def manager(self) -> bool:
        return Role.manager in self.roles

    @property
    def can_view(self) -> bool:
        return bool(self.roles)

    @property
    def can_post(self) -> bool:
        """Updates, issues and comments: every role but observer."""
        return bool(self.roles - {Role.observer})

    def owns_step(self, step_id: str) -> bool:
        return self.person is not None and any(
            s.id == step_id and s.owner == self.person for s in self.plan.steps
        )

    def can_vote(self, gate: str) -> bool:
        if self.person is None or not (self.roles & {Role.approver, Role.manager}):
            return False
        return any(s.id == gate and self.person in s.approvers for s in self.plan.steps)

    def can_mark_done(self, step_id: str) -> bool:
        return self.manager or (Role.owner in self.roles and self.owns_step(step_id))

    def can_decide(self, decision: Decision, step_id: str | None) -> bool:
        if self.manager:
            return True
        if decision in (Decision.rollback, Decision.abort) or step_id is None:
            return False
        return Role.owner in self.roles and self.owns_step(step_id)

    def can_decide_any(self, step_id: str) -> bool:
        """Whether the user may retry or skip the step (managers may also roll back, abort)."""
        return self.manager or (Role.owner in self.roles and self.owns_step(step_id))

    def can_mark_item(self, item_id: str) -> bool:
        if self.manager:
            return True
        return (
            Role.owner in self.roles
            and self.person is not None
            and any(i.id == item_id and i.owner == self.person for i in self.plan.checklist)
        )

    def can_resolve(self, owner: str | None, raised_by: str) -> bool:
        return self.manager or (self.can_post and self.by in (owner, raised_by))

    def shown_roles(self) -> list[str]:
        """The roles that grant something (observer only when it is all there is)."""
        shown = [r.value for r in ROLE_ORDER if r in self.roles and r is not Role.observer]
        return shown or [r.value for r in ROLE_ORDER if r in self.roles]
