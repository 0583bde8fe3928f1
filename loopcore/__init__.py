"""loopcore: the domain of an MCP server that makes coding agents check their own work.

This package never imports the MCP layer (``server``), ``mcp``, starlette or
uvicorn; a test enforces it.

The evaluator and provider contracts are imported on first access (a module
``__getattr__``): everything that reads ``__version__`` or an error class (every
start of the CLI and the server) would otherwise import the evaluator factory and
the providers, which a server needs only once a tool runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopcore._lazy import lazy_names
from loopcore.errors import (
    Conflict,
    InvalidInput,
    LoopcoreError,
    LoopNotFound,
    NotFound,
    PlanNotFound,
    ProviderError,
    StoreError,
    TaskNotFound,
)

if TYPE_CHECKING:
    from loopcore.evaluators.base import EvalContext, Evaluation, Evaluator
    from loopcore.providers.base import Completion, Message, Provider

__version__ = "0.1.0"

__all__ = [
    "Completion",
    "Conflict",
    "EvalContext",
    "Evaluation",
    "Evaluator",
    "InvalidInput",
    "LoopNotFound",
    "LoopcoreError",
    "Message",
    "NotFound",
    "PlanNotFound",
    "Provider",
    "ProviderError",
    "StoreError",
    "TaskNotFound",
    "__version__",
]

# Name -> the module that defines it, imported on first access.
_LAZY = {
    "Completion": "loopcore.providers.base",
    "EvalContext": "loopcore.evaluators.base",
    "Evaluation": "loopcore.evaluators.base",
    "Evaluator": "loopcore.evaluators.base",
    "Message": "loopcore.providers.base",
    "Provider": "loopcore.providers.base",
}


__getattr__ = lazy_names(globals(), _LAZY)
