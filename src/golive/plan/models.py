"""The plan file format as pydantic models: one class per concept, every key documented.

A plan is untrusted input: every model forbids unknown keys (the loader turns that into a
did-you-mean), and cross-references (owners, needs, host groups, variables) are checked by
`golive.plan.lint`, which sees the whole plan at once and can report every problem together.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from golive.plan.values import (
    DailyHours,
    DueDate,
    Duration,
    FreezeRange,
    LocalDateTime,
    Percent,
    Weekday,
    WeekdayName,
    parse_percent,
)

Id = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64),
]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Command = Annotated[str, Field(min_length=1, max_length=20000)]
PRODUCTION = "production"
MIN_EVERY = dt.timedelta(seconds=1)  # the shortest `every:` of a monitor or an objective
# "Migration tested at least three times with integrity verification"
DEFAULT_VERIFY_PASSES = 3


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FailurePolicy(StrEnum):
    """What the engine does when a step fails."""

    pause = "pause"
    rollback = "rollback"
    continue_ = "continue"


class StepKind(StrEnum):
    run = "run"
    manual = "manual"
    check = "check"
    verify = "verify"
    traffic = "traffic"
    gate = "gate"
    sql = "sql"
    dns = "dns"
    fabric = "fabric"
    ansible = "ansible"
    docker = "docker"


# step kinds whose `undo:` the action runs (a command, a statement, a task, a playbook)
UNDO_KINDS = ("run", "sql", "fabric", "ansible")
# step kinds that revert themselves from what they recorded (no `undo:` key)
SELF_UNDOING_KINDS = ("traffic", "docker", "dns")


# --- amounts: "2" hosts or "25%" of them --------------------------------------------------------


def _amount(value: Any) -> Any:
    if isinstance(value, str) and value.strip().endswith("%"):
        return {"fraction": parse_percent(value)}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"count": value}
    if isinstance(value, dict | Amount):
        return value
    raise ValueError(f"expected a number of hosts (2) or a share of them (25%), got {value!r:.40}")


class Amount(Model):
    """A number of hosts, absolute (`2`) or relative (`25%`)."""

    count: int | None = Field(default=None, ge=0)
    fraction: float | None = Field(default=None, ge=0, le=1)

    def of(self, total: int, *, at_least: int = 0) -> int:
        if self.count is not None:
            return max(self.count, at_least)
        return max(int((self.fraction or 0) * total), at_least)

    def __str__(self) -> str:
        return str(self.count) if self.count is not None else f"{(self.fraction or 0) * 100:g}%"


HostAmount = Annotated[
    Amount,
    BeforeValidator(_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
            ],
            "description": "A number of hosts (2) or a share of them (25%)",
        }
    ),
]


# --- checks: one shape for step checks, gate checks, checklist verifications, monitors ----------


class CheckBase(Model):
    name: Text | None = Field(default=None, description="A label shown instead of the check itself")
    within: Duration | None = Field(
        default=None, description="Keep retrying until the check passes, for at most this long"
    )
    every: Duration | None = Field(default=None, description="How often a monitor runs it")
    for_: int = Field(
        default=2,
        ge=1,
        le=1000,
        alias="for",
        description="Monitors: consecutive failures before an incident is opened",
    )
    severity: Literal["info", "warning", "critical"] = Field(
        default="warning", description="Monitors: the severity of the incident it opens"
    )

    @field_validator("every")
    @classmethod
    def _every_second_at_least(cls, value: dt.timedelta | None) -> dt.timedelta | None:
        return _at_least_a_second(value)


class HttpCheck(CheckBase):
    """An HTTP request whose answer must match."""

    http: Text = Field(description="The URL to request (templated)")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    expect: int | list[int] = Field(default=200, description="Expected status code(s)")
    body: str | None = Field(default=None, description="A substring the body must contain")
    json_path: dict[str, Any] = Field(
        default_factory=dict, alias="json", description="JSON path -> expected value"
    )
    latency_below: Duration | None = None
    insecure: bool = Field(default=False, description="Skip TLS verification (staging only)")


class TlsCheck(CheckBase):
    """A TLS certificate that must stay valid for a while."""

    tls: Text = Field(description="host or host:port")
    min_days: int = Field(default=14, ge=0, le=3650)


class SqlCheck(CheckBase):
    """A query whose result must match: a single value, or no rows at all."""

    sql: Text
    db: Text = Field(description="A SQLAlchemy database URL (templated)")
    equals: Any = None
    below: float | None = None
    above: float | None = None
    no_rows: bool = False

    @model_validator(mode="after")
    def _one_expectation(self) -> SqlCheck:
        given = [k for k in ("equals", "below", "above") if getattr(self, k) is not None]
        if self.no_rows:
            given.append("no_rows")
        if not given:
            raise ValueError(
                "a sql check needs an expectation: equals, below, above or no_rows: true"
            )
        return self


class StepCheck(CheckBase):
    """Passes when the named step has finished successfully in the run."""

    step: Id


class ErrorRateCheck(CheckBase):
    """The share of 5xx answers in a JSON access log must stay below a bound."""

    http_error_rate: Text = Field(description="Path of an nginx JSON access log (templated)")
    below: Percent
    over: Duration | None = Field(default=None, description="The period the bound must hold for")
    min_requests: int = Field(default=1, ge=0)


class CommandCheck(CheckBase):
    """A local command that must exit 0."""

    run: Command
    timeout: Duration | None = None


class SentryCount(StrEnum):
    """What a `sentry:` check counts in the release."""

    new_issues = "new_issues"  # error groups first seen in the release
    events = "events"  # error events tagged with the release


class SentryCheck(CheckBase):
    """New issues (or events) of a release in a Sentry project, through Sentry's web API."""

    sentry: Annotated[str, Field(pattern=r"^[^/\s]+/[^/\s]+$", max_length=200)] = Field(
        description="organization/project, as slugs (templated)"
    )
    release: Text = Field(description="The release tag (templated)")
    token: Text = Field(description="An auth token with event:read, from secrets (templated)")
    measure: SentryCount = Field(
        default=SentryCount.new_issues, description="new_issues of the release, or its events"
    )
    url: Text = Field(
        default="https://sentry.io", description="Sentry's address (self-hosted: yours)"
    )
    environment: Text | None = None
    query: Text | None = Field(default=None, description="More search terms: level:error")
    period: Duration = Field(
        default=dt.timedelta(days=14), description="How far back Sentry searches (statsPeriod)"
    )
    below: int | None = Field(default=None, ge=0)
    equals: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_expectation(self) -> SentryCheck:
        if (self.below is None) == (self.equals is None):
            raise ValueError("a sentry check needs one expectation: below: N or equals: N")
        return self


class DnsCheck(CheckBase):
    """Every authoritative server answers a name with the expected values."""

    dns: Text = Field(description="The name to ask for: www.example.com")
    type: Text = Field(default="A", description="The record type: A, AAAA, CNAME, TXT...")
    expect: Annotated[list[Text], Field(min_length=1)] = Field(
        description="The values every server must answer (all of them, nothing else)"
    )
    servers: list[Text] = Field(
        default_factory=list,
        description="The servers to ask, host or host:port (templated; default: the zone's NS)",
    )

    @model_validator(mode="after")
    def _valid_record(self) -> DnsCheck:
        from golive.plan.dns import check_dns_check  # dnspython only when a plan has one

        check_dns_check(self)
        return self


CHECK_KINDS = ("http", "tls", "sql", "step", "http_error_rate", "run", "sentry", "dns")


def _check_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True)
    if not isinstance(value, dict):
        return None
    found = [k for k in CHECK_KINDS if k in value]
    return found[0] if len(found) == 1 else None


Check = Annotated[
    Annotated[HttpCheck, Tag("http")]
    | Annotated[TlsCheck, Tag("tls")]
    | Annotated[SqlCheck, Tag("sql")]
    | Annotated[StepCheck, Tag("step")]
    | Annotated[ErrorRateCheck, Tag("http_error_rate")]
    | Annotated[CommandCheck, Tag("run")]
    | Annotated[SentryCheck, Tag("sentry")]
    | Annotated[DnsCheck, Tag("dns")],
    Discriminator(
        _check_kind,
        custom_error_type="check_kind",
        custom_error_message="a check needs exactly one of: " + ", ".join(CHECK_KINDS),
    ),
]


def _step_shorthand(value: Any) -> Any:
    return {"step": value} if isinstance(value, str) else value


GateCheck = Annotated[Check, BeforeValidator(_step_shorthand)]


def _gate_checks_schema(schema: dict[str, Any]) -> None:
    # the shorthand `checks: [smoke]` is invisible to the generated schema; editors need it
    step_id = {"type": "string", "description": "A step id: passes once that step succeeded"}
    schema["items"] = {"anyOf": [step_id, schema["items"]]}


# --- the schedule ------------------------------------------------------------------------------


class Window(Model):
    """When the go-live may happen, in the plan's timezone."""

    start: LocalDateTime
    end: LocalDateTime

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError(f"the window ends ({self.end:%Y-%m-%d %H:%M}) before it starts")
        return self

    @property
    def length(self) -> dt.timedelta:
        return self.end - self.start


class Rehearsals(Model):
    """The rehearsals production waits for, written as a mapping."""

    needed: int = Field(default=0, ge=0, le=100, description="Completed rehearsals needed")
    verify_passes: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Rehearsals in which every verify step passed (default 3 with verify steps)",
    )


def _rehearsals_number(value: Any) -> Any:
    """`rehearsals: 3` is short for `rehearsals: {needed: 3}`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"needed": value}
    if not isinstance(value, dict | Rehearsals):
        raise ValueError(
            f"expected a whole number or a mapping {{needed, verify_passes}}, got {value!r:.40}"
        )
    return value


_COUNT_SCHEMA = {"type": "integer", "minimum": 0, "maximum": 100}
RehearsalsKey = Annotated[
    Rehearsals,
    BeforeValidator(_rehearsals_number),
    WithJsonSchema(
        {
            "anyOf": [
                _COUNT_SCHEMA,
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"needed": _COUNT_SCHEMA, "verify_passes": _COUNT_SCHEMA},
                },
            ]
        }
    ),
]


class ChecklistMarks(StrEnum):
    """Who may mark a checklist item done or open."""

    anyone = "anyone"  # any person of the plan; a mark by someone else says "bob for alice"
    owner_only = "owner_only"


class Policy(Model):
    """The organisation's rules for when and how a go-live may happen."""

    never_on: list[WeekdayName] = Field(
        default_factory=lambda: [Weekday.friday], description="Weekdays a window may not touch"
    )
    quiet_hours: DailyHours | None = Field(
        default=None, description="The low-activity hours the whole window must stay inside"
    )
    holidays: str | list[str] | None = Field(
        default=None, description="Country code(s) whose public holidays are no-go days: BE, US-CA"
    )
    freeze: list[FreezeRange] = Field(default_factory=list, description="Change-freeze days")
    rehearsals: RehearsalsKey = Field(
        default_factory=lambda: Rehearsals(),
        description="Rehearsals needed before production: a number, or {needed, verify_passes}",
    )
    rollback_rehearsed: bool = Field(default=False, description="A rehearsed rollback is needed")
    rollback_within: Duration | None = Field(
        default=None, description="Longest acceptable rollback"
    )

    checklist_marks: ChecklistMarks = Field(
        default=ChecklistMarks.anyone,
        description="Who may mark a checklist item: anyone of the plan's people, or owner_only",
    )

    @property
    def rehearsals_needed(self) -> int:
        return self.rehearsals.needed

    @property
    def verify_passes(self) -> int | None:
        """The rehearsals whose every verify step must pass; None: the default (see Plan)."""
        return self.rehearsals.verify_passes

    @property
    def holiday_regions(self) -> list[str]:
        if self.holidays is None:
            return []
        return [self.holidays] if isinstance(self.holidays, str) else list(self.holidays)


# --- people, objectives, checklist -------------------------------------------------------------


class Person(Model):
    name: Text
    role: Text | None = None
    contact: Text | None = Field(
        default=None, description="How to reach them; a plain e-mail address is mailed to"
    )
    notify: list[Text] = Field(
        default_factory=list, description="Apprise URLs their notifications go to (templated)"
    )


def _at_least_a_second(value: dt.timedelta | None) -> dt.timedelta | None:
    if value is not None and value < MIN_EVERY:
        raise ValueError(f"every: must be at least 1s (got {value.total_seconds():g}s)")
    return value


class Objective(Model):
    id: Id
    title: Text
    check: Check | None = Field(default=None, description="How success is measured")
    every: Duration = Field(
        default=dt.timedelta(hours=1),
        description="How often hypercare measures it (it is also measured when the steps "
        "complete and at the exit)",
    )

    @field_validator("every")
    @classmethod
    def _every_second_at_least(cls, value: dt.timedelta) -> dt.timedelta:
        return _at_least_a_second(value) or value


class ChecklistItem(Model):
    id: Id
    title: Text
    owner: Id | None = None
    due: DueDate | None = None
    verify: Check | None = Field(default=None, description="An automatic verification")
    notes: str | None = None


# --- environments ------------------------------------------------------------------------------


class SecretSource(Model):
    """Where a secret's value is read at run time; never the value itself."""

    env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    file: Text | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretSource:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret comes from exactly one of env: VARIABLE or file: PATH")
        return self


def _scalar_to_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


VarValue = Annotated[str, BeforeValidator(_scalar_to_text)]


UpstreamServer = Annotated[
    str,
    Field(
        pattern=r"^(unix:/[A-Za-z0-9._/-]+|\[[0-9A-Fa-f:.]+\]:\d{1,5}|[A-Za-z0-9][A-Za-z0-9.-]*:\d{1,5})$",
        description="host:port, [ipv6]:port or unix:/path",
    ),
]


class NginxSettings(Model):
    """The nginx that `traffic` steps drive in an environment, and its upstream groups."""

    include: Text = Field(
        description="The file golive owns, included in nginx's http {} block (templated)"
    )
    upstreams: dict[Id, Annotated[list[UpstreamServer], Field(min_length=1)]] = Field(
        min_length=1, description="Upstream groups: name -> servers (host:port)"
    )
    binary: Text = Field(default="nginx", description="The nginx command (templated)")
    config: Text | None = Field(default=None, description="nginx's main config file, for -c")
    prefix: Text | None = Field(default=None, description="nginx's prefix path, for -p")
    reload: Command | None = Field(
        default=None, description="The reload command (default: nginx [-p] [-c] -s reload)"
    )
    pid: Text = Field(default="/run/nginx.pid", description="nginx's pid file, to confirm a reload")
    access_log: Text | None = Field(
        default=None, description="The JSON access log canary analysis reads (templated)"
    )
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")] = Field(
        default="golive", description="Prefix of the variables and upstream names golive defines"
    )
    keepalive: int = Field(
        default=16, ge=0, le=10000, description="Idle connections kept to each group (0: none)"
    )


class Environment(Model):
    hosts: dict[Id, list[Annotated[str, Field(min_length=1, max_length=253)]]] = Field(
        default_factory=dict, description="Host groups: name -> hosts (ssh aliases or addresses)"
    )
    vars: dict[Id, VarValue] = Field(default_factory=dict)
    secrets: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], SecretSource] = Field(
        default_factory=dict
    )
    production: bool | None = Field(
        default=None,
        description="Runs here are the real go-live (default: the one named production)",
    )
    nginx: NginxSettings | None = Field(
        default=None, description="The nginx that traffic steps drive here"
    )


# --- steps -------------------------------------------------------------------------------------


class Normalization(Model):
    """How values are made comparable before a verify step compares them (default: exactly)."""

    trim: bool = Field(default=False, description="Ignore leading and trailing spaces")
    case: bool = Field(default=False, description="Compare text case-insensitively")
    numeric_scale: int | None = Field(
        default=None, ge=0, le=30, description="Round numbers to this many decimals"
    )
    timezone: str = Field(default="UTC", description="The timezone of timestamps without one")
    empty_is_null: bool = Field(default=False, description="An empty string equals NULL")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r}; use an IANA name like Europe/Brussels"
            ) from None
        return value


class TableMapping(Model):
    source: Text
    target: Text | None = None
    key: Id | list[Id] | None = None  # none: rows are compared whole, as multisets
    columns: dict[str, str] | list[str] | None = None
    where: str | None = None
    normalize: Normalization = Field(default_factory=Normalization)


class SqlAssertion(Model):
    sql: Text
    db: Text | None = Field(default=None, description="Defaults to the verify target")
    equals: Any = None
    no_rows: bool = False

    @model_validator(mode="after")
    def _one_expectation(self) -> SqlAssertion:
        if self.equals is None and not self.no_rows:
            raise ValueError("an assertion needs an expectation: equals or no_rows: true")
        return self


class SqlStatement(Model):
    """One SQL statement run in a transaction: committed if it succeeds, else rolled back."""

    db: Text = Field(description="A SQLAlchemy database URL (templated)")
    statement: Command = Field(description="The statement (templated); undo: is another one")


class VerifySpec(Model):
    source: Text
    target: Text
    tables: list[TableMapping] = Field(default_factory=list)
    assertions: list[SqlAssertion] = Field(default_factory=list, alias="assert")


class PrometheusQueries(Model):
    """Figures of each group from Prometheus, judged against the analysis's bounds."""

    url: Text = Field(description="The Prometheus server: http://prometheus:9090 (templated)")
    error_rate: Text | None = Field(
        default=None, description="PromQL giving a group's share of errors (0 to 1); $group"
    )
    p95_latency: Text | None = Field(
        default=None, description="PromQL giving a group's p95 latency in seconds; $group"
    )


class CanaryAnalysis(Model):
    error_rate_below: Percent | None = None
    p95_latency_below: Duration | None = None
    min_requests: int = Field(default=100, ge=1)
    prometheus: PrometheusQueries | None = None
    max_wait: Duration | None = Field(
        default=None,
        description="How long an inconclusive analysis may wait for more requests (default: "
        "3 x pause, at least 30s) before the traffic moves back",
    )


DEFAULT_CANARY_STEPS = (0.1, 0.5, 1.0)


class TrafficSpec(Model):
    proxy: Literal["nginx"] = "nginx"
    strategy: Literal["blue_green", "canary", "phased"]
    from_: Id = Field(alias="from")
    to: Id
    steps: list[Percent] = Field(default_factory=list)
    pause: Duration | None = None
    analysis: CanaryAnalysis | None = None
    group: dict[Literal["header", "cookie", "network"], str] | None = None

    @model_validator(mode="after")
    def _coherent(self) -> TrafficSpec:
        from golive.plan.routing import check_traffic  # the nginx-facing rules live together

        check_traffic(self)
        return self

    @property
    def shares(self) -> tuple[float, ...]:
        """The shares of traffic `to` receives, in order (after the group, for `phased`)."""
        if self.steps:
            return tuple(self.steps)
        return DEFAULT_CANARY_STEPS if self.strategy == "canary" else (1.0,)


class MaintenanceSpec(Model):
    """`traffic: {strategy: maintenance}`: every request gets a page, with 503 and Retry-After."""

    proxy: Literal["nginx"] = "nginx"
    strategy: Literal["maintenance"]
    page: Annotated[str, Field(min_length=1, max_length=200_000)] | None = Field(
        default=None, description="The page's HTML, written in the plan"
    )
    page_file: Text | None = Field(
        default=None, description="A file holding the page's HTML (templated; relative: the plan's)"
    )
    retry_after: Duration = Field(
        default=dt.timedelta(minutes=10),
        description="The Retry-After header: when clients may try again",
    )

    @model_validator(mode="after")
    def _one_page(self) -> MaintenanceSpec:
        if self.page is not None and self.page_file is not None:
            raise ValueError(
                "traffic: a maintenance page is page: HTML or page_file: PATH, not both"
            )
        return self


def _traffic_mode(value: Any) -> str:
    strategy = value.get("strategy") if isinstance(value, dict) else getattr(value, "strategy", "")
    return "maintenance" if strategy == "maintenance" else "switch"


TrafficKey = Annotated[
    Annotated[TrafficSpec, Tag("switch")] | Annotated[MaintenanceSpec, Tag("maintenance")],
    Discriminator(_traffic_mode),
]


class TsigKey(Model):
    """The TSIG key that signs dynamic updates: its name, and the secret holding its value."""

    name: Text = Field(description="The key's name, as the server knows it")
    secret: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = Field(
        description="The environment's secret holding the key (base64, as tsig-keygen prints it)"
    )
    algorithm: Literal[
        "hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1", "hmac-md5"
    ] = "hmac-sha256"


class DnsSpec(Model):
    """A record set changed by an RFC 2136 dynamic update; undo puts back the one before."""

    zone: Text = Field(description="The zone: example.com")
    name: Text = Field(description="The name in the zone: www, @ for the zone itself, or a FQDN")
    type: Text = Field(default="A", description="The record type: A, AAAA, CNAME, TXT, MX...")
    values: Annotated[list[Text], Field(min_length=1)] = Field(
        description="The new record set's values, in zone-file form"
    )
    ttl: int = Field(default=300, ge=0, le=2147483647, description="The new records' TTL, seconds")
    server: Text = Field(
        description="The primary server that takes updates: host or host:port (templated)"
    )
    tsig: TsigKey
    authoritative: list[Text] = Field(
        default_factory=list,
        description="The servers the propagation check asks (templated; default: the zone's NS)",
    )
    propagation: Duration = Field(
        default=dt.timedelta(minutes=5),
        description="How long every authoritative server may take to answer the new values",
    )
    current_ttl: int | None = Field(
        default=None,
        ge=0,
        le=2147483647,
        description="The TTL the record has now, for the TTL warning (readiness asks the server)",
    )

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from golive.plan.dns import absolute  # dnspython only when a plan has a dns step

        absolute(value, what="zone")
        return value

    @field_validator("name", "type", "values")
    @classmethod
    def _record(cls, value: Any, info: ValidationInfo) -> Any:
        from golive.plan.dns import check_dns_field

        check_dns_field(info.field_name or "", value, info.data)
        return value


class FabricSpec(Model):
    """A task of the project's fabfile, run on every host of the step's `on:` group."""

    task: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$", max_length=200)] = Field(
        description="The task's name in the fabfile (undo: names the task that reverts it)"
    )
    fabfile: Text = Field(
        default="fabfile.py", description="The fabfile, relative to the plan (or cwd:)"
    )
    args: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], VarValue] = Field(
        default_factory=dict, description="Keyword arguments of the task (templated)"
    )


class AnsibleSpec(Model):
    """A playbook run against the step's `on:` group (undo: names the playbook that reverts it)."""

    playbook: Text = Field(description="The playbook, relative to the plan (or cwd:)")
    extra_vars: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], VarValue] = Field(
        default_factory=dict, description="Passed as --extra-vars (templated)"
    )
    check_mode: bool = Field(default=False, description="Run with --check (dry run)")


class DockerSpec(Model):
    """`docker compose up` of one service at a new image; undo returns to the previous digests."""

    service: Id = Field(description="The compose service to move to the new image")
    image: Text = Field(description="The new image reference (templated): app:{{ release }}")
    compose: Text = Field(
        default="compose.yaml", description="The compose file, relative to the plan (or cwd:)"
    )
    project: Id | None = Field(default=None, description="The compose project name")
    health_timeout: Duration = Field(
        default=dt.timedelta(minutes=2),
        description="How long to wait for the container's HEALTHCHECK to say healthy",
    )
    pull: bool = Field(default=True, description="Pull the image first (false: a local image)")


class Step(Model):
    """One thing to do in the deployment: exactly one action, who owns it, what it needs."""

    id: Id
    title: Text | None = None
    owner: Id | None = None
    needs: list[Id] = Field(default_factory=list)
    notes: str | None = None

    run: Command | None = Field(default=None, description="A shell command (templated)")
    manual: bool | Text | None = Field(default=None, description="Done by a person: true or how")
    check: Check | None = None
    verify: VerifySpec | None = None
    traffic: TrafficKey | None = None
    gate: Text | None = Field(
        default=None, description="A Go/No-Go decision; the value is its title"
    )
    sql: SqlStatement | None = None
    dns: DnsSpec | None = Field(
        default=None, description="A DNS record set changed by dynamic update (RFC 2136)"
    )
    fabric: FabricSpec | None = None
    ansible: AnsibleSpec | None = None
    docker: DockerSpec | None = None

    undo: Command | None = Field(
        default=None, description="How to revert this step: a command (a statement for sql)"
    )
    estimate: Duration | None = None
    timeout: Duration | None = None
    retries: int = Field(default=0, ge=0, le=100)
    retry_delay: Duration = Field(default=dt.timedelta(seconds=5))
    idempotent: bool = False
    undo_idempotent: bool = False
    failure: FailurePolicy | None = None
    cwd: str | None = None
    env: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], VarValue] = Field(
        default_factory=dict
    )

    on: Id | None = Field(default=None, description="Run on every host of this group")
    batch: HostAmount | None = None
    max_failures: HostAmount | None = None

    approvers: list[Id] = Field(default_factory=list)
    quorum: Literal["all"] | Annotated[int, Field(ge=1)] = "all"
    checks: list[GateCheck] = Field(default_factory=list, json_schema_extra=_gate_checks_schema)

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        actions = [
            kind.value for kind in StepKind if getattr(self, kind.value) not in (None, False)
        ]
        if len(actions) != 1:
            found = f"found {' and '.join(actions)}" if actions else "found none"
            raise ValueError(f"a step needs exactly one action ({', '.join(StepKind)}); {found}")
        if actions[0] != StepKind.gate and (self.approvers or self.checks):
            raise ValueError(f"step '{self.id}': approvers and checks belong to gate steps only")
        if self.undo is not None and actions[0] not in UNDO_KINDS:
            reverts = (
                "it reverts itself from what it recorded"
                if actions[0] in SELF_UNDOING_KINDS
                else "write how to revert it by hand in notes:"
            )
            raise ValueError(
                f"undo: is run for {', '.join(UNDO_KINDS[:-1])} and {UNDO_KINDS[-1]} steps only, "
                f"not for a {actions[0]} "
                f"step ({reverts})"
            )
        return self

    @property
    def kind(self) -> StepKind:
        return next(k for k in StepKind if getattr(self, k.value) not in (None, False))

    @property
    def label(self) -> str:
        return self.title or self.gate or self.id

    @property
    def changes_something(self) -> bool:
        """Whether the step alters a system, so that an undo is expected."""
        return self.kind in UNDO_KINDS and self.undo is None

    @property
    def undoes_itself(self) -> bool:
        """Whether a rollback calls the action's undo without an `undo:` key (traffic, docker)."""
        return self.kind in SELF_UNDOING_KINDS

    def quorum_of(self) -> int:
        return len(self.approvers) if self.quorum == "all" else self.quorum


# --- hypercare ---------------------------------------------------------------------------------


class Escalation(Model):
    after: Duration
    notify: list[Id] = Field(min_length=1)


class HypercareExit(Model):
    """When hypercare may end with a handover: every criterion given must hold."""

    no_open_incidents: Literal["info", "warning", "critical"] | None = Field(
        default="critical",
        description="No open incident or issue of this severity or above (null: no such rule)",
    )
    objectives_met: bool = Field(default=True, description="Every objective's last verdict: met")
    green_for: Duration | None = Field(
        default=None, description="Every monitor green for at least this long before the exit"
    )
    sign_off: list[Id] = Field(
        default_factory=list, description="People who must sign off (golive hypercare --sign-off)"
    )
    early: bool = Field(
        default=False, description="Exit as soon as the criteria hold, before the duration ends"
    )


class Hypercare(Model):
    duration: Duration = Field(default=dt.timedelta(hours=48))
    monitors: list[Check] = Field(default_factory=list)
    exit: HypercareExit = Field(
        default_factory=HypercareExit, description="The exit criteria: when the handover happens"
    )
    heartbeat: Duration = Field(
        default=dt.timedelta(hours=1),
        description="How often a monitor whose state does not change is recorded anyway",
    )
    escalation: list[Escalation] = Field(default_factory=list)
    channels: list[Text] = Field(default_factory=list, description="Apprise notification URLs")
    feedback: bool = False


# --- notifications -----------------------------------------------------------------------------


class NotificationRule(StrEnum):
    """The moments golive tells people about (docs/notifications.md)."""

    gate_opened = "gate_opened"
    step_waiting = "step_waiting"
    run_paused = "run_paused"
    rollback_started = "rollback_started"
    rollback_finished = "rollback_finished"
    run_started = "run_started"
    run_finished = "run_finished"
    update_posted = "update_posted"
    issue_raised = "issue_raised"
    incident_opened = "incident_opened"
    checklist_overdue = "checklist_overdue"


# Who a rule's notification goes to, besides person ids: these words.
AUDIENCES = ("channels", "everyone", "managers", "concerned", "escalation")


class Notifications(Model):
    """Who hears about what, beyond mission control (docs/notifications.md)."""

    rules: dict[NotificationRule, list[Id]] = Field(
        default_factory=dict,
        description="Rule -> recipients: person ids or channels, everyone, managers, concerned",
    )
    mute: list[Id] = Field(
        default_factory=list, description="Rules, person ids or `channels` that get nothing"
    )
    severity: Literal["info", "warning", "critical"] = Field(
        default="info",
        description="The least severity of an update, issue or incident the channels get",
    )
    group: Duration = Field(
        default=dt.timedelta(seconds=5),
        description="Events to one recipient within this time make one message",
    )
    email: Text | None = Field(
        default=None,
        description="An apprise mailto:// URL (the SMTP server) for people whose contact is "
        "a plain e-mail address (templated)",
    )
    managers: list[Id] = Field(
        default_factory=list,
        description="The run's managers (default: people whose role names a manager)",
    )
    public_url: Text | None = Field(
        default=None,
        description="Mission control's address for the links (GOLIVE_PUBLIC_URL overrides it)",
    )
    checklist_grace: Duration | None = Field(
        default=dt.timedelta(hours=24),
        description="How long an overdue checklist item may stay open before the managers are "
        "told (null: they are not)",
    )


# --- the plan ----------------------------------------------------------------------------------


class Plan(Model):
    """A go-live plan: the whole `*.golive.yaml` file."""

    golive: Id = Field(description="The go-live's id")
    title: Text
    description: str | None = None
    timezone: str = Field(default="UTC", description="IANA timezone of every time in the plan")
    window: Window | None = None
    policy: Policy = Field(default_factory=Policy)
    people: dict[Id, Person] = Field(default_factory=dict)
    objectives: list[Objective] = Field(default_factory=list)
    checklist: list[ChecklistItem] = Field(default_factory=list)
    environments: dict[Id, Environment] = Field(default_factory=dict)
    steps: list[Step] = Field(default_factory=list)
    failure: FailurePolicy = FailurePolicy.pause
    hypercare: Hypercare | None = None
    channels: list[Text] = Field(
        default_factory=list, description="Stakeholder channels: apprise URLs for broadcasts"
    )
    notifications: Notifications = Field(default_factory=Notifications)
    escalation: list[Escalation] = Field(
        default_factory=list,
        description="The night's ladder for gates and waiting steps nobody acknowledges",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r}; use an IANA name like Europe/Brussels"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    @property
    def verify_passes_needed(self) -> int:
        """`policy.rehearsals.verify_passes`; by default 3 when the plan has verify steps."""
        given = self.policy.verify_passes
        if given is not None:
            return given
        return DEFAULT_VERIFY_PASSES if any(s.kind is StepKind.verify for s in self.steps) else 0

    def is_production(self, env: str) -> bool:
        environment = self.environments.get(env)
        if environment is not None and environment.production is not None:
            return environment.production
        return env == PRODUCTION
