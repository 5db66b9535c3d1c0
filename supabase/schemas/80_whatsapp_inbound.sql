-- WhatsApp inbound: store a message and queue its reply job in one transaction.

-- A burst of messages no longer touches its reply job once per message.
--
-- Before, each message pushed the waiting job's `scheduled_at` back, and procrastinate's
-- trigger recorded a `scheduled` event for every push: a third of the cost of storing a
-- message (bench/whatsapp_webhook.py). Now the first message of a burst queues the job for
-- `p_espera_ms` later, the next ones only hold it (`for share`: a worker fetches jobs with
-- `for update skip locked`, so it cannot start the job before their transaction commits),
-- and the job itself waits until the person has been quiet for the debounce before answering
-- (talia_whatsapp.replies).
create or replace function public.registrar_entrante_whatsapp(
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
  estado_conversacion text,
  opt_out boolean,
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
    perform from public.procrastinate_jobs j
    where j.queueing_lock = v_bloqueo and j.status = 'todo'
    for share;
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
    v_entrante.contacto_id, v_entrante.repetido, v_entrante.estado_conversacion::text,
    v_entrante.opt_out, v_encolado;
end
$$;

revoke all on function public.registrar_entrante_whatsapp(text,text,text,text,text,jsonb,text,jsonb,text,text,integer,boolean) from public, anon, authenticated, service_role;
grant execute on function public.registrar_entrante_whatsapp(text,text,text,text,text,jsonb,text,jsonb,text,text,integer,boolean) to service_role;

-- Several inbound WhatsApp messages recorded in one call and one transaction (group commit).
--
-- Webhooks that arrive while an earlier write is still running are written together: one
-- round trip, one plan of the top-level call and one WAL flush for all of them. Each message
-- goes through `registrar_entrante_whatsapp`, so a batch means exactly what the same calls
-- one by one would. The batch is all or nothing: the caller writes the messages one by one
-- again when it fails, so a bad message cannot cost its neighbours their place.
--
-- Messages are taken in order of sender, then of arrival. Everything one message locks (its
-- contact, conversation and waiting reply job) belongs to its sender, so two batches lock
-- rows in the same order and cannot deadlock each other, and one person's messages keep
-- their order. Security invoker, like the function it calls.
-- Each element of `p_mensajes` holds the arguments of one call, by name, and its `orden`,
-- which comes back with its result.
create function public.registrar_entrantes_whatsapp(
  p_mensajes jsonb,  -- [{orden, identidad, asistente, message_sid, contenido, tipo, media,
                     --   nombre, metadata, espera_ms, encolar}, ...]
  p_tarea text,
  p_cola text
) returns table (
  orden integer,
  mensaje_id bigint,
  conversacion_id uuid,
  contacto_id uuid,
  repetido boolean,
  estado_conversacion text,
  opt_out boolean,
  encolado boolean
)
language plpgsql set search_path = public, pg_catalog
as $$
declare
  v record;
begin
  if jsonb_typeof(p_mensajes) is distinct from 'array' then
    raise exception using errcode = 'TA400', message = 'p_mensajes must be a JSON array';
  end if;
  for v in
    select m.* from jsonb_to_recordset(p_mensajes) as m(
      orden integer, identidad text, asistente text, message_sid text, contenido text,
      tipo text, media jsonb, nombre text, metadata jsonb, espera_ms integer, encolar boolean)
    order by m.identidad, m.orden
  loop
    return query select v.orden, r.* from public.registrar_entrante_whatsapp(
      v.identidad, v.asistente, v.message_sid, v.contenido, v.tipo, v.media, v.nombre,
      coalesce(v.metadata, '{}'::jsonb), p_tarea, p_cola, v.espera_ms, coalesce(v.encolar, true)
    ) as r;
  end loop;
end
$$;

revoke all on function public.registrar_entrantes_whatsapp(jsonb,text,text) from public, anon, authenticated, service_role;
grant execute on function public.registrar_entrantes_whatsapp(jsonb,text,text) to service_role;
