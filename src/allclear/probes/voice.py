"""Voice probe (the official twilio SDK): call a support line, hear what answers, always hang up.

The call's TwiML records the first seconds after answer with `transcribe="true"`; the text is read
back over the REST API, so no public webhook is needed. Twilio refusing *our* account (bad
credentials, a From number we do not own) is a ProbeError: the item is inconclusive.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from allclear.items.voice import SupportLine, VoiceCheck
from allclear.probes.errors import ProbeError, ServiceUnreachable, one_line
from allclear.probes.maintenance import shows_maintenance
from allclear.probes.steps import StepLog
from allclear.probes.twilio_client import RebasedHttpClient

TWILIO_API = "https://api.twilio.com"
ENDED = ("completed", "busy", "no-answer", "failed", "canceled")
# Errors about our Twilio account, not the support line: authentication, account suspended,
# test credentials, From not owned or not verified, trial accounts calling unverified numbers.
OUR_SIDE_CODES = {20003, 20005, 20008, 21210, 21212, 21214, 21219}


class TwilioAccountError(ProbeError):
    """Twilio refused the probe's own account or number; the call was never placed."""


@dataclass
class CallObservation:
    line: str
    to: str
    from_number: str
    call_sid: str = ""
    timeline: list[tuple[str, str]] = field(default_factory=list)   # (UTC time, status)
    final_status: str = ""
    answered: bool = False
    seconds_to_answer: float | None = None
    recording_sid: str = ""
    transcription_status: str = ""
    transcription: str = ""
    hung_up_by_probe: bool = False
    problem: str = ""
    steps: StepLog = field(default_factory=StepLog)


def twilio_client(settings: VoiceCheck, auth_token: str) -> Client:
    rebased = None if settings.api_base.rstrip("/") == TWILIO_API else RebasedHttpClient(settings.api_base)
    return Client(settings.account_sid, auth_token, http_client=rebased)


class SupportLineCall:
    def __init__(self, client: Client, settings: VoiceCheck, sleep: Callable[[float], None] = time.sleep):
        self.client, self.settings, self.sleep = client, settings, sleep

    def twiml(self) -> str:
        listen = self.settings.listen_s
        return (f'<Response><Record maxLength="{listen}" timeout="{listen}" playBeep="false" '
                f'transcribe="true"/><Hangup/></Response>')

    def run(self, line: SupportLine) -> CallObservation:
        """Twilio's API being out of reach is ours to fix (our account, our network): inconclusive."""
        try:
            return self._call(line)
        except requests.RequestException as exc:
            raise ServiceUnreachable(f"could not reach the Twilio API at {self.settings.api_base}: "
                                     f"{one_line(exc)}") from None

    def _call(self, line: SupportLine) -> CallObservation:
        s = self.settings
        seen = CallObservation(line=line.name or line.number, to=line.number, from_number=s.from_number)
        started = time.monotonic()
        with seen.steps(f"Call {seen.line} ({line.number}) from {s.from_number} through Twilio") as step:
            try:
                call = self.client.calls.create(to=line.number, from_=s.from_number, twiml=self.twiml(),
                                                timeout=s.ring_timeout_s, time_limit=s.time_limit_s)
            except TwilioRestException as exc:
                if exc.status in (401, 403) or exc.code in OUR_SIDE_CODES:
                    raise TwilioAccountError(f"Twilio refused the probe's account: HTTP {exc.status}, "
                                             f"error {exc.code}: {exc.msg}") from None
                seen.problem = f"Twilio could not place the call: HTTP {exc.status}, error {exc.code}: {exc.msg}"
                step.fail(seen.problem)
                return seen
        seen.call_sid = call.sid
        self._note(seen, call.status)
        try:
            with seen.steps("The line answers") as step:
                self._until_answered_or_ended(seen, started)
                if seen.problem:
                    step.fail(seen.problem)
            if seen.answered:
                with seen.steps(f"Hear what the line says (recorded {s.listen_s:g} s, transcribed)") as step:
                    self._read_transcription(seen)
                    if seen.problem:
                        step.fail(seen.problem)
        except TwilioException as exc:
            seen.problem = seen.problem or f"Twilio API error while following {seen.call_sid}: {exc}"
        finally:
            with seen.steps("Hang up"):
                self._hang_up(seen)
        return seen

    def _note(self, seen: CallObservation, status: str) -> None:
        if not seen.timeline or seen.timeline[-1][1] != status:
            seen.timeline.append((datetime.now(timezone.utc).isoformat(timespec="milliseconds"), status))
        seen.final_status = status

    def _until_answered_or_ended(self, seen: CallObservation, started: float) -> None:
        deadline = started + self.settings.answer_deadline_s
        while True:
            status = self.client.calls(seen.call_sid).fetch().status
            self._note(seen, status)
            if status in ("in-progress", "completed") and not seen.answered:
                seen.answered = True
                seen.seconds_to_answer = round(time.monotonic() - started, 2)
            if seen.answered or status in ENDED:
                if status in ENDED and not seen.answered:
                    seen.problem = f"the call ended {status} without being answered"
                return
            if time.monotonic() >= deadline:
                seen.problem = f"not answered within {self.settings.answer_deadline_s:g} s (last status {status})"
                return
            self.sleep(self.settings.poll_interval_s)

    def _read_transcription(self, seen: CallObservation) -> None:
        deadline = time.monotonic() + self.settings.transcription_deadline_s
        while time.monotonic() < deadline:
            self._note(seen, self.client.calls(seen.call_sid).fetch().status)
            recordings = self.client.recordings.list(call_sid=seen.call_sid, limit=5)
            if recordings:
                seen.recording_sid = recordings[0].sid
                transcriptions = self.client.recordings(seen.recording_sid).transcriptions.list(limit=5)
                if transcriptions:
                    seen.transcription_status = transcriptions[0].status
                    if transcriptions[0].status in ("completed", "failed"):
                        seen.transcription = transcriptions[0].transcription_text or ""
                        return
            self.sleep(self.settings.poll_interval_s)
        seen.problem = (f"no transcription of what the line said within "
                        f"{self.settings.transcription_deadline_s:g} s (recording {seen.recording_sid or 'none'})")

    def _hang_up(self, seen: CallObservation) -> None:
        """A probe call must never stay up: end it unless Twilio already has (TimeLimit backs this up)."""
        if not seen.call_sid:
            return
        try:
            status = self.client.calls(seen.call_sid).fetch().status
            if status not in ENDED:
                status = self.client.calls(seen.call_sid).update(status="completed").status
                seen.hung_up_by_probe = True
            self._note(seen, status)
        except TwilioException as exc:
            seen.problem = seen.problem or f"could not hang up {seen.call_sid}: {exc} (TimeLimit will end it)"


heard_maintenance = shows_maintenance      # the maintenance phrase a call's transcription holds, or ""
