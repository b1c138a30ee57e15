"""The ACL bindings the proxy keeps for CreateAcls / DescribeAcls / DeleteAcls, with Kafka's filter rules.

Stored, not enforced (see the package docstring). The numbers are Kafka's enum values as they
travel on the wire; a binding is the tuple a CreateAcls creation carries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

ANY = 1  # resource type, pattern type, operation and permission: "any" in a filter
MATCH = 2  # pattern type filter: every pattern that matches the name (literal, wildcard, prefix)
LITERAL, PREFIXED = 3, 4


@dataclass(frozen=True)
class Binding:
    resource_type: int
    name: str
    pattern_type: int
    principal: str
    host: str
    operation: int
    permission: int


@dataclass(frozen=True)
class BindingFilter:
    resource_type: int
    name: str | None
    pattern_type: int
    principal: str | None
    host: str | None
    operation: int
    permission: int

    def matches(self, b: Binding) -> bool:
        return (self.resource_type in (ANY, b.resource_type) and self._pattern_matches(b)
                and self.principal in (None, b.principal) and self.host in (None, b.host)
                and self.operation in (ANY, b.operation) and self.permission in (ANY, b.permission))

    def _pattern_matches(self, b: Binding) -> bool:
        if self.pattern_type == MATCH:
            if self.name is None:
                return True
            if b.pattern_type == LITERAL:
                return b.name in (self.name, "*")
            return b.pattern_type == PREFIXED and self.name.startswith(b.name)
        if self.pattern_type not in (ANY, b.pattern_type):
            return False
        return self.name is None or self.name == b.name


class BindingStore:
    def __init__(self) -> None:
        self._bindings: set[Binding] = set()
        self._lock = threading.Lock()

    def create(self, binding: Binding) -> str | None:
        """Add one binding; an error message for one Kafka would refuse (an 'any' where a value is needed)."""
        if ANY in (binding.resource_type, binding.operation, binding.permission) or \
                binding.pattern_type not in (LITERAL, PREFIXED) or not binding.principal:
            return "an ACL binding needs a resource type, LITERAL or PREFIXED, a principal, an operation and a permission"
        with self._lock:
            self._bindings.add(binding)
        return None

    def describe(self, f: BindingFilter) -> list[Binding]:
        with self._lock:
            return sorted((b for b in self._bindings if f.matches(b)), key=_order)

    def delete(self, f: BindingFilter) -> list[Binding]:
        with self._lock:
            gone = [b for b in self._bindings if f.matches(b)]
            self._bindings.difference_update(gone)
        return sorted(gone, key=_order)


def _order(b: Binding) -> tuple[int, str, int, str, str, int, int]:
    return (b.resource_type, b.name, b.pattern_type, b.principal, b.host, b.operation, b.permission)
