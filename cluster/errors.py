"""Errors of the cluster's coordination."""

from __future__ import annotations

from errors import SignroomError


class ClusterError(SignroomError):
    code = "cluster_error"


class CoordinationUnavailable(ClusterError):
    """Redis, which the nodes coordinate through, cannot be reached: calls running
    on a node go on, new ones wait until it is back."""

    code = "coordination_unavailable"


class NoNodeAvailable(ClusterError):
    """No live node takes new calls (all draining, or none heartbeating)."""

    code = "no_node_available"


class PlacementLost(ClusterError):
    """The call has moved to another node (a newer epoch): this node must stop
    acting for it."""

    code = "placement_lost"


class HostUnreachable(ClusterError):
    """The node hosting the call did not answer in time."""

    code = "host_unreachable"
