"""Host and port as they appear in URLs and messages (IPv6 hosts in brackets)."""

from __future__ import annotations

import ipaddress


def bracket(host: str) -> str:
    """``host`` as written in a URL authority: an IPv6 address gets brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def join(host: str, port: int | str) -> str:
    """``host:port``, with an IPv6 host bracketed (``[::1]:9229``)."""
    return f"{bracket(host)}:{port}"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
