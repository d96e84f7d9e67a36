"""HTTP routes of the workflow service: parse, authorize, call the domain, shape the response."""
