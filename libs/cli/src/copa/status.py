"""``copa status``: is every component that ``copa up`` recorded actually answering?

Services are asked their ``/readyz`` (ready means: database and broker reachable, migrations
applied), servers are probed with a TCP connect. The probe is from the outside, like a load
balancer's, so it also catches a component that runs but cannot be reached.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from copa.embedded.ports import port_accepts
from copa.embedded.processes import process_alive
from copa.state import ComponentRecord

_DEFAULT_PORTS = {"postgres": 5432, "kafka": 9092, "smtp": 25}


@dataclass(frozen=True)
class Probe:
    """The outcome for one component, as ``copa status --json`` prints it."""

    name: str
    kind: str
    url: str
    healthy: bool
    detail: str

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "url": self.url,
            "healthy": self.healthy,
            "detail": self.detail,
        }


def probe_all(components: list[ComponentRecord], timeout_s: float = 3.0) -> list[Probe]:
    """Probe every component in parallel (a dead one costs a timeout, not N of them)."""
    if not components:
        return []
    with ThreadPoolExecutor(max_workers=len(components)) as pool:
        return list(pool.map(lambda component: probe(component, timeout_s), components))


def probe(component: ComponentRecord, timeout_s: float = 3.0) -> Probe:
    def result(healthy: bool, detail: str) -> Probe:
        return Probe(component.name, component.kind, component.url, healthy, detail)

    if component.pid is not None and not process_alive(component.pid):
        return result(False, f"process {component.pid} is not running")
    if component.health_url:
        return result(*_probe_http(component.health_url, timeout_s))
    addresses = _addresses(component)
    if not addresses:
        return result(False, f"cannot tell a TCP address from {component.url!r}")
    for host, port in addresses:
        if port_accepts(port, host, timeout_s):
            return result(True, f"accepting connections on {host}:{port}")
    tried = ", ".join(f"{host}:{port}" for host, port in addresses)
    return result(False, f"nothing accepts connections on {tried}")


def _probe_http(url: str, timeout_s: float) -> tuple[bool, str]:
    import httpx

    try:
        response = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as error:
        return False, f"GET {url} failed: {type(error).__name__}: {error}"
    if response.status_code == 200:
        return True, f"GET {url}: 200"
    return False, f"GET {url}: {response.status_code} {response.text[:200]}"


def _addresses(component: ComponentRecord) -> list[tuple[str, int]]:
    """TCP addresses in a component URL: one for most, several for a Kafka bootstrap list."""
    default_port = _DEFAULT_PORTS.get(component.kind, 0)
    addresses: list[tuple[str, int]] = []
    for item in component.url.split(","):
        text = item.strip()
        if not text:
            continue
        if "://" not in text:
            text = "tcp://" + text
        try:
            parts = urlsplit(text)
            host, port = parts.hostname, parts.port or default_port
        except ValueError:
            continue
        if host and port:
            addresses.append((host, port))
    return addresses
