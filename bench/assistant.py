"""智能导服 accuracy and latency through the HTTP API of a running app.

    .venv/bin/python bench/assistant.py [--rounds 3] [--questions tests/assistant_questions.yaml]

Starts the real app (`python main.py`, via tests/apphost.py) on a throw-away SQLite hall loaded from the
default seed (with its assistant.yaml), then asks every question of the set with `GET /api/assistant?q=...`,
one request at a time, `--rounds` times (the first round also warms up). Each request names its own client
address through X-Forwarded-For (the app trusts 127.0.0.1 as a proxy), so the per-address limit, counted in
the database as in production, holds for each simulated citizen and never refuses the bench. Prints top-1 and
top-3 accuracy over the in-scope questions, the refusal rate over the out-of-scope ones (handoff true), the
latency p50/p99/max in milliseconds over every request after the first round (with GET /api/health's as the
machine's HTTP floor at the time), and the refusal rate the score threshold reaches alone
(the hall's `elsewhere` list ignored, computed in this process with the same index code) as an honest second
figure. Targets (issue 16): top-1 >= 90%, refused >= 90%, p99 <= 50 ms. Results: bench/results/assistant.json.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
if __name__ == '__main__':
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    sys.path.insert(0, _ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import yaml  # noqa: E402

from app.services import materials  # noqa: E402
from app.services.assistant_index import AssistantIndex, Segmenter, ServiceText, vocabulary_words  # noqa: E402
from seed.schema import read_seed, read_vocabulary  # noqa: E402
from tests.apphost import running_app  # noqa: E402

RESULTS = Path(_HERE) / 'results' / 'assistant.json'
TARGETS = {'top1': 0.90, 'refused': 0.90, 'p99_ms': 50.0}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def address(n: int) -> str:
    return f'10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}'


def ask_all(base: str, questions: dict[str, Any], rounds: int) -> dict[str, Any]:
    """Every question `rounds` times over HTTP; accuracy from the last round, latency over all of them."""
    latencies: list[float] = []
    n = 0
    misses: list[dict[str, Any]] = []
    top1 = top3 = refused = 0
    with httpx.Client(base_url=base, timeout=10) as client:
        for round_ in range(rounds):
            last = round_ == rounds - 1
            asked = [(code, q) for code, qs in questions['in_scope'].items() for q in qs]
            asked += [(None, q) for q in questions['out_of_scope']]
            for code, question in asked:
                n += 1
                started = time.perf_counter()
                response = client.get('/api/assistant', params={'q': question}, headers={'x-forwarded-for': address(n)})
                if round_ or rounds == 1:  # the first round warms up (its first question waits for the index)
                    latencies.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                body = response.json()
                codes = [a['service_code'] for a in body['answers']]
                if not last:
                    continue
                if code is None:
                    refused += body['handoff']
                    if not body['handoff']:
                        misses.append({'question': question, 'expected': None, 'got': codes})
                    continue
                top1 += codes[:1] == [code]
                top3 += code in codes
                if codes[:1] != [code]:
                    misses.append({'question': question, 'expected': code, 'got': codes})
        floor: list[float] = []
        for _ in range(200):
            started = time.perf_counter()
            client.get('/api/health').raise_for_status()
            floor.append((time.perf_counter() - started) * 1000)
    in_scope = sum(len(v) for v in questions['in_scope'].values())
    out = len(questions['out_of_scope'])
    return {
        'in_scope': in_scope,
        'out_of_scope': out,
        'top1': top1 / in_scope,
        'top3': top3 / in_scope,
        'refused': refused / out,
        'requests': len(latencies),
        'p50_ms': percentile(latencies, 0.50),
        'p99_ms': percentile(latencies, 0.99),
        'max_ms': max(latencies),
        'health_p50_ms': percentile(floor, 0.50),  # the HTTP floor of this machine now: GET /api/health
        'health_p99_ms': percentile(floor, 0.99),
        'misses': misses,
    }


def refused_by_score_alone(questions: dict[str, Any]) -> float:
    """The out-of-scope refusal rate with the hall's `elsewhere` list left out: the threshold's own share."""
    seed = read_seed('default')
    departments = {d.code: d for d in seed.departments}
    vocabulary = read_vocabulary('default').model_copy(update={'elsewhere': []})

    class _Service:
        def __init__(self, questions: list[dict[str, Any]]) -> None:
            self.materials: list[dict[str, Any]] = []
            self.questions = questions

    texts = [
        ServiceText(
            s.code,
            s.name,
            s.name_en,
            s.description,
            departments[s.department].name,
            departments[s.department].name_en,
            tuple(m.name for m in s.materials),
            tuple(m.name_en for m in s.materials),
            tuple(materials.questions(_Service([q.model_dump() for q in s.questions]))),
        )
        for s in seed.services
    ]
    index = AssistantIndex(texts, vocabulary, Segmenter(vocabulary_words(vocabulary)))
    outs = questions['out_of_scope']
    return sum(not index.rank(q).hits for q in outs) / len(outs)


def machine() -> dict[str, Any]:
    try:
        git = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=_ROOT, capture_output=True, text=True)
        revision = git.stdout.strip() or 'unknown'
    except OSError:
        revision = 'unknown'
    return {
        'nproc': len(os.sched_getaffinity(0)),
        'platform': platform.platform(),
        'python': platform.python_version(),
        'git': revision,
        'loadavg_1m_at_start': round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rounds', type=int, default=3, help='times the whole set is asked (latency samples)')
    parser.add_argument('--questions', type=Path, default=Path(_ROOT) / 'tests' / 'assistant_questions.yaml')
    args = parser.parse_args()
    command = shlex.join([sys.executable, *sys.argv])
    info = machine()
    print(f'command: {command}\nmachine: {info}', flush=True)
    questions = yaml.safe_load(args.questions.read_text(encoding='utf-8'))
    with (
        tempfile.TemporaryDirectory(
            prefix='assistant-bench-', dir='/dev/shm' if os.path.isdir('/dev/shm') else None
        ) as tmp,
        running_app(tmp, seed='default', extra_env={'TRUSTED_PROXIES': '127.0.0.1'}) as (app, _),
    ):
        result = ask_all(app.base_url, questions, max(1, args.rounds))
    result['refused_by_score_alone'] = refused_by_score_alone(questions)
    verdict = {
        'top1': result['top1'] >= TARGETS['top1'],
        'refused': result['refused'] >= TARGETS['refused'],
        'p99_ms': result['p99_ms'] <= TARGETS['p99_ms'],
    }
    print(
        f'in scope {result["in_scope"]}, out of scope {result["out_of_scope"]}, {result["requests"]} requests\n'
        f'top-1 {result["top1"]:.1%}  top-3 {result["top3"]:.1%}  refused {result["refused"]:.1%} '
        f'(score threshold alone, elsewhere list ignored: {result["refused_by_score_alone"]:.1%})\n'
        f'latency ms: p50 {result["p50_ms"]:.2f}  p99 {result["p99_ms"]:.2f}  max {result["max_ms"]:.2f} '
        f'(GET /api/health on this machine now: p50 {result["health_p50_ms"]:.2f}  p99 {result["health_p99_ms"]:.2f})\n'
        f'targets: {"PASS" if all(verdict.values()) else "FAIL"} {verdict}'
    )
    for miss in result['misses']:
        print(f'  miss: {miss["question"]} expected {miss["expected"]} got {miss["got"]}')
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(result | {'command': command, 'machine': info, 'targets': verdict}, ensure_ascii=False, indent=2)
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
