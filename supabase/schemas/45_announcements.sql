-- Announcements: what every app process hears of a change, through LISTEN/NOTIFY on the
-- `talia_cambios` channel (talia_core.changes). Ids only: a listener reads the rows it needs.
-- A notification is sent when its transaction commits, so a listener finds the row stored.
--
-- Only what people of the business write is announced, as only that has listeners (the
-- visitors' sockets): notifying transactions commit one at a time, a cost the customers'
-- messages should pay only once something listens for them.

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
  for each row when (new.rol::text = 'staff') execute function public._talia_anunciar_mensaje();
