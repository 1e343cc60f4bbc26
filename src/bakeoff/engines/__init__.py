"""How tokens are made: one contract, several engines, loaded lazily by name through one factory."""

from .base import (
                   Chunk,
                   ChunkStream,
                   Engine,
                   GenParams,
                   LogLik,
                   LogLikRequest,
                   Message,
                   PromptChunk,
                   Response,
                   Timings,
                   TokenEngine,
                   Usage,
                   collect,
)
from .factory import open_engine, register_engine
from .options import LoadOptions

__all__ = ["Chunk", "ChunkStream", "Engine", "GenParams", "LoadOptions", "LogLik", "LogLikRequest",
           "Message", "PromptChunk", "Response", "Timings", "TokenEngine", "Usage", "collect",
           "open_engine", "register_engine"]
