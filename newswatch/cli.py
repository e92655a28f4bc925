"""Command line: argument parsing only; the work happens in the core modules."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from newswatch import __version__
from newswatch.errors import UsageError, UserError

if TYPE_CHECKING:
    from newswatch.config import Settings
from newswatch.locations import env_path

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    # --db may stand before or after the subcommand; SUPPRESS keeps a subcommand's
    # parser from resetting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", type=_path, default=argparse.SUPPRESS,
                        help="TinyDB store file (env NEWSWATCH_DB)")
    common.add_argument("--config", type=_path, default=argparse.SUPPRESS, metavar="PATH",
                        help="config file (env NEWSWATCH_CONFIG; default in your config dir)")
    common.add_argument("--watchlists", type=_path, action="append", default=argparse.SUPPRESS,
                        metavar="PATH", help="watchlist file or directory, may repeat "
                        "(env NEWSWATCH_WATCHLISTS; default: the bundled watchlists)")
    parser = argparse.ArgumentParser(
        prog="newswatch", parents=[common],
        description="A terminal news-watch desk: feeds and files in, alerts and clusters out.")
    parser.add_argument("--version", action="version", version=f"newswatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("tui", parents=[common], help="the terminal desk (the default command)")

    run = sub.add_parser("run", parents=[common], help="poll the configured sources; "
                         "with --headless print alerts as JSON lines")
    run.add_argument("--headless", action="store_true", help="no screen: alerts to stdout")
    run.add_argument("--once", action="store_true", help="one pass over every source, then exit")
    run.add_argument("--interval", type=_duration, dest="interval_s", metavar="D",
                     help="default poll interval, e.g. 90s, 10m, 1h (overrides the config)")
    run.add_argument("--every-story", action="store_true",
                     help="emit each story's alert, not one per cluster and rule")
    run.add_argument("--format", choices=["json", "text"], default="json",
                     help="stdout format (default json)")
    run.add_argument("--exec", dest="exec_cmd", metavar="CMD",
                     help="run CMD per alert: JSON on stdin, NEWSWATCH_* variables")
    run.add_argument("--webhook", metavar="URL", help="POST each alert's JSON to URL")
    run.add_argument("--webhook-secret", metavar="S", help="HMAC-SHA256 key for the "
                     "X-Newswatch-Signature header (env NEWSWATCH_WEBHOOK_SECRET)")

    ingest = sub.add_parser("ingest", parents=[common],
                            help="ingest files, directories or feed URLs once")
    ingest.add_argument("sources", nargs="*", metavar="SOURCE",
                        help="a file, a directory or an http(s) feed URL")
    ingest.add_argument("--feeds-from", type=_path, action="append", default=[], metavar="FILE",
                        help="also every feed listed in an OPML or newsboat urls file")

    stories = sub.add_parser("stories", parents=[common], help="list stored stories")
    stories.add_argument("--json", action="store_true", help="one JSON object per line")
    stories.add_argument("--search", metavar="Q", help="only stories whose title or text "
                                                       "contains Q (case-insensitive)")
    stories.add_argument("--limit", type=_non_negative, default=50, metavar="N",
                         help="at most N stories, newest first (0: all; default 50)")

    alerts = sub.add_parser("alerts", parents=[common], help="list alerts, newest first")
    alerts.add_argument("--json", action="store_true", help="one JSON object per line")
    alerts.add_argument("--since", metavar="T", help="only alerts created since T: an ISO "
                        "8601 time or an age like 90m, 2h, 3d")
    alerts.add_argument("--watchlist", metavar="W", help="only this watchlist")
    alerts.add_argument("--rule", metavar="R", help="only this rule id")
    alerts.add_argument("--limit", type=_non_negative, default=50, metavar="N",
                        help="at most N alerts (0: all; default 50)")

    clusters = sub.add_parser("clusters", parents=[common],
                              help="list story clusters, most recently updated first")
    clusters.add_argument("--json", action="store_true", help="one JSON object per line")
    clusters.add_argument("--limit", type=_non_negative, default=50, metavar="N",
                          help="at most N clusters (0: all; default 50)")

    check = sub.add_parser("check", parents=[common],
                           help="validate watchlists; exit 1 with file:line:col errors")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="watchlist files or directories (default: --watchlists)")

    sub.add_parser("rematch", parents=[common],
                   help="re-apply the watchlists to every stored story now")
    sub.add_parser("compact", parents=[common],
                   help="reclaim the disk space of replaced story texts")
    return parser


def _duration(value: str) -> float:
    from newswatch.config import parse_duration

    try:
        return parse_duration(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {value!r} (try 90s, 10m, 1h)"
                                         ) from None


def _path(value: str) -> Path:
    if not value.strip():  # Path("") is ".": it would quietly mean the current directory
        raise argparse.ArgumentTypeError("an empty path")
    return Path(value)


def _non_negative(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def watchlist_args(args: argparse.Namespace) -> list[Path]:
    given = getattr(args, "watchlists", None)
    if given:
        return list(given)
    env = env_path("NEWSWATCH_WATCHLISTS")
    return [env] if env else []


def settings_from(args: argparse.Namespace) -> Settings:
    """The config file with the command line's (and environment's) overrides applied."""
    from newswatch.config import load_settings

    return load_settings(getattr(args, "config", None),
                         db=getattr(args, "db", None) or env_path("NEWSWATCH_DB"),
                         watchlists=watchlist_args(args) or None,
                         interval_s=getattr(args, "interval_s", None))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args.command = "tui"
    # A one-shot command makes almost no cyclic garbage (about 1,000 objects for 10,000
    # stories ingested, most of them from imports), yet the cyclic collector would walk its
    # growing heap again and again: 4% of a cold feed ingest. The desk and the polling loop
    # run for days, so they keep it.
    pause_gc = gc.isenabled() and not (
        args.command == "tui" or (args.command == "run" and not args.once))
    if pause_gc:
        gc.disable()
    try:
        return _dispatch(args)
    finally:
        if pause_gc:  # as it was, for callers in the same process (tests)
            gc.enable()


def _dispatch(args: argparse.Namespace) -> int:
    from newswatch import commands
    from newswatch.store import StoreError

    handler = getattr(commands, f"cmd_{args.command}")
    try:  # every command reads the config: its db and watchlists, unless overridden
        return handler(args, settings_from(args))
    except (UserError, StoreError) as exc:
        print(f"newswatch: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_INPUT
    except KeyboardInterrupt:
        print("newswatch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()  # e.g. `newswatch stories | head`: not an error
        return EXIT_OK
    except OSError as exc:  # the machine, not the input: stdout on a full disk, say
        print(f"newswatch: {exc.filename or 'output'}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INPUT


if __name__ == "__main__":
    sys.exit(main())
