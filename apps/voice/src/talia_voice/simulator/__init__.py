"""`talia-voice simulate`: a phone call as Twilio would place it, from a terminal."""
