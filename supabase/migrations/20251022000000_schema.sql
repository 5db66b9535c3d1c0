-- TalIA's operational schema: contacts, conversations, messages, events, assistant profiles.
-- RLS policies follow in 20251023_160500_rls_policies.sql; the write API after it.

create table public.contactos (
  contacto_id uuid primary key default gen_random_uuid(),
  canal text not null check (canal in ('whatsapp', 'webchat', 'voice')),
  -- WhatsApp: the stable sender id (phone or business-scoped user id); webchat: visitor id;
  -- voice: caller number.
  identidad text not null check (length(identidad) between 1 and 200),
  nombre text check (length(nombre) <= 200),
  email text check (length(email) <= 320),
  telefono text check (length(telefono) <= 40),
  interes text check (length(interes) <= 2000),
  notas text check (length(notas) <= 4000),
  opt_out boolean not null default false,
  opt_out_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (canal, identidad)
);

create table public.conversaciones (
  conversacion_id uuid primary key default gen_random_uuid(),
  canal text not null check (canal in ('whatsapp', 'webchat', 'voice')),
  contacto_id uuid not null references public.contactos (contacto_id) on delete cascade,
  asistente_clave text not null,
  estado text not null default 'open' check (estado in ('open', 'handoff', 'closed')),
  -- A call's CallSid: makes a repeated /incoming webhook land on the same conversation.
  proveedor_id text,
  openai_conversation_id text unique,
  started_at timestamptz not null default now(),
  last_message_at timestamptz,
  closed_at timestamptz,
  unique (canal, proveedor_id)
);

-- The open (or handed-off) conversation of a contact, newest first.
create index conversaciones_contacto_abierta_idx
  on public.conversaciones (contacto_id, started_at desc)
  where estado <> 'closed';

create table public.mensajes (
  mensaje_id bigint generated always as identity primary key,
  conversacion_id uuid not null references public.conversaciones (conversacion_id)
    on delete cascade,
  canal text not null check (canal in ('whatsapp', 'webchat', 'voice')),
  direccion text not null check (direccion in ('inbound', 'outbound')),
  rol text not null check (rol in ('user', 'assistant', 'staff', 'system')),
  tipo text not null default 'text'
    check (tipo in ('text', 'audio', 'image', 'media', 'location', 'transcript')),
  contenido text check (length(contenido) <= 16000),
  -- Media references (URLs, content types), never the bytes.
  media jsonb,
  -- MessageSid, CallSid:sequence, or the webchat client_message_id.
  proveedor_id text check (length(proveedor_id) <= 200),
  -- Outbound: recorded before sending, so a retried job never sends twice.
  idempotency_key text check (length(idempotency_key) <= 200),
  respuesta_a bigint references public.mensajes (mensaje_id) on delete set null,
  estado_entrega text check (
    estado_entrega in ('received', 'queued', 'sending', 'sent', 'failed', 'undelivered',
                       'delivered', 'read')
  ),
  error_codigo text check (length(error_codigo) <= 20),
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Provider ids are stored once: per channel, and per conversation for webchat clients.
create unique index mensajes_proveedor_canal_key
  on public.mensajes (canal, proveedor_id)
  where proveedor_id is not null and canal <> 'webchat';
create unique index mensajes_proveedor_webchat_key
  on public.mensajes (conversacion_id, proveedor_id)
  where proveedor_id is not null and canal = 'webchat';
create unique index mensajes_idempotency_key
  on public.mensajes (idempotency_key)
  where idempotency_key is not null;
-- A conversation's history in order.
create index mensajes_conversacion_idx on public.mensajes (conversacion_id, mensaje_id);
create index mensajes_respuesta_a_idx on public.mensajes (respuesta_a) where respuesta_a is not null;

create table public.eventos (
  evento_id bigint generated always as identity primary key,
  tipo text not null check (
    tipo in (
      'conversation_opened', 'conversation_closed', 'lead_saved', 'handoff_requested',
      'handoff_released', 'call_started', 'call_ended', 'call_transferred', 'model_failed',
      'delivery_failed', 'opted_out', 'opted_in', 'contact_forgotten', 'usage_recorded'
    )
  ),
  conversacion_id uuid references public.conversaciones (conversacion_id) on delete set null,
  contacto_id uuid references public.contactos (contacto_id) on delete set null,
  payload jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);

create index eventos_conversacion_idx on public.eventos (conversacion_id, evento_id);
create index eventos_contacto_idx on public.eventos (contacto_id);

create table public.asistentes (
  clave text primary key check (clave ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  -- The whole profile, validated by the application on import.
  perfil jsonb not null check (jsonb_typeof(perfil) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
