"""Bakeoff: choose and use open-weights LLMs."""

from .engines.base import Chunk, GenParams, Message, Response, collect
from .errors import BakeoffError
from .runtime import open_engine as load_model

__all__ = ["BakeoffError", "Chunk", "GenParams", "Message", "Response", "collect", "load_model"]
__version__ = "0.1.0"
