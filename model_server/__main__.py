"""`python -m model_server` (console script `model-server`): what the production image runs.

Settings come from the environment (docs/serving.md); relative paths are anchored at the working directory
(/app in the image). A bad setting ends in one `error:` line and exit 3, as `pipeline serve` reports it; the
server itself logs JSON lines to stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path

from model_server import server
from model_server.errors import PipelineError
from model_server.settings import load_settings


def main() -> int:
    try:
        settings = load_settings().resolved(Path.cwd())
        server.run(settings)
    except PipelineError as exc:
        print(f"error: {str(exc).replace(chr(10), ' ')}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
