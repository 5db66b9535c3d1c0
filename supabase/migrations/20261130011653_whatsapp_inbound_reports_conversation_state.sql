-- Written by `talia db diff whatsapp_inbound_reports_conversation_state` from supabase/schemas/.

drop function public.registrar_entrante_whatsapp(text,text,text,text,text,jsonb,text,jsonb,text,text,integer,boolean);
CREATE OR REPLACE FUNCTION public.registrar_entrante_whatsapp(p_identidad text, p_asistente text, p_message_sid text, p_contenido text, p_tipo text, p_media jsonb, p_nombre text, p_metadata jsonb, p_tarea text, p_cola text, p_espera_ms integer, p_encolar boolean DEFAULT true)
 RETURNS TABLE(mensaje_id bigint, conversacion_id uuid, contacto_id uuid, repetido boolean, estado_conversacion text, opt_out boolean, encolado boolean)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_catalog'
AS $function$
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
$function$
;

revoke all on function public.registrar_entrante_whatsapp(text,text,text,text,text,jsonb,text,jsonb,text,text,integer,boolean) from public, anon, authenticated, service_role;
grant execute on function public.registrar_entrante_whatsapp(text,text,text,text,text,jsonb,text,jsonb,text,text,integer,boolean) to service_role;

drop function public.registrar_entrantes_whatsapp(jsonb,text,text);
CREATE OR REPLACE FUNCTION public.registrar_entrantes_whatsapp(p_mensajes jsonb, p_tarea text, p_cola text)
 RETURNS TABLE(orden integer, mensaje_id bigint, conversacion_id uuid, contacto_id uuid, repetido boolean, estado_conversacion text, opt_out boolean, encolado boolean)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_catalog'
AS $function$
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
$function$
;

revoke all on function public.registrar_entrantes_whatsapp(jsonb,text,text) from public, anon, authenticated, service_role;
grant execute on function public.registrar_entrantes_whatsapp(jsonb,text,text) to service_role;
