-- Who may do what, for every object the files before this one create.
--
-- The server connects as service_role (or the database owner) and alone reads and writes
-- TalIA's tables, through the functions of each aggregate. The API roles get nothing, except
-- that a signed-in user (`authenticated`) may read the business tables, every row of them.
-- The `private` schema is its owner's only: its rows are reached through security definer
-- functions.

revoke all on all tables in schema public, private from public, anon, authenticated, service_role;
revoke all on all sequences in schema public, private from public, anon, authenticated, service_role;
revoke all on all functions in schema public, private from public, anon, authenticated, service_role;

grant all on all tables in schema public to service_role;
grant all on all sequences in schema public to service_role;
grant execute on all functions in schema public to service_role;

grant select
  on public.contactos, public.conversaciones, public.mensajes, public.eventos, public.asistentes
  to authenticated;
create policy contactos_staff_read on public.contactos for select to authenticated using (true);
create policy conversaciones_staff_read on public.conversaciones
  for select to authenticated using (true);
create policy mensajes_staff_read on public.mensajes for select to authenticated using (true);
create policy eventos_staff_read on public.eventos for select to authenticated using (true);
create policy asistentes_staff_read on public.asistentes for select to authenticated using (true);
