"""How fast `verify` compares a 1,000,000-row table, against a whole-table checksum as the floor.

    python bench/verify_throughput.py [--rows 1000000 --repeat 3 --keep --reladiff PATH]

Builds a table (id, name, email, amount numeric, created_at timestamptz) in a PostgreSQL source,
a PostgreSQL target and a MariaDB source (DATETIME for the timestamps, DECIMAL(12,2)); the
PostgreSQL target differs in 15 rows (10 changed, 5 missing). Times, medians of `--repeat`:

(a) golive's comparison, PostgreSQL -> PostgreSQL and MariaDB -> PostgreSQL; each run must find
    exactly the 15 differences;
(b) the floor: one whole-table checksum aggregate (count and sum of 60 bits of each row's MD5,
    as data-diff and reladiff hash rows) on each side at once, which proves nothing about where
    rows differ; and for PG->PG the same aggregate with the hash golive uses there
    (`hash_record_extended`), the floor of golive's own way;
(c) reladiff, when `--reladiff PATH` names its command, or with `--reladiff auto`, which
    installs reladiff 0.6.0 into its own environment (it pins dependencies golive's environment
    does not share) under ~/.cache/golive-bench/reladiff-venv on first use:

        python bench/verify_throughput.py --reladiff auto

Each tool must find exactly the 15 differences, or the benchmark stops. The runs of the tools
are interleaved, so that a busy machine slows each alike; medians are printed.

Prints rows/s, seconds per million rows (`--rows 10000000` shows the time growing linearly) and
the peak RSS of the benchmark's process, in which golive runs (it stays flat: buckets of keys are
compared by their checksums, and only differing buckets' hashes are read).

With `--profile` (databases on this machine: it reads /proc), it also prints what each database
spends CPU on per million rows for the cross-dialect hash (`md5v2`), part by part: the scan, the
grouping by buckets, the row's text, its MD5 and taking 60 bits of it. CPU time of the server
thread or backend that ran the query, which other work on the machine barely moves; the sum of
both sides over the cores is the wall floor of MariaDB->PG.

Prints rows/s and the ratios. Targets (issue 18): PG->PG within 2x of the floor of its own
hash, MariaDB->PG within 2x of PG->PG, and at least 2.5x reladiff's throughput on MariaDB->PG.
The figures measured, and what bounds MariaDB->PG (MD5 inside MariaDB): docs/design.md, "Speed".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from golive.actions.base import RunResources
from golive.plan.models import VerifySpec
from golive.verify import VerifyReport, verify

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"
MARIA = "mysql+pymysql://root@127.0.0.1:3306/"
NAMES = {"pg_source": "golive_bench_source", "pg_target": "golive_bench_target"}
MARIA_DB = "golive_bench_source"
CHANGED = 10
MISSING = 5
FLOOR_ROW = {
    "postgresql": "concat_ws(chr(31), id::text, name, email, amount::text, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'))",
    "mysql": "concat_ws(char(31), id, name, email, amount, "
    "DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f'))",
}


def pg_url(name: str) -> str:
    return PG + name


def admin(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            cursor = connection.connection.cursor()  # the driver's own: no % formatting
            for statement in statements:
                cursor.execute(statement)
    finally:
        engine.dispose()


def build(rows: int) -> list[int]:
    """The three databases; the ids that differ in the PostgreSQL target."""
    step = rows // (CHANGED + MISSING + 1)
    differing = [step * (i + 1) for i in range(CHANGED + MISSING)]
    fill = (
        "INSERT INTO customers SELECT i, 'name ' || i, 'user' || i || '@example.org', "
        "round((i * 37 % 100000)::numeric / 100, 2), "
        "timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second' "
        f"FROM generate_series(1, {rows}) AS i"
    )
    table = (
        "CREATE TABLE customers (id integer PRIMARY KEY, name text, email text, amount numeric, "
        "created_at timestamptz)"
    )
    for name in NAMES.values():
        admin(PG + "postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin(PG + "postgres", f'CREATE DATABASE "{name}"')
        admin(pg_url(name), table, fill, "ANALYZE customers")
    changed, missing = differing[:CHANGED], differing[CHANGED:]
    admin(
        pg_url(NAMES["pg_target"]),
        f"UPDATE customers SET amount = amount + 1 WHERE id IN ({', '.join(map(str, changed))})",
        f"DELETE FROM customers WHERE id IN ({', '.join(map(str, missing))})",
    )
    admin(
        MARIA,
        f"DROP DATABASE IF EXISTS {MARIA_DB}",
        f"CREATE DATABASE {MARIA_DB}",
        f"USE {MARIA_DB}",
        f"CREATE TABLE {MARIA_DB}.customers (id int PRIMARY KEY, name varchar(100), "
        "email varchar(100), amount decimal(12,2), created_at datetime(6)) "
        "DEFAULT CHARSET=utf8mb4",
        f"INSERT INTO {MARIA_DB}.customers SELECT seq, concat('name ', seq), "
        "concat('user', seq, '@example.org'), round((seq * 37 % 100000) / 100, 2), "
        f"timestamp '2024-01-01 00:00:00' + interval seq second FROM seq_1_to_{rows}",
    )
    return differing


def golive(source: str, target: str) -> tuple[float, VerifyReport]:
    spec = VerifySpec.model_validate(
        {"source": source, "target": target, "tables": [{"source": "customers", "key": "id"}]}
    )

    async def main() -> VerifyReport:
        resources = RunResources()
        try:
            return await verify(spec, render=str, redact=str, resources=resources, timeout=600)
        finally:
            await resources.aclose()

    started = time.perf_counter()
    report = asyncio.run(main())
    return time.perf_counter() - started, report


PROFILE_TEXT = {  # the row's text as golive's md5v2 spells it for this table
    "postgresql": "concat_ws(chr(31), id, name, email, amount, "
    "trunc(extract(epoch FROM created_at) * 1000000), "
    "(CASE WHEN name IS NULL THEN 1 ELSE 0 END + CASE WHEN email IS NULL THEN 2 ELSE 0 END + "
    "CASE WHEN amount IS NULL THEN 4 ELSE 0 END + CASE WHEN created_at IS NULL THEN 8 ELSE 0 END))",
    "mysql": "concat_ws(char(31), id, name, email, amount, "
    "coalesce((TO_SECONDS(created_at) - 62167219200) * 1000000 + MICROSECOND(created_at), "
    "concat('z', created_at)), "
    "((name IS NULL) * 1 + (email IS NULL) * 2 + (amount IS NULL) * 4 + (created_at IS NULL) * 8))",
}
PROFILE_STEPS = {  # cumulative: each adds one part to the one before
    "postgresql": [
        ("scan", "sum(id)", False),
        ("+ buckets", "sum(id)", True),
        ("+ row text", "sum(length({t}))", True),
        ("+ MD5", "sum(length(md5({t})))", True),
        ("+ 60 bits", "sum(('x' || left(md5({t}), 15))::bit(60)::bigint)", True),
        ("golive's own hash (record)", "sum(hash_record_extended(ROW(id, name, email, amount, "
         "created_at), 0))", True),
    ],
    "mysql": [
        ("scan", "sum(id)", False),
        ("+ buckets", "sum(id)", True),
        ("+ row text", "sum(length({t}))", True),
        ("+ MD5", "sum(length(MD5({t})))", True),
        ("+ 60 bits", "sum(CAST(CONV(LEFT(MD5({t}), 15), 16, 10) AS UNSIGNED))", True),
        ("CRC32 instead (no PostgreSQL 15 equivalent)", "sum(CRC32({t}))", True),
    ],
}  # fmt: skip


def server_cpu(url: str, sql: str, repeat: int) -> float:
    """The median CPU seconds the server spent on `sql` (its backend process or thread)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            cursor = connection.connection.cursor()
            if engine.dialect.name == "postgresql":
                cursor.execute("SET jit = off")
                cursor.execute("SET max_parallel_workers_per_gather = 0")  # one core, as golive
                cursor.execute("SELECT pg_backend_pid()")
                path = f"/proc/{cursor.fetchone()[0]}/schedstat"
            else:
                cursor.execute("SELECT tid FROM information_schema.processlist "
                               "WHERE id = connection_id()")  # fmt: skip
                tid = cursor.fetchone()[0]
                pid = subprocess.check_output(["pgrep", "-x", "mariadbd|mysqld"]).split()[0]
                path = f"/proc/{int(pid)}/task/{tid}/schedstat"
            spent = []
            for _ in range(repeat):
                before = int(Path(path).read_text().split()[0])
                cursor.execute(sql)
                cursor.fetchall()
                spent.append((int(Path(path).read_text().split()[0]) - before) / 1e9)
            return statistics.median(spent)
    finally:
        engine.dispose()


def profile(rows: int, urls: dict[str, str], repeat: int) -> None:
    """CPU seconds per million rows of each part of the md5v2 hash, each database."""
    print("server CPU per million rows (median of runs), the md5v2 hash part by part:")
    total = 0.0
    for backend, url in urls.items():
        divide = "/" if backend == "postgresql" else "DIV"
        for label, aggregate, grouped in PROFILE_STEPS[backend]:
            expression = aggregate.format(t=PROFILE_TEXT[backend])
            bucket = f"(id - 1) {divide} 1000, " if grouped else ""
            sql = (
                f"SELECT {bucket}count(*), {expression} FROM customers "
                f"WHERE id >= 1 AND id < {rows + 1}" + (" GROUP BY 1" if grouped else "")
            )
            seconds = server_cpu(url, sql, repeat) / rows * 1e6
            if label == "+ 60 bits":
                total += seconds
            name = "PostgreSQL" if backend == "postgresql" else "MariaDB"
            print(f"  {name:<11} {label:<45} {seconds:5.2f}s")
    cores = os.cpu_count() or 1
    print(
        f"  both sides' grouped md5v2 checksums: {total:.2f} CPU-s per million rows; on "
        f"{cores} cores MariaDB->PG takes at least {total / cores:.2f}s per million rows"
    )


def floor(source: str, target: str, *, record: bool = False) -> float:
    """Both whole-table checksums at once, on warm connections: MD5 of each row's text, or
    PostgreSQL's own hash of each row (`record`)."""
    engines = [sa.create_engine(url) for url in (source, target)]
    for engine in engines:
        engine.connect().close()

    def checksum(engine: sa.Engine) -> Any:
        backend = engine.dialect.name
        row = FLOOR_ROW[backend]
        if record:
            hashed = "hash_record_extended(ROW(id, name, email, amount, created_at), 0)"
        elif backend == "postgresql":
            hashed = f"('x' || substr(md5({row}), 1, 15))::bit(60)::bigint"
        else:
            hashed = f"CAST(CONV(SUBSTRING(MD5({row}), 1, 15), 16, 10) AS UNSIGNED)"
        with engine.connect() as connection:
            cursor = connection.connection.cursor()
            if backend == "postgresql":
                cursor.execute("SET jit = off")  # as golive: compiling costs more than it saves
            cursor.execute(f"SELECT count(*), sum({hashed}) FROM customers")
            return cursor.fetchone()

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(checksum, engines))
        return time.perf_counter() - started
    finally:
        for engine in engines:
            engine.dispose()


RELADIFF = "reladiff[postgresql,mysql]==0.6.0"


def install_reladiff() -> str:
    """reladiff's command in its own environment, made on first use."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    venv = cache / "golive-bench" / "reladiff-venv"
    command = venv / "bin" / "reladiff"
    if not command.exists():
        print(f"installing {RELADIFF} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", RELADIFF]
        subprocess.run(pip, check=True)
    return str(command)


def reladiff(command: str, source: str, target: str) -> tuple[float, int]:
    """reladiff's time and the number of differences it printed."""
    urls = [re.sub(r"\+\w+://", "://", u) for u in (source, target)]
    started = time.perf_counter()
    done = subprocess.run(
        [command, urls[0], "customers", urls[1], "customers", "-k", "id",
         "-c", "name", "-c", "email", "-c", "amount", "-c", "created_at", "-j", "8"],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"reladiff failed: {done.stderr.strip()[-500:]}")
    found = [line for line in done.stdout.splitlines() if line[:1] in "+-"]
    return elapsed, len({line[1:].split(",")[0].strip() for line in found})


def check(report: VerifyReport, label: str) -> None:
    table = report.tables[0]
    found = (table.missing, table.extra, table.changed)
    if found != (MISSING, 0, CHANGED) or table.error:
        raise SystemExit(f"{label}: expected {MISSING} missing and {CHANGED} changed, got "
                         f"{found} {table.error or ''}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--reladiff", help="the reladiff command to time too, or `auto` to install it"
    )
    parser.add_argument("--keep", action="store_true", help="reuse the databases of a last run")
    parser.add_argument(
        "--profile", action="store_true", help="also the server CPU of each part of the hash"
    )
    options = parser.parse_args()
    if options.reladiff == "auto":
        options.reladiff = install_reladiff()
    if not options.keep:
        started = time.perf_counter()
        build(options.rows)
        print(f"built 3 tables of {options.rows:,} rows in {time.perf_counter() - started:.1f}s")
    source, target = pg_url(NAMES["pg_source"]), pg_url(NAMES["pg_target"])
    maria = MARIA + MARIA_DB
    pairs = {"pg": (source, target), "maria": (maria, target)}
    timings: dict[str, list[float]] = defaultdict(list)
    for _ in range(options.repeat):  # interleaved: a noisy machine slows every tool alike
        for key, (a, b) in pairs.items():
            elapsed, report = golive(a, b)
            check(report, f"golive {key}")
            timings[key].append(elapsed)
            if options.reladiff:
                elapsed, differences = reladiff(options.reladiff, a, b)
                if differences != CHANGED + MISSING:
                    raise SystemExit(f"reladiff {key}: {differences} differences, not 15")
                timings[f"reladiff_{key}"].append(elapsed)
        timings["floor"].append(floor(source, target))
        timings["record_floor"].append(floor(source, target, record=True))
        timings["maria_floor"].append(floor(maria, target))
    summary(options.rows, {k: statistics.median(v) for k, v in timings.items()})
    if options.profile:
        profile(options.rows, {"mysql": maria, "postgresql": target}, options.repeat)


def summary(rows: int, median: dict[str, float]) -> None:
    def line(label: str, seconds: float, extra: str = "") -> None:
        per = seconds / rows * 1e6  # seconds per million rows: flat as --rows grows
        print(f"{label:<38} {seconds:6.2f}s {rows / seconds:>11,.0f} rows/s {per:5.2f}s/M  {extra}")

    line("floor PG->PG (MD5 checksum both)", median["floor"])
    line("floor PG->PG (golive's hash, both)", median["record_floor"])
    line(
        "golive PG->PG",
        median["pg"],
        f"{median['pg'] / median['floor']:.2f}x the MD5 floor, "
        f"{median['pg'] / median['record_floor']:.2f}x the floor of its own hash",
    )
    line("floor MariaDB->PG (MD5 checksum both)", median["maria_floor"])
    line(
        "golive MariaDB->PG",
        median["maria"],
        f"{median['maria'] / median['maria_floor']:.2f}x its floor, "
        f"{median['maria'] / median['pg']:.2f}x PG->PG",
    )
    for key, label in (("pg", "PG->PG"), ("maria", "MariaDB->PG")):
        if f"reladiff_{key}" in median:
            theirs = median[f"reladiff_{key}"]
            line(f"reladiff {label}", theirs, f"15 differences; golive is "
                 f"{theirs / median[key]:.2f}x faster")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak RSS of golive's process: {peak:,.0f} MiB ({rows:,} rows)")


if __name__ == "__main__":
    main()
