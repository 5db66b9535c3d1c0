-- Contacts: the people who write or call, one row per channel identity, and their lead data.

create table public.contactos (
  contacto_id uuid default gen_random_uuid() not null,
  canal canal not null,
  identidad text not null,
  nombre text,
  email text,
  telefono text,
  interes text,
  notas text,
  opt_out boolean default false not null,
  opt_out_at timestamp with time zone,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint contactos_identidad_check CHECK (((length(identidad) >= 1) AND (length(identidad) <= 200))),
  constraint contactos_nombre_check CHECK ((length(nombre) <= 200)),
  constraint contactos_email_check CHECK ((length(email) <= 320)),
  constraint contactos_telefono_check CHECK ((length(telefono) <= 40)),
  constraint contactos_interes_check CHECK ((length(interes) <= 2000)),
  constraint contactos_notas_check CHECK ((length(notas) <= 4000)),
  constraint contactos_pkey PRIMARY KEY (contacto_id),
  constraint contactos_canal_identidad_key UNIQUE (canal, identidad)
);

alter table public.contactos enable row level security;

-- Lead data a contact gave; null leaves a field as it was. The event names the fields only.
create function public.actualizar_lead(
  p_contacto_id uuid,
  p_nombre text default null,
  p_email text default null,
  p_telefono text default null,
  p_interes text default null,
  p_notas text default null,
  p_conversacion_id uuid default null
) returns setof public.contactos
language plpgsql security definer set search_path = ''
as $$
declare
  v_contacto public.contactos;
  v_campos text[];
begin
  if p_email is not null and p_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then
    raise exception using errcode = 'TA400', message = 'email is not a valid address';
  end if;
  if p_telefono is not null and p_telefono !~ '^\+?[0-9 ().-]{6,20}$' then
    raise exception using errcode = 'TA400', message = 'telefono is not a valid phone number';
  end if;
  update public.contactos c set
    nombre = coalesce(nullif(trim(p_nombre), ''), c.nombre),
    email = coalesce(lower(p_email), c.email),
    telefono = coalesce(p_telefono, c.telefono),
    interes = coalesce(nullif(trim(p_interes), ''), c.interes),
    notas = coalesce(nullif(trim(p_notas), ''), c.notas),
    updated_at = now()
  where c.contacto_id = p_contacto_id
  returning c.* into v_contacto;
  if not found then
    perform public._talia_no_encontrado(format('contact %s', p_contacto_id));
  end if;
  v_campos := array_remove(array[
    case when p_nombre is not null then 'nombre' end,
    case when p_email is not null then 'email' end,
    case when p_telefono is not null then 'telefono' end,
    case when p_interes is not null then 'interes' end,
    case when p_notas is not null then 'notas' end
  ], null);
  insert into public.eventos (tipo, conversacion_id, contacto_id, payload)
  values ('lead_saved', p_conversacion_id, p_contacto_id, jsonb_build_object('campos', v_campos));
  return next v_contacto;
exception when check_violation then
  raise exception using errcode = 'TA413', message = 'a lead field is longer than allowed';
end
$$;

create function public.marcar_opt_out(p_contacto_id uuid, p_opt_out boolean)
returns boolean
language plpgsql security definer set search_path = ''
as $$
begin
  update public.contactos c
  set opt_out = p_opt_out, opt_out_at = case when p_opt_out then now() end, updated_at = now()
  where c.contacto_id = p_contacto_id and c.opt_out is distinct from p_opt_out;
  if found then
    insert into public.eventos (tipo, contacto_id)
    values (case when p_opt_out then 'opted_out' else 'opted_in' end, p_contacto_id);
    return true;
  end if;
  if not exists (select 1 from public.contactos c where c.contacto_id = p_contacto_id) then
    perform public._talia_no_encontrado(format('contact %s', p_contacto_id));
  end if;
  return false;
end
$$;

-- Right to be forgotten: the person's messages, conversations, events and identity go;
-- one anonymous event says it happened.
create function public.olvidar_contacto(p_contacto_id uuid) returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  v_canal text;
begin
  select c.canal into v_canal from public.contactos c where c.contacto_id = p_contacto_id
  for update;
  if not found then
    return false;
  end if;
  delete from public.eventos e
  where e.contacto_id = p_contacto_id
     or e.conversacion_id in (
       select cv.conversacion_id from public.conversaciones cv
       where cv.contacto_id = p_contacto_id
     );
  -- Conversations and their messages go with the contact (on delete cascade).
  delete from public.contactos c where c.contacto_id = p_contacto_id;
  insert into public.eventos (tipo, payload)
  values ('contact_forgotten', jsonb_build_object('canal', v_canal));
  return true;
end
$$;

