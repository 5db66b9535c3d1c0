"""Twilio's side of TalIA, simulated: a customer's WhatsApp message and a phone call.

Used by `talia simulate` against a running `talia dev`, and by the tests. Never shipped.
"""
