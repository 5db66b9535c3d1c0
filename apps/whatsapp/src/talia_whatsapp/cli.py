"""`talia-whatsapp worker`: run the reply worker on its own, as when scaled out."""

from __future__ import annotations

import argparse
import asyncio
import signal

import structlog
from prometheus_client import CollectorRegistry

from talia_core.config import settings_or_exit
from talia_core.db import create_pool
from talia_core.logging import configure_logging
from talia_core.tracing import configure_tracing
from talia_whatsapp.config import Settings
from talia_whatsapp.metrics import ReplyMetrics
from talia_whatsapp.runtime import open_replies

log = structlog.stdlib.get_logger("talia.whatsapp.worker")


async def _work(settings: Settings) -> None:
    pool = create_pool(settings.database, name="talia-whatsapp-worker")
    await pool.open(wait=False)
    try:
        # Not served: the standalone worker has no /metrics (the web app's scrape reads the queue).
        metrics = ReplyMetrics(CollectorRegistry())
        async with open_replies(settings, pool, metrics) as replies:
            worker = asyncio.create_task(replies.worker.run())
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, worker.cancel)  # running jobs finish first
            await asyncio.wait([worker])
    finally:
        await pool.close()
    if not worker.cancelled() and worker.exception() is not None:
        # Not a database outage (those are ridden out): exit so the orchestrator restarts us.
        log.error("reply_worker_died", error=type(worker.exception()).__name__)
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `talia-whatsapp` command."""
    parser = argparse.ArgumentParser(prog="talia-whatsapp")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("worker", help="run reply jobs (with TALIA_WHATSAPP_RUN_WORKER=false)")
    parser.parse_args(argv)

    settings = settings_or_exit(Settings)
    configure_logging(settings.logging)
    tracing = configure_tracing(settings.app, service="talia-whatsapp-worker")
    try:
        asyncio.run(_work(settings))
    finally:
        if tracing is not None:
            tracing.shutdown()  # exports the spans still waiting
