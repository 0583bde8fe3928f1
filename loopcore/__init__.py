"""loopcore: the domain of an MCP server that makes coding agents check their own work.

This package never imports the MCP layer (``server``), ``mcp``, starlette or
uvicorn; a test enforces it.
"""

from __future__ import annotations

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
