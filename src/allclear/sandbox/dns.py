"""The sandbox's DNS server: the target's zone over UDP on loopback, answered with dnslib.

It serves the records a platform needs (the support domain's MX, the help center's CNAME, SPF and
DKIM TXT, the login and API hosts' A records), so the DNS check runs against a real resolver path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web
from dnslib import CNAME, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord

from allclear.sandbox.faults import Switchboard
from allclear.sandbox.parts import FaultKinds, PartSetup

FAULTS: FaultKinds = {
    "dns-mx-wrong": (None, "the support domain's MX points elsewhere"),
    "dns-nxdomain": (str, "NAME does not exist in the zone"),
}
ORDER = 60
DNS_PORT: web.AppKey[int] = web.AppKey("dns_port", int)

ZONE_DOMAIN = "sandbox.allclear.test"
WRONG_MX = "mx.wrong-provider.test"


def sandbox_zone() -> dict[tuple[str, str], list]:
    """(name, type) -> record data; the names a sandbox target's [dns] table asks about."""
    d = ZONE_DOMAIN
    return {
        (d, "MX"): [MX("mx1.sandbox-platform.test.", 10), MX("mx2.sandbox-platform.test.", 20)],
        (d, "TXT"): [TXT("v=spf1 include:_spf.sandbox-platform.test ~all")],
        (f"platform._domainkey.{d}", "TXT"): [TXT("v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC7")],
        (f"help.{d}", "CNAME"): [CNAME("sandbox.helpcenter-platform.test.")],
        (f"login.{d}", "A"): [A("127.0.0.1")],
        (f"api.{d}", "A"): [A("127.0.0.1")],
    }


class ZoneProtocol(asyncio.DatagramProtocol):
    def __init__(self, faults: Switchboard):
        self.faults = faults
        self.zone = sandbox_zone()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            request = DNSRecord.parse(data)
        except Exception:  # not DNS: a real server drops it too
            return
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        kind = QTYPE[request.q.qtype]
        known_names = {known for known, _ in self.zone}
        if name not in known_names or name == str(self.faults.arg("dns-nxdomain", "")).rstrip(".").lower():
            reply.header.rcode = RCODE.NXDOMAIN
        else:
            for data_ in self._answers(name, kind):
                reply.add_answer(RR(request.q.qname, QTYPE.reverse[type(data_).__name__], rdata=data_, ttl=300))
        self.transport.sendto(reply.pack(), addr)

    def _answers(self, name: str, kind: str) -> list:
        if kind == "MX" and name == ZONE_DOMAIN and self.faults.active("dns-mx-wrong"):
            return [MX(f"{WRONG_MX}.", 10)]
        return self.zone.get((name, kind), [])


async def start_dns(faults: Switchboard, host: str = "127.0.0.1",
                    port: int = 0) -> tuple[asyncio.DatagramTransport, int]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: ZoneProtocol(faults), local_addr=(host, port))
    return transport, transport.get_extra_info("sockname")[1]


def setup(app: web.Application, sandbox: PartSetup) -> None:
    """The zone is served while the sandbox runs."""

    async def serving(app: web.Application) -> AsyncIterator[None]:
        transport, app[DNS_PORT] = await start_dns(sandbox.faults)
        yield
        transport.close()

    app.cleanup_ctx.append(serving)


def addresses(app: web.Application) -> dict[str, str | int]:
    return {"sandbox_dns_port": app.get(DNS_PORT, 0)}
