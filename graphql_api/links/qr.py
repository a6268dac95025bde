"""QR codes of short links: drawn off the event loop, and the most used ones kept.

Drawing one is 5 to 7 ms of pure Python (segno). On the event loop, a page of them held
every other request up (20 aliased pages of 100 held /livez for 7 s). They are drawn on
one worker thread, so a request that asks for many waits for its own codes while other
requests go on, and the last `size` codes drawn are kept: a link's code never changes.
The cost limit prices each like a page of rows (`links.types`), which bounds how many one
request may ask for.
"""

import asyncio
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import segno

DEFAULT_SIZE = 1024


def draw(data: str) -> str:
    """An SVG QR code for `data` (segno: pure Python, maintained)."""
    return segno.make(data, error="m").svg_inline(scale=4, border=2)


class QrCodes:
    """SVG QR codes by the text they encode, drawn on a thread of their own."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._drawn: OrderedDict[str, str] = OrderedDict()
        # One future per code being drawn, so that a code asked for again meanwhile
        # (aliases of one page, say) is drawn once.
        self._drawing: dict[str, asyncio.Future[str]] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qr-codes")

    async def svg(self, data: str) -> str:
        svg = self._drawn.get(data)
        if svg is not None:
            self._drawn.move_to_end(data)
            return svg
        drawing = self._drawing.get(data)
        if drawing is None:
            loop = asyncio.get_running_loop()
            drawing = loop.run_in_executor(self._executor, draw, data)
            self._drawing[data] = drawing
            drawing.add_done_callback(partial(self._done, data))
        # Shielded: one waiter cancelled (its request ended) leaves the drawing to others.
        return await asyncio.shield(drawing)

    def _done(self, data: str, drawing: asyncio.Future[str]) -> None:
        del self._drawing[data]
        if drawing.cancelled() or drawing.exception() is not None:
            return  # the waiters see why; the next request draws it again
        self._drawn[data] = drawing.result()
        if len(self._drawn) > self.size:
            self._drawn.popitem(last=False)

    def close(self) -> None:
        """Stop the drawing thread (codes being drawn are finished, queued ones dropped)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
