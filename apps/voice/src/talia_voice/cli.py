"""`talia-voice simulate`: phone the voice app as Twilio would and report what was heard."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from urllib.parse import urlsplit

from talia_core.simulation import SimulationError, simulator_settings
from talia_voice.simulator.audio import AudioError, speech_from_text, speech_from_wav
from talia_voice.simulator.call import Caller, CallReport, place_call

NEEDED = ("TALIA_PUBLIC_BASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")


def _caller(to: str, number: str, dev_env: Path) -> Caller:
    """Who calls whom, from `--to` and the environment (or a running `talia dev`)."""
    target = urlsplit(to)
    schemes = {"ws": "http", "wss": "https", "http": "http", "https": "https"}
    if target.scheme not in schemes or not target.netloc:
        raise SimulationError(f"--to must look like ws://localhost:8003, not {to!r}")
    env = simulator_settings(dev_env, NEEDED)
    http = schemes[target.scheme]
    return Caller(
        app_url=f"{http}://{target.netloc}",
        stream_base=f"{'wss' if http == 'https' else 'ws'}://{target.netloc}",
        public_base_url=env["TALIA_PUBLIC_BASE_URL"].rstrip("/"),
        account_sid=env["TWILIO_ACCOUNT_SID"],
        auth_token=env["TWILIO_AUTH_TOKEN"],
        number=number,
        database_url=env.get("DATABASE_URL"),
    )


def _print_report(report: CallReport, said: str) -> None:
    out = sys.stdout.write
    out(f"call {report.call_sid} connected\n")
    if report.greeting:
        out(f"twilio says: {report.greeting}\n")
    out(f"> {said} ({report.speech_seconds:.2f} s of speech in 20 ms frames)\n")
    interrupted = f", {report.interruptions} interruption(s)" if report.interruptions else ""
    out(f"< {report.reply_seconds:.2f} s of reply audio{interrupted}\n")
    if report.first_reply_ms is None:
        out("no reply audio after the end of speech\n")
    else:
        out(f"first reply audio after end of speech: {report.first_reply_ms:.0f} ms\n")
    if report.transcript is None:
        out("transcript: set DATABASE_URL to read it from the database\n")
    else:
        out("transcript:\n")
        for role, text in report.transcript:
            out(f"  {role}: {text}\n")
    out(f"hung up by the {report.hung_up_by}\n")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `talia-voice` command."""
    parser = argparse.ArgumentParser(prog="talia-voice")
    commands = parser.add_subparsers(dest="command", required=True)
    sim = commands.add_parser("simulate", help="place a signed call as Twilio would")
    sim.add_argument("text", nargs="?", default="hola", help="what the caller says (espeak-ng)")
    sim.add_argument("--wav", type=Path, help="say this recording instead of TEXT")
    sim.add_argument("--voice", default="es", help="espeak-ng voice: es, en, ...")
    sim.add_argument("--to", default="ws://localhost:8003", help="the voice app's address")
    sim.add_argument("--from", dest="caller", default="+34600000000")
    sim.add_argument("--listen", type=float, default=15.0, help="seconds to wait for a reply")
    sim.add_argument("--dev-env", type=Path, default=Path(".talia/dev.env"))
    args = parser.parse_args(argv)

    try:
        caller = _caller(args.to, args.caller, args.dev_env)
        if args.wav is not None:
            speech, said = speech_from_wav(args.wav), str(args.wav)
        else:
            speech, said = speech_from_text(args.text, args.voice), f'"{args.text}"'
        report = asyncio.run(place_call(caller, speech, listen_seconds=args.listen))
    except (AudioError, SimulationError) as exc:
        sys.exit(f"talia-voice simulate: {exc}")
    _print_report(report, said)
