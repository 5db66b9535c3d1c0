-- Events: what happened in a conversation beside its messages (leads, handoffs, failures).

create table public.eventos (
  evento_id bigint generated always as identity,
  tipo text not null,
  conversacion_id uuid,
  contacto_id uuid,
  payload jsonb default '{}'::jsonb not null,
  created_at timestamp with time zone default now() not null,
  constraint eventos_tipo_check CHECK ((tipo = ANY (ARRAY['conversation_opened'::text, 'conversation_closed'::text, 'lead_saved'::text, 'handoff_requested'::text, 'handoff_released'::text, 'call_started'::text, 'call_ended'::text, 'call_transferred'::text, 'model_failed'::text, 'delivery_failed'::text, 'opted_out'::text, 'opted_in'::text, 'contact_forgotten'::text, 'usage_recorded'::text, 'conversation_claimed'::text, 'conversation_assigned'::text, 'conversation_unassigned'::text, 'conversation_reopened'::text, 'agent_replied'::text]))),
  constraint eventos_pkey PRIMARY KEY (evento_id),
  constraint eventos_conversacion_id_fkey FOREIGN KEY (conversacion_id) REFERENCES conversaciones(conversacion_id) ON DELETE SET NULL,
  constraint eventos_contacto_id_fkey FOREIGN KEY (contacto_id) REFERENCES contactos(contacto_id) ON DELETE SET NULL
);

alter table public.eventos enable row level security;

CREATE INDEX eventos_conversacion_idx ON public.eventos USING btree (conversacion_id, evento_id);

CREATE INDEX eventos_contacto_idx ON public.eventos USING btree (contacto_id);

-- Leads, as the console lists them: each contact's lead saves, newest last.
CREATE INDEX eventos_leads_idx ON public.eventos USING btree (contacto_id, created_at) WHERE (tipo = 'lead_saved'::text);

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

