-- WhatsApp replies: an inbound message and its reply job are written in one transaction, and a
-- long reply is stored as the parts actually sent.

-- The job queue is the server's business only: no API role reads or runs it.
do $$
declare
  v_tabla text;
begin
  foreach v_tabla in array array['procrastinate_jobs', 'procrastinate_events',
                                 'procrastinate_periodic_defers', 'procrastinate_workers'] loop
    execute format('alter table public.%I enable row level security', v_tabla);
    execute format('revoke all on table public.%I from anon, authenticated', v_tabla);
  end loop;
end
$$;
revoke all on all sequences in schema public from anon, authenticated;
do $$
declare
  v_funcion regprocedure;
begin
  for v_funcion in
    select p.oid::regprocedure from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proname like 'procrastinate%'
  loop
    execute format('revoke all on function %s from public, anon, authenticated', v_funcion);
  end loop;
end
$$;

-- Records an inbound WhatsApp message (contact and conversation upserted) and, when the
-- assistant should answer, queues the conversation's reply job in the same transaction:
--   * one job per conversation waits in the queue (`queueing_lock`); a message arriving while
--     it waits pushes its start back by `p_espera_ms` (the burst is answered once, together);
--   * jobs of one conversation never run at once and run in order (`lock`).
-- Nothing is queued for a repeated MessageSid, a handed-off conversation or an opted-out
-- contact. Security invoker: it runs with the server's rights and procrastinate's tables.
create function public.registrar_entrante_whatsapp(
  p_identidad text,
  p_asistente text,
  p_message_sid text,
  p_contenido text,
  p_tipo text,
  p_media jsonb,
  p_nombre text,
  p_metadata jsonb,
  p_tarea text,
  p_cola text,
  p_espera_ms integer,
  p_encolar boolean default true
) returns table (
  mensaje_id bigint,
  conversacion_id uuid,
  contacto_id uuid,
  repetido boolean,
  encolado boolean
)
language plpgsql set search_path = public, pg_catalog
as $$
declare
  v_entrante record;
  v_bloqueo text;
  v_encolado boolean := false;
begin
  select * into v_entrante from public.registrar_mensaje_entrante(
    'whatsapp', p_identidad, p_asistente, p_message_sid, p_contenido, p_tipo, p_media, p_nombre,
    p_metadata);
  if p_encolar and not v_entrante.repetido and v_entrante.estado_conversacion = 'open'
     and not v_entrante.opt_out then
    v_bloqueo := 'whatsapp-reply:' || v_entrante.conversacion_id;
    update public.procrastinate_jobs j
    set scheduled_at = now() + make_interval(secs => p_espera_ms / 1000.0)
    where j.queueing_lock = v_bloqueo and j.status = 'todo';
    if not found then
      begin
        perform public.procrastinate_defer_jobs_v1(array[row(
          p_cola, p_tarea, 0, v_bloqueo, v_bloqueo,
          jsonb_build_object('conversacion_id', v_entrante.conversacion_id),
          now() + make_interval(secs => p_espera_ms / 1000.0)
        )::public.procrastinate_job_to_defer_v1]);
      exception when unique_violation then
        null;  -- queued by a concurrent message a moment ago: that job answers this one too
      end;
    end if;
    v_encolado := true;
  end if;
  return query select v_entrante.mensaje_id, v_entrante.conversacion_id,
    v_entrante.contacto_id, v_entrante.repetido, v_encolado;
end
$$;

-- Splits a stored outbound message into the parts sent one by one: the row keeps part 1,
-- parts 2.. become rows of their own (idempotency key `<key>:<n>`), all in order. Calling it
-- again returns the same rows.
create function public.dividir_mensaje_saliente(p_mensaje_id bigint, p_partes text[])
returns table (mensaje_id bigint, parte integer)
language plpgsql security definer set search_path = ''
as $$
declare
  v_original record;
  v_parte integer;
begin
  select m.* into v_original from public.mensajes m
  where m.mensaje_id = p_mensaje_id and m.direccion = 'outbound'
  for update;
  if not found then
    raise exception using errcode = 'TA404',
      message = format('outbound message %s not found', p_mensaje_id);
  end if;
  if coalesce(array_length(p_partes, 1), 0) = 0 then
    raise exception using errcode = 'TA400', message = 'at least one part is required';
  end if;
  if not coalesce((v_original.metadata ->> 'partes')::integer > 0, false) then
    update public.mensajes m
    set contenido = p_partes[1],
        metadata = m.metadata || jsonb_build_object('parte', 1, 'partes', array_length(p_partes, 1)),
        updated_at = now()
    where m.mensaje_id = p_mensaje_id;
    for v_parte in 2 .. array_length(p_partes, 1) loop
      insert into public.mensajes (
        conversacion_id, canal, direccion, rol, tipo, contenido, idempotency_key, respuesta_a,
        estado_entrega, metadata
      )
      values (v_original.conversacion_id, v_original.canal, 'outbound', v_original.rol,
              v_original.tipo, p_partes[v_parte],
              v_original.idempotency_key || ':' || v_parte, v_original.respuesta_a,
              'queued',
              v_original.metadata || jsonb_build_object('parte', v_parte,
                                                        'partes', array_length(p_partes, 1)))
      on conflict do nothing;
    end loop;
  end if;
  return query
    select p_mensaje_id, 1
    union all
    select m.mensaje_id, (m.metadata ->> 'parte')::integer from public.mensajes m
    where m.idempotency_key like v_original.idempotency_key || ':%'
      and m.conversacion_id = v_original.conversacion_id
    order by 2;
end
$$;

revoke all on function public.registrar_entrante_whatsapp(
  text, text, text, text, text, jsonb, text, jsonb, text, text, integer, boolean
), public.dividir_mensaje_saliente(bigint, text[]) from public, anon, authenticated;
grant execute on function public.registrar_entrante_whatsapp(
  text, text, text, text, text, jsonb, text, jsonb, text, text, integer, boolean
), public.dividir_mensaje_saliente(bigint, text[]) to service_role;
