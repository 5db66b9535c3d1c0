-- The write API: one function per event the channels record. Each is one round trip,
-- idempotent on provider ids (a repeat returns the stored row with repetido = true) and
-- safe under concurrency (unique indexes and row locks, never check-then-insert alone).
-- Errors carry SQLSTATEs of class TA: TA400 bad input, TA404 missing row, TA413 too long.

create function public._talia_check_canal(p_canal text) returns void
language plpgsql immutable set search_path = ''
as $$
begin
  if p_canal is null or p_canal not in ('whatsapp', 'webchat', 'voice') then
    raise exception using errcode = 'TA400', message = format('unknown channel: %s', p_canal),
      hint = 'canal must be whatsapp, webchat or voice';
  end if;
end
$$;

create function public._talia_check_texto(p_texto text) returns void
language plpgsql immutable set search_path = ''
as $$
begin
  if length(p_texto) > 16000 then
    raise exception using errcode = 'TA413',
      message = format('text is %s characters, the limit is 16000', length(p_texto));
  end if;
end
$$;

-- Opens a conversation for a channel identity: always a new one (a webchat session, a call).
-- With a provider id (a CallSid) a repeat returns the conversation opened the first time.
create function public.abrir_conversacion(
  p_canal text,
  p_identidad text,
  p_asistente text,
  p_proveedor_id text default null
) returns table (conversacion_id uuid, contacto_id uuid, repetido boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  v_contacto uuid;
  v_conversacion uuid;
begin
  perform public._talia_check_canal(p_canal);
  if coalesce(length(p_identidad), 0) = 0 or coalesce(length(p_asistente), 0) = 0 then
    raise exception using errcode = 'TA400', message = 'identidad and asistente are required';
  end if;

  insert into public.contactos as c (canal, identidad)
  values (p_canal, p_identidad)
  on conflict (canal, identidad) do update set updated_at = now()
  returning c.contacto_id into v_contacto;

  if p_proveedor_id is not null then
    select cv.conversacion_id into v_conversacion
    from public.conversaciones cv
    where cv.canal = p_canal and cv.proveedor_id = p_proveedor_id;
    if found then
      return query select v_conversacion, v_contacto, true;
      return;
    end if;
  end if;

  insert into public.conversaciones (canal, contacto_id, asistente_clave, proveedor_id)
  values (p_canal, v_contacto, p_asistente, p_proveedor_id)
  returning conversaciones.conversacion_id into v_conversacion;
  insert into public.eventos (tipo, conversacion_id, contacto_id, payload)
  values ('conversation_opened', v_conversacion, v_contacto, jsonb_build_object('canal', p_canal));
  return query select v_conversacion, v_contacto, false;
end
$$;

-- An inbound message of any channel, with its contact and open conversation upserted.
create function public.registrar_mensaje_entrante(
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
      select m.mensaje_id, m.conversacion_id, v_contacto, true, cv.estado, v_opt_out
      from public.mensajes m join public.conversaciones cv using (conversacion_id)
      where m.canal = p_canal and m.proveedor_id = p_proveedor_id;
    return;
  end if;

  update public.conversaciones cv set last_message_at = now()
  where cv.conversacion_id = v_conversacion;
  return query select v_mensaje, v_conversacion, v_contacto, false, v_estado, v_opt_out;
end
$$;

-- A webchat visitor message in the session's conversation, idempotent on client_message_id.
-- A repeat also returns the assistant reply recorded for the first one, if any.
create function public.registrar_mensaje_webchat(
  p_conversacion_id uuid,
  p_client_message_id text,
  p_contenido text
) returns table (mensaje_id bigint, repetido boolean, respuesta_id bigint, estado_conversacion text)
language plpgsql security definer set search_path = ''
as $$
declare
  v_conversacion public.conversaciones;
  v_mensaje bigint;
begin
  perform public._talia_check_texto(p_contenido);
  if coalesce(length(p_client_message_id), 0) = 0 then
    raise exception using errcode = 'TA400', message = 'client_message_id is required';
  end if;
  select * into v_conversacion from public.conversaciones cv
  where cv.conversacion_id = p_conversacion_id and cv.canal = 'webchat';
  if not found then
    raise exception using errcode = 'TA404',
      message = format('webchat conversation %s not found', p_conversacion_id);
  end if;

  insert into public.mensajes (
    conversacion_id, canal, direccion, rol, tipo, contenido, proveedor_id, estado_entrega
  )
  values (p_conversacion_id, 'webchat', 'inbound', 'user', 'text', p_contenido,
          p_client_message_id, 'received')
  on conflict (conversacion_id, proveedor_id)
    where proveedor_id is not null and canal = 'webchat'
    do nothing
  returning mensajes.mensaje_id into v_mensaje;

  if v_mensaje is not null then
    update public.conversaciones cv set last_message_at = now()
    where cv.conversacion_id = p_conversacion_id;
    return query select v_mensaje, false, null::bigint, v_conversacion.estado;
    return;
  end if;

  return query
    select m.mensaje_id, true,
           (select r.mensaje_id from public.mensajes r where r.respuesta_a = m.mensaje_id
            order by r.mensaje_id limit 1),
           v_conversacion.estado
    from public.mensajes m
    where m.conversacion_id = p_conversacion_id and m.canal = 'webchat'
      and m.proveedor_id = p_client_message_id;
end
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
    raise exception using errcode = 'TA404',
      message = format('conversation %s not found', p_conversacion_id);
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
  update public.conversaciones cv set last_message_at = now()
  where cv.conversacion_id = p_conversacion_id;
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

create function public.actualizar_estado_entrega(
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
    raise exception using errcode = 'TA404', message = 'message not found for that provider id';
  end if;

  if coalesce(public._talia_rango_entrega(v_mensaje.estado_entrega), -1)
       >= public._talia_rango_entrega(p_estado) then
    return query select v_mensaje.mensaje_id, v_mensaje.estado_entrega, false;
    return;
  end if;
  update public.mensajes m
  set estado_entrega = p_estado, error_codigo = coalesce(p_error_codigo, m.error_codigo),
      updated_at = now()
  where m.mensaje_id = v_mensaje.mensaje_id;
  return query select v_mensaje.mensaje_id, p_estado, true;
end
$$;

create function public.registrar_evento(
  p_tipo text,
  p_conversacion_id uuid default null,
  p_contacto_id uuid default null,
  p_payload jsonb default '{}'::jsonb
) returns bigint
language plpgsql security definer set search_path = ''
as $$
declare
  v_evento bigint;
begin
  insert into public.eventos (tipo, conversacion_id, contacto_id, payload)
  values (p_tipo, p_conversacion_id, p_contacto_id, coalesce(p_payload, '{}'::jsonb))
  returning evento_id into v_evento;
  return v_evento;
exception when check_violation then
  raise exception using errcode = 'TA400', message = format('unknown event type: %s', p_tipo);
end
$$;

-- Lead data a contact gave; null leaves a field as it was. The event names the fields only.
create function public.actualizar_lead(
  p_contacto_id uuid,
  p_nombre text default null,
  p_email text default null,
  p_telefono text default null,
  p_interes text default null,
  p_notas text default null,
  p_conversacion_id uuid default null
) returns setof public.contactos
language plpgsql security definer set search_path = ''
as $$
declare
  v_contacto public.contactos;
  v_campos text[];
begin
  if p_email is not null and p_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then
    raise exception using errcode = 'TA400', message = 'email is not a valid address';
  end if;
  if p_telefono is not null and p_telefono !~ '^\+?[0-9 ().-]{6,20}$' then
    raise exception using errcode = 'TA400', message = 'telefono is not a valid phone number';
  end if;
  update public.contactos c set
    nombre = coalesce(nullif(trim(p_nombre), ''), c.nombre),
    email = coalesce(lower(p_email), c.email),
    telefono = coalesce(p_telefono, c.telefono),
    interes = coalesce(nullif(trim(p_interes), ''), c.interes),
    notas = coalesce(nullif(trim(p_notas), ''), c.notas),
    updated_at = now()
  where c.contacto_id = p_contacto_id
  returning c.* into v_contacto;
  if not found then
    raise exception using errcode = 'TA404', message = format('contact %s not found', p_contacto_id);
  end if;
  v_campos := array_remove(array[
    case when p_nombre is not null then 'nombre' end,
    case when p_email is not null then 'email' end,
    case when p_telefono is not null then 'telefono' end,
    case when p_interes is not null then 'interes' end,
    case when p_notas is not null then 'notas' end
  ], null);
  insert into public.eventos (tipo, conversacion_id, contacto_id, payload)
  values ('lead_saved', p_conversacion_id, p_contacto_id, jsonb_build_object('campos', v_campos));
  return next v_contacto;
exception when check_violation then
  raise exception using errcode = 'TA413', message = 'a lead field is longer than allowed';
end
$$;

create function public.marcar_opt_out(p_contacto_id uuid, p_opt_out boolean)
returns boolean
language plpgsql security definer set search_path = ''
as $$
begin
  update public.contactos c
  set opt_out = p_opt_out, opt_out_at = case when p_opt_out then now() end, updated_at = now()
  where c.contacto_id = p_contacto_id and c.opt_out is distinct from p_opt_out;
  if found then
    insert into public.eventos (tipo, contacto_id)
    values (case when p_opt_out then 'opted_out' else 'opted_in' end, p_contacto_id);
    return true;
  end if;
  if not exists (select 1 from public.contactos c where c.contacto_id = p_contacto_id) then
    raise exception using errcode = 'TA404', message = format('contact %s not found', p_contacto_id);
  end if;
  return false;
end
$$;

-- Conversation state: handoff to staff, given back by staff, closed.
create function public.cambiar_estado_conversacion(
  p_conversacion_id uuid,
  p_estado text,
  p_motivo text default null
) returns table (estado text, cambiado boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  v_anterior text;
begin
  if p_estado not in ('open', 'handoff', 'closed') then
    raise exception using errcode = 'TA400', message = format('unknown state: %s', p_estado);
  end if;
  select cv.estado into v_anterior from public.conversaciones cv
  where cv.conversacion_id = p_conversacion_id for update;
  if not found then
    raise exception using errcode = 'TA404',
      message = format('conversation %s not found', p_conversacion_id);
  end if;
  if v_anterior = p_estado then
    return query select p_estado, false;
    return;
  end if;
  update public.conversaciones cv
  set estado = p_estado, closed_at = case when p_estado = 'closed' then now() end
  where cv.conversacion_id = p_conversacion_id;
  insert into public.eventos (tipo, conversacion_id, contacto_id, payload)
  select case p_estado
           when 'handoff' then 'handoff_requested'
           when 'closed' then 'conversation_closed'
           else 'handoff_released' end,
         cv.conversacion_id, cv.contacto_id,
         jsonb_strip_nulls(jsonb_build_object('desde', v_anterior, 'motivo', p_motivo))
  from public.conversaciones cv where cv.conversacion_id = p_conversacion_id;
  return query select p_estado, true;
end
$$;

create function public.marcar_handoff(p_conversacion_id uuid, p_motivo text default null)
returns table (estado text, cambiado boolean)
language sql security definer set search_path = ''
as $$ select * from public.cambiar_estado_conversacion(p_conversacion_id, 'handoff', p_motivo) $$;

-- A staff action: the assistant answers the conversation again.
create function public.devolver_conversacion(p_conversacion_id uuid)
returns table (estado text, cambiado boolean)
language sql security definer set search_path = ''
as $$ select * from public.cambiar_estado_conversacion(p_conversacion_id, 'open', null) $$;

-- The OpenAI conversation id is set once; concurrent callers all get the stored one.
create function public.asignar_openai_conversation(
  p_conversacion_id uuid,
  p_openai_conversation_id text
) returns text
language plpgsql security definer set search_path = ''
as $$
declare
  v_actual text;
begin
  update public.conversaciones cv set openai_conversation_id = p_openai_conversation_id
  where cv.conversacion_id = p_conversacion_id and cv.openai_conversation_id is null
  returning cv.openai_conversation_id into v_actual;
  if v_actual is null then
    select cv.openai_conversation_id into v_actual from public.conversaciones cv
    where cv.conversacion_id = p_conversacion_id;
    if not found then
      raise exception using errcode = 'TA404',
        message = format('conversation %s not found', p_conversacion_id);
    end if;
  end if;
  return v_actual;
end
$$;

-- Right to be forgotten: the person's messages, conversations, events and identity go;
-- one anonymous event says it happened.
create function public.olvidar_contacto(p_contacto_id uuid) returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  v_canal text;
begin
  select c.canal into v_canal from public.contactos c where c.contacto_id = p_contacto_id
  for update;
  if not found then
    return false;
  end if;
  delete from public.eventos e
  where e.contacto_id = p_contacto_id
     or e.conversacion_id in (
       select cv.conversacion_id from public.conversaciones cv
       where cv.contacto_id = p_contacto_id
     );
  -- Conversations and their messages go with the contact (on delete cascade).
  delete from public.contactos c where c.contacto_id = p_contacto_id;
  insert into public.eventos (tipo, payload)
  values ('contact_forgotten', jsonb_build_object('canal', v_canal));
  return true;
end
$$;

create function public.guardar_asistente(p_clave text, p_perfil jsonb) returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  v_nuevo boolean;
begin
  insert into public.asistentes as a (clave, perfil) values (p_clave, p_perfil)
  on conflict (clave) do update set perfil = excluded.perfil, updated_at = now()
  returning (xmax = 0) into v_nuevo;
  return v_nuevo;
exception when check_violation then
  raise exception using errcode = 'TA400', message = 'invalid assistant key or profile';
end
$$;

-- Only the server (service_role, or the owner it connects as) may call the write API.
do $$
declare
  v_funcion regprocedure;
begin
  for v_funcion in
    select p.oid::regprocedure from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname in (
      '_talia_check_canal', '_talia_check_texto', '_talia_rango_entrega', 'abrir_conversacion',
      'registrar_mensaje_entrante', 'registrar_mensaje_webchat', 'registrar_mensaje_saliente',
      'actualizar_estado_entrega', 'registrar_evento', 'actualizar_lead', 'marcar_opt_out',
      'cambiar_estado_conversacion', 'marcar_handoff', 'devolver_conversacion',
      'asignar_openai_conversation', 'olvidar_contacto', 'guardar_asistente'
    )
  loop
    execute format('revoke all on function %s from public, anon, authenticated', v_funcion);
    execute format('grant execute on function %s to service_role', v_funcion);
  end loop;
end
$$;
