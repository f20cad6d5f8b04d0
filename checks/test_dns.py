"""The platform's DNS records are right.

Each configured record (the support domain's MX, the help center's CNAME, SPF and DKIM TXT, the
login and API hosts) must resolve and contain what is expected. NXDOMAIN, a wrong value and a
timeout are reported differently: each has a different fix.
"""

import pytest

from allclear.expect import expect
from allclear.probes.dns import make_resolver, missing_values, resolve

pytestmark = pytest.mark.go


def test_record_resolves_as_expected(dns_record, target, attach_observation):
    settings = target.dns
    resolver = make_resolver(settings.nameservers, settings.port, settings.timeout_s)
    seen = attach_observation(resolve(resolver, dns_record.name, dns_record.type))

    expect(seen.outcome != "nxdomain", f"{dns_record.name} to exist", f"NXDOMAIN from {seen.resolver}")
    expect(seen.outcome != "timeout", f"an answer from {seen.resolver}", seen.problem)
    expect(seen.outcome == "answered", f"a {dns_record.type} record for {dns_record.name}", seen.problem)
    missing = missing_values(seen, dns_record.expect)
    expect(not missing, f"{dns_record.type} {dns_record.name} -> {', '.join(dns_record.expect)}",
           f"{', '.join(seen.answers)} (missing {', '.join(missing)})")
