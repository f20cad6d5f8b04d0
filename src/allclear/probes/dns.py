"""DNS probe (dnspython): resolve one record against the configured resolver.

NXDOMAIN, an answer without the expected value, and a timeout are told apart: each points at a
different fix (a deleted record, a wrong provider, an unreachable resolver).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import dns.exception
import dns.resolver


@dataclass
class DnsObservation:
    name: str
    type: str
    resolver: str
    outcome: str = ""          # answered | nxdomain | no-answer | timeout | error
    answers: list[str] = field(default_factory=list)
    seconds: float = 0.0
    problem: str = ""


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
    except (dns.resolver.NoNameservers, dns.exception.DNSException) as exc:
        seen.outcome, seen.problem = "error", f"the resolver failed: {exc}"
    seen.seconds = round(time.monotonic() - started, 3)
    return seen


def missing_values(seen: DnsObservation, expected: list[str]) -> list[str]:
    """The expected values not among the answers (MX/CNAME by host name, TXT by substring)."""
    if seen.type == "TXT":
        return [want for want in expected if not any(want in answer for answer in seen.answers)]
    wanted = [want.rstrip(".").lower() for want in expected]
    return [want for want in wanted if want not in seen.answers]
