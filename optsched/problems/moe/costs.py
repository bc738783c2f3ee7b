"""The communication part of the moe cost model, in microseconds (one formula, documented).

A layer's all-to-all moves ``token_bytes`` per copy; the links of all ``G``
GPUs carry the traffic together (``intra_node_GBps`` each inside a node,
``inter_node_GBps`` each across nodes), so a byte count ``B`` over one kind
of link takes ``B / (G * GBps * 1000)`` microseconds.
"""

from __future__ import annotations

from optsched.problems.moe.instance import MoeInstance


def comm_time(instance: MoeInstance, copies_gpu: float, copies_node: float, cross_gpu: float,
              cross_node: float) -> float:
    """Microseconds of dispatch/combine and layer-to-layer traffic.

    ``copies_gpu`` (``copies_node``) are the (token, destination GPU (node))
    copies of the dispatch; tokens start evenly on every GPU, so a share
    ``(G - 1) / G`` of the GPU copies travel over NVLink and a share
    ``(N - 1) / N`` of the node copies over the network; the combine sends
    them back (a factor 2). ``cross_gpu`` transitions change GPU, of which
    ``cross_node`` also change node (over the network, the rest over NVLink).
    """
    c = instance.cluster
    gpus, nodes = c.gpus, c.nodes
    intra = 2 * copies_gpu * (gpus - 1) / gpus + (cross_gpu - cross_node)
    inter = 2 * copies_node * (nodes - 1) / nodes + cross_node
    scale = instance.model.token_bytes / (gpus * 1000.0)
    return scale * (intra / c.intra_node_GBps + inter / c.inter_node_GBps)


def migration_time(instance: MoeInstance, moved_bytes: float) -> float:
    """Microseconds of copying moved experts over NVLink (all GPUs at once), weighted."""
    c = instance.cluster
    return instance.cost.migration_weight * moved_bytes / (c.gpus * c.intra_node_GBps * 1000.0)
