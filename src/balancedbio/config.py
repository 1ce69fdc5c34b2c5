"""Typed configuration: YAML recipes plus ``key=value`` overrides mapped onto frozen dataclasses.

Each concern declares its own frozen dataclass whose fields use :func:`option` to carry help text and
constraints. :func:`load_config` reads a YAML file with ``yaml.safe_load`` semantics, applies dotted
command-line overrides, and validates everything; any problem raises a :class:`ConfigError` whose one-line
message names the file, the line where known, and the key.

Example::

    @dataclass(frozen=True)
    class OptimConfig:
        lr: float = option(1e-4, "Peak learning rate.", min=0.0)
        scheduler: str = option("cosine", "LR schedule.", choices=("cosine", "linear", "constant"))

    cfg = load_config(OptimConfig, "configs/optim.yaml", ["lr=3e-4"])
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from balancedbio.errors import ConfigError

T = TypeVar("T")
_MISSING = dataclasses.MISSING


def option(
    default: Any = _MISSING,
    help: str = "",
    *,
    choices: Iterable[Any] | None = None,
    min: float | None = None,
    max: float | None = None,
    min_exclusive: bool = False,
    default_factory: Any = _MISSING,
) -> Any:
    """A dataclass field with help text and validation constraints.

    ``min``/``max`` bound numbers (inclusive unless ``min_exclusive``); ``choices`` lists allowed values.
    Mutable defaults (lists, dicts) are copied per instance automatically.
    """
    meta = {"help": help, "choices": tuple(choices) if choices is not None else None, "min": min,
            "max": max, "min_exclusive": min_exclusive}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    if isinstance(default, (list, dict, set)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# --------------------------------------------------------------------------------------------------
# YAML with line numbers


def _line_index(text: str) -> dict[str, int]:
    """Map dotted keys of a YAML mapping document to their 1-based line numbers."""
    index: dict[str, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return index

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = f"{prefix}{key_node.value}"
                index[key] = key_node.start_mark.line + 1
                walk(value_node, key + ".")

    walk(root, "")
    return index


def _yaml_error_where(exc: yaml.YAMLError) -> str:
    """``:LINE: invalid YAML (problem)`` naming the line the mistake is on.

    The parser notices an unclosed quote or bracket, or a key without ``:``, only on a later line; the
    construct that was left open starts on the context line, so that is the one to name.
    """
    mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context", None) or ""
    context_mark = getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return f": invalid YAML ({problem})"
    if context_mark is not None and context.startswith(("while scanning", "while parsing a flow")) \
            and context_mark.line != mark.line:
        return (f":{context_mark.line + 1}: invalid YAML ({context.removeprefix('while ')} that is not "
                f"closed: {problem} on line {mark.line + 1})")
    return f":{mark.line + 1}: invalid YAML ({problem})"


def read_yaml(path: str | Path) -> tuple[dict[str, Any], dict[str, int]]:
    """Read a YAML mapping safely; return it with a dotted-key -> line index."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}{_yaml_error_where(exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    return data, _line_index(text)


# --------------------------------------------------------------------------------------------------
# Conversion and validation


class _Ctx:
    def __init__(self, source: str, lines: Mapping[str, Any]):
        self.source = source
        self.lines = lines

    def fail(self, key: str, message: str) -> typing.NoReturn:
        override = _override_of(self.lines, key)
        if override is not None:
            raise ConfigError(f"command-line override '{override}': key '{key}': {message}")
        line = self.lines.get(key)
        file = self.source.removesuffix(" + command-line overrides")
        where = f"{file}:{line}" if isinstance(line, int) and line else self.source
        raise ConfigError(f"{where}: key '{key}': {message}")


_OVERRIDE = "override:"


def _override_of(lines: Mapping[str, Any], key: str) -> str | None:
    """The ``KEY=VALUE`` text that set ``key`` (or a mapping above it), if a command-line override did."""
    probe = key
    while probe:
        mark = lines.get(probe)
        if isinstance(mark, str) and mark.startswith(_OVERRIDE):
            return mark[len(_OVERRIDE):]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return None


def mark_overrides(lines: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """The YAML line index with every key set by an override pointing at that override instead, so an
    error in an override's value names the override, not the YAML line it replaced."""
    out = dict(lines)
    for item in overrides:
        if "=" not in item:
            continue
        key = item.split("=", 1)[0].strip().lstrip("-")
        for k in [k for k in out if k == key or k.startswith(key + ".") or k.startswith(key + "[")]:
            del out[k]
        out[key] = _OVERRIDE + item
    return out


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, key: str, ctx: _Ctx) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key, ctx)
            except ConfigError as exc:
                errors.append(exc)
        ctx.fail(key, f"expected {' or '.join(_type_name(a) for a in args)}, got {value!r}")
    if origin is typing.Literal:
        if value not in args:
            ctx.fail(key, f"must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            ctx.fail(key, f"expected a mapping of {tp.__name__} fields, got {type(value).__name__}")
        return _build(tp, value, ctx, prefix=key + ".")
    if origin in (list, tuple) or tp in (list, tuple):
        if isinstance(value, str) and value == "":
            value = []
        if not isinstance(value, (list, tuple)):
            ctx.fail(key, f"expected a list, got {type(value).__name__} {value!r}")
        item_tp = args[0] if args else Any
        items = [_convert(v, item_tp, f"{key}[{i}]", ctx) for i, v in enumerate(value)]
        return tuple(items) if (origin is tuple or tp is tuple) else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            ctx.fail(key, f"expected a mapping, got {type(value).__name__}")
        val_tp = args[1] if len(args) == 2 else Any
        return {str(k): _convert(v, val_tp, f"{key}.{k}", ctx) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        ctx.fail(key, f"expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            ctx.fail(key, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool):
            ctx.fail(key, f"expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads '1e-4' as a string
            except ValueError:
                pass
        ctx.fail(key, f"expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (dict, list)) or value is None:
            ctx.fail(key, f"expected a string, got {type(value).__name__}")
        return str(value)
    if tp is Path:
        return Path(str(value))
    if isinstance(tp, type) and not isinstance(value, tp):
        ctx.fail(key, f"expected {_type_name(tp)}, got {value!r}")
    return value


def _check_constraints(f: dataclasses.Field, value: Any, key: str, ctx: _Ctx) -> None:
    meta = f.metadata
    choices = meta.get("choices")
    if choices and value is not None:
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v not in choices:
                ctx.fail(key, f"must be one of {', '.join(map(str, choices))}, got {v!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        lo, hi = meta.get("min"), meta.get("max")
        if lo is not None and (value < lo or (meta.get("min_exclusive") and value == lo)):
            op = ">" if meta.get("min_exclusive") else ">="
            ctx.fail(key, f"must be {op} {lo}, got {value}")
        if hi is not None and value > hi:
            ctx.fail(key, f"must be <= {hi}, got {value}")


def _build(cls: type[T], data: Mapping[str, Any], ctx: _Ctx, prefix: str = "") -> T:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for name in data:
        if name not in fields:
            close = difflib.get_close_matches(str(name), list(fields), n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            ctx.fail(f"{prefix}{name}", f"unknown key{hint}; allowed: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, f in fields.items():
        key = f"{prefix}{name}"
        if name in data:
            value = _convert(data[name], hints[name], key, ctx)
        elif f.default is not _MISSING or f.default_factory is not _MISSING:
            continue
        else:
            ctx.fail(key, "required key is missing")
        _check_constraints(f, value, key, ctx)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        ctx.fail(prefix.rstrip(".") or cls.__name__, str(exc))


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def parse_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    """Turn ``["train.lr=1e-4", "seed=3"]`` into a nested dict; values are parsed as YAML scalars."""
    out: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}': expected KEY=VALUE (for example train.lr=1e-4)")
        key, raw = item.split("=", 1)
        key = key.strip().lstrip("-")
        if not key:
            raise ConfigError(f"override '{item}': empty key")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        _set_dotted(out, key, value)
    return out


def merge_dicts(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = merge_dicts(out[k], v)
        else:
            out[k] = v
    return out


def from_dict(cls: type[T], data: Mapping[str, Any], *, source: str = "<config>",
              lines: Mapping[str, Any] | None = None, prefix: str = "") -> T:
    """Build and validate ``cls`` from a plain mapping.

    ``prefix`` (e.g. ``"bft."``) is prepended to key names in error messages and line look-ups, for a
    section of a larger file.
    """
    return _build(cls, data, _Ctx(source, lines or {}), prefix=prefix)


def load_config(cls: type[T], path: str | Path | None = None, overrides: Iterable[str] = (),
                *, section: str | None = None) -> T:
    """Load ``cls`` from an optional YAML file (or one top-level ``section`` of it) plus overrides."""
    data: dict[str, Any] = {}
    lines: dict[str, int] = {}
    source = "<defaults>"
    if path is not None:
        data, lines = read_yaml(path)
        source = str(path)
        if section is not None:
            sub = data.get(section, {})
            if not isinstance(sub, dict):
                raise ConfigError(f"{path}: key '{section}': expected a mapping")
            data = sub
            lines = {k[len(section) + 1:]: v for k, v in lines.items() if k.startswith(section + ".")}
    override_data = parse_overrides(overrides)
    if override_data:
        data = merge_dicts(data, override_data)
        source = f"{source} + command-line overrides" if path is not None else "command-line overrides"
        lines = mark_overrides(lines, overrides)
    return _build(cls, data, _Ctx(source, lines))


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-friendly dict of a config dataclass (Paths as strings, tuples as lists)."""

    def clean(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: clean(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v

    return clean(cfg)


def config_hash(cfg: Any) -> str:
    """A stable short hash of a config's values (for manifests and resume checks)."""
    blob = json.dumps(to_dict(cfg), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def describe(cls: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Rows of (key, type, default, help) for documenting a config class."""
    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            rows.extend(describe(tp, prefix=f"{prefix}{f.name}."))
            continue
        if f.default is not _MISSING:
            default = repr(f.default)
        elif f.default_factory is not _MISSING:
            default = repr(f.default_factory())
        else:
            default = "(required)"
        rows.append((f"{prefix}{f.name}", _type_name(tp), default, f.metadata.get("help", "")))
    return rows
