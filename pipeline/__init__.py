"""CI/CD for ML models kept in GitHub: DVC stages, gates, container, Heroku deploys."""

__version__ = "0.1.0"
