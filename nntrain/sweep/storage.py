"""Where an Optuna study lives (the `tune` extra): a storage that any number of worker processes,
on one machine or many, share: sqlite, a journal file, PostgreSQL/MySQL. The storage URL is the
only thing that changes between one process and a cluster. With the heartbeat (RDB storages), a
worker that dies leaves a trial whose heartbeat stops; another worker fails it and runs it again
(Optuna's retry callback, at most MAX_RETRY times).
"""
from __future__ import annotations

import re
import time
from pathlib import Path

from .space import SweepError

MAX_RETRY = 3  # a trial whose worker died is run again at most this often


def need_optuna():
    try:
        import optuna
    except ImportError:
        raise SweepError("--search needs optuna, which is not installed; install the `tune` extra: "
                         "pip install 'nntrain[tune]' (plain --grid and --random sweeps need nothing)") from None
    import warnings

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the sweep's display says what happens
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeat, journal
    return optuna


def retry_callback():
    """Optuna's callback that queues a copy of a trial whose worker died (renamed in 4.9)."""
    from optuna import storages

    cls = getattr(storages, "RetryHeartbeatStaleTrialCallback", None) or storages.RetryFailedTrialCallback
    return cls(max_retry=MAX_RETRY)


def shown_url(url: str) -> str:
    """A storage URL with its password hidden (postgresql://user:***@host/db)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def open_storage(url: str, heartbeat: float | None = None):
    """`sqlite:///sweep.db`, `postgresql://...`, `mysql+pymysql://...` (an RDB, with heartbeat),
    or `journal:PATH` (a journal file, safe on NFS, without heartbeat)."""
    optuna = need_optuna()
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(url[len("journal:"):].removeprefix("//"))
        if not path.parent.is_dir():
            raise SweepError(f"--storage {url}: the folder {path.parent} does not exist")
        try:
            return JournalStorage(JournalFileBackend(str(path)))
        except OSError as exc:
            raise SweepError(f"--storage {url}: cannot open the journal file: {exc.strerror}") from None
    if "://" not in url:
        raise SweepError(f"--storage {url!r} is not a storage URL; e.g. sqlite:///sweep.db, journal:sweep.journal, "
                         "postgresql://user:pass@host/db")
    kwargs: dict = {}
    if url.startswith("sqlite:"):  # several processes write: wait for the lock instead of failing
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    if heartbeat:
        import inspect

        name = ("heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback"
                in inspect.signature(optuna.storages.RDBStorage).parameters else "failed_trial_callback")
        kwargs.update({"heartbeat_interval": max(1, round(heartbeat)), name: retry_callback()})
    for attempt in range(6):
        try:
            return optuna.storages.RDBStorage(url, **kwargs)
        except Exception as exc:  # sqlalchemy's errors, a missing database driver, a bad URL
            racing = ("already exists", "UNIQUE constraint failed", "database is locked")
            if any(r in str(exc) for r in racing) and attempt < 5:  # another worker is creating the tables
                time.sleep(0.2 * (attempt + 1))
                continue
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SweepError(f"--storage {shown_url(url)}: cannot open it ({detail})") from None
