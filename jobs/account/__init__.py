"""What a user manages on the settings page — API keys, webhooks, preferences — and the quotas
staff set for them. Services here are what the settings pages (and, for quotas and
preferences, services.submit_batch and the new-batch form) call; each key or webhook change is
one function, so it can be audited in one place.
"""
