"""A business's past, written into a fresh benchmark database before it is measured.

A deployed assistant writes into tables that already hold thousands of people. On a few-page
table the planner rightly reads every page instead of an index, and the write path then reads
the row versions its own updates leave behind: an empty database measures a case no busy
deployment is in. `seed_history` adds `contacts` past contacts over the three channels, each
with one closed conversation of six messages (and, on WhatsApp, the three reply jobs that
answered them), then gathers statistics as autovacuum would.
"""

from __future__ import annotations

import psycopg

from talia_core.queues import REPLY_QUEUE, REPLY_TASK

# Plain SQL in one statement, not the write API: the past is not what is measured, and 120,000
# calls would take longer than the benchmark itself.
_SEED = """
with contactos as (
  insert into public.contactos (canal, identidad, nombre, created_at, updated_at)
  select canal, identidad, 'Cliente ' || n, pasado, pasado
  from generate_series(1, %(contacts)s) as n,
  lateral (select (array['whatsapp', 'webchat', 'voice'])[1 + n %% 3] as canal) as c,
  lateral (select case canal
               when 'whatsapp' then 'whatsapp:+3469' || lpad(n::text, 7, '0')
               when 'voice' then '+3491' || lpad(n::text, 7, '0')
               else 'visitante-' || n end as identidad,
           now() - make_interval(days => 30 + n %% 60) as pasado) as i
  returning contacto_id, canal, created_at
), conversaciones as (
  insert into public.conversaciones (
    canal, contacto_id, asistente_clave, estado, started_at, last_message_at, closed_at)
  select canal, contacto_id, 'default', 'closed', created_at,
         created_at + interval '6 minutes', created_at + interval '1 day'
  from contactos
  returning conversacion_id, canal, started_at
), respuestas as (
  -- The WhatsApp reply jobs that ran (procrastinate keeps finished jobs).
  insert into public.procrastinate_jobs (
    queue_name, task_name, lock, queueing_lock, args, status, scheduled_at, attempts)
  select %(queue)s, %(task)s, 'whatsapp-reply:' || conversacion_id,
         'whatsapp-reply:' || conversacion_id,
         jsonb_build_object('conversacion_id', conversacion_id), 'succeeded',
         started_at + make_interval(mins => n), 1
  from conversaciones, generate_series(1, 3) as n
  where canal = 'whatsapp'
)
insert into public.mensajes (
  conversacion_id, canal, direccion, rol, tipo, contenido, proveedor_id, estado_entrega,
  created_at, updated_at)
select cv.conversacion_id, cv.canal, d.direccion, d.rol, 'text',
       'Mensaje ' || n || ' de una conversación pasada', p.proveedor_id, d.estado,
       cv.started_at + make_interval(mins => n), cv.started_at + make_interval(mins => n)
from conversaciones cv, generate_series(1, 6) as n,
lateral (select case when n %% 2 = 1 then 'inbound' else 'outbound' end as direccion,
                case when n %% 2 = 1 then 'user' else 'assistant' end as rol,
                case when n %% 2 = 1 then 'received' else 'delivered' end as estado) as d,
lateral (select case
             when d.direccion = 'outbound' and cv.canal <> 'whatsapp' then null
             when cv.canal = 'voice' then 'CA' || md5(cv.conversacion_id::text) || ':' || n
             when cv.canal = 'webchat' then md5(cv.conversacion_id::text || n)
             else 'SM' || md5(cv.conversacion_id::text || n) end as proveedor_id) as p
"""


def seed_history(url: str, contacts: int) -> None:
    """Give the database `contacts` past contacts with their closed conversations.

    Only for a database the benchmark created: it writes made-up people.
    """
    if contacts <= 0:
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_SEED, {"contacts": contacts, "queue": REPLY_QUEUE, "task": REPLY_TASK})
        conn.execute(
            "analyze public.contactos, public.conversaciones, public.mensajes,"
            " public.procrastinate_jobs"
        )
