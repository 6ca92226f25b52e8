"""Without Redis, a burst of kicks is one round of the job, run soon after the first kick."""

from __future__ import annotations

import asyncio
from typing import Any

from app.jobs import KICK_DELAY, LocalJobs, Periodic


async def test_a_burst_of_kicks_runs_the_job_once_soon_and_a_later_kick_again() -> None:
    rounds: list[float] = []

    async def deliver(_: dict[str, Any]) -> int:
        rounds.append(asyncio.get_running_loop().time())
        return 1

    async def next_round(after: int) -> list[float]:
        async with asyncio.timeout(5):
            while len(rounds) == after:
                await asyncio.sleep(0.01)
        await asyncio.sleep(3 * KICK_DELAY)
        return rounds[after:]

    jobs = LocalJobs({}, periodic=(Periodic(deliver, every_seconds=3600),))
    await jobs.start()
    try:
        await asyncio.sleep(0.1)  # the runner's first round at start
        settled = len(rounds)
        first = asyncio.get_running_loop().time()
        for _ in range(50):  # fifty takes near the front, each writing a notice
            jobs.kick('deliver')
            await asyncio.sleep(0.001)
        burst = await next_round(settled)
        assert len(burst) <= 2  # one round for the burst (two if the burst outlasted the delay), not fifty
        assert burst[0] - first >= KICK_DELAY * 0.9  # gathered, not run at the first kick
        settled = len(rounds)
        jobs.kick('deliver')
        assert len(await next_round(settled)) == 1  # a later kick: one more round
    finally:
        await jobs.stop()
