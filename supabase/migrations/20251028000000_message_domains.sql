-- The rules of a message's columns become domains.
--
-- PostgreSQL turns a table's check constraints back into expressions and plans them again
-- at the start of every statement that writes the table, about 5 µs per constraint; a
-- domain's check is compiled once per session. Recording a message (insert into `mensajes`,
-- then `last_message_at` on its conversation) paid for eleven such checks; with domains its
-- insert costs half as much (bench/db_write.py).
--
-- Delivery and conversation statuses keep their check constraints: functions of the write
-- API return them as `text`, and a RETURN QUERY column must have exactly its declared type.

create domain public.canal as text
  check (value in ('whatsapp', 'webchat', 'voice'));
create domain public.direccion as text
  check (value in ('inbound', 'outbound'));
create domain public.rol as text
  check (value in ('user', 'assistant', 'staff', 'system'));
create domain public.tipo_mensaje as text
  check (value in ('text', 'audio', 'image', 'media', 'location', 'transcript'));
create domain public.texto_mensaje as text
  check (length(value) <= 16000);
-- MessageSid, CallSid:sequence, webchat client_message_id, idempotency keys.
create domain public.id_externo as text
  check (length(value) <= 200);
create domain public.codigo_error as text
  check (length(value) <= 20);

alter table public.mensajes
  drop constraint mensajes_canal_check,
  drop constraint mensajes_direccion_check,
  drop constraint mensajes_rol_check,
  drop constraint mensajes_tipo_check,
  drop constraint mensajes_contenido_check,
  drop constraint mensajes_proveedor_id_check,
  drop constraint mensajes_idempotency_key_check,
  drop constraint mensajes_error_codigo_check,
  alter column canal type public.canal,
  alter column direccion type public.direccion,
  alter column rol type public.rol,
  alter column tipo type public.tipo_mensaje,
  alter column contenido type public.texto_mensaje,
  alter column proveedor_id type public.id_externo,
  alter column idempotency_key type public.id_externo,
  alter column error_codigo type public.codigo_error;

alter table public.conversaciones
  drop constraint conversaciones_canal_check,
  alter column canal type public.canal;

alter table public.contactos
  drop constraint contactos_canal_check,
  alter column canal type public.canal;

