"""A class arriving at once: N visitors open the gradient-flow dashboard at the same moment,
each in its own browser context (empty cache) and kernel; prints when each one's plots were all
drawn, counted from the moment they all navigated. The browsers run on the same machine as the
server here, so this is harsher than a classroom, where each student's browser has its own CPU.

Run: .venv/bin/python benchmarks/bench_crowd.py [--visitors 8]   (SEQVIZ_FORK=0: kernels started the usual way)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from browser_timing import CHROMIUM_ARGS, WAIT_PLOTS, serve

NOTEBOOK, PLOTS = "03_rnn_bptt.ipynb", 4


async def visit(b, base: str, t0: float) -> tuple[float, bool]:
    ctx = await b.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    await page.goto(base + "voila/render/" + NOTEBOOK, timeout=300_000)
    await page.wait_for_function(WAIT_PLOTS, arg=PLOTS, timeout=300_000)
    done = time.perf_counter() - t0
    text = await page.evaluate("document.body.innerText")
    return done, "Traceback" in text or "Error" in text


async def crowd(n: int) -> None:
    from playwright.async_api import async_playwright

    with serve() as base:
        async with async_playwright() as pw:
            b = await pw.chromium.launch(executable_path=os.environ.get("SEQVIZ_CHROMIUM", "/usr/bin/chromium"),
                                         headless=True, args=CHROMIUM_ARGS)
            t0 = time.perf_counter()
            res = sorted(await asyncio.gather(*[visit(b, base, t0) for _ in range(n)]))
            await b.close()
    how = "started the usual way" if os.environ.get("SEQVIZ_FORK") == "0" else "forked"
    print(f"{n} visitors at once on {os.cpu_count()} cores (kernels {how}): all plots drawn after "
          + ", ".join(f"{t:.1f}" for t, _ in res) + f" s; pages with error text: {sum(e for _, e in res)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--visitors", type=int, default=8)
    asyncio.run(crowd(ap.parse_args().visitors))


if __name__ == "__main__":
    main()
