"""Two halls' workers on one Redis: each hall's periodic jobs run once per tick for each hall, the city-wide ones
once per tick for the whole city, and a kick from one hall's process is run by that hall's worker only."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from app import jobs
from app.jobs import ArqJobs, Periodic

REDIS = 'redis://127.0.0.1:6379/0'


async def hall_tick(ctx: dict[str, Any]) -> int:
    ctx['seen'].append(('hall', ctx['hall'], ctx['job_id']))
    return 1


async def city_tick(ctx: dict[str, Any]) -> int:
    ctx['seen'].append(('city', ctx['hall'], ctx['job_id']))
    return 1


def test_a_halls_jobs_carry_its_code_and_city_wide_ones_do_not() -> None:
    main = {job.name for job in jobs.cron_jobs('main')}
    district = {job.name for job in jobs.cron_jobs('district')}
    shared = main & district
    assert shared == {'cron:deliver_notifications', 'cron:anchor_audit', 'cron:expire_face_visits'}
    assert 'cron:main:sweep_sla' in main and 'cron:district:sweep_sla' in district
    assert 'cron:main:enforce_retention' in main and 'cron:district:monthly_report' in district
    assert jobs.hall_queue('main') != jobs.hall_queue('district')


async def test_two_halls_workers_run_their_own_rounds_and_the_city_rounds_once() -> None:
    run = uuid.uuid4().hex[:8]
    seen: list[tuple[str, str, str]] = []
    periodic = (Periodic(hall_tick, 1), Periodic(city_tick, 1, city_wide=True))
    codes = (f'm{run}', f'd{run}')
    runners = [ArqJobs({'hall': code, 'seen': seen}, REDIS, hall_code=code, periodic=periodic) for code in codes]
    for runner in runners:
        await runner.start()
    try:
        await asyncio.sleep(4.5)
        for runner in runners:
            runner.kick(hall_tick.__name__)  # what a hall's process does when it wrote outbox rows
        await asyncio.sleep(1.0)
    finally:
        for runner in runners:
            await runner.stop()
    hall_rounds = {code: [job for kind, hall, job in seen if kind == 'hall' and hall == code] for code in codes}
    for code in codes:
        ticks = [job for job in hall_rounds[code] if job.startswith('cron:')]
        assert len(ticks) >= 3, (code, seen)
        assert all(job.startswith(f'cron:{code}:') for job in ticks), 'a hall runs only its own rounds'
        assert len(ticks) == len(set(ticks)), 'each of its rounds once'
        assert len(hall_rounds[code]) - len(ticks) == 1, "its kick ran once, in its own hall's worker"
    city_rounds = [job for kind, _, job in seen if kind == 'city']
    assert len(city_rounds) >= 3
    assert len(city_rounds) == len(set(city_rounds)), 'a city-wide round runs once across both halls'
    ticks_per_hall = min(
        len({job.rsplit(':', 1)[1] for job in hall_rounds[code] if job.startswith('cron:')}) for code in codes
    )
    assert abs(len(city_rounds) - ticks_per_hall) <= 1, (city_rounds, hall_rounds)
