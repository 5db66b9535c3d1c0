-- WhatsApp inbound: store a message and queue its reply job in one transaction.

-- Inbound WhatsApp messages recorded in one call and one transaction, each with its contact
-- and conversation upserted (registrar_mensaje_entrante) and, when the assistant should
-- answer, its conversation's reply job queued:
--   * one job per conversation waits in the queue (`queueing_lock`). The first message of a
--     burst queues it `espera_ms` later; the next ones only hold it (`for share`: a worker
--     fetches jobs `for update skip locked`, so it cannot start the job before their
--     transaction commits), and the job waits until the person has been quiet for the
--     debounce before answering (talia_whatsapp.replies). Pushing the job back on every
--     message cost a third of storing one: procrastinate records an event for each push;
--   * jobs of one conversation never run at once and run in order (`lock`).
-- Nothing is queued for a repeated MessageSid, a handed-off conversation or an opted-out
-- contact, nor when `encolar` is false (a voice note's transcript).
-- `preparar_openai` tells the caller that this message queued its conversation's job and the
-- conversation has no OpenAI conversation yet: the caller creates it during the quiet wait,
-- so that the first reply does not wait for that round trip.
--
-- Webhooks that arrive while an earlier write is still running come together, a single one
-- alone: one round trip, one plan and one WAL flush for all of them. The batch is all or
-- nothing: the caller writes the messages one by one again when it fails, so a bad message
-- cannot cost its neighbours their place.
--
-- Messages are taken in order of sender, then of arrival. Everything one message locks (its
-- contact, conversation and waiting reply job) belongs to its sender, so two batches lock
-- rows in the same order and cannot deadlock each other, and one person's messages keep
-- their order. Security invoker: it runs with the server's rights and procrastinate's tables.
-- Each element of `p_mensajes` holds one message's fields, by name, and its `orden`, which
-- comes back with its result.
create function public.recibir_whatsapp(
  p_mensajes jsonb,  -- [{orden, identidad, asistente, message_sid, contenido, tipo, media,
                     --   nombre, metadata, espera_ms, encolar}, ...]
  p_tarea text,
  p_cola text
) returns table (
  orden integer,
  -- as registrar_mensaje_entrante returns them:
  mensaje_id bigint, conversacion_id uuid, contacto_id uuid, repetido boolean,
  estado_conversacion text, opt_out boolean,
  encolado boolean,
  preparar_openai boolean
)
language plpgsql set search_path = public, pg_catalog
as $$
declare
  v record;
  v_entrante record;
  v_bloqueo text;
  v_nuevo_trabajo boolean;
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
    v_nuevo_trabajo := false;
    select * into v_entrante from public.registrar_mensaje_entrante(
      'whatsapp', v.identidad, v.asistente, v.message_sid, v.contenido, v.tipo, v.media,
      v.nombre, coalesce(v.metadata, '{}'::jsonb));
    encolado := coalesce(v.encolar, true) and not v_entrante.repetido
      and v_entrante.estado_conversacion = 'open' and not v_entrante.opt_out;
    if encolado then
      v_bloqueo := 'whatsapp-reply:' || v_entrante.conversacion_id;
      perform from public.procrastinate_jobs j
      where j.queueing_lock = v_bloqueo and j.status = 'todo'
      for share;
      if not found then
        begin
          perform public.procrastinate_defer_jobs_v1(array[row(
            p_cola, p_tarea, 0, v_bloqueo, v_bloqueo,
            jsonb_build_object('conversacion_id', v_entrante.conversacion_id),
            now() + make_interval(secs => v.espera_ms / 1000.0)
          )::public.procrastinate_job_to_defer_v1]);
          v_nuevo_trabajo := true;
        exception when unique_violation then
          null;  -- queued by a concurrent message a moment ago: that job answers this one too
        end;
      end if;
    end if;
    preparar_openai := v_nuevo_trabajo and exists (
      select from public.conversaciones c
      where c.conversacion_id = v_entrante.conversacion_id and c.openai_conversation_id is null);
    return query select v.orden, v_entrante.mensaje_id, v_entrante.conversacion_id,
      v_entrante.contacto_id, v_entrante.repetido, v_entrante.estado_conversacion::text,
      v_entrante.opt_out, encolado, preparar_openai;
  end loop;
end
$$;

-- Messages, as replicas of the releases before 2026-12-01 record them (they may still run
-- during a rolling deploy). Drop it once none of them runs.
create function public.registrar_entrantes_whatsapp(
  p_mensajes jsonb, p_tarea text, p_cola text
) returns table (
  orden integer, mensaje_id bigint, conversacion_id uuid, contacto_id uuid, repetido boolean,
  estado_conversacion text, opt_out boolean, encolado boolean
)
language sql set search_path = public, pg_catalog
as $$
  select r.orden, r.mensaje_id, r.conversacion_id, r.contacto_id, r.repetido,
    r.estado_conversacion, r.opt_out, r.encolado
  from public.recibir_whatsapp(p_mensajes, p_tarea, p_cola) r
$$;

-- One message, as replicas of the releases before 2026-11-30 record it (they may still run
-- during a rolling deploy). Drop it once none of them runs.
create function public.registrar_entrante_whatsapp(
  p_identidad text, p_asistente text, p_message_sid text, p_contenido text, p_tipo text,
  p_media jsonb, p_nombre text, p_metadata jsonb, p_tarea text, p_cola text,
  p_espera_ms integer, p_encolar boolean default true
) returns table (
  mensaje_id bigint, conversacion_id uuid, contacto_id uuid, repetido boolean,
  estado_conversacion text, opt_out boolean, encolado boolean
)
language sql set search_path = public, pg_catalog
as $$
  select r.mensaje_id, r.conversacion_id, r.contacto_id, r.repetido, r.estado_conversacion,
    r.opt_out, r.encolado
  from public.recibir_whatsapp(
    jsonb_build_array(jsonb_build_object(
      'orden', 0, 'identidad', p_identidad, 'asistente', p_asistente,
      'message_sid', p_message_sid, 'contenido', p_contenido, 'tipo', p_tipo,
      'media', p_media, 'nombre', p_nombre, 'metadata', p_metadata,
      'espera_ms', p_espera_ms, 'encolar', p_encolar)),
    p_tarea, p_cola) r
$$;
