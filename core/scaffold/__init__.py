"""Scaffolding: ``portico new connector`` writes a plugin package that passes its tests out of the box."""

from __future__ import annotations

from portico.scaffold._generate import AUTH_CHOICES, KIND_CHOICES, GeneratedPlugin, generate_connector

__all__ = ["AUTH_CHOICES", "KIND_CHOICES", "GeneratedPlugin", "generate_connector"]
