"""Tool inputs and outputs: the JSON Schemas hosts show to models.

``base`` holds the one base model and the bounded argument types; one module
per tool group holds its models (``plans``, ``loops``, ``intercept``);
``convert`` turns domain results into them; ``compact`` trims the published
schemas for hosts with tight tool budgets.
"""

from __future__ import annotations

from server.schemas.base import *  # noqa: F403
from server.schemas.base import __all__ as _base_all
from server.schemas.convert import *  # noqa: F403
from server.schemas.convert import __all__ as _convert_all
from server.schemas.intercept import *  # noqa: F403
from server.schemas.intercept import __all__ as _intercept_all
from server.schemas.loops import *  # noqa: F403
from server.schemas.loops import __all__ as _loops_all
from server.schemas.plans import *  # noqa: F403
from server.schemas.plans import __all__ as _plans_all

__all__ = sorted({*_base_all, *_convert_all, *_intercept_all, *_loops_all, *_plans_all})
