"""The errors users see: each carries a message meant for them."""


class RagError(Exception):
    """Base of every error whose message is for the user (a bad question, a missing or busy index...)."""
