"""hub/local_hub.py on its own: a port taken between picking it and the hub binding it costs a retry, not the run."""
import socket

import pytest

pytestmark = pytest.mark.hub
pytest.importorskip("jupyterhub", reason="jupyterhub is not installed")
from local_hub import LocalHub, missing_requirements  # noqa: E402  (hub/, put on sys.path by conftest.py)

if missing_requirements():
    pytest.skip("the hub needs " + ", ".join(missing_requirements()), allow_module_level=True)


def test_a_taken_port_is_retried_on_fresh_ports(tmp_path):
    hub = LocalHub(tmp_path, instructors=["instructor"])
    with socket.socket() as squatter:             # what another process did to the hub's API port, on purpose
        squatter.bind(("127.0.0.1", hub.api_port))
        squatter.listen()
        taken = hub.api_port
        try:
            hub.start()
            assert hub.api_port != taken
            assert hub.api("GET", "/info")["version"]
        finally:
            hub.stop()
    assert hub.leftover_pids() == []
    assert hub.log_path.read_text().count("Failed to bind") == 1
