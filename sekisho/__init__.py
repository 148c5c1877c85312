"""sekisho (関所): a self-service, per-recipient mail filter for ISPs."""

__version__ = "0.1.0"
