-- Takeover: what staff do with a conversation, and who may. The rules live here, once:
--   * only active staff act; a conversation another agent holds is theirs (403), except for
--     an admin; claiming one that another holds is a conflict for everyone (409): of two
--     agents claiming at once, one wins (the row lock orders them);
--   * claim, assign and reply put the conversation in handoff, held by a person: the
--     assistant stops answering it; release gives it back to the assistant; a closed
--     conversation takes no action but reopen;
--   * every change writes an event naming the agent (_talia_mover_conversacion).

-- The active staff member acting, or TA403.
create function public._talia_agente_activo(p_agente_id uuid) returns public.agentes
language plpgsql stable set search_path = ''
as $$
declare
  v_agente public.agentes;
begin
  select * into v_agente from public.agentes a where a.auth_user_id = p_agente_id and a.activo;
  if not found then
    raise exception using errcode = 'TA403', message = 'only active staff act on conversations';
  end if;
  return v_agente;
end
$$;

-- A conversation locked for a staff action by `p_agente`, or TA404/TA403/TA409.
create function public._talia_conversacion_para(
  p_conversacion_id uuid, p_agente public.agentes, p_abierta boolean
) returns public.conversaciones
language plpgsql set search_path = ''
as $$
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
$$;

-- A staff action on a conversation: claim, assign (admin; p_destino is the agent), unassign,
-- release (back to the assistant), close, reopen. Repeating an action changes nothing.
create function public.actuar_en_conversacion(
  p_conversacion_id uuid, p_agente_id uuid, p_accion text, p_destino uuid default null
) returns table (estado text, agente_id uuid, cambiado boolean)
language plpgsql security definer set search_path = ''
as $$
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
$$;

-- Until when a WhatsApp contact may get a free-form message: 24 hours after their last one
-- (WhatsApp's customer service window); null when they never wrote.
create function public.ventana_whatsapp(p_contacto_id uuid) returns timestamptz
language sql stable security definer set search_path = ''
as $$
  select max(m.created_at) + interval '24 hours'
  from public.conversaciones cv
  join public.mensajes m on m.conversacion_id = cv.conversacion_id
  where cv.contacto_id = p_contacto_id and cv.canal = 'whatsapp' and m.direccion = 'inbound'
$$;

-- A staff member's reply, stored before it is delivered; idempotent on p_idempotency_key.
-- An unheld conversation becomes the replier's. It answers the customer's messages so far
-- (`respuesta_a`): given back, the assistant answers only what comes after. On WhatsApp it
-- must be inside the contact's window, and the conversation's reply job (p_tarea on p_cola,
-- as registrar_entrantes_whatsapp queues it) is queued in the same transaction: the job
-- sends what is unsent, in order, as it sends the assistant's replies. A call takes no
-- typed reply. Security invoker, as registrar_entrantes_whatsapp: procrastinate's function
-- names its tables unqualified.
create function public.responder_como_agente(
  p_conversacion_id uuid,
  p_agente_id uuid,
  p_texto text,
  p_idempotency_key text,
  p_tarea text,
  p_cola text
) returns table (
  mensaje_id bigint, canal text, contenido text, estado_entrega text, created_at timestamptz,
  repetido boolean
)
language plpgsql set search_path = public, pg_catalog
as $$
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
$$;

-- What a staff member has read of each conversation: its unread count is what came after.
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

create function public.marcar_leida(
  p_agente_id uuid, p_conversacion_id uuid, p_mensaje_id bigint
) returns void
language sql security definer set search_path = ''
as $$
  insert into public.lecturas as l (auth_user_id, conversacion_id, mensaje_id)
  values (p_agente_id, p_conversacion_id, p_mensaje_id)
  on conflict (auth_user_id, conversacion_id) do update
    set mensaje_id = greatest(l.mensaje_id, excluded.mensaje_id), updated_at = now()
$$;
