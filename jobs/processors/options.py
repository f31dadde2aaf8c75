"""Processors' options forms described as JSON Schema, for the OpenAPI document (and anyone else
who wants to know what `options` a processor takes without reading its code).

Common Django form fields map to their JSON types (choices to an enum, min/max values and
lengths kept, ``initial`` as the default, ``help_text`` as the description); a field of another
kind is described by its help text alone. Every schema forbids unknown options, as
`Processor.clean_options` does.
"""

from __future__ import annotations

from typing import Any

from django import forms

from jobs.processors.base import Processor
from jobs.processors.registry import processors


def options_schemas() -> list[dict[str, Any]]:
    """One JSON Schema per registered processor (built-ins first), titled with its name."""
    return [options_schema(cls) for cls in processors().values()]


def options_schema(cls: type[Processor]) -> dict[str, Any]:
    """The JSON Schema of a processor's options object."""
    schema: dict[str, Any] = {
        "title": cls.name,
        "type": "object",
        "description": f"Options of {cls.name} ({cls.label})." if cls.label else cls.name,
        "properties": {},
        "additionalProperties": False,
    }
    if cls.options_form is None:
        schema["description"] += " It takes none."
        return schema
    required = []
    for name, field in cls.options_form.base_fields.items():
        schema["properties"][name] = field_schema(field)
        if field.required:
            required.append(name)
    if required:
        schema["required"] = required
    return schema


def field_schema(field: forms.Field) -> dict[str, Any]:
    """The JSON Schema of one form field."""
    schema: dict[str, Any] = {}
    if isinstance(field, forms.MultipleChoiceField):
        schema = {"type": "array", "items": {"type": "string", "enum": _choices(field)}}
    elif isinstance(field, forms.ChoiceField):
        schema = {"type": "string", "enum": _choices(field)}
    elif isinstance(field, forms.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(field, forms.IntegerField):
        schema = {"type": "integer", **_bounds(field, "minimum", "maximum", "value")}
    elif isinstance(field, forms.FloatField | forms.DecimalField):
        schema = {"type": "number", **_bounds(field, "minimum", "maximum", "value")}
    elif isinstance(field, forms.CharField):
        schema = {"type": "string", **_bounds(field, "minLength", "maxLength", "length")}
    if field.help_text:
        schema["description"] = str(field.help_text)
    if isinstance(field.initial, str | int | float | bool):
        schema["default"] = field.initial
    return schema


def _choices(field: forms.ChoiceField) -> list[str]:
    values = []
    for value, label in field.choices:
        if isinstance(label, list | tuple):  # an optgroup: (group label, [(value, label)...])
            values.extend(str(inner) for inner, _ in label)
        else:
            values.append(str(value))
    return values


def _bounds(field: forms.Field, low: str, high: str, attribute: str) -> dict[str, Any]:
    bounds = {}
    for key, name in ((low, f"min_{attribute}"), (high, f"max_{attribute}")):
        value = getattr(field, name, None)
        if isinstance(value, int | float):
            bounds[key] = value
    return bounds
