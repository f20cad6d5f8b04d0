"""How a check file says what its item observes: `@observation`.

A check file has two parts. The observation talks to the platform through a probe, once per probe
of the item (one agent, one line, one page); the test judges what it saw. The plugin starts every
observation of the run when the run starts, side by side (see allclear.lanes), and hands each test
its own as a fixture of the observation's name. So the run takes about as long as its slowest item.

    @observation(pool="agents")
    async def sign_in(agent, target, secrets, browser, evidence_dir):
        return await AgentSession(browser, target.login, evidence_dir).run(agent.email, ...)

    def test_agent_logs_in(sign_in):
        expect(sign_in.signed_in, ...)

An `async def` observation runs in the browser lane and may ask for `browser` (the run's one
Chromium); a plain `def` gets a thread of its own. Arguments are chosen by name from PROVIDED.
`pool` names a limit on how many run at once (from the target's [run] settings); `serial` names a
group that runs one at a time.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import pytest

# The item's own parameter, one probe each (set by the plugin from the target).
PARAMETERS = ("agent", "support_line", "widget_page", "help_center_site", "dns_record", "report_spec")
PROVIDED = ("target", "secrets", "evidence_dir", "email_window", "browser", *PARAMETERS)


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
        if "browser" in arguments and not in_browser:
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


def observations_of(item: pytest.Item) -> list[Observation]:
    module = getattr(getattr(item, "module", None), "__name__", None)
    return [OBSERVATIONS[(module, name)] for name in item.fixturenames if (module, name) in OBSERVATIONS]
