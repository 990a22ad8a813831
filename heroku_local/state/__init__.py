"""The control plane's state: apps, their releases, formation and config vars, with Heroku's rules for
changing them. No HTTP and no Docker here: the API routes call these, and changes that need dynos to
start or stop are handed to `heroku_local.delivery`.
"""
