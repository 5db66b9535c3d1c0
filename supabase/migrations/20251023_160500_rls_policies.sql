-- Row level security on every table. `anon` sees and writes nothing; `authenticated`
-- (staff dashboards) reads; writes go through the server's functions; `service_role`
-- bypasses RLS as on Supabase.

alter table public.contactos enable row level security;
alter table public.conversaciones enable row level security;
alter table public.mensajes enable row level security;
alter table public.eventos enable row level security;
alter table public.asistentes enable row level security;

-- Table privileges as Supabase grants them may include writes; without a write policy,
-- RLS refuses every row. Revoking as well makes the intent visible and fails fast.
revoke all on public.contactos, public.conversaciones, public.mensajes, public.eventos,
  public.asistentes from anon;
revoke insert, update, delete, truncate on public.contactos, public.conversaciones,
  public.mensajes, public.eventos, public.asistentes from authenticated;
grant select on public.contactos, public.conversaciones, public.mensajes, public.eventos,
  public.asistentes to authenticated;
grant all on public.contactos, public.conversaciones, public.mensajes, public.eventos,
  public.asistentes to service_role;

create policy contactos_staff_read on public.contactos
  for select to authenticated using (true);
create policy conversaciones_staff_read on public.conversaciones
  for select to authenticated using (true);
create policy mensajes_staff_read on public.mensajes
  for select to authenticated using (true);
create policy eventos_staff_read on public.eventos
  for select to authenticated using (true);
create policy asistentes_staff_read on public.asistentes
  for select to authenticated using (true);
