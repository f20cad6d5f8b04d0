"""How a sink's requests leave: sent with retries and backoff within a deadline, or written down.

Sinks build `Request`s and hand them to a courier. The live courier retries what can succeed on a
second try (timeouts, refused connections, 408/429/5xx, honouring Retry-After) until the sink's
deadline, then raises `DeliveryFailed` with what went wrong: an escalation is never dropped
without a trace. The dry-run courier writes each request (auth redacted) under
reports/escalations/ and answers with the sink's documented success shape, so the sink's later
steps (attach to the issue it "created") can be written down too.
"""

from __future__ import annotations

import json
import re
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from allclear.config.secrets import Secrets

REDACTED_HEADERS = ("authorization", "x-allclear-signature")
RETRYABLE_STATUS = (408, 429, 500, 502, 503, 504)
SURELY_NOT_DONE = (429, 503)   # rate limited, or unavailable: the request was not acted on


class DeliveryFailed(Exception):
    """A sink could not be told. `unreachable`: it kept failing until the deadline (down, not a bad
    request), so the run stops offering it more escalations instead of waiting out each one's deadline."""

    def __init__(self, message: str, unreachable: bool = False):
        super().__init__(message)
        self.unreachable = unreachable


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None   # multipart: field -> (filename, bytes, type)
    auth: tuple[str, str] | None = None                      # HTTP Basic
    params: dict[str, str] | None = None
    # False for requests that create something (an issue, a ticket): retried only when the service
    # surely did not act on them (refused connection, 429, 503), never after an ambiguous timeout or
    # 5xx that may have created it already: a duplicate ticket is worse than a loud failure.
    idempotent: bool = True


@dataclass
class Answer:
    status: int
    body: Any          # parsed JSON, or the text


class Courier:
    dry_run = False

    def send(self, sink: str, request: Request, deadline_s: float, timeout_s: float,
             dry_answer: Any = None) -> Answer:
        raise NotImplementedError

    def send_mail(self, sink: str, message: EmailMessage, smtp: dict, deadline_s: float) -> None:
        raise NotImplementedError


class LiveCourier(Courier):
    def __init__(self, secrets: Secrets, sleep=time.sleep, first_backoff_s: float = 0.5):
        self.secrets = secrets
        self.sleep = sleep
        self.first_backoff_s = first_backoff_s

    def send(self, sink: str, request: Request, deadline_s: float, timeout_s: float,
             dry_answer: Any = None) -> Answer:
        def attempt(remaining: float) -> Answer:
            with httpx.Client(timeout=min(timeout_s, max(remaining, 0.1))) as client:
                response = client.request(
                    request.method, request.url, headers=request.headers, json=request.json,
                    content=request.content, files=request.files, params=request.params,
                    auth=httpx.BasicAuth(*request.auth) if request.auth else None)
            if response.status_code < 300:
                try:
                    return Answer(response.status_code, response.json())
                except ValueError:
                    return Answer(response.status_code, response.text)
            retry_after = _seconds(response.headers.get("retry-after"))
            retryable = response.status_code in (RETRYABLE_STATUS if request.idempotent else SURELY_NOT_DONE)
            raise _Problem(f"HTTP {response.status_code} {response.reason_phrase}: {response.text[:300].strip()}",
                           retryable=retryable, wait_s=retry_after)

        def guarded(remaining: float) -> Answer:
            try:
                return attempt(remaining)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                raise   # never reached the service: always safe to retry
            except httpx.HTTPError as exc:
                if request.idempotent:
                    raise
                raise _Problem(f"{type(exc).__name__}: {exc or 'no detail'} (it may have been created: "
                               "check before resending)", retryable=False) from None

        return self._with_retries(sink, f"{request.method} {_safe_url(request.url)}", guarded, deadline_s)

    def send_mail(self, sink: str, message: EmailMessage, smtp: dict, deadline_s: float) -> None:
        def attempt(remaining: float) -> None:
            timeout = min(smtp["timeout_s"], max(remaining, 0.1))
            try:
                if smtp["security"] == "ssl":
                    client = smtplib.SMTP_SSL(smtp["host"], smtp["port"], timeout=timeout,
                                              context=ssl.create_default_context())
                else:
                    client = smtplib.SMTP(smtp["host"], smtp["port"], timeout=timeout)
                try:
                    if smtp["security"] == "starttls":
                        client.starttls(context=ssl.create_default_context())
                    if smtp.get("password"):
                        client.login(smtp["user"], smtp["password"])
                    client.send_message(message)
                finally:
                    try:
                        client.quit()   # once sent, a failing goodbye must not send it twice
                    except (OSError, smtplib.SMTPException):
                        client.close()
            except smtplib.SMTPResponseException as exc:
                raise _Problem(f"SMTP {exc.smtp_code} {exc.smtp_error!r}", retryable=exc.smtp_code >= 400
                               and exc.smtp_code < 500 or exc.smtp_code == 421) from None
            except (OSError, smtplib.SMTPException) as exc:
                raise _Problem(f"{type(exc).__name__}: {exc}", retryable=True) from None

        self._with_retries(sink, f"SMTP {smtp['host']}:{smtp['port']}", attempt, deadline_s)

    def _with_retries(self, sink: str, what: str, attempt, deadline_s: float):
        deadline = time.monotonic() + deadline_s
        backoff = self.first_backoff_s
        tries = 0
        while True:
            tries += 1
            try:
                return attempt(deadline - time.monotonic())
            except _Problem as problem:
                failure = problem
            except httpx.HTTPError as exc:
                failure = _Problem(f"{type(exc).__name__}: {exc or 'no detail'}", retryable=True)
            wait = failure.wait_s if failure.wait_s is not None else backoff
            if not failure.retryable or time.monotonic() + wait >= deadline:
                why = "not retried: the answer will not change" if not failure.retryable else \
                    f"gave up at the {deadline_s:g} s deadline"
                raise DeliveryFailed(self.secrets.redact(f"{what}: {failure} ({tries} attempt(s), {why})"),
                                     unreachable=failure.retryable)
            self.sleep(wait)
            backoff = min(backoff * 2, 8.0)


class DryRunCourier(Courier):
    """Writes what would be sent: reports/escalations/NN-<sink>-<what>.json (or .eml)."""

    dry_run = True

    def __init__(self, secrets: Secrets, directory: Path, keep: bool = False):
        """`keep`: the run wrote some already (an item escalated at once): number on after them."""
        self.secrets = secrets
        self.directory = directory
        self.written: list[Path] = []
        directory.mkdir(parents=True, exist_ok=True)
        old = [path for path in directory.glob("*") if path.is_file()]
        for path in [] if keep else old:
            path.unlink()
        self.first = len(old) if keep else 0

    def _path(self, sink: str, what: str, suffix: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{sink}-{what}").strip("-")
        path = self.directory / f"{self.first + len(self.written) + 1:02d}-{slug[:80]}{suffix}"
        self.written.append(path)
        return path

    def send(self, sink: str, request: Request, deadline_s: float, timeout_s: float,
             dry_answer: Any = None) -> Answer:
        headers = {k: ("***" if k.lower() in REDACTED_HEADERS else v) for k, v in request.headers.items()}
        if request.auth:
            headers["Authorization"] = f"Basic *** (user {request.auth[0]})"
        record: dict[str, Any] = {"sink": sink, "method": request.method, "url": _safe_url(request.url),
                                  "params": request.params, "headers": headers}
        if request.json is not None:
            record["json"] = request.json
        if request.content is not None:
            record["content"] = _text_or_size(request.content)
        if request.files:
            record["files"] = {name: {"filename": f, "type": t, "bytes": len(b)}
                               for name, (f, b, t) in request.files.items()}
        tail = request.url.rstrip("/").rsplit("/", 1)[-1]
        path = self._path(sink, f"{request.method}-{tail}", ".json")
        path.write_text(self.secrets.redact(json.dumps(record, indent=2, default=str)) + "\n", encoding="utf-8")
        return Answer(200, dry_answer if dry_answer is not None else {})

    def send_mail(self, sink: str, message: EmailMessage, smtp: dict, deadline_s: float) -> None:
        path = self._path(sink, f"mail-to-{message['To']}", ".eml")
        path.write_text(self.secrets.redact(message.as_string()), encoding="utf-8")


class _Problem(Exception):
    def __init__(self, text: str, retryable: bool, wait_s: float | None = None):
        super().__init__(text)
        self.retryable = retryable
        self.wait_s = wait_s


def _seconds(value: str | None) -> float | None:
    try:
        return min(float(value), 60.0) if value else None
    except ValueError:
        return None


def _safe_url(url: str) -> str:
    """A URL without its query string's values (the host and path say where it went)."""
    return re.sub(r"(?<=[?&])([^=&]+)=[^&]*", r"\1=…", url)


def _text_or_size(content: bytes) -> str:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(content)} bytes>"
    return text if len(text) < 4000 else f"<{len(content)} bytes of text>"
