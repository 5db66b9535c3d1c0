-- Calls: one-time stream tokens and the turns of a phone call.

create schema private;

create table private.tokens_llamada (
  call_sid text not null,
  conversacion_id uuid not null,
  token_hash text not null,
  expires_at timestamp with time zone not null,
  gastado_at timestamp with time zone,
  constraint tokens_llamada_pkey PRIMARY KEY (call_sid),
  constraint tokens_llamada_conversacion_id_fkey FOREIGN KEY (conversacion_id) REFERENCES conversaciones(conversacion_id) ON DELETE CASCADE
);

alter table private.tokens_llamada enable row level security;

-- Spends a call's stream token: the conversation once, for an unexpired matching token;
-- nothing for a wrong, expired or already used one. The spent row stays, so the call is
-- known to have streamed.
create or replace function public.consumir_token_llamada(p_call_sid text, p_token_hash text)
returns uuid
language sql security definer set search_path = ''
as $$
  update private.tokens_llamada t
  set gastado_at = now()
  where t.call_sid = p_call_sid and t.token_hash = p_token_hash and t.expires_at > now()
    and t.gastado_at is null
  returning t.conversacion_id
$$;

-- One turn of a call: the caller's (inbound) or the assistant's (outbound) words, provider id
-- `CallSid:sequence`; a repeated sequence returns the stored turn.
create function public.registrar_turno_llamada(
  p_call_sid text,
  p_secuencia integer,
  p_rol text,
  p_contenido text,
  p_metadata jsonb default '{}'::jsonb
) returns table (mensaje_id bigint, repetido boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  v_conversacion uuid;
  v_mensaje bigint;
  v_proveedor text := p_call_sid || ':' || p_secuencia;
begin
  perform public._talia_check_texto(p_contenido);
  if p_rol not in ('user', 'assistant') then
    raise exception using errcode = 'TA400', message = format('unknown role %s', p_rol);
  end if;
  select cv.conversacion_id into v_conversacion from public.conversaciones cv
  where cv.canal = 'voice' and cv.proveedor_id = p_call_sid;
  if not found then
    perform public._talia_no_encontrado(format('call %s', p_call_sid));
  end if;

  insert into public.mensajes (
    conversacion_id, canal, direccion, rol, tipo, contenido, proveedor_id, estado_entrega,
    metadata
  )
  values (v_conversacion, 'voice', case p_rol when 'user' then 'inbound' else 'outbound' end,
          p_rol, 'transcript', p_contenido, v_proveedor,
          case p_rol when 'user' then 'received' else 'delivered' end,
          coalesce(p_metadata, '{}'::jsonb))
  on conflict (canal, proveedor_id) where proveedor_id is not null and canal <> 'webchat'
    do nothing
  returning mensajes.mensaje_id into v_mensaje;

  if v_mensaje is null then
    return query select m.mensaje_id, true from public.mensajes m
      where m.canal = 'voice' and m.proveedor_id = v_proveedor;
    return;
  end if;
  return query select v_mensaje, false;
end
$$;

-- Ends a call's record: closes its conversation and merges `p_detalle` (no personal data)
-- into the call's single `call_ended` event. Unknown calls are ignored (returns false).
create function public.terminar_llamada(p_call_sid text, p_detalle jsonb)
returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  v_conversacion record;
  v_evento bigint;
begin
  select cv.conversacion_id, cv.contacto_id into v_conversacion
  from public.conversaciones cv
  where cv.canal = 'voice' and cv.proveedor_id = p_call_sid
  for update;
  if not found then
    return false;
  end if;

  update public.conversaciones cv
  set estado = 'closed', closed_at = coalesce(cv.closed_at, now())
  where cv.conversacion_id = v_conversacion.conversacion_id;

  select e.evento_id into v_evento from public.eventos e
  where e.conversacion_id = v_conversacion.conversacion_id and e.tipo = 'call_ended';
  if found then
    update public.eventos e set payload = e.payload || coalesce(p_detalle, '{}'::jsonb)
    where e.evento_id = v_evento;
  else
    insert into public.eventos (tipo, conversacion_id, contacto_id, payload)
    values ('call_ended', v_conversacion.conversacion_id, v_conversacion.contacto_id,
            jsonb_build_object('call_sid', p_call_sid) || coalesce(p_detalle, '{}'::jsonb));
  end if;
  return true;
end
$$;

create function public.registrar_llamada(
  p_call_sid text,
  p_caller text,
  p_asistente text,
  p_token_hash text,
  p_token_ttl_seconds integer
) returns table (conversacion_id uuid, contacto_id uuid, repetido boolean, armado boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  v_abierta record;
  v_armado boolean;
begin
  if coalesce(length(p_call_sid), 0) = 0 or coalesce(length(p_token_hash), 0) = 0 then
    raise exception using errcode = 'TA400', message = 'call sid and token are required';
  end if;
  select * into v_abierta
  from public.abrir_conversacion('voice', coalesce(nullif(p_caller, ''), 'anonymous'), p_asistente,
                                 p_call_sid);
  delete from private.tokens_llamada t where t.expires_at < now() and t.gastado_at is null;

  -- A first /incoming arms a token; a repeat re-arms it only while no stream has used it
  -- and the call has not ended (Twilio retrying an answer it did not get).
  v_armado := not exists (
    select 1 from public.conversaciones cv
    where cv.conversacion_id = v_abierta.conversacion_id and cv.estado = 'closed'
  );
  if v_armado then
    insert into private.tokens_llamada as t (call_sid, conversacion_id, token_hash, expires_at)
    values (p_call_sid, v_abierta.conversacion_id, p_token_hash,
            now() + make_interval(secs => p_token_ttl_seconds))
    on conflict (call_sid) do update
    set token_hash = excluded.token_hash, expires_at = excluded.expires_at
    where t.gastado_at is null;
    v_armado := found;
  end if;

  if not v_abierta.repetido then
    insert into public.eventos (tipo, conversacion_id, contacto_id, payload)
    values ('call_started', v_abierta.conversacion_id, v_abierta.contacto_id,
            jsonb_build_object('call_sid', p_call_sid));
  end if;
  return query
    select v_abierta.conversacion_id, v_abierta.contacto_id, v_abierta.repetido, v_armado;
end
$$;

