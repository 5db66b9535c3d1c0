-- Delivery and conversation statuses are checked through domains, their columns stay `text`.
--
-- PostgreSQL reads a table's check constraints back from their stored form at the start of
-- every statement that writes the table. A list of allowed strings is stored as one array
-- constant, the costliest node to read: profiled under load, reading the status lists took
-- about 7% of the server time of an inbound message (its insert into `mensajes`, then the
-- update of its conversation's `last_message_at`). A domain's check is compiled once per
-- session, so each check now only casts to a domain. The columns keep their `text` type:
-- the write API returns them through RETURN QUERY, which wants exactly the declared type.

create domain public.estado_entrega as text
  check (value in ('received', 'queued', 'sending', 'sent', 'failed', 'undelivered',
                   'delivered', 'read'));
create domain public.estado_conversacion as text
  check (value in ('open', 'handoff', 'closed'));

-- A status outside the domain fails the cast with a check violation (SQLSTATE 23514), as the
-- constraints it replaces did; a null delivery status is still allowed.
alter table public.mensajes
  drop constraint mensajes_estado_entrega_check,
  add constraint mensajes_estado_entrega_check
    check (estado_entrega::public.estado_entrega = estado_entrega);

alter table public.conversaciones
  drop constraint conversaciones_estado_check,
  add constraint conversaciones_estado_check
    check (estado::public.estado_conversacion = estado);
