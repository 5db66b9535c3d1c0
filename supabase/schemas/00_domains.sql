-- Domains: the values a column of several tables may hold, the checks behind them, and the
-- errors every aggregate raises.

create function public._talia_check_canal(p_canal text) returns void
language plpgsql immutable set search_path = ''
as $$
begin
  if p_canal is null or p_canal not in ('whatsapp', 'webchat', 'voice') then
    raise exception using errcode = 'TA400', message = format('unknown channel: %s', p_canal),
      hint = 'canal must be whatsapp, webchat or voice';
  end if;
end
$$;

create function public._talia_check_texto(p_texto text) returns void
language plpgsql immutable set search_path = ''
as $$
begin
  if length(p_texto) > 16000 then
    raise exception using errcode = 'TA413',
      message = format('text is %s characters, the limit is 16000', length(p_texto));
  end if;
end
$$;

-- What a function was asked about does not exist: TA404, which the repositories raise as
-- RecordNotFound and the APIs answer 404.
create function public._talia_no_encontrado(p_que text) returns void
language plpgsql set search_path = ''
as $$
begin
  raise exception using errcode = 'TA404', message = p_que || ' not found';
end
$$;

create domain public.canal as text
  constraint canal_check CHECK ((VALUE = ANY (ARRAY['whatsapp'::text, 'webchat'::text, 'voice'::text])));

create domain public.direccion as text
  constraint direccion_check CHECK ((VALUE = ANY (ARRAY['inbound'::text, 'outbound'::text])));

create domain public.rol as text
  constraint rol_check CHECK ((VALUE = ANY (ARRAY['user'::text, 'assistant'::text, 'staff'::text, 'system'::text])));

create domain public.tipo_mensaje as text
  constraint tipo_mensaje_check CHECK ((VALUE = ANY (ARRAY['text'::text, 'audio'::text, 'image'::text, 'media'::text, 'location'::text, 'transcript'::text])));

create domain public.texto_mensaje as text
  constraint texto_mensaje_check CHECK ((length(VALUE) <= 16000));

create domain public.id_externo as text
  constraint id_externo_check CHECK ((length(VALUE) <= 200));

create domain public.codigo_error as text
  constraint codigo_error_check CHECK ((length(VALUE) <= 20));

create domain public.estado_entrega as text
  constraint estado_entrega_check CHECK ((VALUE = ANY (ARRAY['received'::text, 'queued'::text, 'sending'::text, 'sent'::text, 'failed'::text, 'undelivered'::text, 'delivered'::text, 'read'::text])));

create domain public.estado_conversacion as text
  constraint estado_conversacion_check CHECK ((VALUE = ANY (ARRAY['open'::text, 'handoff'::text, 'closed'::text])));
