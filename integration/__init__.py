"""What the service sends out: webhook events read off the audit log, their outbox
and dispatcher, and the one-time-code notifiers; all signed one way
(integration/signature.py).

May import media's action names, signing, loans, audit and store; never compliance,
interview or web.
"""
