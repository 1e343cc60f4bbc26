"""Where model files are, what they are, and whether they fit."""

from .ref import ModelRef
from .registry import Registry, register_source, resolve

__all__ = ["ModelRef", "Registry", "register_source", "resolve"]
