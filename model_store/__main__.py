"""python -m model_store {list,show,promote,rollback,verify,clean}: manage published versions."""

from __future__ import annotations

import argparse
import json
import os
import sys

from model_store.onnx_io import check_parity_sample, open_session
from model_store.store import DEFAULT_ROOT, ModelStore, StoreError

STORE_ENV = "MODEL_STORE_DIR"


def verify(store: ModelStore, version: str) -> str:
    """SHA-256 check, then the stored parity sample through onnxruntime."""
    stored = store.load(version)
    diff = check_parity_sample(open_session(stored.onnx_bytes), stored.metadata)
    return f"{version}: ok (sha256 {stored.metadata['model_sha256'][:12]}…, parity {diff:.2g})"


def clean(store: ModelStore, wait: float) -> int:
    """Remove leftover staging folders, naming each; 1 if any is left or none could be examined."""
    cleanup = store.remove_staging_leftovers(wait=max(0.0, wait))
    if cleanup.busy:
        print(
            f"error: a publish is still in progress in {store.root} after {wait:g} s: its "
            f"staging folder cannot be told from leftovers, so nothing was removed; try again",
            file=sys.stderr,
        )
        return 1
    for path in cleanup.removed:
        print(f"removed {path}")
    if not cleanup.removed and not cleanup.problems:
        print("no leftover staging folders")
    for problem in cleanup.problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if cleanup.problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_store", description=__doc__)
    parser.add_argument(
        "--store",
        default=os.environ.get(STORE_ENV, str(DEFAULT_ROOT)),
        help=f"store folder (default: ${STORE_ENV} or {DEFAULT_ROOT})",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="versions, oldest first; * marks the current one")
    show = commands.add_parser("show", help="a version's metadata as JSON")
    show.add_argument("version", nargs="?", help="default: the current version")
    promote = commands.add_parser("promote", help="make a version the current one")
    promote.add_argument("version")
    commands.add_parser("rollback", help="promote the version published before the current one")
    check = commands.add_parser("verify", help="check SHA-256 and parity of versions")
    check.add_argument("version", nargs="*", help="default: every version")
    check.add_argument(
        "--json",
        action="store_true",
        help='one JSON line per version on stdout: {"version", "ok", "message"}',
    )
    cleaner = commands.add_parser(
        "clean", help="remove staging folders left behind by publishes that were killed"
    )
    cleaner.add_argument(
        "--wait",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for publishes in progress to finish (default: 10)",
    )
    args = parser.parse_args(argv)

    store = ModelStore(args.store)
    try:
        if args.command == "list":
            try:
                current = store.current_version()
            except StoreError:
                current = None
            for version in store.versions():
                metrics = store.metadata(version).get("metrics", {})
                mark = "*" if version == current else " "
                print(
                    f"{mark} {version}  holdout R² {metrics.get('holdout_r2', float('nan')):.4f}"
                    f"  MAE {metrics.get('holdout_mae', float('nan')):.3f}"
                )
        elif args.command == "show":
            print(json.dumps(store.metadata(args.version or store.current_version()), indent=2))
        elif args.command == "promote":
            store.promote(args.version)
            print(f"current version: {args.version}")
        elif args.command == "rollback":
            version = store.previous_version()
            store.promote(version)
            print(f"rolled back; current version: {version}")
        elif args.command == "verify":
            failed = 0
            for version in args.version or store.versions():
                try:
                    message, ok = verify(store, version), True
                except StoreError as exc:
                    message, ok = str(exc), False
                    failed += 1
                if args.json:
                    print(json.dumps({"version": version, "ok": ok, "message": message}))
                else:
                    print(
                        message if ok else f"error: {message}",
                        file=sys.stdout if ok else sys.stderr,
                    )
            return 1 if failed else 0
        elif args.command == "clean":
            return clean(store, args.wait)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
