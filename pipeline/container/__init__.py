"""Image build and inspection over the Docker Engine API."""
