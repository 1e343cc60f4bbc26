"""Bakeoff: choose and use open-weights LLMs."""

from .engines.base import Chunk, GenParams, Message, Response, collect
from .engines.factory import open_engine
from .engines.options import LoadOptions
from .errors import BakeoffError

__all__ = ["BakeoffError", "Chunk", "GenParams", "LoadOptions", "Message", "Response", "collect",
           "open_engine"]
__version__ = "0.1.0"
