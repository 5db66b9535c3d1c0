-- A call's stream token is issued once: a replayed /incoming for a call whose stream already
-- started, or that has ended, arms nothing. A spent token is remembered, not deleted.

alter table private.tokens_llamada add column gastado_at timestamptz;

-- The result gains `armado` (false: no token was issued), so the function is replaced whole.
drop function public.registrar_llamada(text, text, text, text, integer);

create function public.registrar_llamada(
  p_call_sid text,
  p_caller text,
  p_asistente text,
  p_token_hash text,
  p_token_ttl_seconds integer
) returns table (conversacion_id uuid, contacto_id uuid, repetido boolean, armado boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  v_abierta record;
  v_armado boolean;
begin
  if coalesce(length(p_call_sid), 0) = 0 or coalesce(length(p_token_hash), 0) = 0 then
    raise exception using errcode = 'TA400', message = 'call sid and token are required';
  end if;
  select * into v_abierta
  from public.abrir_conversacion('voice', coalesce(nullif(p_caller, ''), 'anonymous'), p_asistente,
                                 p_call_sid);
  delete from private.tokens_llamada t where t.expires_at < now() and t.gastado_at is null;

  -- A first /incoming arms a token; a repeat re-arms it only while no stream has used it
  -- and the call has not ended (Twilio retrying an answer it did not get).
  v_armado := not exists (
    select 1 from public.conversaciones cv
    where cv.conversacion_id = v_abierta.conversacion_id and cv.estado = 'closed'
  );
  if v_armado then
    insert into private.tokens_llamada as t (call_sid, conversacion_id, token_hash, expires_at)
    values (p_call_sid, v_abierta.conversacion_id, p_token_hash,
            now() + make_interval(secs => p_token_ttl_seconds))
    on conflict (call_sid) do update
    set token_hash = excluded.token_hash, expires_at = excluded.expires_at
    where t.gastado_at is null;
    v_armado := found;
  end if;

  if not v_abierta.repetido then
    insert into public.eventos (tipo, conversacion_id, contacto_id, payload)
    values ('call_started', v_abierta.conversacion_id, v_abierta.contacto_id,
            jsonb_build_object('call_sid', p_call_sid));
  end if;
  return query
    select v_abierta.conversacion_id, v_abierta.contacto_id, v_abierta.repetido, v_armado;
end
$$;

-- Spends a call's stream token: the conversation once, for an unexpired matching token;
-- nothing for a wrong, expired or already used one. The spent row stays, so the call is
-- known to have streamed.
create or replace function public.consumir_token_llamada(p_call_sid text, p_token_hash text)
returns uuid
language sql security definer set search_path = ''
as $$
  update private.tokens_llamada t
  set gastado_at = now()
  where t.call_sid = p_call_sid and t.token_hash = p_token_hash and t.expires_at > now()
    and t.gastado_at is null
  returning t.conversacion_id
$$;

revoke all on function public.registrar_llamada(text, text, text, text, integer)
  from public, anon, authenticated;
grant execute on function public.registrar_llamada(text, text, text, text, integer)
  to service_role;
