-- Staff: the people of the business who sign in (Supabase Auth users) to take over
-- conversations, and their role. A signed-in user reads the business's data only while an
-- active row here names them (90_rights.sql).

create table public.agentes (
  auth_user_id uuid not null,
  email text not null,
  nombre text not null,
  rol text default 'agent'::text not null,
  activo boolean default true not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint agentes_pkey PRIMARY KEY (auth_user_id),
  constraint agentes_email_key UNIQUE (email),
  constraint agentes_email_check CHECK (((email = lower(email)) AND (length(email) >= 3) AND (length(email) <= 320))),
  constraint agentes_nombre_check CHECK (((length(nombre) >= 1) AND (length(nombre) <= 200))),
  constraint agentes_rol_check CHECK ((rol = ANY (ARRAY['admin'::text, 'agent'::text])))
);

alter table public.agentes enable row level security;

-- Adds a staff member, or updates one (by their auth user id) and makes them active again;
-- true when they are new.
create function public.guardar_agente(
  p_auth_user_id uuid, p_email text, p_nombre text, p_rol text
) returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  v_nuevo boolean;
begin
  insert into public.agentes as a (auth_user_id, email, nombre, rol)
  values (p_auth_user_id, lower(p_email), p_nombre, p_rol)
  on conflict (auth_user_id) do update
    set email = excluded.email, nombre = excluded.nombre, rol = excluded.rol, activo = true,
        updated_at = now()
  returning (xmax = 0) into v_nuevo;
  return v_nuevo;
exception
  when check_violation then
    raise exception using errcode = 'TA400',
      message = 'a staff member needs an email, a name of 1 to 200 characters and a role'
        || ' of admin or agent';
  when unique_violation then
    raise exception using errcode = 'TA409',
      message = 'another staff member has that email';
end
$$;

-- Disables a staff member by email (they keep their history); false when there is none.
create function public.desactivar_agente(p_email text) returns boolean
language sql security definer set search_path = ''
as $$
  with cambiado as (
    update public.agentes a set activo = false, updated_at = now()
    where a.email = lower(p_email)
    returning 1
  )
  select exists (select 1 from cambiado)
$$;

-- Whether the signed-in user (`auth.uid()`) is active staff: what the staff read policies
-- ask. Security invoker: it sees the caller's own row through agentes_own_row.
create function public.es_agente_activo() returns boolean
language sql stable set search_path = ''
as $$
  select exists (
    select 1 from public.agentes a where a.auth_user_id = auth.uid() and a.activo
  )
$$;
