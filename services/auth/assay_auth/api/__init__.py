"""HTTP routes of the auth service: parse, authorize, call the domain, shape the response."""
