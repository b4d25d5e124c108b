"""HTTP routes, one module per domain: thin, the domain packages hold the logic."""
