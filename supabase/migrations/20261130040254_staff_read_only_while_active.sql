-- Written by `talia db diff staff_read_only_while_active` from supabase/schemas/.

create table public.agentes (
  auth_user_id uuid not null,
  email text not null,
  nombre text not null,
  rol text default 'agent'::text not null,
  activo boolean default true not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint agentes_email_check CHECK (((email = lower(email)) AND (length(email) >= 3) AND (length(email) <= 320))),
  constraint agentes_nombre_check CHECK (((length(nombre) >= 1) AND (length(nombre) <= 200))),
  constraint agentes_rol_check CHECK ((rol = ANY (ARRAY['admin'::text, 'agent'::text]))),
  constraint agentes_pkey PRIMARY KEY (auth_user_id),
  constraint agentes_email_key UNIQUE (email)
);

alter table public.agentes enable row level security;

revoke all on table public.agentes from public, anon, authenticated, service_role;
grant all on table public.agentes to service_role;
grant select on table public.agentes to authenticated;

CREATE OR REPLACE FUNCTION public.guardar_agente(p_auth_user_id uuid, p_email text, p_nombre text, p_rol text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$
;

revoke all on function public.guardar_agente(uuid,text,text,text) from public, anon, authenticated, service_role;
grant execute on function public.guardar_agente(uuid,text,text,text) to service_role;

CREATE OR REPLACE FUNCTION public.desactivar_agente(p_email text)
 RETURNS boolean
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  with cambiado as (
    update public.agentes a set activo = false, updated_at = now()
    where a.email = lower(p_email)
    returning 1
  )
  select exists (select 1 from cambiado)
$function$
;

revoke all on function public.desactivar_agente(text) from public, anon, authenticated, service_role;
grant execute on function public.desactivar_agente(text) to service_role;

CREATE OR REPLACE FUNCTION public.es_agente_activo()
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select exists (
    select 1 from public.agentes a where a.auth_user_id = auth.uid() and a.activo
  )
$function$
;

revoke all on function public.es_agente_activo() from public, anon, authenticated, service_role;
grant execute on function public.es_agente_activo() to authenticated;
grant execute on function public.es_agente_activo() to service_role;

create policy agentes_own_row on public.agentes
  as permissive
  for select
  to authenticated
  using ((auth_user_id = ( SELECT auth.uid() AS uid)));

drop policy contactos_staff_read on public.contactos;
create policy contactos_staff_read on public.contactos
  as permissive
  for select
  to authenticated
  using (( SELECT es_agente_activo() AS es_agente_activo));

drop policy conversaciones_staff_read on public.conversaciones;
create policy conversaciones_staff_read on public.conversaciones
  as permissive
  for select
  to authenticated
  using (( SELECT es_agente_activo() AS es_agente_activo));

drop policy mensajes_staff_read on public.mensajes;
create policy mensajes_staff_read on public.mensajes
  as permissive
  for select
  to authenticated
  using (( SELECT es_agente_activo() AS es_agente_activo));

drop policy eventos_staff_read on public.eventos;
create policy eventos_staff_read on public.eventos
  as permissive
  for select
  to authenticated
  using (( SELECT es_agente_activo() AS es_agente_activo));

drop policy asistentes_staff_read on public.asistentes;
create policy asistentes_staff_read on public.asistentes
  as permissive
  for select
  to authenticated
  using (( SELECT es_agente_activo() AS es_agente_activo));
