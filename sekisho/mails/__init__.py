"""The mails sekisho writes to people, one module per kind: the quarantine notice, the
virus report (and the text that replaces a removed part), the auto-reply.

The worker sends them and the web UI's release page reads their links, so nothing here
imports Flask: the templates are rendered with Jinja and the web UI's catalogs directly.
"""
