"""The item registry: one declaration per Go item, and everything that reads it agrees with it."""

import ast
from pathlib import Path

from allclear.checklist import PARAMETERS
from allclear.config import Grading, Target
from allclear.items import item, registered

CHECKS = Path(__file__).resolve().parents[1] / "checks"


def check_doc(key: str) -> str:
    return ast.get_docstring(ast.parse((CHECKS / f"test_{key}.py").read_text())) or ""


def test_every_check_file_is_declared_and_every_declaration_has_its_check():
    files = {path.stem.removeprefix("test_") for path in CHECKS.glob("test_*.py")}
    assert files == set(registered())


def test_a_declared_title_is_the_first_line_of_its_checks_docstring():
    for key, declared in registered().items():
        assert check_doc(key).splitlines()[0].rstrip(".") == declared.title, key


def test_each_item_with_settings_is_a_table_of_the_target_and_may_have_retries():
    fields = Target.model_fields
    for key, declared in registered().items():
        assert declared.settings is None or fields[key].annotation == declared.settings | None
    assert set(fields["retries"].annotation.__args__[0].__args__) == set(registered())


def test_grading_defaults_come_from_the_declarations_and_match_severity_md():
    grading = Grading()
    assert sorted(grading.core_items) == ["chat_widget", "email", "login", "sms", "voice"]
    assert grading.caps == {"help_center": "P2", "reporting_api": "P2", "dns": "P2", "status_page": "P4"}


def test_parameters_are_distinct_and_offered_to_observations():
    names = [declared.parameter.name for declared in registered().values() if declared.parameter]
    assert len(names) == len(set(names)) and set(names) <= set(PARAMETERS)


def test_a_check_nobody_declared_is_named_by_its_docstring_and_graded_as_non_core():
    undeclared = item("login_speed", "The agent login page answers within two seconds.\n\nMore words.")
    assert (undeclared.title, undeclared.short_name, undeclared.probe, undeclared.core) == (
        "The agent login page answers within two seconds", "The agent login page answers within two seconds",
        ("probe", "probes"), False)
    assert undeclared.steps_to_reproduce(object(), "any") == [
        "Run `pytest -m go checks/test_login_speed.py` with this target."]
