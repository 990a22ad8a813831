"""`pipeline` command line: builds the parser from the command modules and maps errors to exit codes.

Exit codes: 0 ok, 1 a gate said no, 2 usage, 3 bad config or data, 4 a fault outside us.
Tracebacks only with -v. Inside GitHub Actions the same messages also become annotations.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence

from pipeline import __version__
from pipeline.ci import github
from pipeline.commands import ci, deploy, image, init, scan, serve, stages, track
from pipeline.commands.base import Context, Register
from pipeline.errors import GateFailed, PipelineError
from pipeline.paths import Paths

# Each module adds its own sub-commands; a new capability is one import and one entry here.
COMMANDS: list[Register] = [
    init.register, stages.register, serve.register, image.register, scan.register, deploy.register,
    ci.register, track.register,
]

_LOCATED = re.compile(r"^(?P<file>[\w./-]+\.[\w]+)(?::(?P<line>\d+))?:\s")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pipeline", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("-C", "--root", default=".", help="project root (default: current directory)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for register in COMMANDS:
        register(sub)
    return parser


def _annotate(message: str, level: str = "error") -> None:
    if not github.in_actions():
        return
    match = _LOCATED.match(message)
    file = match.group("file") if match else None
    line = int(match.group("line")) if match and match.group("line") else None
    print(github.annotation(level, message, file=file, line=line), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Third-party libraries (GX above all) log chatter at INFO; keep theirs at WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("pipeline").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    ctx = Context(args=args, paths=Paths.at(args.root))
    try:
        outcome = args.handler(ctx)
    except PipelineError as exc:
        if args.verbose:
            logging.exception("failed")
        message = str(exc).replace("\n", " ")
        print(f"error: {message}", file=sys.stderr)
        _annotate(message)
        if isinstance(exc, GateFailed) and exc.markdown:
            github.append_summary(exc.markdown)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.verbose:
            raise
        print(f"error: internal error {type(exc).__name__}: {exc} (rerun with -v for the traceback)",
              file=sys.stderr)
        return 4
    for line in outcome.lines:
        print(line)
    if outcome.summary_md:
        github.append_summary(outcome.summary_md)
    for key, value in outcome.outputs.items():
        github.set_output(key, value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
