"""The loan application workflow: states, allowed transitions, who may do what.

May import `audit` and `store`; never `web`, `media`, `kyc` or `signing`.
"""
