"""JSON columns: one encoding for every structured value the store keeps."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["dumps", "loads_map", "loads_strs"]


def dumps(value: Any) -> str:
    """Encode ``value`` compactly; anything JSON cannot hold is stored as its ``str``."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def loads_map(text: str | None) -> dict[str, Any]:
    """Decode a JSON object column (None or null decode to an empty dict)."""
    if not text:
        return {}
    value = json.loads(text)
    return dict(value) if isinstance(value, Mapping) else {}


def loads_strs(text: str | None) -> tuple[str, ...]:
    """Decode a JSON array-of-strings column."""
    if not text or text == "[]":  # the common case, without the parser
        return ()
    value = json.loads(text)
    return tuple(str(v) for v in value) if isinstance(value, list) else ()
