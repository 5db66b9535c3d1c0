"""TalIA Voice channel: Twilio Programmable Voice and Media Streams."""
