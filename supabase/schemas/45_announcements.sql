-- Announcements: what every app process hears of a change, through LISTEN/NOTIFY on the
-- `talia_cambios` channel (talia_core.changes). Ids only: a listener reads the rows it needs.
-- A notification is sent when its transaction commits, so a listener finds the row stored.
--
-- Every message is announced (the visitors' sockets listen for staff replies, the staff's
-- console feed for everything), and the events `evento_se_anuncia` names. Notifying transactions
-- commit one at a time; the WhatsApp webhook's group commit pays that once per batch.

create function public._talia_anunciar_mensaje() returns trigger
language plpgsql set search_path = ''
as $$
begin
  perform pg_notify('talia_cambios', json_build_object(
    'conversacion_id', new.conversacion_id, 'mensaje_id', new.mensaje_id, 'rol', new.rol
  )::text);
  return null;
end
$$;

create trigger mensajes_se_anuncian after insert on public.mensajes
  for each row execute function public._talia_anunciar_mensaje();

create function public._talia_anunciar_evento() returns trigger
language plpgsql set search_path = ''
as $$
begin
  perform pg_notify('talia_cambios', json_build_object(
    'conversacion_id', new.conversacion_id, 'evento_id', new.evento_id, 'tipo', new.tipo
  )::text);
  return null;
end
$$;

-- Which events are announced (the console's feed reads back the same ones after a
-- reconnection): all but usage records, which come with every reply and tell staff nothing.
create function public.evento_se_anuncia(p_tipo text) returns boolean
language sql immutable set search_path = ''
as $$ select p_tipo <> 'usage_recorded' $$;

create trigger eventos_se_anuncian after insert on public.eventos
  for each row when (public.evento_se_anuncia(new.tipo))
  execute function public._talia_anunciar_evento();
