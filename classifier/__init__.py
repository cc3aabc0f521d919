"""Request classification: which lane should serve a request."""
