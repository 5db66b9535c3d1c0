"""`talia simulate`: write to the WhatsApp app, or phone the voice app, as Twilio would."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from talia_testkit.simulators.audio import AudioError, speech_from_text, speech_from_wav
from talia_testkit.simulators.call import Caller, CallReport, place_call
from talia_testkit.simulators.twilio_side import SimulationError, simulator_settings
from talia_testkit.simulators.whatsapp import load_simulation, simulate

DEV_ENV = Path(".talia/dev.env")


def add_simulate(commands: Any) -> None:
    """`talia simulate message` and `talia simulate call`."""
    kinds = commands.add_parser(
        "simulate", help="write or call as a customer would, through Twilio's side"
    ).add_subparsers(dest="kind", required=True)
    message = kinds.add_parser("message", help="send a signed WhatsApp message")
    message.add_argument("text")
    message.add_argument("--to", default="http://localhost:8001", help="the WhatsApp app's URL")
    message.add_argument("--from", dest="customer", default="whatsapp:+34600000000")
    message.add_argument("--dev-env", type=Path, default=DEV_ENV)
    call = kinds.add_parser("call", help="place a signed phone call")
    call.add_argument("text", nargs="?", default="hola", help="what the caller says (espeak-ng)")
    call.add_argument("--wav", type=Path, help="say this recording instead of TEXT")
    call.add_argument("--voice", default="es", help="espeak-ng voice: es, en, ...")
    call.add_argument("--to", default="ws://localhost:8003", help="the voice app's address")
    call.add_argument("--from", dest="caller", default="+34600000000")
    call.add_argument("--listen", type=float, default=15.0, help="seconds to wait for a reply")
    call.add_argument("--dev-env", type=Path, default=DEV_ENV)


def run_simulation(args: argparse.Namespace) -> None:
    """Run `talia simulate KIND ...`; a failure is one line."""
    try:
        if args.kind == "message":
            _message(args)
        else:
            _call(args)
    except (AudioError, SimulationError) as exc:
        sys.exit(f"talia simulate {args.kind}: {exc}")


def _message(args: argparse.Namespace) -> None:
    simulation = load_simulation(app_url=args.to, customer=args.customer, dev_env=args.dev_env)
    replies = asyncio.run(simulate(simulation, args.text))
    sys.stdout.write(f"> {args.text}\n")
    for reply in replies:
        sys.stdout.write(f"< {reply}\n")


def _call(args: argparse.Namespace) -> None:
    caller = _caller(args.to, args.caller, args.dev_env)
    if args.wav is not None:
        speech, said = speech_from_wav(args.wav), str(args.wav)
    else:
        speech, said = speech_from_text(args.text, args.voice), f'"{args.text}"'
    report = asyncio.run(place_call(caller, speech, listen_seconds=args.listen))
    _print_report(report, said)


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
