"""A recorder for a whole node: processes grouped into jobs, one log per job,
live counters over a unix socket and Prometheus."""
