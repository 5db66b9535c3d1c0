-- Written by `talia db diff one_not_found_error_one_last_message_rule` from supabase/schemas/.

CREATE OR REPLACE FUNCTION public._talia_no_encontrado(p_que text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  raise exception using errcode = 'TA404', message = p_que || ' not found';
end
$function$
;

revoke all on function public._talia_no_encontrado(text) from public, anon, authenticated, service_role;
grant execute on function public._talia_no_encontrado(text) to service_role;

CREATE OR REPLACE FUNCTION public.actualizar_lead(p_contacto_id uuid, p_nombre text DEFAULT NULL::text, p_email text DEFAULT NULL::text, p_telefono text DEFAULT NULL::text, p_interes text DEFAULT NULL::text, p_notas text DEFAULT NULL::text, p_conversacion_id uuid DEFAULT NULL::uuid)
 RETURNS SETOF contactos
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
    perform public._talia_no_encontrado(format('contact %s', p_contacto_id));
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
$function$
;

CREATE OR REPLACE FUNCTION public.marcar_opt_out(p_contacto_id uuid, p_opt_out boolean)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
    perform public._talia_no_encontrado(format('contact %s', p_contacto_id));
  end if;
  return false;
end
$function$
;

CREATE OR REPLACE FUNCTION public.cambiar_estado_conversacion(p_conversacion_id uuid, p_estado text, p_motivo text DEFAULT NULL::text)
 RETURNS TABLE(estado text, cambiado boolean)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_anterior text;
begin
  if p_estado not in ('open', 'handoff', 'closed') then
    raise exception using errcode = 'TA400', message = format('unknown state: %s', p_estado);
  end if;
  select cv.estado into v_anterior from public.conversaciones cv
  where cv.conversacion_id = p_conversacion_id for update;
  if not found then
    perform public._talia_no_encontrado(format('conversation %s', p_conversacion_id));
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
$function$
;

CREATE OR REPLACE FUNCTION public.asignar_openai_conversation(p_conversacion_id uuid, p_openai_conversation_id text)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
      perform public._talia_no_encontrado(format('conversation %s', p_conversacion_id));
    end if;
  end if;
  return v_actual;
end
$function$
;

CREATE OR REPLACE FUNCTION public._talia_ultimo_mensaje()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update public.conversaciones cv set last_message_at = new.created_at
  where cv.conversacion_id = new.conversacion_id;
  return null;
end
$function$
;

revoke all on function public._talia_ultimo_mensaje() from public, anon, authenticated, service_role;
grant execute on function public._talia_ultimo_mensaje() to service_role;

CREATE TRIGGER mensajes_mueven_su_conversacion AFTER INSERT ON public.mensajes FOR EACH ROW EXECUTE FUNCTION _talia_ultimo_mensaje();

CREATE OR REPLACE FUNCTION public.registrar_mensaje_entrante(p_canal text, p_identidad text, p_asistente text, p_proveedor_id text, p_contenido text, p_tipo text DEFAULT 'text'::text, p_media jsonb DEFAULT NULL::jsonb, p_nombre text DEFAULT NULL::text, p_metadata jsonb DEFAULT '{}'::jsonb)
 RETURNS TABLE(mensaje_id bigint, conversacion_id uuid, contacto_id uuid, repetido boolean, estado_conversacion text, opt_out boolean)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$
;

CREATE OR REPLACE FUNCTION public.registrar_mensaje_webchat(p_conversacion_id uuid, p_client_message_id text, p_contenido text)
 RETURNS TABLE(mensaje_id bigint, conversacion_id uuid, canal text, direccion text, rol text, tipo text, contenido text, media jsonb, proveedor_id text, idempotency_key text, respuesta_a bigint, estado_entrega text, error_codigo text, metadata jsonb, created_at timestamp with time zone, updated_at timestamp with time zone, repetido boolean, respuesta_id bigint, estado_conversacion text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
    v_fila.updated_at, v_repetido, v_respuesta, v_conversacion.estado::text;
end
$function$
;

CREATE OR REPLACE FUNCTION public.registrar_mensaje_saliente(p_conversacion_id uuid, p_contenido text, p_idempotency_key text, p_respuesta_a bigint DEFAULT NULL::bigint, p_tipo text DEFAULT 'text'::text, p_rol text DEFAULT 'assistant'::text, p_estado text DEFAULT 'queued'::text, p_metadata jsonb DEFAULT '{}'::jsonb)
 RETURNS TABLE(mensaje_id bigint, repetido boolean)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$
;

CREATE OR REPLACE FUNCTION public.actualizar_estado_entrega(p_canal text, p_proveedor_id text, p_estado text, p_error_codigo text DEFAULT NULL::text, p_mensaje_id bigint DEFAULT NULL::bigint)
 RETURNS TABLE(mensaje_id bigint, estado_entrega text, cambiado boolean)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$
;

CREATE OR REPLACE FUNCTION public.dividir_mensaje_saliente(p_mensaje_id bigint, p_partes text[])
 RETURNS TABLE(mensaje_id bigint, parte integer)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$
;

CREATE OR REPLACE FUNCTION public.registrar_turno_llamada(p_call_sid text, p_secuencia integer, p_rol text, p_contenido text, p_metadata jsonb DEFAULT '{}'::jsonb)
 RETURNS TABLE(mensaje_id bigint, repetido boolean)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$
;
