"""CI/CD for ML models kept in GitHub: DVC stages, gates, container, Heroku deploys."""

# One version for the distribution: the serving core owns it because the image holds the core only.
from model_server import __version__

__all__ = ["__version__"]
