"""The target: one TOML file per platform, validated before any check runs.

Secrets never live in the file: it names environment variables (`*_env` keys) and the values are
read from the environment when the target is loaded, so a missing one stops the run up front with
the variable's name instead of failing halfway through the checklist.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

SANDBOX_PLACEHOLDER = "{sandbox}"
Grade = Literal["P1", "P2", "P3", "P4"]


class ConfigError(Exception):
    """The target file cannot be used; the message names the file, the key and what is wrong."""


def _url(value: str) -> str:
    if value.startswith(SANDBOX_PLACEHOLDER) or re.match(r"^https?://[^\s/]+", value):
        return value.rstrip("/")
    raise ValueError(f"must be an http(s):// URL, got {value!r}")


def _env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(f"must be the name of an environment variable, got {value!r}")
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'America/Los_Angeles')") from None
    return value


Url = Annotated[str, AfterValidator(_url)]
EnvName = Annotated[str, AfterValidator(_env_name)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Seconds = Annotated[float, Field(gt=0)]


class Section(BaseModel):
    """Every table rejects keys it does not know: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Agent(Section):
    email: str
    password_env: EnvName


class LoginSelectors(Section):
    """CSS selectors of the vendor's login page and agent desktop."""

    email: str = "input[name=email]"
    password: str = "input[name=password]"
    submit: str = "button[type=submit]"
    login_error: str = ".login-error"
    desktop_ready: str = "[data-testid=agent-desktop]"
    profile_menu: str = "[data-testid=profile-menu]"
    status_option: str = "[role=menuitemradio]"
    current_status: str = "[data-testid=current-status]"
    logout: str = "[data-testid=logout]"


class LoginCheck(Section):
    enabled: bool = True
    url: Url
    active_status: str = "Helping Customers"
    desktop_budget_s: Seconds = 8.0
    desktop_timeout_s: Seconds = 30.0
    page_timeout_s: Seconds = 20.0
    maintenance_phrases: list[str] = ["maintenance"]
    selectors: LoginSelectors = LoginSelectors()


class ReportSpec(Section):
    metric_set: str
    expected_columns: list[str] = Field(min_length=1)
    days_back: int = Field(default=1, ge=0)


class ReportingApiCheck(Section):
    enabled: bool = True
    api_base: Url
    user: str
    token_env: EnvName
    time_zone: TimeZone = "UTC"
    budget_s: Seconds = 10.0
    timeout_s: Seconds = 60.0
    reports: list[ReportSpec] = Field(min_length=1)


class StatusPageCheck(Section):
    enabled: bool = True
    url: Url
    recent_hours: Seconds = 24.0
    timeout_s: Seconds = 15.0


def _e164(value: str) -> str:
    if not re.fullmatch(r"\+[1-9]\d{6,14}", value):
        raise ValueError(f"must be a phone number in E.164 form such as +14155550100, got {value!r}")
    return value


PhoneNumber = Annotated[str, AfterValidator(_e164)]
Port = Annotated[int, Field(ge=0, le=65535)]
Security = Literal["ssl", "starttls", "plain"]


class SupportLine(Section):
    number: PhoneNumber
    name: str = ""
    expected_greeting: str = ""   # a phrase the line must say when it answers (optional)


class VoiceCheck(Section):
    """Twilio places the probe call; only the API base differs between the sandbox and Twilio."""

    enabled: bool = True
    api_base: Url = "https://api.twilio.com"
    account_sid: str
    auth_token_env: EnvName
    from_number: PhoneNumber
    lines: list[SupportLine] = Field(min_length=1)
    ring_timeout_s: int = Field(default=30, ge=5, le=600)     # Twilio `Timeout`: how long it may ring
    listen_s: int = Field(default=8, ge=1, le=120)            # seconds recorded and transcribed after answer
    time_limit_s: int = Field(default=60, ge=10, le=14400)    # Twilio `TimeLimit`: the call can never stay up
    answer_deadline_s: Seconds = 60.0
    transcription_deadline_s: Seconds = 180.0
    poll_interval_s: Seconds = 1.0
    maintenance_phrases: list[str] = ["undergoing system maintenance", "encountered an error processing"]


class EmailCheck(Section):
    enabled: bool = True
    support_address: str
    probe_address: str
    smtp_host: str
    smtp_port: Port = 587
    smtp_security: Security = "starttls"
    smtp_user: str
    smtp_password_env: EnvName
    imap_host: str
    imap_port: Port = 993
    imap_security: Security = "ssl"
    imap_user: str
    imap_password_env: EnvName
    imap_folder: str = "INBOX"
    delay_after_window_min: float = Field(default=15.0, ge=0)   # the vendor: send 15 minutes after the window
    reply_deadline_s: Seconds = 600.0
    poll_interval_s: Seconds = 10.0
    connect_timeout_s: Seconds = 20.0
    cleanup: bool = True


class DnsRecord(Section):
    name: str
    type: Literal["A", "AAAA", "CNAME", "MX", "TXT"]
    expect: list[str] = []   # each must be among the answers (MX: the exchange host; TXT: a substring)


class DnsCheck(Section):
    enabled: bool = True
    nameservers: list[str] = []   # empty: the system's resolver
    port: Port = 53
    timeout_s: Seconds = 5.0
    records: list[DnsRecord] = Field(min_length=1)


class ChatWidgetSelectors(Section):
    """The widget's elements. The vendor's loader pulls chat-sdk/widget.js and reads
    `window.gladlyConfig = {appId}`; its DOM is not documented, so check these on your site."""

    launcher: str = "#gladly-launcher"
    panel: str = "[data-testid=chat-panel]"
    offline_message: str = "[data-testid=chat-offline]"
    search_input: str = "[data-testid=chat-search-input]"
    search_result: str = "[data-testid=chat-search-result]"
    quick_action: str = "[data-testid=chat-quick-action]"
    start_chat: str = "[data-testid=chat-start]"
    message_input: str = "[data-testid=chat-message-input]"
    send: str = "[data-testid=chat-send]"
    message_sent: str = "[data-testid=chat-message-status]"


class ChatWidgetCheck(Section):
    enabled: bool = True
    pages: list[Url] = Field(min_length=1)          # website pages that embed the widget
    script_url_contains: str = "chat-sdk/widget.js"  # how the widget's script is recognised among requests
    search_query: str = "return"                     # must return at least one answer
    start_chat: bool = False                         # also start a chat and send test_message (to a test queue!)
    test_message: str = "allclear post-maintenance test: please ignore"
    off_hours: Literal["hidden", "offline-message", "skip"] = "skip"   # what the widget does when closed
    load_timeout_s: Seconds = 20.0
    step_timeout_s: Seconds = 10.0
    budget_s: Seconds = 10.0                         # page to usable widget slower than this: a P4 note
    selectors: ChatWidgetSelectors = ChatWidgetSelectors()


class HelpCenterSite(Section):
    name: str = ""
    url: Url                                         # the help center's home page
    expected_title: str                              # part of the home page's <title>
    article_link: str = "a[href*='/articles/']"      # a link to an article on the home page
    article_body: str = "article"                    # the article's content
    article_min_chars: int = Field(default=100, ge=1)
    search_url: str = "{url}/search?q={query}"       # {url} is the home page without its trailing slash
    search_result: str = ".search-result"
    search_queries: list[str] = ["password"]         # each must return at least one result
    cert_min_days: int = Field(default=14, ge=0)     # https only: the certificate must be valid this much longer
    ca_file: str = ""                                # extra CA bundle to trust (the sandbox's self-signed one)


class HelpCenterCheck(Section):
    enabled: bool = True
    sites: list[HelpCenterSite] = Field(min_length=1)
    maintenance_phrases: list[str] = ["maintenance"]
    page_timeout_s: Seconds = 20.0
    budget_s: Seconds = 5.0                           # a page slower than this: a P4 note


class BusinessHours(Section):
    time_zone: TimeZone
    weekly: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[str]] = {}
    holidays: list[date] = []

    @property
    def time_zone_info(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @field_validator("weekly")
    @classmethod
    def _spans(cls, weekly: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in weekly.items():
            for span in spans:
                if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d", span):
                    raise ValueError(f"{day}: {span!r} is not a span like '08:00-20:00'")
        return weekly


class Grading(Section):
    """Defaults are ../shared/SEVERITY.md: 30% of a core channel's probes failing is a P1."""

    p1_fraction: float = Field(default=0.30, gt=0, le=1)
    p3_max_fraction: float = Field(default=0.10, ge=0, le=1)   # one failure in 10+ probes is a minor loss
    core_items: list[str] = ["login", "voice", "email", "chat_widget"]
    caps: dict[str, Grade] = {
        "help_center": "P2",
        "reporting_api": "P2",
        "dns": "P2",
        "status_page": "P4",
    }


PagerDutySeverity = Literal["critical", "error", "warning", "info"]


class Sink(Section):
    """Where an escalation goes. `ops = true` sinks also hear "could not verify" (inconclusive)
    items; the others hear only failures graded P1/P2, which are the vendor's to fix."""

    name: str = ""                 # how the sink is named in the summary (default: its type)
    ops: bool = False
    # every-run: each failing run updates the open escalation; on-change: only when its grade or
    # failing probes change (a scheduled job must not comment every 15 minutes on a vendor ticket)
    updates: Literal["every-run", "on-change"] = "on-change"
    timeout_s: Seconds = 10.0      # one request
    deadline_s: Seconds = 60.0     # all attempts of one delivery, retries with backoff included

    @property
    def label(self) -> str:
        return self.name or self.type  # type: ignore[attr-defined]


class PagerDutySink(Sink):
    """PagerDuty Events API v2: trigger / resolve an alert, deduplicated by target and item."""

    type: Literal["pagerduty"]
    routing_key_env: EnvName
    url: Url = "https://events.pagerduty.com/v2/enqueue"
    updates: Literal["every-run", "on-change"] = "every-run"   # a re-trigger with the same key is free
    severity: dict[Grade, PagerDutySeverity] = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}


class JiraSink(Sink):
    """Jira Cloud: an issue per escalation, the HTML report attached, comments on update and resolve."""

    type: Literal["jira"]
    site: Url                      # https://<your-org>.atlassian.net
    user: str                      # the Atlassian account's email
    api_token_env: EnvName
    project: str                   # project key, e.g. OPS
    issue_type: str = "Bug"
    priority: dict[Grade, str] = {"P1": "Highest", "P2": "High", "P3": "Medium", "P4": "Low"}
    labels: list[str] = ["allclear"]


class ZendeskSink(Sink):
    """Zendesk Support: the report uploaded, a ticket created with it; comments on update, solved on resolve."""

    type: Literal["zendesk"]
    url: Url                       # https://<subdomain>.zendesk.com
    user: str                      # the agent's email; authenticated as "<user>/token"
    api_token_env: EnvName
    priority: dict[Grade, Literal["urgent", "high", "normal", "low"]] = {
        "P1": "urgent", "P2": "high", "P3": "normal", "P4": "low"}
    ticket_type: Literal["problem", "incident", "question", "task"] = "incident"
    tags: list[str] = ["allclear"]
    solve_on_resolve: bool = True  # a green run sets the ticket solved (else only a comment)


class SlackSink(Sink):
    """A Slack incoming webhook: one short message when an escalation opens, changes or resolves."""

    type: Literal["slack"]
    webhook_url_env: EnvName       # the webhook URL is itself a secret


class WebhookSink(Sink):
    """A generic JSON webhook; with `secret_env`, the body is signed (HMAC-SHA256) in a header."""

    type: Literal["webhook"]
    url: Url
    secret_env: EnvName | None = None
    updates: Literal["every-run", "on-change"] = "every-run"


class EmailSink(Sink):
    """Email to a support address with the HTML report attached (the vendor asks for P2 or above)."""

    type: Literal["email"]
    to: list[str] = Field(min_length=1)
    from_address: str
    smtp_host: str
    smtp_port: Port = 587
    smtp_security: Security = "starttls"
    smtp_user: str = ""
    smtp_password_env: EnvName | None = None


AnySink = Annotated[PagerDutySink | JiraSink | ZendeskSink | SlackSink | WebhookSink | EmailSink,
                    Field(discriminator="type")]


class EscalationSection(Section):
    """P1/P2 failures escalate to these sinks; inconclusive items only to the `ops = true` ones."""

    # send, or write what would be sent to reports/escalations/; unset: dry-run for a sandbox
    # target, send for a real one. --escalate / --dry-run override it for one run.
    mode: Literal["send", "dry-run"] | None = None
    report_url: str = ""           # a link to this run's report (also $ALLCLEAR_REPORT_URL), e.g. the CI run
    sinks: list[AnySink] = []

    @field_validator("sinks")
    @classmethod
    def _unique_labels(cls, sinks: list) -> list:
        labels = [sink.label for sink in sinks]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"two sinks are called {', '.join(twice)}: give each a distinct `name` "
                             "(it keys what each sink was told)")
        return sinks

    def secret_names(self) -> list[str]:
        names: list[str] = []
        for sink in self.sinks:
            for key in ("routing_key_env", "api_token_env", "webhook_url_env", "secret_env", "smtp_password_env"):
                if getattr(sink, key, None):
                    names.append(getattr(sink, key))
        return names


ItemName = Literal["login", "reporting_api", "status_page", "voice", "email", "dns", "chat_widget", "help_center"]


class Retry(Section):
    """Retries an item's probes may have: none unless asked for, and always shown as retried.

    A probe that failed (or could not be verified) is tried again after `backoff_s`, up to `count`
    more times; a new try starts only within `deadline_s` of the first. Only its last try counts,
    so a failure that persists stays a failure (and a last try that could not verify does not undo
    an earlier failure); a pass after a failed try is marked as retried.
    """

    count: Annotated[int, Field(ge=0, le=5)] = 0
    backoff_s: Annotated[float, Field(ge=0)] = 5.0
    deadline_s: Seconds = 120.0


class RunSettings(Section):
    """How the run itself behaves: how long it may take, and how much it does at once."""

    deadline_s: Seconds = 1800.0        # past it, unfinished items are inconclusive (the email wait counts)
    agents_at_once: Annotated[int, Field(ge=1, le=50)] = 4     # browser contexts signing agents in at once
    probes_at_once: Annotated[int, Field(ge=1, le=64)] = 8     # API, DNS, voice and mail probes at once


class WatchSettings(Section):
    """`allclear watch`: how often it looks at the platform during the window, and for how long."""

    interval_s: Annotated[float, Field(gt=0, le=3600)] = 30.0   # also --interval; the checklist starts within one
    deadline_s: Seconds = 21600.0       # not over after this long: run the checklist anyway (also --deadline)


class SandboxSection(Section):
    """Present only in a sandbox target: start the embedded platform and point the checks at it."""

    faults: list[str] = []


class Target(Section):
    name: str
    time_zone: TimeZone = "UTC"
    window_end: datetime | None = None
    sandbox: SandboxSection | None = None
    agents: list[Agent] = []
    login: LoginCheck | None = None
    reporting_api: ReportingApiCheck | None = None
    status_page: StatusPageCheck | None = None
    voice: VoiceCheck | None = None
    email: EmailCheck | None = None
    dns: DnsCheck | None = None
    chat_widget: ChatWidgetCheck | None = None
    help_center: HelpCenterCheck | None = None
    business_hours: BusinessHours | None = None
    run: RunSettings = RunSettings()
    watch: WatchSettings = WatchSettings()
    retries: dict[ItemName, Retry] = {}
    grading: Grading = Grading()
    escalation: EscalationSection = EscalationSection()

    @field_validator("window_end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-23T23:00:00-08:00")
        return value

    def secret_names(self) -> list[str]:
        names = [agent.password_env for agent in self.agents]
        if self.reporting_api and self.reporting_api.enabled:
            names.append(self.reporting_api.token_env)
        if self.voice and self.voice.enabled:
            names.append(self.voice.auth_token_env)
        if self.email and self.email.enabled:
            names += [self.email.smtp_password_env, self.email.imap_password_env]
        names += self.escalation.secret_names()
        return list(dict.fromkeys(names))


class Secrets:
    """Secret values by environment-variable name; the one place that knows what to redact."""

    def __init__(self, values: dict[str, str]):
        self._values = dict(values)

    def __getitem__(self, env_name: str) -> str:
        return self._values[env_name]

    def values(self) -> list[str]:
        return [v for v in self._values.values() if v]

    def redact(self, text: str) -> str:
        for value in sorted(self.values(), key=len, reverse=True):
            text = text.replace(value, "***")
        return text

    def __repr__(self) -> str:
        return f"Secrets({sorted(self._values)})"


def read_target_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such target file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def validate_target(raw: dict[str, Any], path: Path) -> Target:
    try:
        return Target.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{path}: {_key(err['loc'])}: {_reason(err)}" for err in exc.errors()]
        raise ConfigError("\n".join(problems)) from None


# What a sandbox target's placeholders stand for before the sandbox has started (to validate it).
UNSTARTED_SANDBOX = {"sandbox": "http://127.0.0.1:0", "sandbox_host": "127.0.0.1", "sandbox_dns_port": 0,
                     "sandbox_smtp_port": 0, "sandbox_imap_port": 0,
                     "sandbox_https": "https://127.0.0.1:0", "sandbox_ca_file": ""}


def fill_placeholders(raw: Any, values: dict[str, str | int]) -> Any:
    """Replace `{sandbox}`, `{sandbox_smtp_port}`, ... with the running sandbox's addresses.

    A string that is only a placeholder for a number (a port) becomes that number.
    """
    if isinstance(raw, dict):
        return {key: fill_placeholders(value, values) for key, value in raw.items()}
    if isinstance(raw, list):
        return [fill_placeholders(value, values) for value in raw]
    if isinstance(raw, str):
        whole = re.fullmatch(r"\{(\w+)\}", raw)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]
        return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), raw)
    return raw


def resolve_secrets(target: Target, path: Path, environ: dict[str, str] | None = None) -> Secrets:
    environ = os.environ if environ is None else environ
    missing = [name for name in target.secret_names() if not environ.get(name)]
    if missing:
        raise ConfigError(
            f"{path}: missing secret environment variable(s): {', '.join(dict.fromkeys(missing))} "
            "(secrets are never read from the file; export them before the run)"
        )
    return Secrets({name: environ[name] for name in target.secret_names()})


def _key(loc: tuple[Any, ...]) -> str:
    key = ""
    for part in loc:
        if part == "[key]":         # pydantic's marker for "the key of this table is wrong"
            continue
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "(top level)"


def _reason(err: dict[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (check its spelling; see config/example.toml for every key)"
    if err["type"] == "missing":
        return "required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"].endswith(("_type", "_parsing")) and not isinstance(err["input"], (dict, list)):
        return f"{message} (got {err['input']!r})"
    return message


def read_sandbox_template(path: Path) -> Target:
    """A target as written, its sandbox placeholders not yet filled in: what the sandbox is built from."""
    return validate_target(fill_placeholders(read_target_file(path), UNSTARTED_SANDBOX), path)
