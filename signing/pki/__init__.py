"""The service's certificate hierarchy, event certificates, revocation and time-stamping."""
