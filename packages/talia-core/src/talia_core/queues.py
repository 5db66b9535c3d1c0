"""The WhatsApp reply job's names, which two apps use: the WhatsApp app queues a reply job
with each message and runs the jobs; the console queues one with each staff reply, whose
job sends it (the same durable path and status callbacks as the assistant's replies)."""

from __future__ import annotations

from typing import Final

from talia_core.repositories.mensajes import ColaRespuestas

# Procrastinate's names for the reply task and its queue, as the SQL that queues it takes them.
REPLY_TASK: Final = "talia_whatsapp.reply"
REPLY_QUEUE: Final = "whatsapp"
WHATSAPP_REPLIES: Final = ColaRespuestas(tarea=REPLY_TASK, cola=REPLY_QUEUE)
