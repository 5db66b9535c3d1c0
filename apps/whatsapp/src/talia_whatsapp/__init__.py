"""TalIA WhatsApp channel: Twilio Messaging webhooks."""
