"""TUI figures: a 10,000-event transcript in the replay viewer, headless (App.run_test).

    .venv/bin/python benchmarks/bench_tui.py [--events 10000] [--steps 300]

Prints: read + parse, fold with checkpoints, time to first render of the replay viewer (target
< 2 s, wall clock from constructing the app), the app's CPU time per step (down), per page, per
step back (state rebuilt from a checkpoint), and, for scale, the same transcript opened in the run
screen and played live through the event pump.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conductor.tui import bridge  # noqa: E402
from conductor.tui.app import ConductorApp  # noqa: E402
from conductor.tui.replay_model import ReplayModel  # noqa: E402
from tests.tui import synthetic as mk  # noqa: E402

SIZE = (100, 32)


async def replay_figures(path: Path, steps: int) -> dict[str, float]:
    from conductor.tui.screens.replay import ReplayScreen
    from conductor.tui.widgets import Timeline

    t0 = time.perf_counter()
    app = ConductorApp(transcript=path, replay=True, verify=False, cursor_blink=False, clock=lambda: mk.T0)
    async with app.run_test(size=SIZE) as pilot:
        while not (isinstance(app.screen, ReplayScreen) and app.screen.query_one(Timeline).size.height):
            await pilot.pause(0)
        await pilot.pause(0)  # one full refresh: the first frame is on screen
        first = time.perf_counter() - t0
        tl = app.screen.query_one(Timeline)

        async def timed(key: str, n: int) -> list[float]:
            """CPU seconds the app spends per key (handling + re-render). Wall time per pilot.press
            is not the figure: Pilot waits in 20 ms slices until the app is idle."""
            out = []
            for _ in range(n):
                t = time.process_time()
                await pilot.press(key)
                out.append(time.process_time() - t)
            return out

        down = await timed("down", steps)
        page = await timed("pagedown", max(10, steps // 10))
        await pilot.press("end")
        back = await timed("left", steps)
        t = time.process_time()
        await pilot.press("home", "end", "home")
        jumps = (time.process_time() - t) / 3
        assert tl.cursor == 0
    def p95(xs: list[float]) -> float:
        return sorted(xs)[int(0.95 * (len(xs) - 1))]

    return {"first": first, "down": statistics.median(down), "down_p95": p95(down), "down_max": max(down),
            "page": statistics.median(page), "back": statistics.median(back), "back_p95": p95(back),
            "back_max": max(back), "jump": jumps}


async def run_screen_figures(path: Path, live_events: list) -> dict[str, float]:
    from tests.tui.conftest import settled

    out = {}
    for label, kw in (("recorded", {"transcript": path}), ("live", {"source": bridge.ScriptedRun(live_events)})):
        t0 = time.perf_counter()
        app = ConductorApp(cursor_blink=False, clock=lambda: mk.T0, **kw)
        async with app.run_test(size=SIZE) as pilot:
            await settled(pilot)
            out[label] = time.perf_counter() - t0
            out[label + "_batches"] = app.screen.flush_count
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args()

    scenario = mk.big(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        path = scenario.write(Path(tmp) / "big.jsonl")
        t = time.perf_counter()
        loaded = bridge.load_transcript(path)
        parse = time.perf_counter() - t
        t = time.perf_counter()
        ReplayModel(loaded.header, loaded.events)
        fold = time.perf_counter() - t
        r = asyncio.run(replay_figures(path, args.steps))
        s = asyncio.run(run_screen_figures(path, scenario.events))

    n = len(loaded.events)
    print(f"transcript: {n} events ({len(scenario.events)} with the live-only ones), {path.name}")
    print(f"  read + parse (core reader)          {parse * 1000:8.1f} ms")
    print(f"  fold + checkpoints (view model)     {fold * 1000:8.1f} ms")
    print(f"replay viewer, headless {SIZE[0]}x{SIZE[1]}")
    print(f"  time to first render                {r['first'] * 1000:8.1f} ms   (target < 2000 ms)"
          f"  {'OK' if r['first'] < 2 else 'OVER'}")
    print(f"  step (down), CPU median / p95 / max {r['down'] * 1000:8.2f} ms / {r['down_p95'] * 1000:.2f} / "
          f"{r['down_max'] * 1000:.2f} ms")
    print(f"  page (pagedown), CPU median         {r['page'] * 1000:8.2f} ms")
    print(f"  step back (left), CPU med/p95/max   {r['back'] * 1000:8.2f} ms / {r['back_p95'] * 1000:.2f} / "
          f"{r['back_max'] * 1000:.2f} ms")
    print(f"  jump (home/end), CPU                {r['jump'] * 1000:8.2f} ms")
    print("run screen, headless")
    print(f"  recorded transcript, open to settled {s['recorded'] * 1000:7.1f} ms  ({s['recorded_batches']} batches)")
    live = f"live ({len(scenario.events)} events via the pump)"
    print(f"  {live}   {s['live'] * 1000:7.1f} ms  ({s['live_batches']} batches)")


if __name__ == "__main__":
    main()
