-- Phone calls: a one-time, short-lived token lets exactly one media stream join a call that
-- /incoming registered (so no stream opens without a signed /incoming first).

-- Kept out of `public` (never exposed through the API); only the functions below touch it.
create schema if not exists private;
revoke all on schema private from public;

create table private.tokens_llamada (
  call_sid text primary key,
  conversacion_id uuid not null references public.conversaciones on delete cascade,
  token_hash text not null,
  expires_at timestamptz not null
);
alter table private.tokens_llamada enable row level security;

-- Registers an incoming call (contact by caller number, one conversation per CallSid) and
-- arms its stream token. A repeated webhook for the same CallSid re-arms the token.
create function public.registrar_llamada(
  p_call_sid text,
  p_caller text,
  p_asistente text,
  p_token_hash text,
  p_token_ttl_seconds integer
) returns table (conversacion_id uuid, contacto_id uuid, repetido boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  v_abierta record;
begin
  if coalesce(length(p_call_sid), 0) = 0 or coalesce(length(p_token_hash), 0) = 0 then
    raise exception using errcode = 'TA400', message = 'call sid and token are required';
  end if;
  select * into v_abierta
  from public.abrir_conversacion('voice', coalesce(nullif(p_caller, ''), 'anonymous'), p_asistente,
                                 p_call_sid);
  delete from private.tokens_llamada t where t.expires_at < now();
  insert into private.tokens_llamada (call_sid, conversacion_id, token_hash, expires_at)
  values (p_call_sid, v_abierta.conversacion_id, p_token_hash,
          now() + make_interval(secs => p_token_ttl_seconds))
  on conflict (call_sid) do update
  set token_hash = excluded.token_hash, expires_at = excluded.expires_at;
  if not v_abierta.repetido then
    insert into public.eventos (tipo, conversacion_id, contacto_id, payload)
    values ('call_started', v_abierta.conversacion_id, v_abierta.contacto_id,
            jsonb_build_object('call_sid', p_call_sid));
  end if;
  return query select v_abierta.conversacion_id, v_abierta.contacto_id, v_abierta.repetido;
end
$$;

-- Spends a call's stream token: the conversation once, for an unexpired matching token;
-- nothing for a wrong, expired or already used one.
create function public.consumir_token_llamada(p_call_sid text, p_token_hash text)
returns uuid
language sql security definer set search_path = ''
as $$
  delete from private.tokens_llamada t
  where t.call_sid = p_call_sid and t.token_hash = p_token_hash and t.expires_at > now()
  returning t.conversacion_id
$$;

revoke all on function public.registrar_llamada(text, text, text, text, integer),
  public.consumir_token_llamada(text, text) from public, anon, authenticated;
grant execute on function public.registrar_llamada(text, text, text, text, integer),
  public.consumir_token_llamada(text, text) to service_role;
