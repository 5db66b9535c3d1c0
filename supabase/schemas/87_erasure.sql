-- Forgetting a person everywhere: besides our rows (olvidar_contacto), what OpenAI and
-- Twilio keep of them, their OpenAI conversations and their Twilio message records. Those
-- deletions are rows here, written in the transaction that forgets the person, so none is
-- lost; the console deletes them at once and retries what failed (talia_console.erasure).
-- A row holds a provider's id only, nothing of the person.

create table public.borrados_externos (
  borrado_id bigint generated always as identity,
  servicio text not null,
  externo_id text not null,
  intentos integer default 0 not null,
  siguiente_at timestamp with time zone default now() not null,
  ultimo_error text,
  created_at timestamp with time zone default now() not null,
  constraint borrados_externos_pkey PRIMARY KEY (borrado_id),
  constraint borrados_externos_unico UNIQUE (servicio, externo_id),
  constraint borrados_externos_servicio_check CHECK ((servicio = ANY (ARRAY['openai_conversation'::text, 'twilio_message'::text])))
);

alter table public.borrados_externos enable row level security;

CREATE INDEX borrados_externos_siguiente_idx ON public.borrados_externos USING btree (siguiente_at);

-- Forgets the contact (TA404 when there is none) and returns the deletions it queued,
-- claimed for the caller's first attempt (as reclamar_borrados claims them).
create function public.olvidar_contacto_en_todo(p_contacto_id uuid, p_plazo_segundos integer)
returns table (borrado_id bigint, servicio text, externo_id text)
language plpgsql security definer set search_path = ''
as $$
begin
  perform from public.contactos c where c.contacto_id = p_contacto_id for update;
  if not found then
    perform public._talia_no_encontrado(format('contact %s', p_contacto_id));
  end if;
  return query
  insert into public.borrados_externos as b (servicio, externo_id, intentos, siguiente_at)
  select t.servicio, t.externo_id, 1, now() + make_interval(secs => p_plazo_segundos)
  from (
  select 'openai_conversation' as servicio, cv.openai_conversation_id as externo_id
  from public.conversaciones cv
  where cv.contacto_id = p_contacto_id and cv.openai_conversation_id is not null
  union
  select 'twilio_message', m.proveedor_id
  from public.mensajes m
  join public.conversaciones cv on cv.conversacion_id = m.conversacion_id
  where cv.contacto_id = p_contacto_id and m.canal = 'whatsapp'
    and m.proveedor_id ~ '^(SM|MM)[0-9a-f]{32}$'
  ) t
  on conflict on constraint borrados_externos_unico
    do update set intentos = b.intentos + 1, siguiente_at = excluded.siguiente_at
  returning b.borrado_id, b.servicio, b.externo_id;
  perform public.olvidar_contacto(p_contacto_id);
end
$$;

-- Up to `p_limite` deletions that are due, claimed for `p_plazo_segundos`.
create function public.reclamar_borrados(p_limite integer, p_plazo_segundos integer)
returns table (borrado_id bigint, servicio text, externo_id text, intentos integer)
language sql security definer set search_path = ''
as $$
  update public.borrados_externos b
  set intentos = b.intentos + 1,
      siguiente_at = now() + make_interval(secs => p_plazo_segundos)
  where b.borrado_id in (
    select d.borrado_id from public.borrados_externos d
    where d.siguiente_at <= now()
    order by d.siguiente_at
    limit p_limite
    for update skip locked
  )
  returning b.borrado_id, b.servicio, b.externo_id, b.intentos
$$;

-- A deletion done (its row goes) or failed (tried again in `p_reintentar_en` seconds).
create function public.cerrar_borrado(
  p_borrado_id bigint, p_hecho boolean, p_error text, p_reintentar_en double precision
) returns void
language plpgsql security definer set search_path = ''
as $$
begin
  if p_hecho then
    delete from public.borrados_externos where borrado_id = p_borrado_id;
  else
    update public.borrados_externos
    set ultimo_error = left(p_error, 500),
        siguiente_at = now() + make_interval(secs => p_reintentar_en)
    where borrado_id = p_borrado_id;
  end if;
end
$$;
