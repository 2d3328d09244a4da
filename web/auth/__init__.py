"""Staff accounts, passwords, sessions, login throttling and route guards."""
