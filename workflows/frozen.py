"""A cheaper `__init__` for frozen dataclasses made in the decider's hot loop (pure).

A frozen dataclass's generated `__init__` sets each field through `object.__setattr__`, a
call per field: a `Context` (six fields, given by keyword) cost 13,000 instructions to make,
4,000 with its fields written into the instance's `__dict__` at once. Replay makes about a
quarter of a million such records on the generated week (contexts, timers, facts, stored
events, related tickets). The class stays what it was: frozen (assigning a field still
raises), hashed and compared by its fields, the same repr.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Give the frozen dataclass `cls` an `__init__` that takes the same arguments (by
    position or keyword, the same defaults and default factories) and writes them into the
    instance's `__dict__`. Only for plain frozen dataclasses: no `__post_init__`, InitVar,
    keyword-only or init=False fields, no slots."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__}: not a frozen dataclass with a __dict__")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: has __post_init__")
    fields = dataclasses.fields(cls)
    given = {f.name for f in fields}
    if any(isinstance(f.type, dataclasses.InitVar) for f in fields) or given != set(
        cls.__dataclass_fields__
    ):
        raise TypeError(f"{cls.__name__}: has InitVar or class-variable fields")
    names: dict[str, Any] = {"_FACTORY": _FACTORY}
    args, lines = [], []
    for f in fields:
        if not f.init or f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: init=False or keyword-only")
        if f.default is not dataclasses.MISSING:
            names[f"_default_{f.name}"] = f.default
            args.append(f"{f.name}=_default_{f.name}")
            lines.append(f"    values[{f.name!r}] = {f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            names[f"_factory_{f.name}"] = f.default_factory
            args.append(f"{f.name}=_FACTORY")
            lines.append(
                f"    values[{f.name!r}] = _factory_{f.name}() if {f.name} is _FACTORY"
                f" else {f.name}"
            )
        else:
            args.append(f.name)
            lines.append(f"    values[{f.name!r}] = {f.name}")
    source = "\n".join(
        [f"def __init__(self, {', '.join(args)}):", "    values = self.__dict__", *lines]
    )
    exec(source, names)
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[misc]
    return cls


# A default factory's field given no value (a field may be given None).
_FACTORY = object()
