"""The sandbox speaks the vendor's shapes, and each fault does what it says."""

from pathlib import Path

import httpx
import pytest

from allclear.config import read_sandbox_template
from allclear.sandbox import FaultError, Sandbox, parse_fault

SANDBOX_TOML = Path(__file__).resolve().parents[1] / "config" / "sandbox.toml"


@pytest.fixture
def sandbox():
    environ: dict[str, str] = {}
    target = read_sandbox_template(SANDBOX_TOML)
    with Sandbox(target, environ=environ) as running:
        running.environ = environ
        yield running


@pytest.fixture
def client(sandbox):
    with httpx.Client(base_url=sandbox.url) as http:
        yield http


def set_faults(client, *faults):
    response = client.post("/_sandbox/faults", json={"faults": list(faults)})
    assert response.status_code == 200, response.text


def api_auth(sandbox):
    return ("reports-api@sandbox.allclear.test", sandbox.environ["ALLCLEAR_SANDBOX_API_TOKEN"])


REPORT = {"metricSet": "AgentSummaryV2", "timezone": "UTC", "startAt": "2026-11-22", "endAt": "2026-11-23"}


def test_secrets_are_made_up_per_sandbox(sandbox):
    assert set(sandbox.environ) == set(sandbox.target.secret_names())
    assert all(len(value) >= 20 for value in sandbox.environ.values())


def test_report_is_csv_with_content_disposition(sandbox, client):
    response = client.post("/api/v1/reports", json=REPORT, auth=api_auth(sandbox))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="AgentSummaryV2-2026-11-22-2026-11-23.csv"' in response.headers["content-disposition"]
    assert response.text.splitlines()[0].startswith("Agent Name,Agent Email")


def test_bad_report_request_uses_the_vendor_error_shape(sandbox, client):
    response = client.post("/api/v1/reports", json={**REPORT, "startAt": "yesterday"}, auth=api_auth(sandbox))
    assert response.status_code == 400
    error = {"attr": "startAt", "code": "invalid", "detail": "must be a date YYYY-MM-DD"}
    assert response.json() == {"errors": [error]}


def test_api_needs_basic_auth(client):
    assert client.get("/api/v1/agents").status_code == 401
    assert client.get("/api/v1/agents", auth=("reports-api@sandbox.allclear.test", "wrong")).status_code == 401


def test_agents_endpoint_shape(sandbox, client):
    agents = client.get("/api/v1/agents", auth=api_auth(sandbox)).json()
    assert len(agents) == 10 and set(agents[0]) == {"id", "name", "emailAddress"}


def test_statuspage_shapes(client):
    status = client.get("/statuspage/api/v2/status.json").json()
    assert set(status) == {"page", "status"} and status["status"]["indicator"] == "none"
    summary = client.get("/statuspage/api/v2/summary.json").json()
    assert set(summary) >= {"page", "components", "incidents", "scheduled_maintenances", "status"}
    assert {c["status"] for c in summary["components"]} == {"operational"}
    assert client.get("/statuspage/api/v2/scheduled-maintenances/active.json").json()["scheduled_maintenances"] == []
    assert client.get("/statuspage/api/v2/scheduled-maintenances/upcoming.json").json()["scheduled_maintenances"] == []
    completed = client.get("/statuspage/api/v2/scheduled-maintenances.json").json()["scheduled_maintenances"][0]
    assert completed["status"] == "completed" and completed["incident_updates"][0]["status"] == "completed"


def test_maintenance_fault_replaces_every_page_and_api(sandbox, client):
    set_faults(client, "maintenance")
    for path in ("/login", "/desktop", "/api/v1/agents"):
        response = client.get(path, auth=api_auth(sandbox))
        assert response.status_code == 503 and "scheduled maintenance" in response.text.lower()
    active = client.get("/statuspage/api/v2/scheduled-maintenances/active.json").json()
    assert active["scheduled_maintenances"][0]["status"] == "in_progress"


def test_agents_locked_refuses_only_the_first_n(sandbox, client):
    set_faults(client, "agents-locked:2")
    for number, expected in (("01", 403), ("02", 403), ("03", 303)):
        email = f"agent{number}@sandbox.allclear.test"
        password = sandbox.environ[f"ALLCLEAR_SANDBOX_AGENT{number}_PASSWORD"]
        assert client.post("/login", data={"email": email, "password": password}).status_code == expected


def test_wrong_password_is_refused(client):
    response = client.post("/login", data={"email": "agent01@sandbox.allclear.test", "password": "nope"})
    assert response.status_code == 401 and "Incorrect email or password" in response.text


@pytest.mark.parametrize("fault, status", [("reports-503", 503), ("reports-401", 401), ("login-500", 500)])
def test_error_faults(sandbox, client, fault, status):
    set_faults(client, fault)
    if fault == "login-500":
        response = client.post("/login", data={"email": "x", "password": "y"})
    else:
        response = client.post("/api/v1/reports", json=REPORT, auth=api_auth(sandbox))
    assert response.status_code == status


def test_fault_admin_endpoint_replaces_and_lists(client):
    set_faults(client, "reports-slow:0.1", "statuspage-in-progress")
    assert client.get("/_sandbox/faults").json() == {"faults": ["reports-slow:0.1", "statuspage-in-progress"]}
    assert client.post("/_sandbox/faults", json={"faults": ["bogus"]}).status_code == 400
    set_faults(client)
    assert client.get("/_sandbox/faults").json() == {"faults": []}


@pytest.mark.parametrize("spec, message", [
    ("bogus", "unknown sandbox fault 'bogus'; known faults: agents-locked"),
    ("agents-locked", "needs a number"),
    ("agents-locked:x", "needs a number"),
    ("maintenance:3", "takes no argument"),
])
def test_fault_parsing_errors(spec, message):
    with pytest.raises(FaultError, match=message):
        parse_fault(spec)


def test_switching_the_maintenance_off_posts_it_completed_at_that_moment(sandbox, client):
    from datetime import datetime, timedelta, timezone

    set_faults(client, "maintenance")
    set_faults(client, "maintenance", "reports-503")          # still the same maintenance
    started = sandbox.state.faults.window[0]
    set_faults(client)
    ended = datetime.now(timezone.utc)
    latest = client.get("/statuspage/api/v2/scheduled-maintenances.json").json()["scheduled_maintenances"][0]
    assert latest["status"] == "completed"
    assert abs(datetime.fromisoformat(latest["resolved_at"].replace("Z", "+00:00")) - ended) < timedelta(seconds=1)
    assert datetime.fromisoformat(latest["started_at"].replace("Z", "+00:00")) == \
        started.replace(microsecond=started.microsecond // 1000 * 1000)
    assert client.get("/login").status_code == 200


def test_maintenance_for_ends_by_itself(sandbox, client):
    import time

    set_faults(client, "maintenance-for:0.5")
    assert client.get("/login").status_code == 503
    assert client.get("/_sandbox/faults").json()["faults"] == ["maintenance-for:0.5"]
    time.sleep(0.7)
    assert client.get("/login").status_code == 200
    assert client.get("/_sandbox/faults").json()["faults"] == []
    status = client.get("/statuspage/api/v2/scheduled-maintenances/active.json").json()
    assert status["scheduled_maintenances"] == []
