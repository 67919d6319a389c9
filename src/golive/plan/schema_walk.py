"""Which keys the plan format allows at a place in a document (for did-you-mean hints)."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel


def keys_at(data: Any, path: tuple[str | int, ...]) -> set[str]:
    """The keys allowed in the mapping at `path`, judged from the models and the data there."""
    from golive.plan.models import Plan

    candidates: list[Any] = [Plan]
    node = data
    for part in path:
        node = _child(node, part)
        candidates = [t for c in candidates for t in _step(c, part)]
    models = [c for c in _flatten(candidates) if isinstance(c, type) and issubclass(c, BaseModel)]
    if len(models) > 1 and isinstance(node, dict):
        # a union (checks): keep the member whose distinguishing key is present
        present = [m for m in models if _tag(m) in node]
        models = present or models
    return {name for model in models for name in _field_names(model)}


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _tag(model: type[BaseModel]) -> str:
    required = [info.alias or n for n, info in model.model_fields.items() if info.is_required()]
    return required[0] if required else ""


def _flatten(annotations: list[Any]) -> list[Any]:
    out: list[Any] = []
    for annotation in annotations:
        origin = get_origin(annotation)
        if origin is Annotated:
            out.extend(_flatten([get_args(annotation)[0]]))
        elif origin in (Union, types.UnionType):
            out.extend(_flatten(list(get_args(annotation))))
        else:
            out.append(annotation)
    return out


def _step(annotation: Any, part: str | int) -> list[Any]:
    results: list[Any] = []
    for item in _flatten([annotation]):
        origin = get_origin(item)
        if isinstance(item, type) and issubclass(item, BaseModel) and isinstance(part, str):
            for name, info in item.model_fields.items():
                if part in (name, info.alias):
                    results.append(info.annotation)
        elif origin is list and isinstance(part, int):
            results.append(get_args(item)[0])
        elif origin is dict and isinstance(part, str):
            results.append(get_args(item)[1])
    return results
