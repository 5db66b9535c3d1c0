-- Conversations: one thread with a contact on one channel, its state and its OpenAI conversation.

create table public.conversaciones (
  conversacion_id uuid default gen_random_uuid() not null,
  canal canal not null,
  contacto_id uuid not null,
  asistente_clave text not null,
  estado estado_conversacion default 'open'::text not null,
  proveedor_id text,
  openai_conversation_id text,
  started_at timestamp with time zone default now() not null,
  last_message_at timestamp with time zone,
  closed_at timestamp with time zone,
  agente_id uuid,
  handoff_at timestamp with time zone,
  constraint conversaciones_pkey PRIMARY KEY (conversacion_id),
  constraint conversaciones_openai_conversation_id_key UNIQUE (openai_conversation_id),
  constraint conversaciones_contacto_id_fkey FOREIGN KEY (contacto_id) REFERENCES contactos(contacto_id) ON DELETE CASCADE,
  constraint conversaciones_canal_proveedor_id_key UNIQUE (canal, proveedor_id),
  constraint conversaciones_agente_id_fkey FOREIGN KEY (agente_id) REFERENCES agentes(auth_user_id) ON DELETE SET NULL
);
-- agente_id: the staff member who holds the conversation (claimed or assigned); handoff_at:
-- since when it waits for a person, while it is in handoff.

alter table public.conversaciones enable row level security;

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

-- Moves a conversation to a state and a holder, and records the change as an event: every
-- change of state or of holder goes through here (the assistant's handoff, a channel's close,
-- staff actions). False, and nothing written, when the conversation is already there.
create function public._talia_mover_conversacion(
  p_conversacion_id uuid, p_estado text, p_agente_id uuid, p_tipo text, p_payload jsonb
) returns boolean
language plpgsql set search_path = ''
as $$
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
$$;

-- Conversation state as the assistant and the channels change it: handoff to staff, back to
-- the assistant, closed. Whoever holds it keeps it, unless it goes back to the assistant.
create function public.cambiar_estado_conversacion(
  p_conversacion_id uuid,
  p_estado text,
  p_motivo text default null
) returns table (estado text, cambiado boolean)
language plpgsql security definer set search_path = ''
as $$
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
      perform public._talia_no_encontrado(format('conversation %s', p_conversacion_id));
    end if;
  end if;
  return v_actual;
end
$$;

CREATE INDEX conversaciones_contacto_abierta_idx ON public.conversaciones USING btree (contacto_id, started_at DESC) WHERE ((estado)::text <> 'closed'::text);

CREATE INDEX conversaciones_agente_idx ON public.conversaciones USING btree (agente_id) WHERE (agente_id IS NOT NULL);
