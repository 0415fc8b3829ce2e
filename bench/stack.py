"""Production-like processes on 127.0.0.1 for bench/load.py and bench/prod_check.py.

gunicorn (gunicorn.conf.py) and a `qcluster` with DEBUG=false against PostgreSQL and Redis, each a
child process of the caller; `Stack.stop()` ends every process it started (by its own process id,
and its children through the process group it was given), and is safe to call twice.

Plain HTTP on loopback: SECURE_SSL_REDIRECT and the secure-cookie settings are turned off, the
rest of the production settings stay as they are.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bench import emulator as bench_emulator
from bench.import_payees import fresh_database

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SECRET = "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def drop_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" in name:
        with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_redis(url: str) -> None:
    """Empty the bench's own Redis database index: no task queued by an earlier run (against a database
    since dropped) reaches this run's worker."""
    import redis

    redis.from_url(url).flushdb()


def server_env(*, database_url: str, redis_url: str, workdir: Path, dots_root: str = "", **extra: str) -> dict:
    """The environment of every process of the stack (and of the caller's own Django, if it sets one up)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PROMETHEUS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        SECRET_KEY=SECRET,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        # Loopback without TLS: no redirect to https, cookies sent over http.
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_HSTS_SECONDS="0",
        # One directory both web nodes read and write: the bench's stand-in for shared storage.
        MEDIA_ROOT=str(workdir / "media"),
        STATIC_ROOT=str(REPO_ROOT / "var" / "bench-static"),
        LOG_FORMAT="json",
        LOG_LEVEL="WARNING",
        GUNICORN_ACCESS_LOG="",
        GUNICORN_LOG_LEVEL="warning",
        PYTHONPATH=str(REPO_ROOT),
    )
    if dots_root:
        from bench.emulator import API_KEY, CLIENT_ID

        env.update(DOTS_API_URL=dots_root + "/api", DOTS_CLIENT_ID=CLIENT_ID, DOTS_API_KEY=API_KEY)
    env.update(extra)
    return env


class Stack:
    """The processes started for one run; `stop()` ends them all (also on SIGTERM/SIGINT of the caller)."""

    def __init__(self, env: dict, workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.processes: list[tuple[str, subprocess.Popen]] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    dots_root = ""  # the Dots emulator's address, once `fresh` started it

    @classmethod
    def fresh(cls, *, database_url: str, redis_url: str, workdir: Path) -> Stack:
        """A stack on an emptied database and Redis, with a Dots emulator of its own already running
        (and stopped with the rest): what bench/load.py and bench/prod_check.py both start from."""
        fresh_database(database_url)
        fresh_redis(redis_url)
        emulator_process, dots_root = bench_emulator.start_emulator(str(workdir / "emulator.sqlite3"))
        stack = cls(
            server_env(database_url=database_url, redis_url=redis_url, workdir=workdir, dots_root=dots_root), workdir
        )
        stack.dots_root = dots_root
        stack.adopt("emulator", emulator_process)
        return stack

    def _on_signal(self, signum, frame) -> None:  # noqa: ANN001
        self.stop()
        raise SystemExit(128 + signum)

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=self.env, check=True)

    def _start(self, name: str, command: list[str], env: dict) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append((name, process))
        return process

    def start_gunicorn(self, port: int, *, workers: int, threads: int = 4, name: str = "") -> str:
        env = dict(
            self.env,
            GUNICORN_BIND=f"127.0.0.1:{port}",
            WEB_WORKERS=str(workers),
            WEB_THREADS=str(threads),
            PROMETHEUS_MULTIPROC_DIR=str(self.workdir / f"prometheus-{port}"),
        )
        self._start(name or f"gunicorn-{port}", [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py"], env)
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url + "/healthz", what=f"gunicorn on {port}", processes=self.processes)
        return url

    def start_qcluster(self, *, workers: int = 2) -> None:
        env = dict(self.env, Q_WORKERS=str(workers), PROMETHEUS_MULTIPROC_DIR=str(self.workdir / "prometheus-worker"))
        Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        self._start("qcluster", [sys.executable, "manage.py", "qcluster"], env)

    def start_process(self, name: str, command: list[str]) -> subprocess.Popen:
        return self._start(name, command, self.env)

    def adopt(self, name: str, process: subprocess.Popen) -> None:
        """A process the caller started (the emulator): stopped with the others."""
        self.processes.append((name, process))

    def stop(self, name_prefix: str = "") -> None:
        """Ends the processes (those whose name starts with `name_prefix`): SIGTERM, then SIGKILL after 20 s."""
        chosen = [(n, p) for n, p in self.processes if n.startswith(name_prefix)]
        for _, process in chosen:
            _signal(process, signal.SIGTERM)
        for _, process in chosen:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal(process, signal.SIGKILL)
                process.wait()
        self.processes = [(n, p) for n, p in self.processes if (n, p) not in chosen]


def _signal(process: subprocess.Popen, sig: int) -> None:
    """`sig` to the process, and to its children when it leads its own process group (those _start made)."""
    if process.poll() is not None:
        return
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
    except ProcessLookupError:
        pass


def wait_until_up(url: str, *, what: str, processes=(), seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name, process in processes:
            if process.poll() is not None:
                raise SystemExit(f"{name} exited with {process.returncode} while starting")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer {url} within {seconds:.0f} s")
