"""The DNS probe tells NXDOMAIN, a wrong value and a timeout apart, against the sandbox's server."""

import socket

import pytest

from allclear.config import read_sandbox_template
from allclear.probes.dns import make_resolver, missing_values, resolve
from allclear.sandbox import Sandbox, parse_fault
from tests.conftest import SANDBOX_TOML, write_target


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(read_sandbox_template(SANDBOX_TOML), environ={}) as running:
        yield running


@pytest.fixture
def resolver(sandbox):
    sandbox.state.faults.clear()
    return make_resolver(["127.0.0.1"], sandbox.dns_port, timeout_s=2.0)


def test_mx_and_txt_answers(resolver):
    mx = resolve(resolver, "sandbox.allclear.test", "MX")
    assert (mx.outcome, mx.answers) == ("answered", ["mx1.sandbox-platform.test", "mx2.sandbox-platform.test"])
    assert missing_values(mx, ["MX1.sandbox-platform.test."]) == []
    txt = resolve(resolver, "sandbox.allclear.test", "TXT")
    assert missing_values(txt, ["v=spf1", "include:_spf.sandbox-platform.test", "include:other"]) == ["include:other"]


def test_wrong_mx_fault(sandbox, resolver):
    sandbox.state.faults.switch_on(parse_fault("dns-mx-wrong"))
    seen = resolve(resolver, "sandbox.allclear.test", "MX")
    assert missing_values(seen, ["mx1.sandbox-platform.test"]) == ["mx1.sandbox-platform.test"]
    assert seen.answers == ["mx.wrong-provider.test"]


def test_nxdomain_and_no_answer_are_distinct(sandbox, resolver):

    sandbox.state.faults.switch_on(parse_fault("dns-nxdomain:help.sandbox.allclear.test"))
    assert resolve(resolver, "help.sandbox.allclear.test", "CNAME").outcome == "nxdomain"
    assert resolve(resolver, "login.sandbox.allclear.test", "MX").outcome == "no-answer"


def test_silent_resolver_is_a_timeout():
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        seen = resolve(make_resolver(["127.0.0.1"], silent.getsockname()[1], timeout_s=0.5),
                       "sandbox.allclear.test", "MX")
    finally:
        silent.close()
    assert seen.outcome == "timeout" and "within 0.5 s" in seen.problem


@pytest.mark.slow
def test_dns_faults_end_to_end(run_go):
    result = run_go("--sandbox-fault", "dns-mx-wrong", "--sandbox-fault", "dns-nxdomain:help.sandbox.allclear.test",
                    checks=("test_dns.py",))
    dns = result.item("dns")
    assert (dns["outcome"], dns["grade"], dns["probes_failed"], dns["probes_run"]) == ("failed", "P2", 2, 5)
    observed = {p["probe"]: p["observed"] for p in dns["probes"] if p["outcome"] == "failed"}
    assert "mx.wrong-provider.test" in observed["MX sandbox.allclear.test"]
    assert "NXDOMAIN" in observed["CNAME help.sandbox.allclear.test"]


@pytest.mark.slow
def test_unreachable_resolver_fails_as_timeout(run_go, tmp_path):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        target = write_target(tmp_path, {"dns.port": silent.getsockname()[1], "dns.timeout_s": 0.5})
        result = run_go(target=target, checks=("test_dns.py",))
    finally:
        silent.close()
    dns = result.item("dns")
    assert dns["probes_failed"] == 5
    assert "within 0.5 s" in dns["probes"][0]["observed"]
