"""Tool inputs and outputs: the JSON Schemas hosts show to models.

``base`` holds the one base model and the bounded argument types; one module
per tool group holds its models (``plans``, ``loops``, ``intercept``);
``convert`` turns domain results into them; ``compact`` trims the published
schemas for hosts with tight tool budgets.

The package's names are imported on first use (a module ``__getattr__``, as
``loopcore.evaluators`` does): a server imports ``compact`` and ``evaluators`` at
start-up, and the models (pydantic classes, built when their module is imported) only
when the first tool is registered (``server.app``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.schemas.base import *  # noqa: F403
    from server.schemas.convert import *  # noqa: F403
    from server.schemas.intercept import *  # noqa: F403
    from server.schemas.loops import *  # noqa: F403
    from server.schemas.plans import *  # noqa: F403

# The modules whose ``__all__`` this package publishes.
_MODULES = ("base", "convert", "intercept", "loops", "plans")


def _load() -> dict[str, Any]:
    """Import the modules and publish their names here (``__all__`` included)."""
    names: dict[str, Any] = {}
    for short in _MODULES:
        module = import_module(f"{__name__}.{short}")
        names.update({n: getattr(module, n) for n in module.__all__})
    published = globals()
    published.update(names)
    published["__all__"] = sorted(names)
    return published


def __getattr__(name: str) -> Any:
    if name.startswith("__") and name != "__all__":  # probes (copy, inspect) load nothing
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    published = _load()
    if name not in published:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return published[name]
