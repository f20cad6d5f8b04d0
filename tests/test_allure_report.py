"""Without the Allure command line the run keeps its results and says how to get the HTML report."""

from allclear import allure_report


def test_missing_allure_cli_keeps_results_and_explains(monkeypatch, tmp_path):
    monkeypatch.setattr(allure_report, "allure_command", lambda: None)
    path, note = allure_report.build_html_report(tmp_path / "allure-results", tmp_path, "sandbox")
    assert path == ""
    assert "Allure 3 command line was not found" in note and "make setup" in note


def test_categories_use_no_inline_regex_flags():
    assert not any("(?" in c.get("messageRegex", "") for c in allure_report.CATEGORIES)


def test_the_run_timeline_is_a_global_attachment_on_the_reports_home_page(tmp_path):
    import json

    from allclear.config import Secrets
    from tests.test_terminal import made_up_verdict

    verdict = made_up_verdict()
    verdict.items[2].probes[0].moments.append([verdict.started_at.isoformat(), "email sent with Zq8#s<e>&'cret"])
    allure_report.write_run_timeline(tmp_path, verdict, Secrets({"X": "Zq8#s<e>&'cret"}))
    [globals_file] = tmp_path.glob("*-globals.json")
    [attachment] = json.loads(globals_file.read_text())["attachments"]
    assert attachment["type"] == "text/html" and attachment["name"].startswith("Run timeline")
    page = (tmp_path / attachment["source"]).read_text()
    assert page.index("maintenance window ended") < page.index("run started") < page.index("reply received")
    assert "2026-11-23 23:15:00" in page and "America/Los_Angeles" in page     # the target's time zone
    assert "Zq8#s" not in page and "email sent with" in page      # redacted before HTML-escaping


def test_probes_are_named_in_words_in_the_report():
    assert allure_report.probe_title("agent01@acme.example") == "agent01@acme.example"
    assert allure_report.probe_title("test_agents_endpoint_answers") == "Agents endpoint answers"
    assert allure_report.probe_title("test_x[Main line]") == "test_x[Main line]"
