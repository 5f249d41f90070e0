"""Web building blocks shared by every route: the error envelope and the request-id middleware."""
