-- Written by `talia db diff console_feed_leads_and_webhooks` from supabase/schemas/.

CREATE INDEX eventos_leads_idx ON public.eventos USING btree (contacto_id, created_at) WHERE (tipo = 'lead_saved'::text);

drop trigger mensajes_se_anuncian on public.mensajes;
CREATE TRIGGER mensajes_se_anuncian AFTER INSERT ON public.mensajes FOR EACH ROW EXECUTE FUNCTION _talia_anunciar_mensaje();

CREATE OR REPLACE FUNCTION public._talia_anunciar_evento()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  perform pg_notify('talia_cambios', json_build_object(
    'conversacion_id', new.conversacion_id, 'evento_id', new.evento_id, 'tipo', new.tipo
  )::text);
  return null;
end
$function$
;

revoke all on function public._talia_anunciar_evento() from public, anon, authenticated, service_role;
grant execute on function public._talia_anunciar_evento() to service_role;

CREATE OR REPLACE FUNCTION public.evento_se_anuncia(p_tipo text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$ select p_tipo <> 'usage_recorded' $function$
;

revoke all on function public.evento_se_anuncia(text) from public, anon, authenticated, service_role;
grant execute on function public.evento_se_anuncia(text) to service_role;

CREATE TRIGGER eventos_se_anuncian AFTER INSERT ON public.eventos FOR EACH ROW WHEN (evento_se_anuncia(new.tipo)) EXECUTE FUNCTION _talia_anunciar_evento();

CREATE OR REPLACE FUNCTION public.evento_de_webhook(p_tipo text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
  select p_tipo in (
    'handoff_requested', 'lead_saved', 'conversation_closed', 'delivery_failed', 'call_ended')
$function$
;

revoke all on function public.evento_de_webhook(text) from public, anon, authenticated, service_role;
grant execute on function public.evento_de_webhook(text) to service_role;

CREATE OR REPLACE FUNCTION public._talia_eventos_de_webhook(p_eventos text[])
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$ select coalesce(bool_and(public.evento_de_webhook(t)), false) from unnest(p_eventos) t $function$
;

revoke all on function public._talia_eventos_de_webhook(text[]) from public, anon, authenticated, service_role;
grant execute on function public._talia_eventos_de_webhook(text[]) to service_role;

create table public.webhooks (
  webhook_id uuid default gen_random_uuid() not null,
  url text not null,
  eventos text[] not null,
  secreto text not null,
  formato text default 'standard'::text not null,
  created_at timestamp with time zone default now() not null,
  constraint webhooks_url_check CHECK (((length(url) <= 2000) AND (url ~ '^https?://[^/?#@\s]+'::text))),
  constraint webhooks_eventos_check CHECK (((cardinality(eventos) >= 1) AND _talia_eventos_de_webhook(eventos))),
  constraint webhooks_secreto_check CHECK ((secreto ~ '^whsec_[A-Za-z0-9+/]{32,}={0,2}$'::text)),
  constraint webhooks_formato_check CHECK ((formato = ANY (ARRAY['standard'::text, 'slack'::text]))),
  constraint webhooks_pkey PRIMARY KEY (webhook_id),
  constraint webhooks_url_key UNIQUE (url)
);

alter table public.webhooks enable row level security;

revoke all on table public.webhooks from public, anon, authenticated, service_role;
grant all on table public.webhooks to service_role;

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
  constraint entregas_webhook_estado_check CHECK ((estado = ANY (ARRAY['pending'::text, 'delivered'::text, 'failed'::text]))),
  constraint entregas_webhook_pkey PRIMARY KEY (entrega_id),
  constraint entregas_webhook_unica UNIQUE (webhook_id, evento_id),
  constraint entregas_webhook_webhook_id_fkey FOREIGN KEY (webhook_id) REFERENCES webhooks(webhook_id) ON DELETE CASCADE,
  constraint entregas_webhook_evento_id_fkey FOREIGN KEY (evento_id) REFERENCES eventos(evento_id) ON DELETE CASCADE
);

alter table public.entregas_webhook enable row level security;

revoke all on sequence public.entregas_webhook_entrega_id_seq from public, anon, authenticated, service_role;
grant all on sequence public.entregas_webhook_entrega_id_seq to service_role;

revoke all on table public.entregas_webhook from public, anon, authenticated, service_role;
grant all on table public.entregas_webhook to service_role;

CREATE INDEX entregas_webhook_pendientes_idx ON public.entregas_webhook USING btree (siguiente_at) WHERE (estado = 'pending'::text);

CREATE OR REPLACE FUNCTION public._talia_entregar_evento()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  insert into public.entregas_webhook (webhook_id, evento_id)
  select w.webhook_id, new.evento_id from public.webhooks w where new.tipo = any (w.eventos);
  return null;
end
$function$
;

revoke all on function public._talia_entregar_evento() from public, anon, authenticated, service_role;
grant execute on function public._talia_entregar_evento() to service_role;

CREATE TRIGGER eventos_se_entregan AFTER INSERT ON public.eventos FOR EACH ROW WHEN (evento_de_webhook(new.tipo)) EXECUTE FUNCTION _talia_entregar_evento();

CREATE OR REPLACE FUNCTION public.guardar_webhook(p_url text, p_eventos text[], p_secreto text, p_formato text DEFAULT 'standard'::text)
 RETURNS SETOF webhooks
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$
;

revoke all on function public.guardar_webhook(text,text[],text,text) from public, anon, authenticated, service_role;
grant execute on function public.guardar_webhook(text,text[],text,text) to service_role;

CREATE OR REPLACE FUNCTION public.quitar_webhook(p_webhook_id uuid)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  delete from public.webhooks where webhook_id = p_webhook_id;
  return found;
end
$function$
;

revoke all on function public.quitar_webhook(uuid) from public, anon, authenticated, service_role;
grant execute on function public.quitar_webhook(uuid) to service_role;

CREATE OR REPLACE FUNCTION public.reclamar_entregas(p_limite integer, p_plazo_segundos integer)
 RETURNS TABLE(entrega_id bigint, intento integer, webhook_id uuid, url text, secreto text, formato text, evento_id bigint, tipo text, conversacion_id uuid, contacto_id uuid, canal text, payload jsonb, evento_at timestamp with time zone)
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$
;

revoke all on function public.reclamar_entregas(integer,integer) from public, anon, authenticated, service_role;
grant execute on function public.reclamar_entregas(integer,integer) to service_role;

CREATE OR REPLACE FUNCTION public.cerrar_entrega(p_entrega_id bigint, p_entregada boolean, p_status integer, p_error text, p_reintentar_en double precision)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$
;

revoke all on function public.cerrar_entrega(bigint,boolean,integer,text,double precision) from public, anon, authenticated, service_role;
grant execute on function public.cerrar_entrega(bigint,boolean,integer,text,double precision) to service_role;
