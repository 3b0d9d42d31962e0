"""The API description as OpenAPI 3.0.3, which the bundled Swagger UI (4.x) and client generators read.

FastAPI writes OpenAPI 3.1; Swagger UI 4 refuses 3.1 ("does not specify a valid version field"). The
few 3.1 forms FastAPI uses are rewritten to their 3.0 spelling: ``anyOf [X, {"type": "null"}]`` becomes
``X`` with ``nullable: true``, ``const`` an ``enum`` of one value, and a schema's list of ``examples``
its first ``example``.
"""

from __future__ import annotations

import copy
from typing import Any

OPENAPI_VERSION = "3.0.3"
_NULL = {"type": "null"}


def to_openapi_30(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of a FastAPI OpenAPI 3.1 ``document`` written as OpenAPI 3.0.3."""
    converted = _convert(copy.deepcopy(document))
    converted["openapi"] = OPENAPI_VERSION
    return converted


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list) and _NULL in options:
            rest = [option for option in options if option != _NULL]
            del node[key]
            if len(rest) == 1 and "$ref" in rest[0]:
                node["allOf"] = rest
            elif len(rest) == 1:
                node.update(rest[0])
            else:
                node[key] = rest
            node["nullable"] = True
    if isinstance(node.get("type"), list):
        types = [kind for kind in node["type"] if kind != "null"]
        if len(types) < len(node["type"]):
            node["nullable"] = True
        node["type"] = types[0] if len(types) == 1 else types
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if isinstance(node.get("examples"), list):
        examples = node.pop("examples")
        if examples:
            node["example"] = examples[0]
    return {key: _convert(value) for key, value in node.items()}
