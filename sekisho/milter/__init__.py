"""The milter adapter: pymilter callbacks → a MailTransaction → milter actions."""
