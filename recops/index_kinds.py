"""The two kinds of index rx-index builds, behind one interface that answers in Annoy's distances
(angular: the distance of unit vectors, sqrt(2 - 2 cos); euclidean), so metrics.from_space serves both.

annoy  Annoy's random-projection trees, memory-mapped: a process searches as soon as it starts, and
       every process on the machine shares one copy of the pages.
hnsw   hnswlib's navigable small-world graph, read whole into each process that searches: three to
       six times the build time, but at a million faces recall@10 0.986 in about a millisecond
       where Annoy gives 0.957 in 2.7 ms (bench search).

`search_k` is Annoy's measure of effort, nodes inspected per query; an HNSW index spends one
EF_PER_SEARCH_K-th of it as its candidate list (ef), so the default 20,000 is ef 400 and the
options that take --search-k keep one meaning of "more is slower and finds more".
"""

from __future__ import annotations

import numpy as np

from .parallel import cpu_count

KINDS = ("annoy", "hnsw")
SUFFIX = {"annoy": "ann", "hnsw": "hnsw"}
HNSW_LINKS = 16
"""M: graph links per face. 16 holds recall@10 above 0.98 at a million faces (bench search); 32
finds the exact top 10 far more often (0.98 against 0.85 of queries at 250,000 faces and ef 400)
for three times the build and a fifth more index."""
EF_CONSTRUCTION_PER_LINK = 6.25
"""ef_construction is this times M: 100 for 16 links, 200 for 32."""
EF_PER_SEARCH_K = 50
HNSW_CHEAP_EF = 50
"""ef when asked for Annoy's own default effort (search_k -1, as clustering asks for every face)."""


def _threads(jobs: int) -> int:
    return cpu_count() if jobs is None or jobs < 1 else jobs


def build(kind: str, held: list, space: str, path: str, trees: int, jobs: int, links: int | None = None) -> dict:
    """Index the rows of the matrix in `held` (item i is row i) into the file at `path`; the build's
    settings. `held` is emptied as soon as the library has its own copy, so that the caller's copy
    is freed before the slow part: at ten million faces, two copies would not fit beside the build."""
    matrix = held.pop()
    count, dim = matrix.shape
    if kind == "hnsw":
        import hnswlib

        links = links or HNSW_LINKS
        construction = round(links * EF_CONSTRUCTION_PER_LINK)
        index = hnswlib.Index(space="l2" if space == "euclidean" else "cosine", dim=max(dim, 1))
        index.init_index(max_elements=max(count, 1), ef_construction=construction, M=links)
        if count:
            index.add_items(np.ascontiguousarray(matrix, np.float32), num_threads=_threads(jobs))
        index.save_index(path)
        return {"trees": 0, "links": links, "ef_construction": construction}
    from annoy import AnnoyIndex

    index = AnnoyIndex(max(dim, 1), space)
    # Built in its file, not in memory (Annoy's on-disk build): the nodes, twice the vectors, are
    # page cache the kernel can write out, so ten million faces fit beside their own vectors.
    index.on_disk_build(path)
    for item in range(count):
        index.add_item(item, matrix[item].tolist())  # twice as fast: Annoy reads a row number by number
    del matrix  # Annoy holds its copy: the trees are built without ours
    index.build(trees, n_jobs=jobs)
    index.unload()
    return {"trees": trees}


def load(kind: str, path: str, dim: int, space: str, count: int, trees: int):
    """The index in the file at `path` (a /proc/self/fd path: opened through the dataset's tree)."""
    if kind == "hnsw":
        import hnswlib

        index = hnswlib.Index(space="l2" if space == "euclidean" else "cosine", dim=max(dim, 1))
        index.load_index(path, max_elements=max(count, 1))
        return HnswNeighbours(index, space, count)
    from annoy import AnnoyIndex

    index = AnnoyIndex(max(dim, 1), space)
    index.load(path)
    return AnnoyNeighbours(index, trees)


class AnnoyNeighbours:
    def __init__(self, index, trees: int):
        self.index, self.trees = index, trees

    def by_vector(self, vector: np.ndarray, k: int, search_k: int) -> tuple[list[int], list[float]]:
        return self.index.get_nns_by_vector(vector, k, search_k=search_k, include_distances=True)

    def by_item(self, item: int, k: int, search_k: int) -> tuple[list[int], list[float]]:
        return self.index.get_nns_by_item(item, k, search_k=search_k, include_distances=True)


class HnswNeighbours:
    def __init__(self, index, space: str, count: int):
        self.index, self.space, self.count = index, space, count

    def by_vector(self, vector: np.ndarray, k: int, search_k: int) -> tuple[list[int], list[float]]:
        items, distances = self.batch(np.asarray(vector, np.float32)[None, :], k, search_k)
        return items[0].tolist(), distances[0].tolist()

    def by_item(self, item: int, k: int, search_k: int) -> tuple[list[int], list[float]]:
        return self.by_vector(self.vectors([item])[0], k, search_k)

    def vectors(self, items: list[int]) -> np.ndarray:
        """The stored vectors (unit length in the angular space: hnswlib normalises them)."""
        return np.asarray(self.index.get_items(items, return_type="numpy"), np.float32)

    def batch(self, matrix: np.ndarray, k: int, search_k: int, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(items, distances) of each row's k nearest: n x k each, nearest first."""
        k = min(k, self.count)
        if not k or not len(matrix):
            return np.zeros((len(matrix), 0), np.int64), np.zeros((len(matrix), 0), np.float32)
        ef = search_k // EF_PER_SEARCH_K if search_k > 0 else HNSW_CHEAP_EF
        self.index.set_ef(max(k, ef))
        items, distances = self.index.knn_query(matrix, k=k, num_threads=threads)
        if self.space == "euclidean":  # hnswlib's l2 is the squared distance, its cosine 1 - cos
            return items.astype(np.int64), np.sqrt(np.maximum(distances, 0))
        return items.astype(np.int64), np.sqrt(np.maximum(2 * distances, 0))
