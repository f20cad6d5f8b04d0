"""`allclear sandbox` keeps the sandbox up alone, with faults switched on the command line or live."""

import re
import signal
import subprocess
import sys

import httpx


def test_sandbox_runs_alone_and_switches_faults_live():
    process = subprocess.Popen([sys.executable, "-m", "allclear.cli", "sandbox", "--fault", "maintenance"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = process.stdout.readline()
        url = re.search(r"sandbox up at (http://127\.0\.0\.1:\d+)", first).group(1)
        assert httpx.get(f"{url}/login").status_code == 503
        assert httpx.post(f"{url}/_sandbox/faults", json={"faults": []}).json() == {"faults": []}
        assert httpx.get(f"{url}/login").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "sandbox stopped" in output


def test_sandbox_lists_faults_and_refuses_unknown_ones():
    listed = subprocess.run([sys.executable, "-m", "allclear.cli", "sandbox", "--list-faults"],
                            capture_output=True, text=True)
    for fault in ("agents-locked:N", "reports-slow:SECONDS", "dns-nxdomain:NAME", "statuspage-in-progress"):
        assert fault in listed.stdout
    refused = subprocess.run([sys.executable, "-m", "allclear.cli", "sandbox", "--fault", "nope"],
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "unknown sandbox fault 'nope'" in refused.stderr
