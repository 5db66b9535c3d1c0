-- A call's transcript and its end: turns stored in order by sequence, one `call_ended` event
-- per call that the media stream (end reason) and the status callback (final status,
-- duration) both fill in, whichever arrives first.

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
    raise exception using errcode = 'TA404', message = format('call %s not found', p_call_sid);
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
  update public.conversaciones cv set last_message_at = now()
  where cv.conversacion_id = v_conversacion;
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

revoke all on function public.registrar_turno_llamada(text, integer, text, text, jsonb),
  public.terminar_llamada(text, jsonb) from public, anon, authenticated;
grant execute on function public.registrar_turno_llamada(text, integer, text, text, jsonb),
  public.terminar_llamada(text, jsonb) to service_role;
