"""The one registry class behind the model and dataset registries.

A :class:`Registry` is a dict of entries filled by a decorator; looking up an unknown name
raises a ``KeyError`` listing close matches. Names never trigger imports: an entry exists once
the module defining it has been imported (each registry's package imports its modules).
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["Registry", "check_kwargs"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind (``"model"``, ``"dataset"``).

    Parameters
    ----------
    kind : str
        Used in error messages ("unknown model 'x'").
    n_close, cutoff : int, float
        How many close matches an unknown name lists, and how close they must be
        (:func:`difflib.get_close_matches`).
    """

    def __init__(self, kind: str, *, n_close: int = 5, cutoff: float = 0.5):
        self.kind = kind
        self.n_close = n_close
        self.cutoff = cutoff
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name``; a name can be registered once."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} names must be non-empty strings, got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def decorator(self, name: str, make_entry: Callable[[Any], T] = lambda fn: fn) -> Callable[[Any], Any]:
        """A decorator registering ``make_entry(fn)`` under ``name`` and returning ``fn`` unchanged."""

        def deco(fn: Any) -> Any:
            self.add(name, make_entry(fn))
            return fn

        return deco

    def get(self, name: str) -> T:
        """The entry of ``name``; an unknown name raises ``KeyError`` listing close matches."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            close = difflib.get_close_matches(str(name), list(self._entries), n=self.n_close, cutoff=self.cutoff)
            hint = f"; did you mean {close}?" if close else ""
            raise KeyError(f"unknown {self.kind} {name!r}{hint} ({len(self._entries)} {self.kind}s: "
                           f"{', '.join(sorted(self._entries)[:8])}{', ...' if len(self._entries) > 8 else ''})") from None

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style ``pattern``, sorted."""
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)


def check_kwargs(fn: Callable[..., Any], kwargs: Mapping[str, Any], what: str) -> None:
    """Raise ValueError when ``fn`` does not take every key of ``kwargs`` as a keyword, or needs one not given.

    Parameters
    ----------
    fn : callable
        A registered factory or loader (one that takes ``**kwargs`` accepts anything).
    kwargs : mapping
    what : str
        Named in the message, e.g. ``"model 'convrnn_small_rgc'"``.
    """
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items()
                if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    unknown = sorted(k for k in kwargs if k not in accepted)
    if unknown:
        close = {k: difflib.get_close_matches(k, accepted, n=1) for k in unknown}
        hints = [f"{k!r} (did you mean {c[0]!r}?)" if c else repr(k) for k, c in close.items()]
        raise ValueError(f"{what} takes no argument(s) {', '.join(hints)}; it takes {accepted or 'none'}")
    required = [n for n in accepted if params[n].default is inspect.Parameter.empty and n not in kwargs]
    if required:
        raise ValueError(f"{what} needs the argument(s) {required} (e.g. {required[0]}=...); it takes {accepted}")
