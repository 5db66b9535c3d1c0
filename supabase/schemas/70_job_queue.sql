-- The job queue is procrastinate's own schema. It is not restated here: `talia db` builds it
-- from the installed procrastinate (the locked version) before these files, as the migration
-- 20251027000000_procrastinate_schema.sql installs it. TalIA adds row level security to its
-- tables; who may use them is in 90_rights.sql.

do $$
declare
  v_tabla regclass;
begin
  for v_tabla in
    select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relname like 'procrastinate%' and c.relkind = 'r'
  loop
    execute format('alter table %s enable row level security', v_tabla);
  end loop;
end
$$;
