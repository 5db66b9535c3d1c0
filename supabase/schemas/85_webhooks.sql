-- Outgoing webhooks: the business's subscriptions, and one delivery row per event and
-- subscription. The delivery rows are both the record of what was sent and the queue the
-- console's deliverer works through (talia_console.webhooks): a delivery is claimed for a
-- while, sent, then settled, so one that a crashed process left claimed is sent again once
-- its claim lapses (at least once; receivers dedupe by `webhook-id`).

-- The events a subscription may ask for.
create function public.evento_de_webhook(p_tipo text) returns boolean
language sql immutable set search_path = ''
as $$
  select p_tipo in (
    'handoff_requested', 'lead_saved', 'conversation_closed', 'delivery_failed', 'call_ended')
$$;

create function public._talia_eventos_de_webhook(p_eventos text[]) returns boolean
language sql immutable set search_path = ''
as $$ select coalesce(bool_and(public.evento_de_webhook(t)), false) from unnest(p_eventos) t $$;

create table public.webhooks (
  webhook_id uuid default gen_random_uuid() not null,
  url text not null,
  eventos text[] not null,
  -- The signing secret, `whsec_` and base64, as the Standard Webhooks spec writes it.
  secreto text not null,
  formato text default 'standard'::text not null,
  created_at timestamp with time zone default now() not null,
  constraint webhooks_pkey PRIMARY KEY (webhook_id),
  constraint webhooks_url_key UNIQUE (url),
  constraint webhooks_url_check CHECK (((length(url) <= 2000) AND (url ~ '^https?://[^/?#@\s]+'::text))),
  constraint webhooks_eventos_check CHECK (((cardinality(eventos) >= 1) AND public._talia_eventos_de_webhook(eventos))),
  constraint webhooks_secreto_check CHECK ((secreto ~ '^whsec_[A-Za-z0-9+/]{32,}={0,2}$'::text)),
  constraint webhooks_formato_check CHECK ((formato = ANY (ARRAY['standard'::text, 'slack'::text])))
);

alter table public.webhooks enable row level security;

create table public.entregas_webhook (
  entrega_id bigint generated always as identity,
  webhook_id uuid not null,
  evento_id bigint not null,
  estado text default 'pending'::text not null,
  intentos integer default 0 not null,
  siguiente_at timestamp with time zone default now() not null,
  ultimo_status integer,
  ultimo_error text,
  entregado_at timestamp with time zone,
  created_at timestamp with time zone default now() not null,
  constraint entregas_webhook_pkey PRIMARY KEY (entrega_id),
  constraint entregas_webhook_unica UNIQUE (webhook_id, evento_id),
  constraint entregas_webhook_webhook_id_fkey FOREIGN KEY (webhook_id) REFERENCES webhooks(webhook_id) ON DELETE CASCADE,
  constraint entregas_webhook_evento_id_fkey FOREIGN KEY (evento_id) REFERENCES eventos(evento_id) ON DELETE CASCADE,
  constraint entregas_webhook_estado_check CHECK ((estado = ANY (ARRAY['pending'::text, 'delivered'::text, 'failed'::text])))
);

alter table public.entregas_webhook enable row level security;

CREATE INDEX entregas_webhook_pendientes_idx ON public.entregas_webhook USING btree (siguiente_at) WHERE (estado = 'pending'::text);

-- Every subscribed event gets its delivery rows in the transaction that records it.
create function public._talia_entregar_evento() returns trigger
language plpgsql set search_path = ''
as $$
begin
  insert into public.entregas_webhook (webhook_id, evento_id)
  select w.webhook_id, new.evento_id from public.webhooks w where new.tipo = any (w.eventos);
  return null;
end
$$;

create trigger eventos_se_entregan after insert on public.eventos
  for each row when (public.evento_de_webhook(new.tipo))
  execute function public._talia_entregar_evento();

-- A subscription; a URL already subscribed gets the new events, secret and format. Each
-- refusal names its rule (TA400).
create function public.guardar_webhook(
  p_url text, p_eventos text[], p_secreto text, p_formato text default 'standard'
) returns setof public.webhooks
language plpgsql security definer set search_path = ''
as $$
declare
  v_desconocido text;
begin
  if p_url is null or length(p_url) > 2000 or p_url !~ '^https?://[^/?#@\s]+' then
    raise exception using errcode = 'TA400', constraint = 'invalid_url',
      message = 'The URL must be http:// or https://, with a host and no credentials.';
  end if;
  select t into v_desconocido from unnest(p_eventos) t
  where not public.evento_de_webhook(t) limit 1;
  if v_desconocido is not null or coalesce(cardinality(p_eventos), 0) = 0 then
    raise exception using errcode = 'TA400', constraint = 'unknown_event',
      message = format('Unknown event %s: subscribe to handoff_requested, lead_saved,'
        ' conversation_closed, delivery_failed or call_ended.', coalesce(v_desconocido, '(none)'));
  end if;
  if p_secreto is null or p_secreto !~ '^whsec_[A-Za-z0-9+/]{32,}={0,2}$' then
    raise exception using errcode = 'TA400', constraint = 'invalid_secret',
      message = 'The secret is whsec_ followed by at least 24 random bytes in base64.';
  end if;
  if p_formato not in ('standard', 'slack') then
    raise exception using errcode = 'TA400', constraint = 'invalid_format',
      message = 'The format is standard or slack.';
  end if;
  return query
  insert into public.webhooks as w (url, eventos, secreto, formato)
  values (p_url, p_eventos, p_secreto, p_formato)
  on conflict (url) do update
    set eventos = excluded.eventos, secreto = excluded.secreto, formato = excluded.formato
  returning w.*;
end
$$;

-- Removes a subscription and its deliveries; false when there was none.
create function public.quitar_webhook(p_webhook_id uuid) returns boolean
language plpgsql security definer set search_path = ''
as $$
begin
  delete from public.webhooks where webhook_id = p_webhook_id;
  return found;
end
$$;

-- Up to `p_limite` deliveries that are due, claimed for `p_plazo_segundos` (a process that
-- dies with them leaves them to be claimed again then), each with its attempt number, its
-- subscription and its event.
create function public.reclamar_entregas(p_limite integer, p_plazo_segundos integer)
returns table (
  entrega_id bigint, intento integer, webhook_id uuid, url text, secreto text, formato text,
  evento_id bigint, tipo text, conversacion_id uuid, contacto_id uuid, canal text,
  payload jsonb, evento_at timestamp with time zone
)
language sql security definer set search_path = ''
as $$
  with due as (
    select d.entrega_id from public.entregas_webhook d
    where d.estado = 'pending' and d.siguiente_at <= now()
    order by d.siguiente_at
    limit p_limite
    for update skip locked
  ), claimed as (
    update public.entregas_webhook d
    set intentos = d.intentos + 1,
        siguiente_at = now() + make_interval(secs => p_plazo_segundos)
    from due where d.entrega_id = due.entrega_id
    returning d.entrega_id, d.intentos, d.webhook_id, d.evento_id
  )
  select c.entrega_id, c.intentos, w.webhook_id, w.url, w.secreto, w.formato,
    e.evento_id, e.tipo, e.conversacion_id, e.contacto_id, cv.canal::text, e.payload,
    e.created_at
  from claimed c
  join public.webhooks w on w.webhook_id = c.webhook_id
  join public.eventos e on e.evento_id = c.evento_id
  left join public.conversaciones cv on cv.conversacion_id = e.conversacion_id
  order by c.entrega_id
$$;

-- The outcome of one attempt: delivered, to be retried in `p_reintentar_en` seconds, or
-- (when that is null) failed for good.
create function public.cerrar_entrega(
  p_entrega_id bigint, p_entregada boolean, p_status integer, p_error text,
  p_reintentar_en double precision
) returns void
language sql security definer set search_path = ''
as $$
  update public.entregas_webhook d
  set estado = case when p_entregada then 'delivered'
                    when p_reintentar_en is null then 'failed' else 'pending' end,
      entregado_at = case when p_entregada then now() end,
      siguiente_at = case when not p_entregada and p_reintentar_en is not null
                          then now() + make_interval(secs => p_reintentar_en)
                          else d.siguiente_at end,
      ultimo_status = p_status,
      ultimo_error = left(p_error, 500)
  where d.entrega_id = p_entrega_id
$$;
