"""Guarded average linkage: the default method, measured best on LFW (bench cluster).

Groups merge along the graph's edges (pairs of faces within the threshold), nearest first by the
mean distance over all their pairs of faces, and only while that mean is within GUARD times the
threshold. The edges let a group grow by the faces near any of its members, as chinese whispers
and single linkage do; the mean keeps a chain of look-alikes from joining two people into one.
Deterministic: ties go to the lower node numbers.
"""

from __future__ import annotations

import heapq

import numpy as np

from .groups import Group, Rules

GUARD = 1.25
"""How far the mean distance of two merging groups may exceed the threshold (in half squared
distance, so about 1.12 times in euclidean terms)."""


class _Part:
    """Groups of one connected part: sums of their vectors and what they must respect."""

    def __init__(self, nodes: np.ndarray, vectors: np.ndarray, rules: Rules, seeds: list[Group]):
        self.local = {int(n): i for i, n in enumerate(nodes)}
        group_of = np.arange(len(nodes))
        self.identity: list[str | None] = [None] * len(nodes)
        self.cluster: list[str | None] = [None] * len(nodes)
        for seed in seeds:
            head = self.local[seed.nodes[0]]
            for node in seed.nodes:
                group_of[self.local[node]] = head
            self.identity[head], self.cluster[head] = seed.identity, seed.cluster
        self.group_of = group_of
        self.parent = group_of.tolist()
        self.sums = np.zeros((len(nodes), vectors.shape[1]), np.float32)
        np.add.at(self.sums, group_of, vectors[nodes])
        self.size = np.bincount(group_of, minlength=len(nodes)).astype(np.float64)
        self.squares = np.bincount(group_of, (vectors[nodes].astype(np.float64) ** 2).sum(1), minlength=len(nodes))
        self.fixed = [self.identity[g] is not None or self.cluster[g] is not None for g in range(len(nodes))]
        self.images: list[set | None] = [None] * len(nodes)
        self.rejects: list[set | None] = [None] * len(nodes)
        for i, node in enumerate(nodes.tolist()):
            g = group_of[i]
            if node in rules.image:
                self.images[g] = (self.images[g] or set()) | {rules.image[node]}
            if node in rules.rejected:
                self.rejects[g] = (self.rejects[g] or set()) | rules.rejected[node]

    def mean(self, group: int, others: np.ndarray) -> np.ndarray:
        """Mean half squared distance over every pair of faces of `group` and of each of `others`."""
        dots = (self.sums[others] @ self.sums[group]).astype(np.float64)
        size, sizes = self.size[group], self.size[others]
        return (sizes * self.squares[group] + size * self.squares[others] - 2 * dots) / (2 * size * sizes)

    def means(self, low: np.ndarray, high: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
        """`mean` of many pairs of groups at once."""
        dots = np.concatenate(
            [
                np.einsum("ij,ij->i", self.sums[low[s : s + chunk]], self.sums[high[s : s + chunk]])
                for s in range(0, len(low), chunk)
            ]
            or [np.zeros(0)]
        ).astype(np.float64)
        return (self.size[high] * self.squares[low] + self.size[low] * self.squares[high] - 2 * dots) / (
            2 * self.size[low] * self.size[high]
        )

    def allowed(self, a: int, b: int) -> bool:
        if self.fixed[a] and self.fixed[b]:
            return False
        for one, other in ((a, b), (b, a)):
            if self.identity[one] and self.rejects[other] and self.identity[one] in self.rejects[other]:
                return False
        return not (self.images[a] and self.images[b] and not self.images[a].isdisjoint(self.images[b]))

    def absorb(self, keep: int, gone: int) -> None:
        self.sums[keep] += self.sums[gone]
        self.size[keep] += self.size[gone]
        self.squares[keep] += self.squares[gone]
        self.parent[gone] = keep
        self.identity[keep] = self.identity[keep] or self.identity[gone]
        self.cluster[keep] = self.cluster[keep] or self.cluster[gone]
        self.fixed[keep] = self.fixed[keep] or self.fixed[gone]
        for facts in (self.images, self.rejects):
            if facts[gone]:
                facts[keep] = (facts[keep] or set()) | facts[gone]

    def groups(self, nodes: np.ndarray) -> list[Group]:
        found: dict[int, list[int]] = {}
        for i, node in enumerate(nodes.tolist()):
            g = int(self.group_of[i])
            while self.parent[g] != g:
                g = int(self.parent[g])
            found.setdefault(g, []).append(node)
        return [Group(members, self.identity[g], self.cluster[g]) for g, members in found.items()]


def average_linkage(
    nodes: np.ndarray, a: np.ndarray, b: np.ndarray, vectors: np.ndarray, rules: Rules, seeds: list[Group], limit: float
) -> list[Group]:
    """The groups of one connected part: `nodes` (sorted), its edges (a, b: node numbers) and
    the seeds among its nodes; `limit` is the threshold in half squared distance."""
    part = _Part(nodes, vectors, rules, seeds)
    local_a = part.group_of[np.searchsorted(nodes, a)]
    local_b = part.group_of[np.searchsorted(nodes, b)]
    across = local_a != local_b
    low = np.minimum(local_a, local_b)[across]
    high = np.maximum(local_a, local_b)[across]
    pairs = np.unique(low * len(nodes) + high)
    low, high = pairs // len(nodes), pairs % len(nodes)
    neighbours: list[set[int]] = [set() for _ in range(len(nodes))]
    for x, y in zip(low.tolist(), high.tolist()):
        neighbours[x].add(y)
        neighbours[y].add(x)
    ceiling = GUARD * limit
    version = [0] * len(nodes)
    parent = part.parent
    means = part.means(low, high)
    near = means <= ceiling
    heap = list(
        zip(means[near].tolist(), low[near].tolist(), high[near].tolist(), [0] * int(near.sum()), [0] * int(near.sum()))
    )
    heapq.heapify(heap)
    while heap:
        _, x, y, vx, vy = heapq.heappop(heap)
        if vx != version[x] or vy != version[y] or parent[x] != x or parent[y] != y:
            continue
        if not part.allowed(x, y):
            neighbours[x].discard(y)
            neighbours[y].discard(x)
            continue
        keep, gone = (x, y) if (part.size[x], -x) >= (part.size[y], -y) else (y, x)
        part.absorb(keep, gone)
        for other in neighbours[gone]:
            if other != keep:
                neighbours[other].discard(gone)
                neighbours[other].add(keep)
        mine, theirs = neighbours[keep], neighbours[gone]
        if len(mine) < len(theirs):
            mine, theirs = theirs, mine
        mine |= theirs
        mine.discard(keep)
        mine.discard(gone)
        neighbours[keep], neighbours[gone] = mine, set()
        version[keep] += 1
        if not mine:
            continue
        others = list(mine)
        found = part.mean(keep, np.array(others, np.int64))
        values, stamp = found.tolist(), version[keep]
        for i in np.flatnonzero(found <= ceiling).tolist():
            other = others[i]
            if other < keep:
                heapq.heappush(heap, (values[i], other, keep, version[other], stamp))
            else:
                heapq.heappush(heap, (values[i], keep, other, stamp, version[other]))
    return part.groups(nodes)
