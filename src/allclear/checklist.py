"""How a check file is part of the checklist: its item, its probes, and `@observation`.

A check file has two parts. The observation talks to the platform through a probe, once per probe
of the item (one agent, one line, one page); the test judges what it saw. The run starts every
observation when it starts, side by side (see allclear.lanes), and hands each test its own as a
fixture of the observation's name. So the run takes about as long as its slowest item.

    @observation(pool="agents")
    async def sign_in(agent, target, secrets, chromium, evidence_dir):
        return await AgentSession(chromium, target.login, evidence_dir).run(agent.email, ...)

    def test_agent_logs_in(sign_in):
        expect(sign_in.signed_in, ...)

An `async def` observation runs in the browser lane and may ask for `chromium` (the run's one
browser); a plain `def` gets a thread of its own. Its arguments are chosen by name from PROVIDED:
the item's parameter (from its declaration in allclear.items) and what the run owns (the target,
its secrets, the probe's evidence folder, the email window, the browser); they are given when the
run starts, before any fixture is set up. `pool` names a limit on how many run at once (from the
target's [run] settings); `serial` names a group that runs one at a time.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from allclear.items import GoItem, registered
from allclear.items import item as declared

RUN_OWNED = ("target", "secrets", "evidence_dir", "email_window", "chromium")
# The items' own parameters, one probe each (their values come from the target).
PARAMETERS = tuple(item.parameter.name for item in registered().values() if item.parameter)
PROVIDED = (*RUN_OWNED, *PARAMETERS)


@dataclass(frozen=True)
class Observation:
    name: str
    module: str
    function: Callable
    arguments: tuple[str, ...]
    in_browser: bool
    pool: str | None = None
    serial: str | None = None


OBSERVATIONS: dict[tuple[str, str], Observation] = {}


def observation(function: Callable | None = None, *, pool: str | None = None, serial: str | None = None):
    def register(fn: Callable):
        arguments = tuple(inspect.signature(fn).parameters)
        where = f"{fn.__module__}.{fn.__name__}"
        unknown = [name for name in arguments if name not in PROVIDED]
        if unknown:
            raise TypeError(f"observation {where} asks for {', '.join(unknown)}; "
                            f"an observation can be given: {', '.join(PROVIDED)}")
        in_browser = inspect.iscoroutinefunction(fn)
        if "chromium" in arguments and not in_browser:
            raise TypeError(f"observation {where} uses the browser, so it must be an `async def`")
        spec = Observation(fn.__name__, fn.__module__, fn, arguments, in_browser, pool, serial)
        OBSERVATIONS[(fn.__module__, fn.__name__)] = spec

        def fixture(request: pytest.FixtureRequest, **parameters: object) -> object:
            return request.getfixturevalue("go_run").observe(request.node, spec)

        # The fixture takes the item's parameter, so that pytest parametrizes the test by it.
        fixture.__signature__ = inspect.Signature(
            [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
            + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in arguments if name in PARAMETERS])
        fixture.__name__, fixture.__doc__ = fn.__name__, fn.__doc__
        return pytest.fixture(name=fn.__name__)(fixture)

    return register(function) if function is not None else register


def observations_of(node: pytest.Item) -> list[Observation]:
    module = getattr(getattr(node, "module", None), "__name__", None)
    return [OBSERVATIONS[(module, name)] for name in node.fixturenames if (module, name) in OBSERVATIONS]


def is_go_item(node: pytest.Item) -> bool:
    return node.get_closest_marker("go") is not None


def item_key(node: pytest.Item) -> str:
    """checks/test_<key>.py: the item a check belongs to."""
    return node.path.stem.removeprefix("test_")


def item_of(node: pytest.Item) -> GoItem:
    """The check's item, as declared (or, undeclared, as its check file's docstring names it)."""
    return declared(item_key(node), getattr(getattr(node, "module", None), "__doc__", None))


def probe_id(node: pytest.Item) -> str:
    """One probe's name: its parameter's id (an agent's email), or the test's name."""
    return node.callspec.id if hasattr(node, "callspec") else node.name


def maybe_skipped(node: pytest.Item) -> bool:
    """Checks that may be skipped are not started ahead: their probes start (if at all) when pytest
    runs them, so a skipped check never sends an email or places a call."""
    return any(next(node.iter_markers(name), None) is not None for name in ("skip", "skipif", "xfail"))
