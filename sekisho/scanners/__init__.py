"""Clients of the content scanners (spam engines, ClamAV) behind small interfaces."""
