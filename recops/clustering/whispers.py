"""Chinese whispers on the graph: what recops promised and dlib ships, here under the same rules.

Every face starts as its own cluster (a seed's faces share one); in an order drawn from the
seed, each face that is not a seed's takes the cluster most of its neighbours are in, unless
that cluster holds a face of its photo or is an identity it was rejected for: then the next
best, or it stays. Rounds repeat until nothing moves (or ROUNDS).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .groups import Group, Rules

ROUNDS = 100


def chinese_whispers(
    nodes: np.ndarray, a: np.ndarray, b: np.ndarray, rules: Rules, seeds: list[Group], rng: np.random.Generator
) -> list[Group]:
    """The groups of one connected part (`nodes` sorted; edges a, b in node numbers)."""
    local_a, local_b = np.searchsorted(nodes, a), np.searchsorted(nodes, b)
    neighbours: list[list[int]] = [[] for _ in range(len(nodes))]
    for x, y in zip(local_a.tolist(), local_b.tolist()):
        neighbours[x].append(y)
        neighbours[y].append(x)
    label = list(range(len(nodes)))
    identity: dict[int, str] = {}
    cluster: dict[int, str] = {}
    fixed = set()
    for seed in seeds:
        head = int(np.searchsorted(nodes, seed.nodes[0]))
        for node in seed.nodes:
            label[int(np.searchsorted(nodes, node))] = head
        fixed.update(int(np.searchsorted(nodes, n)) for n in seed.nodes)
        if seed.identity:
            identity[head] = seed.identity
        if seed.cluster:
            cluster[head] = seed.cluster
    image = {i: rules.image[n] for i, n in enumerate(nodes.tolist()) if n in rules.image}
    rejected = {i: rules.rejected[n] for i, n in enumerate(nodes.tolist()) if n in rules.rejected}
    photos: dict[int, Counter] = {}
    for i, picture in image.items():
        photos.setdefault(label[i], Counter())[picture] += 1
    movable = np.array([i for i in range(len(nodes)) if i not in fixed and neighbours[i]], np.int64)
    for _ in range(ROUNDS):
        moved = 0
        for i in rng.permutation(movable).tolist():
            votes = Counter(label[j] for j in neighbours[i])
            for choice, _ in sorted(votes.items(), key=lambda v: (-v[1], v[0])):
                if choice == label[i]:
                    break
                if i in image and photos.get(choice, {}).get(image[i]):
                    continue
                if choice in identity and identity[choice] in rejected.get(i, ()):
                    continue
                if i in image:
                    photos[label[i]][image[i]] -= 1
                    photos.setdefault(choice, Counter())[image[i]] += 1
                label[i] = choice
                moved += 1
                break
        if not moved:
            break
    found: dict[int, list[int]] = {}
    for i, node in enumerate(nodes.tolist()):
        found.setdefault(label[i], []).append(node)
    return [Group(members, identity.get(head), cluster.get(head)) for head, members in found.items()]
