"""DNS: the support domain's MX, the help center's CNAME and the other configured records resolve as expected."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from allclear.config.fields import Port, Seconds, Section
from allclear.items import GoItem, Parameter


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


ITEM = GoItem(
    key="dns", title="The platform's DNS records are right", order=6, name="DNS", probe=("DNS record", "DNS records"),
    settings=DnsCheck,
    parameter=Parameter("dns_record", lambda target: target.dns.records if target.dns and target.dns.enabled else [],
                        id=lambda record: f"{record.type} {record.name}"),
    cap="P2",
    reproduce=lambda dns, probes: [f"Resolve: {probes} (e.g. `dig`).", "Compare with the records the vendor asks for."],
)
