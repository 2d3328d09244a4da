"""The `signroom` command line, one module per command group.

cli/main.py loads only the group a command belongs to, so `signroom
verify-evidence` on an auditor's machine loads nothing of the web app; only
`serve` and `demo-seed` (cli/serve.py) and the staff commands (cli/users.py, whose
accounts and keys live in web/auth) import web.
"""
