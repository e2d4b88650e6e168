"""``hrw-emulator serve``: start the emulator and print one JSON line when ready."""

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from . import tls
from .server import Emulator
from .specs import SpecsNotFound


def _codes(text):
    codes = tuple(int(c) for c in text.split(",") if c.strip())
    if not codes or any(c < 400 or c > 599 for c in codes):
        raise argparse.ArgumentTypeError("want HTTP error codes like 429,500,503")
    return codes


def _rate(text):
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("fault rate is a fraction in [0, 1]")
    return value


def parser():
    top = argparse.ArgumentParser(prog="hrw-emulator", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve HTTPS until SIGTERM/SIGINT")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--advertise-host", help="address to put in URLs (default: --host, or 127.0.0.1 for 0.0.0.0)")
    serve.add_argument("--port", type=int, default=0, help="port (0 = pick a free one)")
    serve.add_argument("--state", help="JSON state file; state, CA and certificate survive restarts")
    serve.add_argument("--data-dir", help="where the CA and certificate live (default: beside --state, else a temp dir)")
    serve.add_argument("--page-size", type=int, default=100, help="items per list page (nextLink paging)")
    serve.add_argument("--latency-ms", type=float, default=0, help="delay added to each ARM request")
    serve.add_argument("--fault-rate", type=_rate, default=0.0, help="fraction of ARM requests that fail (before any change)")
    serve.add_argument("--fault-codes", type=_codes, default=(429, 500, 503), help="codes used by --fault-rate")
    serve.add_argument("--fault-seed", type=int, help="seed for the fault dice (reproducible runs)")
    serve.add_argument("--cut-off-rate", type=_rate, default=0.0,
                       help="fraction of ARM answers (< 400) sent half-way, then the connection closed (after the change)")
    serve.add_argument("--lose-answer-rate", type=_rate, default=0.0,
                       help="fraction of ARM writes applied and persisted, then answered by closing the connection")
    serve.add_argument("--throttle-writes", default="1200:100", help="BURST:PER_SECOND write bucket per subscription")
    serve.add_argument("--throttle-reads", default="12000:1000", help="BURST:PER_SECOND read bucket per subscription")
    serve.add_argument("--lro-seconds", type=float, default=2.0, help="time after which an extension LRO completes itself")
    serve.add_argument("--simulate-vm-workers", action=argparse.BooleanOptionalAction, default=True,
                       help="heartbeat for Azure VMs whose HybridWorker extension succeeded (default on)")
    serve.add_argument("--validate-responses", action="store_true",
                       default=os.environ.get("HRW_EMULATOR_VALIDATE_RESPONSES") == "1",
                       help="test mode: check every ARM response against the swagger (500 on mismatch)")
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    if args.data_dir:
        data_dir = Path(args.data_dir)
    elif args.state:
        data_dir = Path(args.state).resolve().parent
    else:
        import tempfile
        data_dir = Path(tempfile.mkdtemp(prefix="hrw-emulator-"))
    try:
        emu = Emulator(host=args.host, port=args.port, state_file=args.state, page_size=args.page_size,
                       latency_ms=args.latency_ms, fault_rate=args.fault_rate, fault_codes=args.fault_codes,
                       throttle_writes=args.throttle_writes, throttle_reads=args.throttle_reads,
                       lro_seconds=args.lro_seconds, simulate_vm_workers=args.simulate_vm_workers,
                       validate_responses=args.validate_responses, fault_seed=args.fault_seed,
                       advertise_host=args.advertise_host, cut_off_rate=args.cut_off_rate,
                       lose_answer_rate=args.lose_answer_rate)
    except (SpecsNotFound, ValueError) as exc:
        print(f"hrw-emulator: {exc}", file=sys.stderr)
        return 2
    hosts = [args.host, emu.advertise_host]
    ca, cert, key = tls.ensure(data_dir, hosts)
    emu.ca_bundle = ca
    emu.start(cert, key)
    emu.store.flush()  # the state file exists once the ready line is out
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    info = emu.ready_info(ca)
    info["pid"] = os.getpid()
    print(json.dumps(info), flush=True)
    stop.wait()
    emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
