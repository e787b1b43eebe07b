"""Instructions per webhook acknowledgement in-process, against the bare Flask endpoint, under
callgrind: the figure that does not move with the machine's load (benchmarks/README.md,
"Twelfth session: the acknowledgement").

Not a test. Run it under valgrind; each phase is framed by a call of `os.getppid` (a C function
nothing else here calls), at which callgrind dumps its counters:

    valgrind --tool=callgrind --dump-before=os_getppid --callgrind-out-file=/tmp/ack.%p \\
        .venv/bin/python benchmarks/ack_instructions.py 200
    .venv/bin/python benchmarks/ack_instructions.py --read /tmp/ack.<pid>

Phases (each request a distinct signed `ticket.comment_added` body of webhook_throughput.py's
generator, the WSGI environs built before the phase, collections frozen before it): the
acknowledgement (serve's app, background threads not started: SQLite, its committing thread
included) and the bare endpoint, both through `app.wsgi_app` in one thread. Without valgrind it
runs the same phases and checks every answer (a smoke run).
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webhook_throughput as wt


def build_environs(bodies: list[bytes]) -> list[dict]:
    from werkzeug.test import EnvironBuilder

    stamp = wt.datetime.now(wt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    environs = []
    for body in bodies:
        headers = {
            wt.TIMESTAMP_HEADER: stamp,
            wt.SIGNATURE_HEADER: wt.build_signature(stamp, body),
        }
        builder = EnvironBuilder(
            path=wt.WEBHOOK_PATH,
            method="POST",
            data=body,
            headers=headers,
            content_type="application/json",
        )
        environ = builder.get_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        environs.append(environ)
    return environs


def run_phase(app, environs: list[dict]) -> list[tuple[str, bytes]]:
    answers = []
    status_of: list[str] = []

    def start_response(status, headers, exc_info=None):
        status_of.append(status)

    for environ in environs:
        chunks = app.wsgi_app(environ, start_response)
        answers.append((status_of[-1], b"".join(chunks)))
        if hasattr(chunks, "close"):
            chunks.close()
    return answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("requests", type=int, nargs="?", default=200, help="per phase")
    parser.add_argument("--read", metavar="OUT_PREFIX", help="sum the dumps of a run")
    args = parser.parse_args(argv)
    if args.read:
        return read_dumps(args.read, args.requests)

    work = Path(tempfile.mkdtemp(prefix="ack-instructions-"))
    os.environ.update(
        ZENDESK_WEBHOOK_SECRET=wt.SECRET,
        ZENDESK_SIGNATURE_TOLERANCE_SECONDS="86400",
        DATABASE_URL=f"sqlite:///{work / 'deskbridge.db'}",
        DESKBRIDGE_LOG_LEVEL="WARNING",
    )
    os.chdir(wt.ROOT)
    from deskbridge.app import create_app, create_runtime
    from deskbridge.config.settings import Settings
    from deskbridge.store.db import migrate_store

    runtime = create_runtime(Settings())
    migrate_store(runtime.engine)
    app = create_app(runtime=runtime)  # background threads not started: the ack alone
    bare = wt.create_bare_app()

    n = args.requests
    bodies = wt.make_events(3 * n)
    warm = build_environs(bodies[:n])
    ack = build_environs(bodies[n : 2 * n])
    plain = build_environs(bodies[2 * n :])
    for environ in plain:
        environ["PATH_INFO"] = wt.WEBHOOK_PATH
    run_phase(app, warm)
    run_phase(bare, build_environs(bodies[:20]))

    gc.collect()
    gc.freeze()
    os.getppid()  # dump: set-up
    answers = run_phase(app, ack)
    os.getppid()  # dump: the acknowledgement
    gc.collect()
    gc.freeze()
    os.getppid()  # dump: between
    bare_answers = run_phase(bare, plain)
    os.getppid()  # dump: bare

    accepted = sum(a == ("200 OK", b'{"events":1,"status":"accepted"}\n') for a in answers)
    print(f"acknowledged {accepted} of {n}; bare {sum(a[0] == '200 OK' for a in bare_answers)}")
    runtime.engine.dispose()
    return 0 if accepted == n else 1


def read_dumps(prefix: str, n: int) -> int:
    """The totals of dumps 2 (acknowledgement) and 4 (bare), per request."""
    totals = {}
    for number in (2, 4):
        text = Path(f"{prefix}.{number}").read_text()
        totals[number] = int(re.search(r"^(?:summary|totals): (\d+)", text, re.M).group(1))
    ack, bare = totals[2] / n, totals[4] / n
    print(f"acknowledgement {ack:,.0f} instructions, bare {bare:,.0f} ({bare / ack:.3f} of it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
