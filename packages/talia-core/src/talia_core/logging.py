"""structlog on stdout, uvicorn's logs routed through it, personal data masked."""

from __future__ import annotations

import logging
import logging.config
import sys
import traceback
from typing import Any, TextIO

import structlog
from structlog.typing import ExcInfo, Processor

from talia_core.config import LoggingSettings
from talia_core.masking import mask_event, mask_text

get_logger = structlog.stdlib.get_logger


def _mask_exception(
    _logger: object, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Exceptions are rendered before masking would see them; mask the rendered text."""
    exception = event_dict.get("exception")
    if isinstance(exception, str):
        event_dict["exception"] = mask_text(exception)
    return event_dict


def _masked_plain_traceback(sio: TextIO, exc_info: ExcInfo) -> None:
    """The console's traceback: plain (structlog's default, rich, shows every frame's local
    variables, customers' data among them) and masked like every other field."""
    sio.write("\n" + mask_text("".join(traceback.format_exception(*exc_info))))


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]  # stdlib generic at runtime only
    """Writes to whatever `sys.stdout` is at emit time (test capture, a re-opened stream)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def _drop_color_message(
    _logger: object, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """uvicorn passes a terminal-coloured copy of its message as an extra; keep one."""
    event_dict.pop("color_message", None)
    return event_dict


def configure_logging(settings: LoggingSettings) -> None:
    """Send structlog and stdlib (uvicorn, psycopg) records through one masked pipeline."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        mask_event,
    ]
    renderer: Processor
    if settings.format == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
        shared.append(_mask_exception)
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stdout.isatty(), exception_formatter=_masked_plain_traceback
        )

    structlog.configure(
        # A call below the level returns before any processor runs (masking is not free).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter: dict[str, Any] = {
        "()": structlog.stdlib.ProcessorFormatter,
        "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        "foreign_pre_chain": shared,
    }
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"talia": formatter},
            "handlers": {
                "stdout": {"()": StdoutHandler, "formatter": "talia"},
            },
            "root": {"handlers": ["stdout"], "level": settings.level},
            "loggers": {
                # uvicorn's own handlers are replaced by ours; its access log would print
                # query strings, so requests are logged by our middleware instead.
                "uvicorn": {"handlers": [], "propagate": True},
                "uvicorn.error": {"handlers": [], "propagate": True},
                "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
            },
        }
    )
