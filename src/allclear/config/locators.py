"""Locators as Playwright users write them, checked when the target is loaded.

A locator is written one of three ways, each the way Playwright's own tools write it:

- a chain as `playwright codegen --target python` prints it, pasted as it is:
  `get_by_role("button", name="Log Out")`, `get_by_label("Email")`,
  `locator("#profile").get_by_role("menuitem", name="Log Out")`,
  `frame_locator("iframe#chat").get_by_placeholder("Search")` (a leading `page.` is fine too);
- a table: `{ role = "button", name = "Log Out" }`, `{ label = "Email" }`, `{ placeholder = "…" }`,
  `{ text = "…" }`, `{ test_id = "…" }`, `{ css = "…" }`, each with an optional `frame = "<css of
  the iframe>"` and `exact = true`; it is turned into the chain above;
- any other string is a selector for `page.locator()`: CSS, or Playwright's `text=`/`role=` engines.

Only Playwright's locator methods are allowed in a chain, with literal arguments: the chain is parsed
(Python's `ast`), never evaluated.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator

CHAIN_METHODS = {"locator", "get_by_role", "get_by_text", "get_by_label", "get_by_placeholder", "get_by_test_id",
                 "get_by_title", "get_by_alt_text", "frame_locator", "filter", "nth", "and_", "or_"}
CHAIN_PROPERTIES = {"first", "last", "content_frame", "owner"}
KEYWORDS = {"name", "exact", "has_text", "has_not_text", "has", "has_not", "checked", "disabled", "expanded",
            "include_hidden", "level", "pressed", "selected", "visible"}
TABLE_KEYS = {"role": "get_by_role", "label": "get_by_label", "placeholder": "get_by_placeholder",
              "text": "get_by_text", "test_id": "get_by_test_id", "css": "locator", "title": "get_by_title",
              "alt_text": "get_by_alt_text"}


@dataclass(frozen=True)
class Link:
    """One link of a chain: a method with its arguments, or a property (`first`)."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    call: bool = True


@dataclass(frozen=True)
class Nested:
    """A locator as an argument (`has=get_by_text("…")`, `or_(…)`), built from the same page."""

    links: tuple[Link, ...]


@dataclass(frozen=True)
class Regex:
    """`re.compile("…")` in a chain, kept as text until the locator is built."""

    pattern: str
    flags: int = 0


def parse_chain(text: str) -> tuple[Link, ...] | None:
    """The links of a codegen chain, or None when `text` is not one (then it is a selector).
    Raises ValueError for a chain that uses anything but locator methods and literals."""
    source = text.strip().removeprefix("page.")
    if not re.match(r"^(%s)\s*\(" % "|".join(CHAIN_METHODS), source):
        return None
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"not a Playwright locator chain: {text!r} ({exc.msg})") from None
    links = tuple(_links(tree, text))
    if links[-1].name in ("frame_locator", "content_frame"):
        raise ValueError(f"{text!r} ends at a frame: add the element inside it, e.g. .get_by_role(\"button\")")
    return links


def _links(node: ast.AST, text: str) -> list[Link]:
    if isinstance(node, ast.Name) and node.id == "page":
        return []
    if isinstance(node, ast.Attribute) and node.attr in CHAIN_PROPERTIES:
        return [*_links(node.value, text), Link(node.attr, call=False)]
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id in CHAIN_METHODS:
            before, name = [], node.func.id
        elif isinstance(node.func, ast.Attribute) and node.func.attr in CHAIN_METHODS:
            before, name = _links(node.func.value, text), node.func.attr
        else:
            raise ValueError(f"{text!r}: only Playwright's locator methods may be chained "
                             f"({', '.join(sorted(CHAIN_METHODS))})")
        for keyword in node.keywords:
            if keyword.arg not in KEYWORDS:
                raise ValueError(f"{text!r}: unknown argument {keyword.arg!r} to {name}()")
        args = tuple(_literal(arg, text) for arg in node.args)
        kwargs = tuple((k.arg, _literal(k.value, text)) for k in node.keywords if k.arg)
        return [*before, Link(name, args, kwargs)]
    raise ValueError(f"{text!r}: not a Playwright locator chain (it may hold only locator methods and literals)")


def _literal(node: ast.AST, text: str) -> Any:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "compile" \
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "re" and node.args:
        flags = re.IGNORECASE if any(isinstance(a, ast.Attribute) and a.attr in ("I", "IGNORECASE")
                                     for a in [*node.args[1:], *(k.value for k in node.keywords)]) else 0
        return Regex(ast.literal_eval(node.args[0]), flags)
    if isinstance(node, ast.Call):            # a locator as an argument: has=get_by_text("…"), or_(…)
        nested = parse_chain(ast.unparse(node))
        if nested is None:
            raise ValueError(f"{text!r}: {ast.unparse(node)} is not a locator")
        return Nested(nested)
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ValueError(f"{text!r}: arguments must be literals (strings, numbers, true/false)") from None


def table_to_chain(table: dict[str, Any]) -> str:
    """`{role = "button", name = "Log Out", frame = "iframe#chat"}` as the chain codegen would print."""
    kinds = [key for key in table if key in TABLE_KEYS]
    unknown = set(table) - set(TABLE_KEYS) - {"name", "exact", "frame"}
    if len(kinds) != 1 or unknown:
        raise ValueError(f"a locator table needs exactly one of {', '.join(TABLE_KEYS)} (and may have name, exact, "
                         f"frame), got {table!r}")
    kind = kinds[0]
    args = [json.dumps(table[kind])]
    if "name" in table:
        if kind != "role":
            raise ValueError(f"'name' goes with 'role' only, got {table!r}")
        args.append(f"name={json.dumps(table['name'])}")
    if table.get("exact"):
        args.append("exact=True")
    chain = f"{TABLE_KEYS[kind]}({', '.join(args)})"
    return f"frame_locator({json.dumps(table['frame'])}).{chain}" if table.get("frame") else chain


def _locator(value: Any) -> str:
    if isinstance(value, dict):
        value = table_to_chain(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"a locator is a string (a codegen chain or a CSS selector) or a table, got {value!r}")
    parse_chain(value)
    return value


Locator = Annotated[str, BeforeValidator(_locator)]
