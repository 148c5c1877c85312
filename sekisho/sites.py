"""Where a login site (docs/features.md §1) is reached, outside any request: the worker's notices
link to the owner's own site, the web UI's login refusal names the right one."""

from __future__ import annotations

from sekisho.store.models import LoginSite


def site_url(site: LoginSite) -> str | None:
    """``https://<host><prefix>`` of a site that names its host; None when it names none."""
    if not site.host_name:
        return None
    return f"https://{site.host_name}{site.url_prefix.rstrip('/')}"
