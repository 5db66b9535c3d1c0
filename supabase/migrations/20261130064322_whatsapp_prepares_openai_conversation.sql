-- Written by `talia db diff whatsapp_prepares_openai_conversation` from supabase/schemas/.

CREATE OR REPLACE FUNCTION public.recibir_whatsapp(p_mensajes jsonb, p_tarea text, p_cola text)
 RETURNS TABLE(orden integer, mensaje_id bigint, conversacion_id uuid, contacto_id uuid, repetido boolean, estado_conversacion text, opt_out boolean, encolado boolean, preparar_openai boolean)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_catalog'
AS $function$
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
$function$
;

revoke all on function public.recibir_whatsapp(jsonb,text,text) from public, anon, authenticated, service_role;
grant execute on function public.recibir_whatsapp(jsonb,text,text) to service_role;

CREATE OR REPLACE FUNCTION public.registrar_entrantes_whatsapp(p_mensajes jsonb, p_tarea text, p_cola text)
 RETURNS TABLE(orden integer, mensaje_id bigint, conversacion_id uuid, contacto_id uuid, repetido boolean, estado_conversacion text, opt_out boolean, encolado boolean)
 LANGUAGE sql
 SET search_path TO 'public', 'pg_catalog'
AS $function$
  select r.orden, r.mensaje_id, r.conversacion_id, r.contacto_id, r.repetido,
    r.estado_conversacion, r.opt_out, r.encolado
  from public.recibir_whatsapp(p_mensajes, p_tarea, p_cola) r
$function$
;

CREATE OR REPLACE FUNCTION public.registrar_entrante_whatsapp(p_identidad text, p_asistente text, p_message_sid text, p_contenido text, p_tipo text, p_media jsonb, p_nombre text, p_metadata jsonb, p_tarea text, p_cola text, p_espera_ms integer, p_encolar boolean DEFAULT true)
 RETURNS TABLE(mensaje_id bigint, conversacion_id uuid, contacto_id uuid, repetido boolean, estado_conversacion text, opt_out boolean, encolado boolean)
 LANGUAGE sql
 SET search_path TO 'public', 'pg_catalog'
AS $function$
  select r.mensaje_id, r.conversacion_id, r.contacto_id, r.repetido, r.estado_conversacion,
    r.opt_out, r.encolado
  from public.recibir_whatsapp(
    jsonb_build_array(jsonb_build_object(
      'orden', 0, 'identidad', p_identidad, 'asistente', p_asistente,
      'message_sid', p_message_sid, 'contenido', p_contenido, 'tipo', p_tipo,
      'media', p_media, 'nombre', p_nombre, 'metadata', p_metadata,
      'espera_ms', p_espera_ms, 'encolar', p_encolar)),
    p_tarea, p_cola) r
$function$
;
