"""A bad target file stops the run before any check, naming the file, the key and what is wrong."""

from pathlib import Path

import pytest

from allclear.config import ConfigError, read_sandbox_template, read_target_file, resolve_secrets, validate_target
from allclear.target import load_target

ROOT = Path(__file__).resolve().parents[1]


def load(tmp_path: Path, text: str):
    path = tmp_path / "target.toml"
    path.write_text(text)
    return validate_target(read_target_file(path), path), path


MINIMAL = '''
name = "acme"
[[agents]]
email = "a@acme.test"
password_env = "ACME_AGENT_PASSWORD"
[login]
url = "https://acme.gladly.com/login"
'''


def test_minimal_target_is_valid(tmp_path):
    target, _ = load(tmp_path, MINIMAL)
    assert target.login.desktop_timeout_s == 30
    assert target.grading.p1_fraction == 0.30


def test_toml_syntax_error_names_file_and_line(tmp_path):
    with pytest.raises(ConfigError, match=r"target\.toml: not valid TOML: .*line 2"):
        load(tmp_path, 'name = "x"\nagents = = 3\n')


def test_unknown_key_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"target\.toml: login\.desktop_timout_s: unknown key"):
        load(tmp_path, MINIMAL + "desktop_timout_s = 3\n")


def test_wrong_type_names_the_key_and_value(tmp_path):
    with pytest.raises(ConfigError, match=r"login\.desktop_timeout_s: .*number.*'soon'"):
        load(tmp_path, MINIMAL + 'desktop_timeout_s = "soon"\n')


def test_bad_url_and_env_name_are_explained(tmp_path):
    text = MINIMAL.replace("https://acme.gladly.com/login", "acme.gladly.com").replace(
        "ACME_AGENT_PASSWORD", "not a var!")
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, text)
    message = str(raised.value)
    assert "login.url: must be an http(s):// URL" in message
    assert "agents[0].password_env: must be the name of an environment variable" in message


def test_missing_required_key(tmp_path):
    with pytest.raises(ConfigError, match=r"agents\[0\]\.password_env: required key is missing"):
        load(tmp_path, 'name = "x"\n[[agents]]\nemail = "a@b.c"\n')


def test_bad_time_zone(tmp_path):
    with pytest.raises(ConfigError, match=r"time_zone: unknown time zone 'Mars/Olympus'"):
        load(tmp_path, 'name = "x"\ntime_zone = "Mars/Olympus"\n')


def test_missing_secret_names_the_variable(tmp_path):
    target, path = load(tmp_path, MINIMAL)
    with pytest.raises(ConfigError, match="missing secret environment variable.*ACME_AGENT_PASSWORD"):
        resolve_secrets(target, path, environ={})
    assert resolve_secrets(target, path, environ={"ACME_AGENT_PASSWORD": "pw"})["ACME_AGENT_PASSWORD"] == "pw"


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such target file"):
        read_target_file(tmp_path / "nope.toml")


@pytest.mark.parametrize("name", ["sandbox.toml", "example.toml"])
def test_shipped_targets_are_valid(name):
    read_sandbox_template(ROOT / "config" / name)


def test_example_target_needs_its_secrets(monkeypatch):
    for name in ("GLADLY_API_TOKEN", "ALLCLEAR_AGENT1_PASSWORD", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="GLADLY_API_TOKEN"):
        load_target(ROOT / "config" / "example.toml")


def test_sandbox_target_starts_sandbox_and_fills_in_its_address(monkeypatch):
    target, secrets, sandbox = load_target(ROOT / "config" / "sandbox.toml")
    try:
        assert target.login.url == f"{sandbox.url}/login"
        # the API token, Twilio, the probe mailbox (one password), the desk's PagerDuty, Zendesk and webhook
        assert len(secrets.values()) == len(target.secret_names()) == len(target.agents) + 3 + 3
    finally:
        sandbox.stop()


def test_faults_need_a_sandbox_target(monkeypatch, tmp_path):
    _, path = load(tmp_path, MINIMAL)
    with pytest.raises(ConfigError, match="--sandbox-fault needs a sandbox target"):
        load_target(path, ["maintenance"])
