"""The app registry: a real CNCF distribution registry process (`process`), the front clients see as
registry.heroku.com (`front`), and the index of which images each app holds (`index`)."""
