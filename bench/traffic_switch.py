"""Zero-downtime switching: steady load through nginx while golive moves every request from blue
(v1) to green (v2) and back, `--cycles` times.

    python bench/traffic_switch.py [--cycles 10 --rate 300 --clients 8 --hold 1.0]

The nginx is the machine's, started by `golive.testing.nginx` on a free loopback port with its
own prefix, in front of two local HTTP/1.1 servers; the load is `golive.testing.nginx.Load`:
keep-alive clients that send a GET again only when a reused connection was closed before any
byte of its answer (as browsers do), and count every other error and every non-200 answer as a
failed request. Each move is what a `traffic:` step does: render the include file, `nginx -t`
it alone, swap it in, `nginx -t` the whole config, `nginx -s reload`, wait for the new workers.

Prints the requests sent, the failed ones (target: 0), the ones sent again, p50/p99 latency
before the switches and during them, and per move the time from the decision to traffic moved
(target: < 1 s): until golive's reload was confirmed, and until every request sent from then on
was answered by the new group (whichever is later).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from golive.plan.models import NginxSettings
from golive.testing.nginx import Answer, Load, NginxServer, Upstream
from golive.traffic.config import Routing, render
from golive.traffic.nginx import Nginx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10, help="blue->green->blue round trips")
    parser.add_argument("--rate", type=float, default=300.0, help="requests per second in all")
    parser.add_argument("--clients", type=int, default=8, help="keep-alive client threads")
    parser.add_argument("--hold", type=float, default=1.0, help="seconds between two moves")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="golive-bench-") as scratch:
        run(Path(scratch), args)


def run(scratch: Path, args: argparse.Namespace) -> None:
    with Upstream.start("v1") as v1, Upstream.start("v2") as v2:
        groups = {"blue": [v1.server], "green": [v2.server]}
        with NginxServer.start(scratch / "nginx", upstreams=groups) as server:
            settings = NginxSettings.model_validate(server.settings())
            nginx = Nginx.from_settings(settings, render=str, workdir=scratch)
            with Load.start(server.url, rate=args.rate, clients=args.clients) as load:
                time.sleep(3.0)
                switching = time.monotonic()
                moves = asyncio.run(_switch(nginx, settings, args.cycles, args.hold))
                ended = time.monotonic()
            report(load.answers, switching, ended, moves)


async def _switch(
    nginx: Nginx, settings: NginxSettings, cycles: int, hold: float
) -> list[tuple[str, float, float]]:
    """(new group's answer body, decision time, seconds until golive confirmed the reload)."""
    moves = []
    for _ in range(cycles):
        for share, body in ((1.0, "v2"), (0.0, "v1")):
            decided = time.monotonic()
            text = render(settings, Routing("blue", "green", share), note="benchmark")
            seconds = await nginx.apply(text)
            moves.append((body, decided, seconds))
            await asyncio.sleep(hold)
    return moves


def report(
    answers: list[Answer], switching: float, ended: float, moves: list[tuple[str, float, float]]
) -> None:
    before = [a for a in answers if a.at < switching]
    during = [a for a in answers if switching <= a.at < ended]
    failed = [a for a in answers if not a.ok]
    print(f"requests sent:    {len(answers)} ({len(before)} before the switches)")
    print(f"failed requests:  {len(failed)} (target: 0)")
    for answer in failed[:5]:
        print(f"  {answer.status} {answer.error}")
    print(f"sent again:       {sum(a.retried for a in answers)} (idle keep-alive closed by nginx)")
    print(f"latency before:   p50 {_ms(before, 0.5)}  p99 {_ms(before, 0.99)}")
    print(f"latency during:   p50 {_ms(during, 0.5)}  p99 {_ms(during, 0.99)}")
    ordered = sorted(answers, key=lambda a: a.at)
    confirmed, moved = [], []
    for index, (body, decided, seconds) in enumerate(moves):
        until = moves[index + 1][1] if index + 1 < len(moves) else ended
        window = [a for a in ordered if decided <= a.at < until]
        stale = [a.at for a in window if a.body != body]
        confirmed.append(seconds)
        moved.append(max(seconds, (max(stale) - decided) if stale else 0.0))
    print(
        f"decision -> reload confirmed: median {statistics.median(confirmed) * 1000:.0f} ms, "
        f"max {max(confirmed) * 1000:.0f} ms ({len(moves)} moves)"
    )
    print(
        f"decision -> traffic moved:    median {statistics.median(moved) * 1000:.0f} ms, "
        f"max {max(moved) * 1000:.0f} ms (target: < 1000 ms)"
    )


def _ms(answers: list[Answer], q: float) -> str:
    latencies = sorted(a.latency for a in answers)
    if not latencies:
        return "-"
    return f"{latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000:.1f} ms"


if __name__ == "__main__":
    main()
