"""Local stand-ins for what AWS provides around the functions (Function URLs, ...)."""
