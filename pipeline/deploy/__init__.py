"""Deploy a verified image to Heroku (or the local stand-in) and prove it healthy, or roll back.

Modules, in the order a deploy uses them:
  settings  target, endpoints and the API key, read from the environment (the key never in a repr)
  http      the Platform API client: Bearer auth, retries with jitter, RateLimit-Remaining, one-line errors
  registry  push through the Docker engine, read manifests, copy an image between apps (promotion)
  smoke     /ready and a real /predict against web_url, with a sample built from the data contract
  record    the deploy record, as JSON and Markdown for the job summary
  deployer  the flow: push -> release -> release phase -> dynos up -> smoke -> done, or roll back
"""
