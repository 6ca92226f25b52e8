"""The consented face gallery the cameras search, reloaded when it changes and on a timer.

`FaceGalleryChanged` (a template enrolled, a consent revoked, a 本次 template expired; it crosses
processes on the bus) makes the device service refresh at once, and it also refreshes every
`gallery_refresh` seconds (60 by default) as a safety net. Revoked templates are already deleted in
the revoking transaction. The templates are re-read and compared by digest, so an unchanged gallery
costs one query and no rebuild.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)


class FaceSearch(Protocol):
    """What the cameras need of devices.face.FaceEngine (tests pass a fake)."""

    def load_gallery(self, entries: list[tuple[int, bytes]]) -> None: ...

    def identify(self, image: np.ndarray) -> Any: ...

    def encode(self, image: np.ndarray) -> list[np.ndarray]: ...

    def landmarks(self, image: np.ndarray) -> dict[str, list[tuple[float, float]]] | None: ...


GalleryLoader = Callable[[], Awaitable[list[tuple[int, bytes]]]]


class FaceGallery:
    def __init__(self, engine_factory: Callable[[], FaceSearch], load: GalleryLoader) -> None:
        self._engine_factory = engine_factory
        self._load = load
        self._digest = b''
        self._models: FaceSearch | None = None  # dlib's models, loaded before any gallery is
        self.engine: FaceSearch | None = None  # set once a gallery is loaded: until then a frame is 'unavailable'

    async def warm(self) -> None:
        """Load dlib's models now: it holds the GIL for about a second, which start-up can pay before the hall serves,
        and a running hall cannot (every request in flight would wait)."""
        if self._models is None:
            started = time.perf_counter()
            self._models = await asyncio.to_thread(self._engine_factory)
            log.info("face engine: dlib's models loaded in %.2f s", time.perf_counter() - started)

    async def refresh(self) -> bool:
        """Reload the templates; rebuild the search matrix only if they changed. True if rebuilt."""
        entries = await self._load()
        digest = hashlib.sha256(b''.join(b'%d:%s' % (cid, enc) for cid, enc in entries)).digest()
        if self.engine is not None and digest == self._digest:
            return False
        await self.warm()
        engine = self._models
        assert engine is not None
        await asyncio.to_thread(engine.load_gallery, entries)
        self.engine, self._digest = engine, digest
        return True
