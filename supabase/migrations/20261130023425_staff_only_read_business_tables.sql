-- Written by `talia db diff staff_only_read_business_tables` from supabase/schemas/.

-- Signed-in staff keep reading the business tables (under their policies) and lose the
-- REFERENCES and TRIGGER privileges Supabase had granted them, which nothing of theirs uses.
revoke all on table public.contactos from public, anon, authenticated, service_role;
grant all on table public.contactos to service_role;
grant select on table public.contactos to authenticated;

revoke all on table public.conversaciones from public, anon, authenticated, service_role;
grant all on table public.conversaciones to service_role;
grant select on table public.conversaciones to authenticated;

revoke all on table public.mensajes from public, anon, authenticated, service_role;
grant all on table public.mensajes to service_role;
grant select on table public.mensajes to authenticated;

revoke all on table public.eventos from public, anon, authenticated, service_role;
grant all on table public.eventos to service_role;
grant select on table public.eventos to authenticated;

revoke all on table public.asistentes from public, anon, authenticated, service_role;
grant all on table public.asistentes to service_role;
grant select on table public.asistentes to authenticated;
