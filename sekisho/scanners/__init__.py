"""Clients of the content scanners (spam engines, later ClamAV) behind small interfaces."""
