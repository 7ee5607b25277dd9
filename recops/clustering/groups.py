"""What every clustering method respects, and the parts of the graph it can work on alone.

- Faces linked to an identity start as one group (a seed) and two identities never merge.
- A face rejected for an identity never joins that identity's group.
- Two faces of one photo are two people: a group never takes a face of a photo it has a face of
  (a seed may, when a person linked both by hand).
- Incremental runs: each stored cluster is a seed too, and two stored clusters never merge.

Groups only merge along edges, so each connected part of the graph (seeds joining their
members) is clustered on its own; a face without edges stays alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class Group:
    nodes: list[int]
    identity: str | None = None
    cluster: str | None = None
    """The stored cluster this group continues (incremental runs)."""


@dataclass
class Rules:
    seeds: list[Group] = field(default_factory=list)
    image: dict[int, str] = field(default_factory=dict)
    """Node -> image, for the images with more than one face among the nodes."""
    rejected: dict[int, frozenset[str]] = field(default_factory=dict)
    """Node -> the identities it was rejected for."""

    @classmethod
    def of(
        cls,
        image: dict[int, str],
        face_identity: dict[int, str],
        rejected: dict[int, set[str]],
        stored: list[Group] = (),
    ) -> "Rules":
        """Rules for nodes sharing photos (node -> photo, only those nodes), identity links
        (node -> identity) and rejections; `stored` are the clusters of the previous run, for an
        incremental one."""
        seeds = [Group(list(g.nodes), g.identity, g.cluster) for g in stored]
        seed_of = {g.identity: g for g in seeds if g.identity}
        placed = {node for g in seeds for node in g.nodes}
        for node, identity in sorted(face_identity.items()):
            if node in placed:
                continue
            if identity not in seed_of:
                seed_of[identity] = Group([], identity)
                seeds.append(seed_of[identity])
            seed_of[identity].nodes.append(node)
        return cls(seeds, dict(image), {n: frozenset(ids) for n, ids in rejected.items()})


def parts(count: int, a: np.ndarray, b: np.ndarray, seeds: list[Group]) -> list[np.ndarray]:
    """The nodes of each connected part with more than one node, in increasing order."""
    pairs = [(np.asarray(a, np.int64), np.asarray(b, np.int64))]
    for seed in seeds:
        if len(seed.nodes) > 1:
            first = np.full(len(seed.nodes) - 1, seed.nodes[0], np.int64)
            pairs.append((first, np.asarray(seed.nodes[1:], np.int64)))
    a = np.concatenate([p[0] for p in pairs])
    b = np.concatenate([p[1] for p in pairs])
    root = np.arange(count)
    while len(a):
        ra, rb = root[a], root[b]
        apart = ra != rb
        if not apart.any():
            break
        # hook the higher root under the lower one, then jump pointers until every node names its root
        np.minimum.at(root, np.maximum(ra, rb)[apart], np.minimum(ra, rb)[apart])
        while True:
            jumped = root[root]
            if np.array_equal(jumped, root):
                break
            root = jumped
        a, b = a[apart], b[apart]
    order = np.argsort(root, kind="stable")
    bounds = np.flatnonzero(np.diff(root[order])) + 1
    return [part for part in np.split(order, bounds) if len(part) > 1]
