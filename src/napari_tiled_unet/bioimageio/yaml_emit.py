"""A tiny YAML emitter for JSON-like data: block mappings and sequences, double-quoted strings.

Writing a bioimage.io description needs no YAML library. Strings are JSON-quoted (a JSON string is a valid
YAML double-quoted scalar) and floats always carry a decimal point, so YAML 1.1 readers (PyYAML) and YAML 1.2
readers (ruamel/ruyaml, used by bioimageio.spec) read back the same values.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r} to YAML: only finite numbers")
        text = repr(value)
        if "e" in text and "." not in text:
            text = text.replace("e", ".0e")
        return text
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write a {type(value).__name__} to YAML: use dicts, lists, str, numbers, bool or None")


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"YAML mapping keys must be strings, got {key!r}")
    return key if _PLAIN_KEY.match(key) and key not in ("null", "true", "false", "yes", "no", "on", "off") else (
        json.dumps(key, ensure_ascii=False))


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (Mapping, list, tuple))


def _is_short_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) <= 16 and all(_is_scalar(v) for v in value)


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return [pad + "{}"]
        out = []
        for key, item in value.items():
            if _is_scalar(item) or not item or _is_short_list(item):
                out.append(f"{pad}{_key(key)}: {_inline(item)}")
            else:
                out.append(f"{pad}{_key(key)}:")
                out.extend(_lines(item, indent + 2))
        return out
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            return [pad + "[]"]
        if _is_short_list(value):
            return [pad + _inline(value)]
        out = []
        for item in value:
            sub = _lines(item, indent + 2)
            out.append(pad + "- " + sub[0][indent + 2:])
            out.extend(sub[1:])
        return out
    return [pad + _scalar(value)]


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}" if not value else "{" + ", ".join(f"{_key(k)}: {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return _scalar(value)


def dump_yaml(data: Mapping[str, Any]) -> str:
    """Return ``data`` (a mapping of JSON-like values) as YAML text ending in a newline.

    Raises
    ------
    TypeError
        If a value is not a dict, list, tuple, str, int, float, bool or None, or a key is not a string.
    ValueError
        If a float is NaN or infinite.

    """
    if not isinstance(data, Mapping):
        raise TypeError(f"the YAML document must be a mapping, got {type(data).__name__}")
    return "\n".join(_lines(data, 0)) + "\n"
