"""heroku-local: a local, Heroku-compatible deploy target. The Platform API subset the deployer and the
official Heroku CLI use, a real registry that takes only Docker v2 manifests, and releases run as
containers on a real Docker engine under Heroku's runtime rules ($PORT, random non-root uid, boot
timeout -> R10, memory quota, SIGTERM then SIGKILL, release phase, a router that answers 503 H10 when no
dyno is up).

It is its own package (console script `heroku-local`, extra `heroku-local`) and imports nothing from
`pipeline`: it stands in for Heroku, which knows nothing of the tool that deploys to it.

  state/      apps, releases, formation, config vars: the control plane's records and rules (no I/O)
  dynos       dyno lifecycle: boot, $PORT/R10 watch, stop (SIGTERM, SIGKILL), crash states
  delivery    each app's releases, restarts and scale changes, in order, on its own worker thread
  logs        each app's log lines and log sessions
  platform    the pieces above, wired together once
  runtime     dynos as containers on the Docker engine (the only module that talks to Docker)
  api/        the Platform API over HTTP: gatekeeper (auth, Accept, rate limit), routes/ per resource
  registry/   the registry process, the front that enforces auth and Docker v2 manifests, the image index
  router      one per app on web_url: proxies to an up web dyno, or answers Heroku's 503
  faults      fault injection for tests: error statuses, 429 bursts, dropped connections
  servers     the uvicorn servers on one background event loop
  server      wires it all together (`HerokuLocal`); cli is `heroku-local`; endpoint the file it announces
"""
