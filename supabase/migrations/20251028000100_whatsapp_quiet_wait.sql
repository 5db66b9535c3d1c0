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
    v_entrante.contacto_id, v_entrante.repetido, v_encolado;
end
$$;
