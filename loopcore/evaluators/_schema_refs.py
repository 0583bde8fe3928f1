"""References in a JSON Schema must stay inside it: nothing is fetched, nothing is read.

jsonschema resolves a ``$ref`` it does not know by fetching it (the deprecated
``RefResolver`` behaviour, with no time limit): a spec could make the server
call any URL and hand back what came back. So a schema is refused when any
``$ref`` or ``$dynamicRef`` names a document that the schema does not define
itself, and the validator is given a registry with nothing to retrieve from.

What counts as inside: the root document, and every ``$id`` declared by a
subschema of it, each resolved against its enclosing ``$id`` as the
specification says. ``#/$defs/x``, ``#anchor`` and ``other.json#/x`` where some
subschema declares ``"$id": "other.json"`` are inside; ``http://...`` that no
subschema declares, or a relative ``item.json`` that resolves (against the
root's ``$id``) to a document nobody declares, is outside. Subschemas are found
with ``referencing`` (the library jsonschema resolves with), so a ``$ref``
written inside ``const``, ``enum`` or ``examples`` is data, not a reference.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urldefrag, urljoin

__all__ = ["outside_reference"]

_KEYWORDS = ("$ref", "$dynamicRef")


def outside_reference(schema: Any) -> str | None:
    """A description of the first reference that leaves ``schema``, or None when none does.

    The description names the keyword, the reference as written and where it
    resolves to, e.g. ``"$ref 'http://h/x.json' (resolves to 'http://h/x.json')"``.
    """
    from referencing.jsonschema import DRAFT202012

    declared = {""}
    refs: list[tuple[str, str, str]] = []
    stack = [(DRAFT202012.create_resource(schema), "")]
    while stack:
        resource, base = stack.pop()
        own = resource.id()
        if isinstance(own, str):
            base = urljoin(base, own)
            declared.add(urldefrag(base).url)
        contents = resource.contents
        if isinstance(contents, dict):
            refs += [(k, contents[k], base) for k in _KEYWORDS if isinstance(contents.get(k), str)]
        stack.extend((sub, base) for sub in resource.subresources())
    for keyword, ref, base in refs:
        target = urldefrag(urljoin(base, ref)).url
        if target not in declared:
            return f"{keyword} {ref[:200]!r} (resolves to {target[:200]!r})"
    return None
