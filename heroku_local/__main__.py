"""`python -m heroku_local`, the same as the `heroku-local` console script."""

import sys

from heroku_local.cli import main

sys.exit(main())
