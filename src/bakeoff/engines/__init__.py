"""How tokens are made: one contract, several engines, loaded lazily by name."""

from .base import (
                   Chunk,
                   Engine,
                   GenParams,
                   LogLik,
                   LogLikRequest,
                   Message,
                   Response,
                   Timings,
                   Usage,
                   collect,
                   load_engine,
                   register_engine,
)

__all__ = ["Chunk", "Engine", "GenParams", "LogLik", "LogLikRequest", "Message", "Response",
           "Timings", "Usage", "collect", "load_engine", "register_engine"]
