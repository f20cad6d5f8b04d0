"""The platform's DNS records are right.

Each configured record (the support domain's MX, the help center's CNAME, SPF and DKIM TXT, the
login and API hosts) must resolve and contain what is expected. NXDOMAIN, a wrong value and a
timeout are reported differently: each has a different fix.
"""

import pytest

from allclear.checklist import observation
from allclear.expect import expect
from allclear.probes.dns import make_resolver, missing_values, resolve

pytestmark = pytest.mark.go


@observation
def lookup(dns_record, target):
    settings = target.dns
    return resolve(make_resolver(settings.nameservers, settings.port, settings.timeout_s),
                   dns_record.name, dns_record.type)


def test_record_resolves_as_expected(lookup, dns_record, attach_observation):
    seen = attach_observation(lookup)

    expect(seen.outcome != "nxdomain", f"{dns_record.name} to exist", f"NXDOMAIN from {seen.resolver}")
    expect(seen.outcome != "timeout", f"an answer from {seen.resolver}", seen.problem)
    expect(seen.outcome == "answered", f"a {dns_record.type} record for {dns_record.name}", seen.problem)
    missing = missing_values(seen, dns_record.expect)
    expect(not missing, f"{dns_record.type} {dns_record.name} -> {', '.join(dns_record.expect)}",
           f"{', '.join(seen.answers)} (missing {', '.join(missing)})")
