-- Assistants: the profiles (instructions, texts, models) the channels load at run time.

create table public.asistentes (
  clave text not null,
  perfil jsonb not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint asistentes_clave_check CHECK ((clave ~ '^[a-z0-9][a-z0-9_-]{0,62}$'::text)),
  constraint asistentes_perfil_check CHECK ((jsonb_typeof(perfil) = 'object'::text)),
  constraint asistentes_pkey PRIMARY KEY (clave)
);

alter table public.asistentes enable row level security;

create function public.guardar_asistente(p_clave text, p_perfil jsonb) returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  v_nuevo boolean;
begin
  insert into public.asistentes as a (clave, perfil) values (p_clave, p_perfil)
  on conflict (clave) do update set perfil = excluded.perfil, updated_at = now()
  returning (xmax = 0) into v_nuevo;
  return v_nuevo;
exception when check_violation then
  raise exception using errcode = 'TA400', message = 'invalid assistant key or profile';
end
$$;

