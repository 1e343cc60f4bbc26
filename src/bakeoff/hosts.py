"""Host names and addresses: is a host this machine, or every interface? Shared by `bakeoff serve`
(which refuses to expose itself without an API key) and the server's Host-header check."""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    return host.strip("[]") in ("0.0.0.0", "::", "")


def host_name(header: str) -> str:
    """'example.com:8000' -> 'example.com'; '[::1]:8000' -> '::1'."""
    header = header.strip().lower()
    if header.startswith("["):   # '[addr]' or '[addr]:port'; anything else is kept whole (never allowed)
        inside, _, rest = header[1:].partition("]")
        return inside if rest == "" and header.endswith("]") or rest[:1] == ":" and rest[1:].isdigit() else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header
