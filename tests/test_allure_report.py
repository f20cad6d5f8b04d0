"""Without the Allure command line the run keeps its results and says how to get the HTML report."""

from allclear import allure_report


def test_missing_allure_cli_keeps_results_and_explains(monkeypatch, tmp_path):
    monkeypatch.setattr(allure_report, "allure_command", lambda: None)
    path, note = allure_report.build_html_report(tmp_path / "allure-results", tmp_path, "sandbox")
    assert path == ""
    assert "Allure 3 command line was not found" in note and "make setup" in note


def test_categories_use_no_inline_regex_flags():
    assert not any("(?" in c.get("messageRegex", "") for c in allure_report.CATEGORIES)
