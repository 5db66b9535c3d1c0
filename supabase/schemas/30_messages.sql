-- Messages: everything said in a conversation, inbound and outbound, with its delivery state.

create table public.mensajes (
  mensaje_id bigint generated always as identity,
  conversacion_id uuid not null,
  canal canal not null,
  direccion direccion not null,
  rol rol not null,
  tipo tipo_mensaje default 'text'::text not null,
  contenido texto_mensaje,
  media jsonb,
  proveedor_id id_externo,
  idempotency_key id_externo,
  respuesta_a bigint,
  estado_entrega estado_entrega,
  error_codigo codigo_error,
  metadata jsonb default '{}'::jsonb not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  agente_id uuid,
  constraint mensajes_pkey PRIMARY KEY (mensaje_id),
  constraint mensajes_conversacion_id_fkey FOREIGN KEY (conversacion_id) REFERENCES conversaciones(conversacion_id) ON DELETE CASCADE,
  constraint mensajes_respuesta_a_fkey FOREIGN KEY (respuesta_a) REFERENCES mensajes(mensaje_id) ON DELETE SET NULL,
  constraint mensajes_agente_id_fkey FOREIGN KEY (agente_id) REFERENCES agentes(auth_user_id) ON DELETE SET NULL
);
-- agente_id: the staff member who wrote it (rol 'staff').

alter table public.mensajes enable row level security;

CREATE INDEX mensajes_conversacion_idx ON public.mensajes USING btree (conversacion_id, mensaje_id);

CREATE INDEX mensajes_respuesta_a_idx ON public.mensajes USING btree (respuesta_a) WHERE (respuesta_a IS NOT NULL);

-- A conversation's last_message_at is the time of its newest message, whoever writes it.
create function public._talia_ultimo_mensaje() returns trigger
language plpgsql set search_path = ''
as $$
begin
  update public.conversaciones cv set last_message_at = new.created_at
  where cv.conversacion_id = new.conversacion_id;
  return null;
end
$$;

create trigger mensajes_mueven_su_conversacion after insert on public.mensajes
  for each row execute function public._talia_ultimo_mensaje();

-- An inbound message of any channel, with its contact and open conversation upserted.
create or replace function public.registrar_mensaje_entrante(
  p_canal text,
  p_identidad text,
  p_asistente text,
  p_proveedor_id text,
  p_contenido text,
  p_tipo text default 'text',
  p_media jsonb default null,
  p_nombre text default null,
  p_metadata jsonb default '{}'::jsonb
) returns table (
  mensaje_id bigint,
  conversacion_id uuid,
  contacto_id uuid,
  repetido boolean,
  estado_conversacion text,
  opt_out boolean
)
language plpgsql security definer set search_path = ''
as $$
declare
  v_contacto uuid;
  v_opt_out boolean;
  v_nombre text;
  v_conversacion uuid;
  v_estado text;
  v_mensaje bigint;
begin
  if p_canal is null or p_canal not in ('whatsapp', 'voice') then
    raise exception using errcode = 'TA400', message = format('unknown channel: %s', p_canal),
      hint = 'inbound messages come from whatsapp or voice; webchat uses registrar_mensaje_webchat';
  end if;
  if length(p_contenido) > 16000 then
    raise exception using errcode = 'TA413',
      message = format('text is %s characters, the limit is 16000', length(p_contenido));
  end if;
  if coalesce(length(p_identidad), 0) = 0 then
    raise exception using errcode = 'TA400', message = 'identidad is required';
  end if;

  -- One contact's messages are recorded one at a time (a transaction-scoped lock in memory,
  -- cheaper than locking the contact's row on every message).
  perform pg_advisory_xact_lock(hashtextextended(p_canal || ':' || p_identidad, 0));

  select c.contacto_id, c.opt_out, c.nombre into v_contacto, v_opt_out, v_nombre
  from public.contactos c where c.canal = p_canal and c.identidad = p_identidad;
  if not found then
    insert into public.contactos as c (canal, identidad, nombre)
    values (p_canal, p_identidad, p_nombre)
    returning c.contacto_id, c.opt_out into v_contacto, v_opt_out;
  elsif v_nombre is null and p_nombre is not null then
    update public.contactos c set nombre = p_nombre, updated_at = now()
    where c.contacto_id = v_contacto;
  end if;

  select cv.conversacion_id, cv.estado into v_conversacion, v_estado
  from public.conversaciones cv
  where cv.contacto_id = v_contacto and cv.estado <> 'closed'
  order by cv.started_at desc
  limit 1;
  if not found then
    insert into public.conversaciones as cv (canal, contacto_id, asistente_clave)
    values (p_canal, v_contacto, coalesce(nullif(p_asistente, ''), 'default'))
    returning cv.conversacion_id, cv.estado into v_conversacion, v_estado;
    insert into public.eventos (tipo, conversacion_id, contacto_id, payload)
    values ('conversation_opened', v_conversacion, v_contacto,
            jsonb_build_object('canal', p_canal));
  end if;

  insert into public.mensajes as m (
    conversacion_id, canal, direccion, rol, tipo, contenido, media, proveedor_id,
    estado_entrega, metadata
  )
  values (
    v_conversacion, p_canal, 'inbound', 'user', coalesce(p_tipo, 'text'), p_contenido,
    p_media, p_proveedor_id, 'received', coalesce(p_metadata, '{}'::jsonb)
  )
  on conflict (canal, proveedor_id) where proveedor_id is not null and canal <> 'webchat'
    do nothing
  returning m.mensaje_id into v_mensaje;

  if v_mensaje is null then
    -- A repeat (Twilio retried, or delivered twice): answer with the stored message.
    return query
      select m.mensaje_id, m.conversacion_id, v_contacto, true, cv.estado::text, v_opt_out
      from public.mensajes m join public.conversaciones cv using (conversacion_id)
      where m.canal = p_canal and m.proveedor_id = p_proveedor_id;
    return;
  end if;

  -- Filling the result columns costs less than a query to return them.
  mensaje_id := v_mensaje;
  conversacion_id := v_conversacion;
  contacto_id := v_contacto;
  repetido := false;
  estado_conversacion := v_estado;
  opt_out := v_opt_out;
  return next;
end
$$;

-- A webchat visitor message in the session's conversation, idempotent on client_message_id.
-- It returns the stored row itself (the caller shows it at once, without reading it back),
-- and what answering it needs of its conversation (its state, contact, assistant and OpenAI
-- conversation): the reply starts without another round trip.
-- A repeat returns the row stored the first time, and the assistant reply to it, if any.
create function public.recibir_mensaje_webchat(
  p_conversacion_id uuid,
  p_client_message_id text,
  p_contenido text
) returns table (
  mensaje_id bigint,
  conversacion_id uuid,
  canal text,
  direccion text,
  rol text,
  tipo text,
  contenido text,
  media jsonb,
  proveedor_id text,
  idempotency_key text,
  respuesta_a bigint,
  estado_entrega text,
  error_codigo text,
  metadata jsonb,
  created_at timestamptz,
  updated_at timestamptz,
  repetido boolean,
  respuesta_id bigint,
  estado_conversacion text,
  contacto_id uuid,
  asistente_clave text,
  openai_conversation_id text
)
language plpgsql security definer set search_path = ''
as $$
#variable_conflict use_column
declare
  v_conversacion public.conversaciones;
  v_fila public.mensajes;
  v_repetido boolean := false;
  v_respuesta bigint;
begin
  perform public._talia_check_texto(p_contenido);
  if coalesce(length(p_client_message_id), 0) = 0 then
    raise exception using errcode = 'TA400', message = 'client_message_id is required';
  end if;
  select * into v_conversacion from public.conversaciones cv
  where cv.conversacion_id = p_conversacion_id and cv.canal = 'webchat';
  if not found then
    perform public._talia_no_encontrado(format('webchat conversation %s', p_conversacion_id));
  end if;

  insert into public.mensajes as m (
    conversacion_id, canal, direccion, rol, tipo, contenido, proveedor_id, estado_entrega
  )
  values (p_conversacion_id, 'webchat', 'inbound', 'user', 'text', p_contenido,
          p_client_message_id, 'received')
  on conflict (conversacion_id, proveedor_id)
    where proveedor_id is not null and canal = 'webchat'
    do nothing
  returning m.* into v_fila;

  if v_fila.mensaje_id is null then
    select m.* into v_fila from public.mensajes m
    where m.conversacion_id = p_conversacion_id and m.canal = 'webchat'
      and m.proveedor_id = p_client_message_id;
    v_repetido := true;
    select r.mensaje_id into v_respuesta from public.mensajes r
    where r.respuesta_a = v_fila.mensaje_id order by r.mensaje_id limit 1;
  end if;
  return query select
    v_fila.mensaje_id, v_fila.conversacion_id, v_fila.canal::text, v_fila.direccion::text,
    v_fila.rol::text, v_fila.tipo::text, v_fila.contenido::text, v_fila.media,
    v_fila.proveedor_id::text, v_fila.idempotency_key::text, v_fila.respuesta_a,
    v_fila.estado_entrega::text, v_fila.error_codigo::text, v_fila.metadata, v_fila.created_at,
    v_fila.updated_at, v_repetido, v_respuesta, v_conversacion.estado::text,
    v_conversacion.contacto_id, v_conversacion.asistente_clave::text,
    v_conversacion.openai_conversation_id::text;
end
$$;

-- The same, as replicas of the releases before 2026-11-30 call it (they may still run during
-- a rolling deploy). Drop it once none of them runs.
create function public.registrar_mensaje_webchat(
  p_conversacion_id uuid, p_client_message_id text, p_contenido text
) returns table (
  mensaje_id bigint, conversacion_id uuid, canal text, direccion text, rol text, tipo text,
  contenido text, media jsonb, proveedor_id text, idempotency_key text, respuesta_a bigint,
  estado_entrega text, error_codigo text, metadata jsonb, created_at timestamptz,
  updated_at timestamptz, repetido boolean, respuesta_id bigint, estado_conversacion text
)
language sql security definer set search_path = ''
as $$
  select r.mensaje_id, r.conversacion_id, r.canal, r.direccion, r.rol, r.tipo, r.contenido,
    r.media, r.proveedor_id, r.idempotency_key, r.respuesta_a, r.estado_entrega,
    r.error_codigo, r.metadata, r.created_at, r.updated_at, r.repetido, r.respuesta_id,
    r.estado_conversacion
  from public.recibir_mensaje_webchat(p_conversacion_id, p_client_message_id, p_contenido) r
$$;

-- An outbound message, recorded before it is sent; idempotent on its idempotency key.
create function public.registrar_mensaje_saliente(
  p_conversacion_id uuid,
  p_contenido text,
  p_idempotency_key text,
  p_respuesta_a bigint default null,
  p_tipo text default 'text',
  p_rol text default 'assistant',
  p_estado text default 'queued',
  p_metadata jsonb default '{}'::jsonb
) returns table (mensaje_id bigint, repetido boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  v_canal text;
  v_mensaje bigint;
begin
  perform public._talia_check_texto(p_contenido);
  select cv.canal into v_canal from public.conversaciones cv
  where cv.conversacion_id = p_conversacion_id;
  if not found then
    perform public._talia_no_encontrado(format('conversation %s', p_conversacion_id));
  end if;

  insert into public.mensajes (
    conversacion_id, canal, direccion, rol, tipo, contenido, idempotency_key, respuesta_a,
    estado_entrega, metadata
  )
  values (p_conversacion_id, v_canal, 'outbound', coalesce(p_rol, 'assistant'),
          coalesce(p_tipo, 'text'), p_contenido, p_idempotency_key, p_respuesta_a, p_estado,
          coalesce(p_metadata, '{}'::jsonb))
  on conflict (idempotency_key) where idempotency_key is not null do nothing
  returning mensajes.mensaje_id into v_mensaje;

  if v_mensaje is null then
    return query select m.mensaje_id, true from public.mensajes m
      where m.idempotency_key = p_idempotency_key;
    return;
  end if;
  return query select v_mensaje, false;
end
$$;

-- Delivery status: the provider id is attached the first time; the status only moves forward
-- (queued < sending < sent < failed/undelivered < delivered < read), whatever order callbacks
-- arrive in.
create function public._talia_rango_entrega(p_estado text) returns int
language sql immutable set search_path = ''
as $$
  select case p_estado
    when 'received' then 0 when 'queued' then 1 when 'sending' then 2 when 'sent' then 3
    when 'failed' then 4 when 'undelivered' then 4 when 'delivered' then 5 when 'read' then 6
  end
$$;

-- Delivery status, moving only forward (see _talia_rango_entrega).
create or replace function public.actualizar_estado_entrega(
  p_canal text,
  p_proveedor_id text,
  p_estado text,
  p_error_codigo text default null,
  p_mensaje_id bigint default null
) returns table (mensaje_id bigint, estado_entrega text, cambiado boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  v_mensaje public.mensajes;
begin
  perform public._talia_check_canal(p_canal);
  if public._talia_rango_entrega(p_estado) is null then
    raise exception using errcode = 'TA400', message = format('unknown delivery status: %s', p_estado);
  end if;

  if p_mensaje_id is not null then
    -- The send returned: attach the provider id to the row recorded before sending.
    update public.mensajes m
    set proveedor_id = coalesce(m.proveedor_id, p_proveedor_id), updated_at = now()
    where m.mensaje_id = p_mensaje_id and m.canal = p_canal
    returning m.* into v_mensaje;
  else
    select m.* into v_mensaje from public.mensajes m
    where m.canal = p_canal and m.proveedor_id = p_proveedor_id and p_canal <> 'webchat'
    for update;
  end if;
  if v_mensaje.mensaje_id is null then
    perform public._talia_no_encontrado('message for that provider id');
  end if;

  if coalesce(public._talia_rango_entrega(v_mensaje.estado_entrega), -1)
       >= public._talia_rango_entrega(p_estado) then
    return query select v_mensaje.mensaje_id, v_mensaje.estado_entrega::text, false;
    return;
  end if;
  update public.mensajes m
  set estado_entrega = p_estado, error_codigo = coalesce(p_error_codigo, m.error_codigo),
      updated_at = now()
  where m.mensaje_id = v_mensaje.mensaje_id;
  return query select v_mensaje.mensaje_id, p_estado, true;
end
$$;

-- Splits a stored outbound message into the parts sent one by one: the row keeps part 1,
-- parts 2.. become rows of their own (idempotency key `<key>:<n>`), all in order. Calling it
-- again returns the same rows.
create function public.dividir_mensaje_saliente(p_mensaje_id bigint, p_partes text[])
returns table (mensaje_id bigint, parte integer)
language plpgsql security definer set search_path = ''
as $$
declare
  v_original record;
  v_parte integer;
begin
  select m.* into v_original from public.mensajes m
  where m.mensaje_id = p_mensaje_id and m.direccion = 'outbound'
  for update;
  if not found then
    perform public._talia_no_encontrado(format('outbound message %s', p_mensaje_id));
  end if;
  if coalesce(array_length(p_partes, 1), 0) = 0 then
    raise exception using errcode = 'TA400', message = 'at least one part is required';
  end if;
  if not coalesce((v_original.metadata ->> 'partes')::integer > 0, false) then
    update public.mensajes m
    set contenido = p_partes[1],
        metadata = m.metadata || jsonb_build_object('parte', 1, 'partes', array_length(p_partes, 1)),
        updated_at = now()
    where m.mensaje_id = p_mensaje_id;
    for v_parte in 2 .. array_length(p_partes, 1) loop
      insert into public.mensajes (
        conversacion_id, canal, direccion, rol, tipo, contenido, idempotency_key, respuesta_a,
        estado_entrega, metadata
      )
      values (v_original.conversacion_id, v_original.canal, 'outbound', v_original.rol,
              v_original.tipo, p_partes[v_parte],
              v_original.idempotency_key || ':' || v_parte, v_original.respuesta_a,
              'queued',
              v_original.metadata || jsonb_build_object('parte', v_parte,
                                                        'partes', array_length(p_partes, 1)))
      on conflict do nothing;
    end loop;
  end if;
  return query
    select p_mensaje_id, 1
    union all
    select m.mensaje_id, (m.metadata ->> 'parte')::integer from public.mensajes m
    where m.idempotency_key like v_original.idempotency_key || ':%'
      and m.conversacion_id = v_original.conversacion_id
    order by 2;
end
$$;

CREATE UNIQUE INDEX mensajes_proveedor_canal_key ON public.mensajes USING btree (canal, proveedor_id) WHERE ((proveedor_id IS NOT NULL) AND ((canal)::text <> 'webchat'::text));

CREATE UNIQUE INDEX mensajes_proveedor_webchat_key ON public.mensajes USING btree (conversacion_id, proveedor_id) WHERE ((proveedor_id IS NOT NULL) AND ((canal)::text = 'webchat'::text));

CREATE UNIQUE INDEX mensajes_idempotency_key ON public.mensajes USING btree (idempotency_key) WHERE (idempotency_key IS NOT NULL);
