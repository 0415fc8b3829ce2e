"""gunicorn's settings for production: `.venv/bin/gunicorn -c gunicorn.conf.py` (Procfile.prod).

`make run` keeps Django's runserver; this file is for the web nodes of a deployment. Everything
comes from the environment (and `.env`, as the app reads it):

- `GUNICORN_BIND` (default `0.0.0.0:8000`, or `0.0.0.0:$PORT`): the address the load balancer reaches.
- `WEB_WORKERS` (default 2 x CPUs + 1) processes of `WEB_THREADS` (default 4) threads each: a thread
  waiting on Dots does not hold a process.
- `GUNICORN_TIMEOUT` (default the larger of 60 s and 6 x `DOTS_TIMEOUT_SECONDS`): a request may make
  a Dots call with its retries, so this is well above one call's timeout. `graceful_timeout` is the
  same, so a reload or stop lets a request that is paying finish rather than cutting it mid-call.
- No preloading: each worker imports the app itself after the fork (no database connection or
  Dots session is shared between processes), and `kill -HUP` reloads the code.
- `GUNICORN_ACCESS_LOG` (default `-`, standard output; empty for none): one line per request with
  its X-Request-Id. With `LOG_FORMAT=json` the app logs a JSON line per request itself (request id,
  user id) and gunicorn's access log defaults to none.
- Prometheus' multiprocess mode: with several workers each process measures its own requests;
  `PROMETHEUS_MULTIPROC_DIR` (default `var/prometheus-<port>`) is emptied when gunicorn starts, each
  worker writes its figures there, and a worker that exits is marked dead, so `/metrics` from any
  worker adds up all of them.
"""

import multiprocessing
import os
import shutil
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
if (BASE_DIR / ".env").is_file():
    import environ

    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


wsgi_app = "config.wsgi:application"
chdir = str(BASE_DIR)
bind = [os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT') or 8000}"]
workers = _int("WEB_WORKERS", multiprocessing.cpu_count() * 2 + 1)
threads = _int("WEB_THREADS", 4)
worker_class = "gthread"
_dots_timeout = float(os.environ.get("DOTS_TIMEOUT_SECONDS") or 10)
timeout = _int("GUNICORN_TIMEOUT", max(60, int(_dots_timeout * 6)))
graceful_timeout = timeout
keepalive = 5
preload_app = False
# Off by default: a replaced worker leaves its Prometheus files behind (its counts still add up) until
# gunicorn restarts. Set it (plus jitter, so workers do not all restart at once) only against a leak.
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
# Only a proxy on these addresses may say the request came over HTTPS (BEHIND_TLS_PROXY in settings).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

_json_logs = os.environ.get("LOG_FORMAT", "plain") == "json"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "" if _json_logs else "-") or None
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

_port = bind[0].rsplit(":", 1)[-1]
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Set before any worker imports prometheus-client (the workers inherit the environment).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(BASE_DIR / "var" / f"prometheus-{_port}")


def on_starting(server):  # noqa: ANN001, ARG001 - gunicorn's hook signature
    """Start with an empty multiprocess directory: figures of a previous run must not be added in."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


def child_exit(server, worker):  # noqa: ANN001, ARG001 - gunicorn's hook signature
    """A worker that exited no longer counts in live gauges (its counters and histograms are kept)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
