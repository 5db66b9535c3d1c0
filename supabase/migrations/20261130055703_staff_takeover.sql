-- Written by `talia db diff staff_takeover` from supabase/schemas/.

alter table public.conversaciones add column agente_id uuid;

alter table public.conversaciones add column handoff_at timestamp with time zone;

alter table public.conversaciones add constraint conversaciones_agente_id_fkey FOREIGN KEY (agente_id) REFERENCES agentes(auth_user_id) ON DELETE SET NULL;

CREATE OR REPLACE FUNCTION public._talia_mover_conversacion(p_conversacion_id uuid, p_estado text, p_agente_id uuid, p_tipo text, p_payload jsonb)
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update public.conversaciones cv
  set estado = p_estado,
      agente_id = p_agente_id,
      handoff_at = case when p_estado = 'handoff'
                        then case when cv.estado = 'handoff' then cv.handoff_at else now() end end,
      closed_at = case when p_estado = 'closed' then now() end
  where cv.conversacion_id = p_conversacion_id
    and (cv.estado::text, cv.agente_id) is distinct from (p_estado, p_agente_id);
  if not found then
    return false;
  end if;
  insert into public.eventos (tipo, conversacion_id, contacto_id, payload)
  select p_tipo, cv.conversacion_id, cv.contacto_id, jsonb_strip_nulls(p_payload)
  from public.conversaciones cv where cv.conversacion_id = p_conversacion_id;
  return true;
end
$function$
;

revoke all on function public._talia_mover_conversacion(uuid,text,uuid,text,jsonb) from public, anon, authenticated, service_role;
grant execute on function public._talia_mover_conversacion(uuid,text,uuid,text,jsonb) to service_role;

CREATE OR REPLACE FUNCTION public.cambiar_estado_conversacion(p_conversacion_id uuid, p_estado text, p_motivo text DEFAULT NULL::text)
 RETURNS TABLE(estado text, cambiado boolean)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_anterior text;
  v_agente uuid;
begin
  if p_estado not in ('open', 'handoff', 'closed') then
    raise exception using errcode = 'TA400', message = format('unknown state: %s', p_estado);
  end if;
  select cv.estado, cv.agente_id into v_anterior, v_agente from public.conversaciones cv
  where cv.conversacion_id = p_conversacion_id for update;
  if not found then
    perform public._talia_no_encontrado(format('conversation %s', p_conversacion_id));
  end if;
  return query select p_estado, public._talia_mover_conversacion(
    p_conversacion_id, p_estado,
    case when p_estado <> 'open' then v_agente end,
    case p_estado
      when 'handoff' then 'handoff_requested'
      when 'closed' then 'conversation_closed'
      else 'handoff_released' end,
    jsonb_build_object('desde', v_anterior, 'motivo', p_motivo));
end
$function$
;

CREATE INDEX conversaciones_agente_idx ON public.conversaciones USING btree (agente_id) WHERE (agente_id IS NOT NULL);

CREATE OR REPLACE FUNCTION public._talia_agente_activo(p_agente_id uuid)
 RETURNS agentes
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_agente public.agentes;
begin
  select * into v_agente from public.agentes a where a.auth_user_id = p_agente_id and a.activo;
  if not found then
    raise exception using errcode = 'TA403', message = 'only active staff act on conversations';
  end if;
  return v_agente;
end
$function$
;

revoke all on function public._talia_agente_activo(uuid) from public, anon, authenticated, service_role;
grant execute on function public._talia_agente_activo(uuid) to service_role;

CREATE OR REPLACE FUNCTION public._talia_conversacion_para(p_conversacion_id uuid, p_agente agentes, p_abierta boolean)
 RETURNS conversaciones
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_conversacion public.conversaciones;
begin
  select * into v_conversacion from public.conversaciones cv
  where cv.conversacion_id = p_conversacion_id for update;
  if not found then
    perform public._talia_no_encontrado(format('conversation %s', p_conversacion_id));
  end if;
  if v_conversacion.agente_id <> p_agente.auth_user_id and p_agente.rol <> 'admin' then
    raise exception using errcode = 'TA403', constraint = 'assigned_to_another',
      message = 'another agent holds this conversation';
  end if;
  if p_abierta and v_conversacion.estado = 'closed' then
    raise exception using errcode = 'TA409', constraint = 'conversation_closed',
      message = 'the conversation is closed; reopen it first';
  end if;
  return v_conversacion;
end
$function$
;

revoke all on function public._talia_conversacion_para(uuid,agentes,boolean) from public, anon, authenticated, service_role;
grant execute on function public._talia_conversacion_para(uuid,agentes,boolean) to service_role;

CREATE OR REPLACE FUNCTION public.actuar_en_conversacion(p_conversacion_id uuid, p_agente_id uuid, p_accion text, p_destino uuid DEFAULT NULL::uuid)
 RETURNS TABLE(estado text, agente_id uuid, cambiado boolean)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_agente public.agentes := public._talia_agente_activo(p_agente_id);
  v_actual public.conversaciones;
  v_estado text;
  v_holder uuid;
  v_tipo text;
begin
  if p_accion = 'claim' then
    -- Before the holder check: an admin claiming another's conversation conflicts too.
    select * into v_actual from public.conversaciones cv
    where cv.conversacion_id = p_conversacion_id for update;
    if found and v_actual.agente_id <> p_agente_id then
      raise exception using errcode = 'TA409', constraint = 'already_claimed',
        message = 'another agent has already claimed this conversation';
    end if;
  end if;
  v_actual := public._talia_conversacion_para(
    p_conversacion_id, v_agente, p_accion not in ('reopen', 'close', 'unassign'));

  case p_accion
    when 'claim' then
      v_estado := 'handoff'; v_holder := p_agente_id; v_tipo := 'conversation_claimed';
    when 'assign' then
      if v_agente.rol <> 'admin' then
        raise exception using errcode = 'TA403', constraint = 'admin_only',
          message = 'only an admin assigns conversations';
      end if;
      if not exists (
        select 1 from public.agentes a where a.auth_user_id = p_destino and a.activo
      ) then
        raise exception using errcode = 'TA400', message = 'assign to an active staff member';
      end if;
      v_estado := 'handoff'; v_holder := p_destino; v_tipo := 'conversation_assigned';
    when 'unassign' then
      v_estado := v_actual.estado; v_holder := null; v_tipo := 'conversation_unassigned';
    when 'release' then
      v_estado := 'open'; v_holder := null; v_tipo := 'handoff_released';
    when 'close' then
      v_estado := 'closed'; v_holder := v_actual.agente_id; v_tipo := 'conversation_closed';
    when 'reopen' then
      if v_actual.estado <> 'closed' then
        return query select v_actual.estado::text, v_actual.agente_id, false;
        return;
      end if;
      v_estado := 'open'; v_holder := null; v_tipo := 'conversation_reopened';
    else
      raise exception using errcode = 'TA400', message = format('unknown action: %s', p_accion);
  end case;

  return query select v_estado, v_holder, public._talia_mover_conversacion(
    p_conversacion_id, v_estado, v_holder, v_tipo,
    jsonb_build_object(
      'agente_id', p_agente_id, 'agente', v_agente.nombre, 'desde', v_actual.estado,
      'asignado_a', case when p_accion = 'assign' then p_destino end));
end
$function$
;

revoke all on function public.actuar_en_conversacion(uuid,uuid,text,uuid) from public, anon, authenticated, service_role;
grant execute on function public.actuar_en_conversacion(uuid,uuid,text,uuid) to service_role;

CREATE OR REPLACE FUNCTION public.ventana_whatsapp(p_contacto_id uuid)
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select max(m.created_at) + interval '24 hours'
  from public.conversaciones cv
  join public.mensajes m on m.conversacion_id = cv.conversacion_id
  where cv.contacto_id = p_contacto_id and cv.canal = 'whatsapp' and m.direccion = 'inbound'
$function$
;

revoke all on function public.ventana_whatsapp(uuid) from public, anon, authenticated, service_role;
grant execute on function public.ventana_whatsapp(uuid) to service_role;

CREATE OR REPLACE FUNCTION public.responder_como_agente(p_conversacion_id uuid, p_agente_id uuid, p_texto text, p_idempotency_key text, p_tarea text, p_cola text)
 RETURNS TABLE(mensaje_id bigint, canal text, contenido text, estado_entrega text, created_at timestamp with time zone, repetido boolean)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_catalog'
AS $function$
declare
  v_agente public.agentes := public._talia_agente_activo(p_agente_id);
  v_conversacion public.conversaciones;
  v_fila public.mensajes;
begin
  perform public._talia_check_texto(p_texto);
  if coalesce(length(btrim(p_texto)), 0) = 0 then
    raise exception using errcode = 'TA400', message = 'the reply is empty';
  end if;
  -- The conversation's lock first: a repeat sent at the same time waits, then finds the row.
  perform from public.conversaciones cv where cv.conversacion_id = p_conversacion_id for update;
  select * into v_fila from public.mensajes m where m.idempotency_key = p_idempotency_key;
  if found then
    return query select v_fila.mensaje_id, v_fila.canal::text, v_fila.contenido::text,
      v_fila.estado_entrega::text, v_fila.created_at, true;
    return;
  end if;

  v_conversacion := public._talia_conversacion_para(p_conversacion_id, v_agente, true);
  if v_conversacion.canal = 'voice' then
    raise exception using errcode = 'TA409', constraint = 'channel_not_replyable',
      message = 'a call is answered on the phone, not with a typed reply';
  end if;
  if v_conversacion.canal = 'whatsapp'
     and coalesce(public.ventana_whatsapp(v_conversacion.contacto_id), '-infinity') <= now() then
    raise exception using errcode = 'TA409', constraint = 'outside_whatsapp_window',
      message = 'the customer last wrote more than 24 hours ago: WhatsApp only takes a'
        || ' template now';
  end if;

  perform public._talia_mover_conversacion(
    p_conversacion_id, 'handoff', coalesce(v_conversacion.agente_id, p_agente_id),
    'conversation_claimed',
    jsonb_build_object('agente_id', p_agente_id, 'agente', v_agente.nombre,
                       'desde', v_conversacion.estado));

  insert into public.mensajes as m (
    conversacion_id, canal, direccion, rol, contenido, idempotency_key, estado_entrega,
    agente_id, respuesta_a
  )
  values (
    p_conversacion_id, v_conversacion.canal, 'outbound', 'staff', p_texto, p_idempotency_key,
    case when v_conversacion.canal = 'whatsapp' then 'queued' else 'sent' end, p_agente_id,
    (select max(e.mensaje_id) from public.mensajes e
     where e.conversacion_id = p_conversacion_id and e.direccion = 'inbound')
  )
  returning m.* into v_fila;
  insert into public.eventos (tipo, conversacion_id, contacto_id, payload)
  values ('agent_replied', p_conversacion_id, v_conversacion.contacto_id,
          jsonb_build_object('agente_id', p_agente_id, 'agente', v_agente.nombre,
                             'mensaje_id', v_fila.mensaje_id));
  if v_conversacion.canal = 'whatsapp' then
    begin
      perform public.procrastinate_defer_jobs_v1(array[row(
        p_cola, p_tarea, 0, 'whatsapp-reply:' || p_conversacion_id,
        'whatsapp-reply:' || p_conversacion_id,
        jsonb_build_object('conversacion_id', p_conversacion_id), now()
      )::public.procrastinate_job_to_defer_v1]);
    exception when unique_violation then
      null;  -- the conversation's reply job already waits: it sends this message too
    end;
  end if;
  return query select v_fila.mensaje_id, v_fila.canal::text, v_fila.contenido::text,
    v_fila.estado_entrega::text, v_fila.created_at, false;
end
$function$
;

revoke all on function public.responder_como_agente(uuid,uuid,text,text,text,text) from public, anon, authenticated, service_role;
grant execute on function public.responder_como_agente(uuid,uuid,text,text,text,text) to service_role;

create table public.lecturas (
  auth_user_id uuid not null,
  conversacion_id uuid not null,
  mensaje_id bigint not null,
  updated_at timestamp with time zone default now() not null,
  constraint lecturas_pkey PRIMARY KEY (auth_user_id, conversacion_id),
  constraint lecturas_auth_user_id_fkey FOREIGN KEY (auth_user_id) REFERENCES agentes(auth_user_id) ON DELETE CASCADE,
  constraint lecturas_conversacion_id_fkey FOREIGN KEY (conversacion_id) REFERENCES conversaciones(conversacion_id) ON DELETE CASCADE
);

alter table public.lecturas enable row level security;

revoke all on table public.lecturas from public, anon, authenticated, service_role;
grant all on table public.lecturas to service_role;

CREATE OR REPLACE FUNCTION public.marcar_leida(p_agente_id uuid, p_conversacion_id uuid, p_mensaje_id bigint)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  insert into public.lecturas as l (auth_user_id, conversacion_id, mensaje_id)
  values (p_agente_id, p_conversacion_id, p_mensaje_id)
  on conflict (auth_user_id, conversacion_id) do update
    set mensaje_id = greatest(l.mensaje_id, excluded.mensaje_id), updated_at = now()
$function$
;

revoke all on function public.marcar_leida(uuid,uuid,bigint) from public, anon, authenticated, service_role;
grant execute on function public.marcar_leida(uuid,uuid,bigint) to service_role;

alter table public.mensajes add column agente_id uuid;

alter table public.mensajes add constraint mensajes_agente_id_fkey FOREIGN KEY (agente_id) REFERENCES agentes(auth_user_id) ON DELETE SET NULL;

CREATE OR REPLACE FUNCTION public._talia_anunciar_mensaje()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  perform pg_notify('talia_cambios', json_build_object(
    'conversacion_id', new.conversacion_id, 'mensaje_id', new.mensaje_id, 'rol', new.rol
  )::text);
  return null;
end
$function$
;

revoke all on function public._talia_anunciar_mensaje() from public, anon, authenticated, service_role;
grant execute on function public._talia_anunciar_mensaje() to service_role;

CREATE TRIGGER mensajes_se_anuncian AFTER INSERT ON public.mensajes FOR EACH ROW WHEN (((new.rol)::text = 'staff'::text)) EXECUTE FUNCTION _talia_anunciar_mensaje();

alter table public.eventos drop constraint eventos_tipo_check;
alter table public.eventos add constraint eventos_tipo_check CHECK ((tipo = ANY (ARRAY['conversation_opened'::text, 'conversation_closed'::text, 'lead_saved'::text, 'handoff_requested'::text, 'handoff_released'::text, 'call_started'::text, 'call_ended'::text, 'call_transferred'::text, 'model_failed'::text, 'delivery_failed'::text, 'opted_out'::text, 'opted_in'::text, 'contact_forgotten'::text, 'usage_recorded'::text, 'conversation_claimed'::text, 'conversation_assigned'::text, 'conversation_unassigned'::text, 'conversation_reopened'::text, 'agent_replied'::text])));
