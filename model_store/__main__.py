"""python -m model_store {list,show,diff,promote,rollback,verify,clean}: manage versions."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from model_store.diff import compare, format_diff
from model_store.onnx_io import check_parity_sample, open_session
from model_store.store import DEFAULT_ROOT, ModelStore, StoreError

STORE_ENV = "MODEL_STORE_DIR"


def verify(store: ModelStore, version: str) -> str:
    """SHA-256 checks (the model, and the card if it has one), then the stored parity
    sample through onnxruntime."""
    stored = store.load(version)
    card = store.has_card(version)
    if card:
        store.card(version)  # IntegrityError if it was altered, as the server would refuse it
    diff = check_parity_sample(open_session(stored.onnx_bytes), stored.metadata)
    sha256 = stored.metadata["model_sha256"][:12]
    checked = ", card ok" if card else ", no card"
    return f"{version}: ok (sha256 {sha256}…, parity {diff:.2g}{checked})"


def ask_on_terminal() -> Callable[[str], bool] | None:
    """A yes/no question on the terminal, or None when stdin is not one (scripts, CI)."""
    if not sys.stdin.isatty():
        return None

    def ask(question: str) -> bool:
        try:
            return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
        except EOFError:
            return False

    return ask


def promote(store: ModelStore, version: str, confirm: Callable[[str], bool] | None) -> int:
    """Show what switching to `version` changes, then switch if confirmed.

    `confirm` None means no one can be asked: refuse, so a script never hangs on a prompt.
    """
    store.load(version)  # a missing or corrupt version is refused before anything else
    try:
        current = store.current_version()
    except StoreError:
        current = None
    if current == version:
        print(f"{version} is already the current version")
        return 0
    if current is not None:
        try:
            print(format_diff(compare(store, current, version)))
        except StoreError as exc:  # e.g. the current version is corrupt: promoting is the fix
            print(f"cannot compare with the current version {current}: {exc}")
    if confirm is None:
        print(
            "error: not promoted: stdin is not a terminal, so there is no one to confirm; "
            "pass --yes to promote without asking",
            file=sys.stderr,
        )
        return 1
    if not confirm(f"make {version} the current version?"):
        print("not promoted")
        return 1
    store.promote(version)
    print(f"current version: {version}")
    return 0


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
    differ = commands.add_parser(
        "diff", help="how many students' scores would move from version A to version B"
    )
    differ.add_argument("old", metavar="A")
    differ.add_argument("new", metavar="B")
    differ.add_argument(
        "--cohort",
        type=Path,
        help="CSV of students to score (default: both versions' parity samples)",
    )
    promoter = commands.add_parser(
        "promote", help="show the diff from the current version, then make VERSION current"
    )
    promoter.add_argument("version")
    promoter.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation (for scripts)"
    )
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
        elif args.command == "diff":
            print(format_diff(compare(store, args.old, args.new, args.cohort)))
        elif args.command == "promote":
            return promote(store, args.version, (lambda _: True) if args.yes else ask_on_terminal())
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
