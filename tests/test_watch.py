"""`allclear watch`: it tells a maintenance under way from one that is over, records the end within a
poll interval, and, run as ops run it, starts the checklist on its own, or stops cleanly on Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from datetime import time as dt_time

import httpx
import pytest

from allclear.config import UNSTARTED_SANDBOX, ConfigError, fill_placeholders, read_target_file, validate_target
from allclear.probes.login_page import look_at_login_page
from allclear.sandbox import Sandbox
from allclear.sandbox.faults import Fault
from allclear.watch import Look, MaintenanceWatch
from tests.conftest import ROOT, SANDBOX_TOML, write_target


@pytest.fixture
def platform():
    """The sandbox and the target pointed at it, as `allclear watch` sees them."""
    raw = read_target_file(SANDBOX_TOML)
    with Sandbox(validate_target(fill_placeholders(raw, UNSTARTED_SANDBOX), SANDBOX_TOML), environ={}) as sandbox:
        yield sandbox, validate_target(fill_placeholders(raw, sandbox.addresses()), SANDBOX_TOML)


def watch_in_background(watch: MaintenanceWatch):
    found = {}
    thread = threading.Thread(target=lambda: found.setdefault("end", watch.wait_for_the_end()), daemon=True)
    thread.start()
    return thread, found


def test_the_end_is_recorded_within_one_poll_interval_of_the_maintenance_ending(platform):
    sandbox, target = platform
    sandbox.state.faults.switch_on(Fault("maintenance"))
    thread, found = watch_in_background(MaintenanceWatch(target, interval_s=0.5, deadline_s=30))
    time.sleep(1.5)
    assert thread.is_alive()                       # still in maintenance: still watching
    sandbox.state.faults.replace([])               # the vendor ends the maintenance
    ended_at = datetime.now(timezone.utc)
    thread.join(timeout=10)
    end = found["end"]
    assert end.ended and end.looks >= 3
    assert timedelta(0) <= end.at - ended_at <= timedelta(seconds=0.5 + 0.5)
    assert end.source.startswith("allclear watch saw it end: login page back, status page: 'Platform database "
                                 "upgrade' completed")


def test_the_login_page_back_is_not_enough_while_the_status_page_shows_the_maintenance(platform):
    sandbox, target = platform
    sandbox.state.faults.switch_on(Fault("statuspage-in-progress"))
    end = MaintenanceWatch(target, interval_s=0.2, deadline_s=1).wait_for_the_end()
    assert not end.ended and "deadline (1 s) passed" in end.source


def test_verifying_ends_the_window_the_vendor_is_checking_its_work(platform):
    sandbox, target = platform
    sandbox.state.faults.switch_on(Fault("statuspage-in-progress"))
    thread, found = watch_in_background(MaintenanceWatch(target, interval_s=0.3, deadline_s=30))
    time.sleep(1)
    assert thread.is_alive()
    sandbox.state.faults.replace([Fault("statuspage-verifying")])
    thread.join(timeout=10)
    end = found["end"]
    assert end.ended
    assert "status page: 'Emergency network maintenance' is verifying (work done" in end.source


def test_started_before_the_window_it_does_not_take_no_maintenance_yet_for_over(platform):
    _, target = platform                          # healthy; the last maintenance completed hours ago
    looks = []
    end = MaintenanceWatch(target, interval_s=0.2, deadline_s=1).wait_for_the_end(looks.append)
    assert not end.ended and len(looks) >= 3 and all(look.over for look in looks)


def test_a_maintenance_completed_since_the_watch_began_counts_as_over(platform):
    sandbox, target = platform
    sandbox.state.faults.switch_on(Fault("maintenance-for", 0.3))
    time.sleep(0.5)                               # over before the first look
    end = MaintenanceWatch(target, interval_s=1, deadline_s=5).wait_for_the_end()
    assert end.ended and end.looks == 1 and end.source.startswith("allclear watch found it already over")


def test_a_login_page_that_is_down_counts_as_the_maintenance_seen():
    from allclear.probes.login_page import LoginPageLook

    now = datetime.now(timezone.utc)
    assert Look(now, login=LoginPageLook("u", problem="unreachable: connection refused")).in_maintenance
    assert Look(now, login=LoginPageLook("u", status=502, problem="HTTP 502 (a server error)")).in_maintenance
    assert not Look(now, login=LoginPageLook("u", status=200)).in_maintenance


def test_ctrl_c_while_waiting_stops_the_watch(platform):
    sandbox, target = platform
    sandbox.state.faults.switch_on(Fault("maintenance"))
    watch = MaintenanceWatch(target, interval_s=0.2, deadline_s=30)
    thread, found = watch_in_background(watch)
    time.sleep(0.5)
    watch.stop.set()
    thread.join(timeout=5)
    assert found["end"] is None


def test_a_target_with_neither_login_nor_status_page_cannot_be_watched(platform):
    _, target = platform
    bare = target.model_copy(update={"login": None, "status_page": None})
    with pytest.raises(ConfigError, match="nothing to watch"):
        MaintenanceWatch(bare)


@pytest.mark.parametrize("status, body, maintenance, up", [
    (200, "<title>Sign in</title><form>", False, True),
    (503, "<title>Down</title>", True, False),
    (200, "<title>Acme</title><h1>Scheduled Maintenance</h1>", True, False),
    (200, "<title>Sign in</title><script>var maintenance = false;</script>", False, True),
    (500, "oops", False, False),
])
def test_the_login_page_look(status, body, maintenance, up):
    transport = httpx.MockTransport(lambda request: httpx.Response(status, text=body))
    look = look_at_login_page("https://acme.example/login", ["maintenance"], 5, transport=transport)
    assert (look.maintenance, look.up) == (maintenance, up)


def test_an_unreachable_login_page_is_not_up():
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    look = look_at_login_page("https://acme.example/login", ["maintenance"], 5, transport=httpx.MockTransport(refuse))
    assert not look.up and look.describe() == "unreachable: connection refused"


# --- as ops run it ----------------------------------------------------------------------------------

def start_watch(tmp_path, *args: str) -> subprocess.Popen:
    target = write_target(tmp_path, {"email.delay_after_window_min": 0.05}, agents=2)
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("ALLCLEAR_TARGET", "ALLCLEAR_SANDBOX_", "GITHUB_STEP_SUMMARY"))}
    return subprocess.Popen([sys.executable, "-m", "allclear.cli", "watch", f"--target={target}",
                             f"--reports-dir={tmp_path / 'reports'}", *args], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=ctrl_c_as_at_a_terminal)


def ctrl_c_as_at_a_terminal() -> None:
    """Ctrl-C reaches the watch even when these tests run in a background job, whose children
    inherit SIGINT ignored (POSIX shells do that to `cmd &`), and Python then installs no handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def read_until(process: subprocess.Popen, text: str, seen: list[str], timeout: float = 60) -> None:
    gives_up = time.monotonic() + timeout
    while time.monotonic() < gives_up:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"{text!r} never came:\n{''.join(seen)}")


@pytest.mark.slow
def test_watch_waits_out_the_maintenance_then_runs_the_checklist(tmp_path):
    process = start_watch(tmp_path, "--sandbox-fault", "maintenance-for:4", "--interval", "1", "--",
                          "--no-html-report")
    output, _ = process.communicate(timeout=180)
    assert process.returncode == 0, output[-3000:]
    verdict = json.loads((tmp_path / "reports" / "verdict.json").read_text())
    assert verdict["verdict"] == "GO"
    assert verdict["window_end_source"].startswith("allclear watch saw it end")
    window_end = datetime.fromisoformat(verdict["window_end"]).astimezone(timezone.utc)
    clock = verdict["window_end_source"].split("completed ")[1].split(" UTC")[0]     # as the status page posted it
    completed = datetime.combine(window_end.date(), dt_time.fromisoformat(clock), tzinfo=timezone.utc)
    started = datetime.fromisoformat(verdict["started_at"])
    # Seen within one poll interval (1 s; the status page's time is to the second), then the run's set-up.
    assert timedelta(0) <= window_end - completed <= timedelta(seconds=1 + 1)
    assert timedelta(0) <= started - window_end <= timedelta(seconds=3)
    assert "login page: the maintenance page (HTTP 503" in output and "window over at" in output
    email = next(item for item in verdict["items"] if item["item"] == "email")["probes"][0]
    sent = next(datetime.fromisoformat(when) for when, what in email["moments"] if what.startswith("email sent"))
    assert sent >= datetime.fromisoformat(verdict["window_end"]) + timedelta(minutes=0.05)
    assert output.splitlines()[-1] == "GO on sandbox: 9 passed (9 items), exit 0"


@pytest.mark.slow
def test_ctrl_c_while_waiting_checks_nothing(tmp_path):
    process = start_watch(tmp_path, "--sandbox-fault", "maintenance", "--interval", "1")
    seen: list[str] = []
    read_until(process, "login page: the maintenance page", seen)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 130, "".join(seen) + output
    assert "stopped watching before the window ended: nothing was checked" in output
    assert not (tmp_path / "reports" / "verdict.json").exists()


@pytest.mark.slow
def test_ctrl_c_during_the_checklist_leaves_a_partial_verdict(tmp_path):
    process = start_watch(tmp_path, "--sandbox-fault", "maintenance-for:1", "--interval", "1", "--",
                          "--no-html-report", "--email-delay=5")
    seen: list[str] = []
    read_until(process, "email: waiting until", seen)          # the run is under way, the email 5 min off
    read_until(process, "Every agent can log in", seen)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=90)
    verdict = json.loads((tmp_path / "reports" / "verdict.json").read_text())
    assert process.returncode == 2 == verdict["exit_code"], "".join(seen) + output
    assert verdict["verdict"] == "INCONCLUSIVE"
    outcomes = {item["item"]: item["outcome"] for item in verdict["items"]}
    assert outcomes["login"] == "passed" and outcomes["email"] == "inconclusive"
    assert "interrupted: partial verdict INCONCLUSIVE" in output


@pytest.mark.slow
def test_on_a_terminal_the_live_panels_show_the_wait_and_the_items(tmp_path):
    """The rich Live panels, drawn on a pseudo-terminal, with pytest's own output above them."""
    import pty
    import re
    import select

    target = write_target(tmp_path, {"email.delay_after_window_min": 0.1}, agents=2)
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("ALLCLEAR_TARGET", "ALLCLEAR_SANDBOX_", "GITHUB_STEP_SUMMARY"))}
    environment.update(COLUMNS="120", LINES="40", TERM="xterm-256color")
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "allclear.cli", "watch", f"--target={target}",
                                f"--reports-dir={tmp_path / 'reports'}", "--sandbox-fault", "maintenance-for:3",
                                "--interval", "1", "--", "--no-html-report"],
                               cwd=ROOT, env=environment, stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    screen = b""
    gives_up = time.monotonic() + 180
    while time.monotonic() < gives_up:
        ready, _, _ = select.select([controller], [], [], 1)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:            # the process closed its side
                break
            if not chunk:
                break
            screen += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(controller)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode("utf-8", "replace"))
    assert process.returncode == 0, text[-3000:]
    assert "next look" in text and "waiting for the maintenance window to end" in text       # the wait's panel
    assert "sends at" in text and "running" in text                                           # the run's panel
    assert "Every agent can log in and set a status" in text and "GO on sandbox" in text
    assert "verdict so far: GO so far — email round trip" in text      # only the waiting items left


@pytest.mark.parametrize("args, says", [
    (["--target", "config/example.toml"], "missing secret environment variable"),
    (["--interval", "0"], "must be seconds above 0"),
    (["--sandbox-fault", "maintenance-forever"], "unknown sandbox fault 'maintenance-forever'"),
])
def test_bad_input_is_one_line_and_exit_4_before_any_waiting(args, says):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ALLCLEAR_", "GLADLY_", "TWILIO_"))}
    done = subprocess.run([sys.executable, "-m", "allclear.cli", "watch", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 4, done.stdout + done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
