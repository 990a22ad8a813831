"""The Platform API's routes, one module per resource; each has `routes(ctx) -> list[Route]`."""
