"""Platform conversations probe (httpx): did the probe's email become a conversation, and label it a test.

An auto-reply proves the support mailbox answers; only the platform's own API shows that the email
was taken in as work. The vendor's public REST API has no search by subject, so the probe walks
what it has: customers by the probe's email address (`GET /customer-profiles?email=`), each one's
conversations (`GET /customers/{id}/conversations`, oldest first, at most 100), and the timeline of
the recent or still open ones (`GET /conversations/{id}/items`), until an EMAIL item holds this
run's token. Any other conversation, however alike, is never taken.

The vendor allows 10 requests a second per HTTP method for the whole organization, so this client
keeps well under it on its own and, met with 429, backs off exponentially with jitter within the
deadline. Labelling (a note, optional topics, closing) is cleanup: it reports what it did or could
not do and never raises, so it cannot decide the verdict.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from allclear.config.fields import join_url
from allclear.probes.errors import CredentialsRejected, ProbeError, one_line
from allclear.probes.reporting_api import error_detail
from allclear.probes.steps import StepLog

RATE_PER_SECOND = 10              # the vendor's default request limit, per HTTP method
CLOCK_SKEW = timedelta(seconds=60)   # the platform's clock may run behind ours
BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 8.0
CUSTOMERS_CHECKED = 3             # profiles with the probe's address (normally one)
TIMELINES_PER_CUSTOMER = 5        # conversations whose items are read, newest first, per look


class ConversationApiUnreachable(ProbeError):
    """The platform's API could not be talked to until the deadline (refused, reset, timed out)."""


class _OutOfTime(Exception):
    """The deadline came (or the caller said stop) before an answer."""


class _Unanswered(Exception):
    """One request got no HTTP answer; the look is tried again at the next poll."""


class _Refused(Exception):
    """The API answered, but not with what was asked (5xx, 4xx, not JSON); told in one line."""

    def __init__(self, words: str, status: int = 200):
        super().__init__(words)
        self.status = status


@dataclass
class ConversationSighting:
    """The probe's conversation as the platform showed it."""

    conversation_id: str
    customer_id: str
    item_id: str
    status: str
    created_at: str           # the platform's own timestamp (RFC 3339), its clock, not ours
    seen_at: datetime         # our clock, when this probe first saw it
    lookups: int              # requests made until then
    rate_limited: int         # 429s met until then


@dataclass
class ConversationObservation:
    token: str
    found: bool = False
    sighting: ConversationSighting | None = None
    problem: str = ""
    lookups: int = 0
    rate_limited: int = 0
    polls: int = 0
    steps: StepLog = field(default_factory=StepLog)


class MethodLimiter:
    """At most `per_second` requests of each HTTP method in any second, counted from when each answer
    came back: a request leaves at least a second after the answer to the one `per_second` before
    it, so the server, which saw each request between those two moments, never counts more."""

    def __init__(self, per_second: int = RATE_PER_SECOND):
        self.per_second = per_second
        self._answers: dict[str, deque[float]] = {}
        self._held_until: dict[str, float] = {}

    def wait_s(self, method: str) -> float:
        now = time.monotonic()
        answers = self._answers.setdefault(method, deque(maxlen=self.per_second))
        free_at = answers[0] + 1.0 if len(answers) == self.per_second else now
        return max(0.0, free_at - now, self._held_until.get(method, 0.0) - now)

    def answered(self, method: str) -> None:
        self._answers.setdefault(method, deque(maxlen=self.per_second)).append(time.monotonic())

    def hold(self, method: str, seconds: float) -> None:
        """The server said this second's allowance is spent (by us or another client of the org)."""
        self._held_until[method] = max(self._held_until.get(method, 0.0), time.monotonic() + seconds)


class PlatformConversations:
    def __init__(self, api_base: str, user: str, token: str, timeout_s: float = 10.0,
                 transport: httpx.BaseTransport | None = None, per_second: int = RATE_PER_SECOND):
        self.api_base = api_base
        self.timeout_s = timeout_s
        self.client = httpx.Client(auth=(user, token), timeout=timeout_s, transport=transport,
                                   headers={"Accept": "application/json"})
        self.limiter = MethodLimiter(per_second)
        self.requests_made = 0
        self.rate_limited = 0
        self._stop: threading.Event | None = None

    def __enter__(self) -> PlatformConversations:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    # --- finding the probe's conversation ---

    def await_conversation(self, probe_address: str, token: str, sent_at: datetime, deadline_s: float,
                           poll_interval_s: float = 2.0, stop: threading.Event | None = None,
                           channel: str = "EMAIL") -> ConversationObservation:
        """Look until the conversation holding `token` shows up, the deadline passes or `stop` is set.

        `probe_address` is our email address (channel EMAIL) or our phone number (channel SMS): the
        customer the platform filed our message under.

        Raises CredentialsRejected (401/403) and ConversationApiUnreachable (no answer until the
        deadline): both are our side's trouble, so the item is inconclusive, not failed.
        """
        seen = ConversationObservation(token=token)
        deadline = time.monotonic() + deadline_s
        cutoff = (sent_at if sent_at.tzinfo else sent_at.replace(tzinfo=timezone.utc)) - CLOCK_SKEW
        made, limited = self.requests_made, self.rate_limited
        self._stop = stop
        unanswered, ours, completed = "", "", 0     # ours: why no look could be made, on our side
        step = (f"Find the conversation holding {token} for {probe_address} (customer-profiles, conversations, "
                f"items; every {poll_interval_s:g} s for up to {deadline_s:g} s)")
        with seen.steps(step) as noted:
            try:
                while True:
                    seen.polls += 1
                    try:
                        sighting, there = self._look(probe_address, token, cutoff, deadline, channel)
                        unanswered, completed = "", completed + 1
                    except _Unanswered as exc:
                        sighting, there, unanswered = None, f"no answer from {self.api_base}: {exc}", str(exc)
                    except _Refused as exc:    # a 4xx is our request (a wrong api_base); a 5xx the platform's
                        sighting, there = None, str(exc)
                        ours = str(exc) if 400 <= exc.status < 500 else ""
                    seen.lookups, seen.rate_limited = self.requests_made - made, self.rate_limited - limited
                    if sighting is not None:
                        sighting.lookups, sighting.rate_limited = seen.lookups, seen.rate_limited
                        seen.found, seen.sighting = True, sighting
                        return seen
                    seen.problem = f"no conversation with token {token} for customer {probe_address}: {there}"
                    self._pause(min(poll_interval_s, deadline - time.monotonic()), deadline, sleep_to_deadline=True)
            except _OutOfTime as exc:
                seen.lookups, seen.rate_limited = self.requests_made - made, self.rate_limited - limited
                if not completed and (unanswered or ours or "rate limited" in str(exc)):
                    # Not one look could be made: we cannot say the conversation is missing.
                    raise ConversationApiUnreachable(f"could not look the {channel.lower()} up in the platform's API "
                                                     f"{self.api_base} before the deadline: "
                                                     f"{unanswered or ours or exc}") from None
                seen.problem = seen.problem or f"no conversation with token {token} for customer {probe_address}"
                seen.problem += f" ({exc}; {seen.polls} look(s) in {deadline_s:g} s)"
                noted.fail(seen.problem)
            finally:
                self._stop = None
        return seen

    def _look(self, address: str, token: str, cutoff: datetime, deadline: float,
              channel: str = "EMAIL") -> tuple[ConversationSighting | None, str]:
        """One pass over the probe's customers and their recent or open conversations."""
        by_phone = channel == "SMS"
        params = {"phoneNumber": address} if by_phone else {"email": address}
        profiles = self._get_list("/customer-profiles", deadline, params=params)
        mine = [p for p in profiles if address.lower() in (_phones_of(p) if by_phone else _emails_of(p))]
        if not mine:
            others = f" (the search answered {len(profiles)} profile(s) of other addresses)" if profiles else ""
            return None, f"no customer with {'phone number' if by_phone else 'email'} {address}{others}"
        told = []
        for profile in mine[:CUSTOMERS_CHECKED]:
            customer_id = str(profile.get("id", ""))
            listed, limited = self._get_list(f"/customers/{customer_id}/conversations", deadline, limited=True)
            recent = [c for c in listed if _recent_or_open(c, cutoff)]
            recent.sort(key=lambda c: _created(c) or datetime.max.replace(tzinfo=timezone.utc), reverse=True)
            for conversation in recent[:TIMELINES_PER_CUSTOMER]:
                items = self._get_list(f"/conversations/{conversation.get('id')}/items", deadline)
                item = _item_with_token(items, token, channel)
                if item is not None:
                    return ConversationSighting(
                        conversation_id=str(conversation.get("id")), customer_id=customer_id,
                        item_id=str(item.get("id", "")), status=str(conversation.get("status", "")),
                        created_at=str(conversation.get("createdAt", "")), seen_at=datetime.now(timezone.utc),
                        lookups=0, rate_limited=0), ""
            words = (f"customer found (id {customer_id}), {len(listed)} conversation(s), {len(recent)} created since "
                     f"{cutoff:%H:%M:%S}Z or still open, none holds the token")
            if limited:
                words += (" (Gladly-Limited-Data: the customer has more conversations than listed, and the newest "
                          "may be among those left out)")
            told.append(words)
        return None, "; ".join(told)

    # --- labelling it as a test ---

    def label_as_test(self, conversation_id: str, note_text: str, close: bool, topic_ids: Iterable[str] = (),
                      budget_s: float = 15.0) -> list[str]:
        """Add a note saying it is a test, add `topic_ids` if any, and close it when `close` is true
        (with `force`: the customer, our probe, is still waiting for a reply). Returns what was done
        and what could not be, one line each; never raises."""
        deadline = time.monotonic() + budget_s
        path = f"/conversations/{conversation_id}"
        todo = [("add a note to", "added a note to", "POST", f"{path}/notes", {"content": {"body": note_text}})]
        if topic_ids := list(topic_ids):
            topics = f"topic(s) {', '.join(topic_ids)} to"
            todo.append((f"add {topics}", f"added {topics}", "POST", f"{path}/topics", {"topicIds": topic_ids}))
        if close:
            todo.append(("close", "closed", "PATCH", path, {"status": {"value": "CLOSED", "force": True}}))
        done = []
        for doing, did, method, where, body in todo:
            try:
                response = self._request(method, where, deadline, json=body)
                if response.is_success:
                    done.append(f"{did} conversation {conversation_id}")
                else:
                    done.append(f"could not {doing} conversation {conversation_id}: HTTP {response.status_code}: "
                                f"{error_detail(response)}")
            except Exception as exc:    # noqa: BLE001 - cleanup reports, it never decides the verdict
                done.append(f"could not {doing} conversation {conversation_id}: {exc or type(exc).__name__}")
        return done

    # --- requests ---

    def _get_list(self, path: str, deadline: float, params: dict[str, str] | None = None,
                  limited: bool = False) -> Any:
        response = self._request("GET", path, deadline, params=params)
        if not response.is_success:
            raise _Refused(f"GET {path}: HTTP {response.status_code}: {error_detail(response)}", response.status_code)
        try:
            listed = response.json()
        except ValueError:
            raise _Refused(f"GET {path} did not answer JSON") from None
        if not isinstance(listed, list):
            raise _Refused(f"GET {path}: expected a JSON list, got {type(listed).__name__}")
        listed = [entry for entry in listed if isinstance(entry, dict)]
        truncated = response.headers.get("Gladly-Limited-Data", "").lower() not in ("", "false")
        return (listed, truncated) if limited else listed

    def _request(self, method: str, path: str, deadline: float, **kwargs: Any) -> httpx.Response:
        """One request within the per-method limit; a 429 is retried after an exponential, jittered
        back-off (at least what Retry-After asks) while the deadline allows."""
        url = join_url(self.api_base, path)
        attempt = 0
        while True:
            self._pause(self.limiter.wait_s(method), deadline)
            timeout_s = min(self.timeout_s, max(deadline - time.monotonic(), 0.5))
            try:
                response = self.client.request(method, url, timeout=timeout_s, **kwargs)
            except httpx.TimeoutException:
                raise _Unanswered(f"{method} {path}: no answer within {timeout_s:.3g} s") from None
            except httpx.TransportError as exc:
                raise _Unanswered(f"{method} {path}: {one_line(exc)}") from None
            finally:
                self.limiter.answered(method)
            self.requests_made += 1
            if response.headers.get("Ratelimit-Remaining-Second", "").strip() == "0":
                self.limiter.hold(method, 1.0)
            if response.status_code in (401, 403):
                raise CredentialsRejected(
                    f"{method} {url}: HTTP {response.status_code}: the API user's credentials were rejected "
                    "(check the user and its token; it needs the API User permission)")
            if response.status_code != 429:
                return response
            self.rate_limited += 1
            wait = _backoff_s(attempt, response)
            attempt += 1
            if time.monotonic() + wait > deadline:
                raise _OutOfTime(f"rate limited (HTTP 429) {attempt} time(s) in a row on {method} {path}, "
                                 f"{_rate_headers(response)}; the next try would pass the deadline")
            self._pause(wait, deadline)

    def _pause(self, seconds: float, deadline: float, sleep_to_deadline: bool = False) -> None:
        """Wait, unless waiting would pass the deadline (or `stop` is set): then give up now."""
        if seconds <= 0:
            if time.monotonic() >= deadline:
                raise _OutOfTime("the deadline came")
            return
        if time.monotonic() + seconds > deadline and not sleep_to_deadline:
            raise _OutOfTime("the deadline came")
        if self._stop is not None and self._stop.wait(seconds):
            raise _OutOfTime("asked to stop")
        if self._stop is None:
            time.sleep(seconds)
        if time.monotonic() >= deadline:
            raise _OutOfTime("the deadline came")


def _backoff_s(attempt: int, response: httpx.Response) -> float:
    """Exponential with jitter (half fixed, half random, so never zero), and at least what the
    server asks: its Retry-After, or the rest of the second when none of the second is left."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** attempt)
    wait = ceiling / 2 + random.uniform(0, ceiling / 2)
    if response.headers.get("Ratelimit-Remaining-Second", "").strip() == "0":
        wait = max(wait, 1.0 + random.uniform(0, 0.25))
    return max(wait, _retry_after_s(response.headers.get("Retry-After", "")))


def _retry_after_s(value: str) -> float:
    """Retry-After in seconds, whether given as seconds or as an HTTP date; 0 when absent or unreadable."""
    value = value.strip()
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return 0.0


def _rate_headers(response: httpx.Response) -> str:
    limit = response.headers.get("Ratelimit-Limit-Second", "?")
    left = response.headers.get("Ratelimit-Remaining-Second", "?")
    return f"Ratelimit-Limit-Second {limit}, Ratelimit-Remaining-Second {left}"


def _emails_of(profile: dict[str, Any]) -> set[str]:
    emails = profile.get("emails") if isinstance(profile.get("emails"), list) else []
    return {str(e.get(key, "")).lower() for e in emails if isinstance(e, dict) for key in ("original", "normalized")}


def _phones_of(profile: dict[str, Any]) -> set[str]:
    phones = profile.get("phones") if isinstance(profile.get("phones"), list) else []
    return {str(p.get(key, "")).lower() for p in phones if isinstance(p, dict) for key in ("original", "normalized")}


def _recent_or_open(conversation: dict[str, Any], cutoff: datetime) -> bool:
    """Made since the email was sent (less the clock skew), or still open: the platform may thread a
    new email into an open conversation. A timestamp we cannot read is looked at too."""
    created = _created(conversation)
    return conversation.get("status") in ("OPEN", "WAITING") or created is None or created >= cutoff


def _created(conversation: dict[str, Any]) -> datetime | None:
    try:
        created = datetime.fromisoformat(str(conversation.get("createdAt")))
    except ValueError:
        return None
    return created if created.tzinfo else created.replace(tzinfo=timezone.utc)


def _item_with_token(items: list[dict[str, Any]], token: str, channel: str = "EMAIL") -> dict[str, Any] | None:
    """The EMAIL (or SMS) item carrying this run's token in its subject or body, if any."""
    for item in items:
        content = item.get("content") if isinstance(item.get("content"), dict) else {}
        if content.get("type") == channel and (token in str(content.get("subject", ""))
                                                or token in str(content.get("content", ""))):
            return item
    return None
