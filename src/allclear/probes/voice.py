"""Voice probe (the official twilio SDK): call a support line, record what answers, always hang up.

The call's TwiML records the first `listen_s` seconds after answer (untrimmed, so dead air stays
dead air); the recording's WAV is fetched over the REST API (no public webhook is needed), kept as
evidence, and heard by the target's speech source (probes/speech.py). Twilio refusing *our* account
(bad credentials, a From number we do not own) is a ProbeError: the item is inconclusive.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from allclear.items.voice import SupportLine, VoiceCheck
from allclear.probes.audio import AudioUnreadable, loudness, read_wav
from allclear.probes.errors import ProbeError, ServiceUnreachable, one_line
from allclear.probes.speech import Hearing, SpeechSource, decide, speech_source
from allclear.probes.steps import StepLog
from allclear.probes.twilio_client import TwilioAccountError, create_refused, refused_account

ENDED = ("completed", "busy", "no-answer", "failed", "canceled")
RECORDING_DONE = ("completed", "absent", "failed", "deleted")
# Errors about our Twilio account, not the support line: authentication, account suspended,
# test credentials, From not owned or not verified, trial accounts calling unverified numbers.
OUR_SIDE_CODES = {20003, 20005, 20008, 21210, 21212, 21214, 21219}


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
    recording_status: str = ""
    recording_file: str = ""          # the WAV, in the probe's evidence folder
    loudness: str = ""
    hearing: Hearing | None = None
    hung_up_by_probe: bool = False
    problem: str = ""
    steps: StepLog = field(default_factory=StepLog)


class SupportLineCall:
    def __init__(self, client: Client, settings: VoiceCheck, evidence_dir: Path, auth_token: str,
                 source: SpeechSource | None = None, sleep: Callable[[float], None] = time.sleep):
        self.client, self.settings, self.evidence_dir, self.sleep = client, settings, evidence_dir, sleep
        self.auth_token = auth_token
        self.source = source or speech_source(settings, client)

    def twiml(self) -> str:
        listen = self.settings.listen_s
        transcribe = ' transcribe="true"' if self.settings.speech_source == "twilio_transcription" else ""
        return (f'<Response><Record maxLength="{listen}" timeout="{listen}" playBeep="false" '
                f'trim="do-not-trim"{transcribe}/><Hangup/></Response>')

    def run(self, line: SupportLine) -> CallObservation:
        """Twilio's API being out of reach is ours to fix (our account, our network): inconclusive."""
        try:
            return self._call(line)
        except (requests.RequestException, httpx.TransportError) as exc:
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
                seen.problem = create_refused(exc, OUR_SIDE_CODES, "place the call")
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
                with seen.steps(f"Record what the line says ({s.listen_s} s after answer)"):
                    self._until_recorded(seen)
        except TwilioException as exc:
            raise refused_account(exc) or ProbeError(f"Twilio API error while following {seen.call_sid}: "
                                                     f"{exc}") from None
        finally:
            with seen.steps("Hang up"):
                self._hang_up(seen)
        if seen.answered:
            self._hear(seen, line)
        return seen

    def _until_recorded(self, seen: CallObservation) -> None:
        """Twilio lists the recording once the <Record> ends; its media is ready at `completed`."""
        deadline = time.monotonic() + self.settings.listen_s + self.settings.recording_deadline_s
        while time.monotonic() < deadline:
            self._note(seen, self.client.calls(seen.call_sid).fetch().status)
            recordings = self.client.recordings.list(call_sid=seen.call_sid, limit=5)
            if recordings:
                seen.recording_sid, seen.recording_status = recordings[0].sid, recordings[0].status
                if seen.recording_status in RECORDING_DONE:
                    return
            self.sleep(self.settings.poll_interval_s)
        raise ProbeError(f"Twilio had no completed recording of the call {seen.call_sid} within "
                         f"{self.settings.recording_deadline_s:g} s of its end (recording "
                         f"{seen.recording_sid or 'none'}, {seen.recording_status or 'not listed'})")

    def _hear(self, seen: CallObservation, line: SupportLine) -> None:
        if seen.recording_status == "absent":      # Twilio found no audio in it at all
            seen.hearing = Hearing("silence", "", f"Twilio marked recording {seen.recording_sid} absent "
                                   "(no audio in it)", "Twilio's recording status")
            return
        with seen.steps(f"Fetch the recording {seen.recording_sid} (WAV)"):
            wav = self._media(seen.recording_sid)
            path = self.evidence_dir / f"recording-{seen.recording_sid}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(wav)
            seen.recording_file = str(path)
        with seen.steps(f"Hear what the line said ({self.source.name})") as step:
            try:
                audio = read_wav(wav)
            except AudioUnreadable as exc:
                raise ProbeError(f"the recording {seen.recording_sid} could not be read: {exc}") from None
            measured = loudness(audio)
            seen.loudness = measured.described()
            seen.hearing = decide(audio, measured, seen.recording_sid, line, self.settings, self.source)
            if not seen.hearing.normal(line):
                step.fail(seen.hearing.described())

    def _media(self, recording_sid: str) -> bytes:
        """The recording's WAV, as Twilio serves media: HTTP Basic auth, then a redirect to a signed URL
        (httpx drops the credentials when the redirect leaves Twilio's host)."""
        s = self.settings
        url = f"{s.api_base.rstrip('/')}/2010-04-01/Accounts/{s.account_sid}/Recordings/{recording_sid}.wav"
        deadline = time.monotonic() + s.recording_deadline_s
        with httpx.Client(auth=(s.account_sid, self.auth_token), follow_redirects=True, timeout=30) as http:
            while True:
                response = http.get(url)
                if response.status_code == 200:
                    return response.content
                if response.status_code in (401, 403) and response.url.host == httpx.URL(url).host:
                    raise TwilioAccountError(f"Twilio refused the probe's account for the recording's media: "
                                             f"HTTP {response.status_code}")
                if response.status_code != 404 or time.monotonic() >= deadline:
                    raise ProbeError(f"could not fetch the recording {recording_sid}: HTTP {response.status_code} "
                                     f"from {response.url.host}")
                self.sleep(s.poll_interval_s)          # listed before its media is stored: wait

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

