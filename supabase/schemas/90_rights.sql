-- Who may do what, for every object the files before this one create.
--
-- The server connects as service_role (or the database owner) and alone reads and writes
-- TalIA's tables, through the functions of each aggregate. The API roles get nothing, except
-- that a signed-in user (`authenticated`) who is active staff (an `agentes` row) may read
-- the business tables; any other signed-in user reads nothing. The `private` schema is its
-- owner's only: its rows are reached through security definer functions.

revoke all on all tables in schema public, private from public, anon, authenticated, service_role;
revoke all on all sequences in schema public, private from public, anon, authenticated, service_role;
revoke all on all functions in schema public, private from public, anon, authenticated, service_role;

grant all on all tables in schema public to service_role;
grant all on all sequences in schema public to service_role;
grant execute on all functions in schema public to service_role;

-- A signed-in user sees their own staff row, which is how es_agente_activo() finds it.
grant select on public.agentes to authenticated;
grant execute on function public.es_agente_activo() to authenticated;
create policy agentes_own_row on public.agentes
  for select to authenticated using (auth_user_id = (select auth.uid()));

-- Active staff read the business tables. `(select ...)`: asked once per query, not per row.
grant select
  on public.contactos, public.conversaciones, public.mensajes, public.eventos, public.asistentes
  to authenticated;
create policy contactos_staff_read on public.contactos
  for select to authenticated using ((select public.es_agente_activo()));
create policy conversaciones_staff_read on public.conversaciones
  for select to authenticated using ((select public.es_agente_activo()));
create policy mensajes_staff_read on public.mensajes
  for select to authenticated using ((select public.es_agente_activo()));
create policy eventos_staff_read on public.eventos
  for select to authenticated using ((select public.es_agente_activo()));
create policy asistentes_staff_read on public.asistentes
  for select to authenticated using ((select public.es_agente_activo()));
