"""The functional core: validate user input, match messages, decide per recipient.

Nothing in this package does I/O or imports Flask, pymilter, SQLAlchemy or sockets.
"""
