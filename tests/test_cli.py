"""`allclear sandbox` keeps the sandbox up alone, with faults switched on the command line or live."""

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import ROOT, write_target


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


def test_go_runs_from_any_folder_with_the_target_typed_with_a_space(tmp_path):
    """`--target /abs/path.toml` (a space, a file outside the project): `allclear go` takes it."""
    elsewhere = tmp_path / "ops"
    elsewhere.mkdir()
    (tmp_path / "targets").mkdir()
    target = write_target(tmp_path / "targets")
    done = subprocess.run([sys.executable, "-m", "allclear.cli", "go", "--target", str(target), "--no-html-report",
                           "-k", "status_page"], cwd=elsewhere, capture_output=True, text=True, timeout=300)
    verdict = json.loads((elsewhere / "reports" / "verdict.json").read_text())
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert [item["item"] for item in verdict["items"]] == ["status_page"]
    assert Path(verdict["target_file"]) == target


def test_pytest_with_a_spaced_target_outside_the_project_says_how_to_type_it(tmp_path):
    target = write_target(tmp_path)
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", "go", "--target", str(target)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 4
    assert "--target=/path/to/target.toml" in done.stderr and "allclear go --target /path/to/target.toml" in done.stderr
