"""Image frames: decode safely, shrink, and run CPU work in a small pool with a time limit per frame.

Decoding, zbar and dlib hold the CPU for milliseconds to seconds; in the event loop they would
stall every device. A dedicated pool of two workers keeps them off the loop and bounds how much
CPU images can take; a frame over its time limit is answered at once (the worker finishes and
its result is dropped, since a thread cannot be cancelled).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 4096 * 4096  # a frame claiming more is refused before its pixels are decoded
_T = TypeVar('_T')
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix='device-image')


class BadImage(ValueError):
    pass


async def run_limited(work: Callable[[], _T], *, time_limit: float) -> _T:
    """Run `work` in the image pool; TimeoutError after `time_limit` seconds."""
    future = asyncio.get_running_loop().run_in_executor(_POOL, work)
    async with asyncio.timeout(time_limit):
        return await future


def open_image(data: bytes, *, mode: str, max_side: int) -> Image.Image:
    """A decoded image in `mode` ('L', 'RGB'), its long side at most `max_side` px."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in {'JPEG', 'PNG'}:
            raise BadImage('only JPEG and PNG frames are accepted')
        if image.width * image.height > MAX_PIXELS:
            raise BadImage(f'{image.width}x{image.height} is too large')
        image.draft(mode, (max_side, max_side))  # JPEG: decode at a reduced scale, far cheaper
        image = image.convert(mode)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise BadImage(f'not a readable image: {error}') from None
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side))
    return image


def rgb_array(data: bytes, *, max_side: int) -> np.ndarray:
    return np.asarray(open_image(data, mode='RGB', max_side=max_side))
