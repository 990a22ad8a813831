"""A local, Heroku-compatible deploy target: the Platform API subset the deployer uses, a real
registry that takes only Docker v2 manifests, and releases run as containers on a real Docker engine
under Heroku's runtime rules ($PORT, random non-root uid, boot timeout -> R10, memory quota,
SIGTERM then SIGKILL, release phase, a router that answers 503 H10 when no dyno is up).

Modules:
  platform   apps, formation, releases, dynos, config vars, logs: the control plane (no HTTP)
  runtime    dynos as containers on the Docker engine (the only module that talks to Docker)
  api        the Platform API over HTTP (Starlette): Bearer auth, Accept variants, Ranges, errors
  registry   the docker-registry process and the front that enforces auth and Docker v2 manifests
  router     one per app on web_url: proxies to an up web dyno, or answers Heroku's 503
  faults     fault injection for tests: error statuses, 429 bursts, dropped connections
  server     wires it all together and runs the HTTP servers (`pipeline heroku-local`)
"""
