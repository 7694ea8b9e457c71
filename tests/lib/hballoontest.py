"""What the hballoon end-to-end tests share: the device's view of each node
(QMP query-hballoon) and waiting until a resize has settled."""

import time


def hb_nodes(vm):
    """query-hballoon's node entries, by guest node number."""
    return {n["node"]: n for n in vm.qmp("query-hballoon")["nodes"]}


def wait_settled(vm, node, timeout=180):
    """Wait until the node's actual size equals its target; return the entry."""
    t0 = time.monotonic()
    while True:
        n = hb_nodes(vm)[node]
        if n["actual"] == n["target"]:
            return n, time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"node {node} did not settle in {timeout}s: {n}")
        time.sleep(0.5)
