"""DNS probe (dnspython): resolve one record against the configured resolver.

NXDOMAIN, an answer without the expected value, and a timeout are told apart: each points at a
different fix (a deleted record, a wrong provider, an unreachable resolver).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import dns.exception
import dns.message
import dns.query
import dns.resolver

from allclear.probes.steps import StepLog


@dataclass
class DnsObservation:
    name: str
    type: str
    resolver: str
    outcome: str = ""          # answered | nxdomain | no-answer | timeout | error
    answers: list[str] = field(default_factory=list)
    seconds: float = 0.0
    problem: str = ""
    steps: StepLog = field(default_factory=StepLog)


def _text(record, kind: str) -> str:
    if kind == "MX":
        return str(record.exchange).rstrip(".").lower()
    if kind == "CNAME":
        return str(record.target).rstrip(".").lower()
    if kind == "TXT":
        return b"".join(record.strings).decode("utf-8", "replace")
    return record.to_text()


def make_resolver(nameservers: list[str], port: int, timeout_s: float) -> dns.resolver.Resolver:
    if nameservers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = list(nameservers)
    else:
        resolver = dns.resolver.Resolver()
    resolver.port = port
    resolver.lifetime = timeout_s
    resolver.timeout = min(timeout_s, 2.0)
    return resolver


def resolve(resolver: dns.resolver.Resolver, name: str, kind: str) -> DnsObservation:
    where = ", ".join(f"{ns}:{resolver.port}" for ns in resolver.nameservers)
    seen = DnsObservation(name=name, type=kind, resolver=where)
    with seen.steps(f"Look up the {kind} record of {name} ({where})") as step:
        _look_up(resolver, seen)
        if seen.problem:
            step.fail(seen.problem)
    return seen


def _look_up(resolver: dns.resolver.Resolver, seen: DnsObservation) -> None:
    name, kind, where = seen.name, seen.type, seen.resolver
    started = time.monotonic()
    try:
        answer = resolver.resolve(name, kind, raise_on_no_answer=True)
        seen.outcome = "answered"
        seen.answers = [_text(record, kind) for record in answer]
    except dns.resolver.NXDOMAIN:
        seen.outcome, seen.problem = "nxdomain", f"{name} does not exist (NXDOMAIN)"
    except dns.resolver.NoAnswer:
        seen.outcome, seen.problem = "no-answer", f"{name} exists but has no {kind} record"
    except dns.exception.Timeout:
        seen.outcome, seen.problem = "timeout", f"no answer from {where} within {resolver.lifetime:g} s"
        if garbled := _answers_garbage(resolver, name, kind):
            seen.outcome, seen.problem = "error", garbled
    except (dns.resolver.NoNameservers, dns.exception.DNSException) as exc:
        seen.outcome, seen.problem = "error", f"the resolver failed: {exc}"
    seen.seconds = round(time.monotonic() - started, 3)


def _answers_garbage(resolver: dns.resolver.Resolver, name: str, kind: str) -> str:
    """After a timeout, ask the first nameserver once more, directly: the resolver waits out a reply
    that is not DNS as if there were none, which sends whoever reads "timeout" to the wrong fix."""
    if not resolver.nameservers:
        return ""
    server = str(resolver.nameservers[0])
    try:
        dns.query.udp(dns.message.make_query(name, kind), server, port=resolver.port, timeout=1.0)
    except dns.exception.FormError as exc:
        return f"{server}:{resolver.port} answered with something that is not a DNS message ({exc})"
    except Exception:  # noqa: BLE001 - silent, or anything else: the timeout stands
        return ""
    return ""


def missing_values(seen: DnsObservation, expected: list[str]) -> list[str]:
    """The expected values not among the answers (MX/CNAME by host name, TXT by substring)."""
    if seen.type == "TXT":
        return [want for want in expected if not any(want in answer for answer in seen.answers)]
    wanted = [want.rstrip(".").lower() for want in expected]
    return [want for want in wanted if want not in seen.answers]
