"""Subcommand groups of the customer-health CLI; each module has register(app)."""
