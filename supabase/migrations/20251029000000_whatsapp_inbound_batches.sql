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

revoke all on function public.registrar_entrantes_whatsapp(jsonb, text, text)
  from public, anon, authenticated;
grant execute on function public.registrar_entrantes_whatsapp(jsonb, text, text)
  to service_role;
