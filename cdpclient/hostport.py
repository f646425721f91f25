"""Host and port as they appear in URLs and messages (IPv6 hosts in brackets)."""

from __future__ import annotations


def bracket(host: str) -> str:
    """``host`` as written in a URL authority: an IPv6 address gets brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def join(host: str, port: int | str) -> str:
    """``host:port``, with an IPv6 host bracketed (``[::1]:9229``)."""
    return f"{bracket(host)}:{port}"
