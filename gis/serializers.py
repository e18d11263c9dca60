"""Serializers shared by every app."""

from __future__ import annotations

from typing import ClassVar

from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict


class QueryParams(serializers.Serializer):
    """Query-string parameters checked on a hot path: flat fields, built once per class.

    DRF deep-copies a serializer's declared fields for every instance; for the lookups' four or
    five parameters that copy took 60 µs of the 110 a check cost. A query's fields are flat
    scalars that keep no state while they validate and read no context, so each class builds and
    binds them once, to one instance of its own, and every instance shares them.
    """

    _shared: ClassVar[BindingDict | None] = None

    @property
    def fields(self) -> BindingDict:  # type: ignore[override]
        cls = type(self)
        shared = cls.__dict__.get("_shared")
        if shared is None:
            owner = cls()
            shared = BindingDict(owner)
            for name, field in owner.get_fields().items():
                shared[name] = field
            cls._shared = shared
        return shared
