-- Written by `talia db diff webchat_message_returns_what_its_reply_needs` from supabase/schemas/.

CREATE OR REPLACE FUNCTION public.recibir_mensaje_webchat(p_conversacion_id uuid, p_client_message_id text, p_contenido text)
 RETURNS TABLE(mensaje_id bigint, conversacion_id uuid, canal text, direccion text, rol text, tipo text, contenido text, media jsonb, proveedor_id text, idempotency_key text, respuesta_a bigint, estado_entrega text, error_codigo text, metadata jsonb, created_at timestamp with time zone, updated_at timestamp with time zone, repetido boolean, respuesta_id bigint, estado_conversacion text, contacto_id uuid, asistente_clave text, openai_conversation_id text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
#variable_conflict use_column
declare
  v_conversacion public.conversaciones;
  v_fila public.mensajes;
  v_repetido boolean := false;
  v_respuesta bigint;
begin
  perform public._talia_check_texto(p_contenido);
  if coalesce(length(p_client_message_id), 0) = 0 then
    raise exception using errcode = 'TA400', message = 'client_message_id is required';
  end if;
  select * into v_conversacion from public.conversaciones cv
  where cv.conversacion_id = p_conversacion_id and cv.canal = 'webchat';
  if not found then
    perform public._talia_no_encontrado(format('webchat conversation %s', p_conversacion_id));
  end if;

  insert into public.mensajes as m (
    conversacion_id, canal, direccion, rol, tipo, contenido, proveedor_id, estado_entrega
  )
  values (p_conversacion_id, 'webchat', 'inbound', 'user', 'text', p_contenido,
          p_client_message_id, 'received')
  on conflict (conversacion_id, proveedor_id)
    where proveedor_id is not null and canal = 'webchat'
    do nothing
  returning m.* into v_fila;

  if v_fila.mensaje_id is null then
    select m.* into v_fila from public.mensajes m
    where m.conversacion_id = p_conversacion_id and m.canal = 'webchat'
      and m.proveedor_id = p_client_message_id;
    v_repetido := true;
    select r.mensaje_id into v_respuesta from public.mensajes r
    where r.respuesta_a = v_fila.mensaje_id order by r.mensaje_id limit 1;
  end if;
  return query select
    v_fila.mensaje_id, v_fila.conversacion_id, v_fila.canal::text, v_fila.direccion::text,
    v_fila.rol::text, v_fila.tipo::text, v_fila.contenido::text, v_fila.media,
    v_fila.proveedor_id::text, v_fila.idempotency_key::text, v_fila.respuesta_a,
    v_fila.estado_entrega::text, v_fila.error_codigo::text, v_fila.metadata, v_fila.created_at,
    v_fila.updated_at, v_repetido, v_respuesta, v_conversacion.estado::text,
    v_conversacion.contacto_id, v_conversacion.asistente_clave::text,
    v_conversacion.openai_conversation_id::text;
end
$function$
;

revoke all on function public.recibir_mensaje_webchat(uuid,text,text) from public, anon, authenticated, service_role;
grant execute on function public.recibir_mensaje_webchat(uuid,text,text) to service_role;

CREATE OR REPLACE FUNCTION public.registrar_mensaje_webchat(p_conversacion_id uuid, p_client_message_id text, p_contenido text)
 RETURNS TABLE(mensaje_id bigint, conversacion_id uuid, canal text, direccion text, rol text, tipo text, contenido text, media jsonb, proveedor_id text, idempotency_key text, respuesta_a bigint, estado_entrega text, error_codigo text, metadata jsonb, created_at timestamp with time zone, updated_at timestamp with time zone, repetido boolean, respuesta_id bigint, estado_conversacion text)
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select r.mensaje_id, r.conversacion_id, r.canal, r.direccion, r.rol, r.tipo, r.contenido,
    r.media, r.proveedor_id, r.idempotency_key, r.respuesta_a, r.estado_entrega,
    r.error_codigo, r.metadata, r.created_at, r.updated_at, r.repetido, r.respuesta_id,
    r.estado_conversacion
  from public.recibir_mensaje_webchat(p_conversacion_id, p_client_message_id, p_contenido) r
$function$
;
