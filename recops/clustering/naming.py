"""A cluster becomes an identity: its faces are linked to it, as reviewed proposals are.

The links follow the rules of a review: a face a person unlinked from or rejected for the
identity, a face linked to another identity, or a second face of a photo for the identity is
not linked (an error record says why) and leaves the cluster, to be placed again by the next
run. When the identity has a cluster already, the named cluster joins it.
"""

from __future__ import annotations

from ..deletions import Deletions
from ..errors import InputError, UsageError
from ..faces import FaceCatalog
from ..identities import IdentityEditor
from ..ids import resolve
from ..records import timestamp
from ..store.dataset import Dataset
from ..stream import Emitter
from . import history

STAGE = "cluster"


def find_cluster(clustering: history.Clustering, wanted: str) -> dict:
    """A cluster by id, by its label in the current clustering, or by a unique start of its id
    (a label wins: labels are what rx-cluster shows)."""
    if wanted in clustering.clusters:
        return clustering.clusters[wanted]
    if wanted.isdigit():
        for cluster in history.labelled(list(clustering.clusters.values())):
            if cluster["label"] == int(wanted):
                return cluster
    try:
        return clustering.clusters[resolve(wanted, clustering.clusters, "cluster", "the current clustering")]
    except InputError as exc:
        raise UsageError(f"{exc.reason} (rx-cluster lists them)") from None


def name_cluster(dataset: Dataset, wanted: str, name: str, out: Emitter) -> list[dict]:
    """Link the faces of a cluster to the identity called `name` (created when none has this
    name, id or start of an id); returns the clusters it changed, labelled."""
    deletions = Deletions.of(dataset)
    catalog = FaceCatalog.of(dataset)

    def hidden(face: str) -> bool:
        record = catalog.get(face)
        return record is None or deletions.hides(face, record.get("image"))

    clustering = history.current(dataset, hidden)
    if clustering is None:
        raise UsageError(f"{dataset.root} has no clustering yet: run rx-cluster first")
    cluster = find_cluster(clustering, wanted)
    editor = IdentityEditor(dataset)
    try:
        identity = editor.view.find(name)
        if cluster.get("identity") and cluster["identity"] != (identity or {}).get("id"):
            raise UsageError(
                f"cluster {cluster['id']} is identity {cluster.get('identity_name')!r}'s already; "
                "rename that identity with rx-identity update"
            )
        identity, created = editor.find_or_create(name)
    except InputError as exc:
        raise UsageError(exc.reason) from None
    if created:
        out.emit(identity)
    for face in cluster["faces"]:
        try:
            out.emit(editor.link(face, identity["id"], source="review"))
        except InputError as exc:
            out.fail(face, STAGE, exc.reason, exc.kind, cluster=cluster["id"])
    linked = [f for f in cluster["faces"] if editor.view.face_identity.get(f) == identity["id"]]
    run = history.new_run()
    home = next(
        (c for c in clustering.clusters.values() if c.get("identity") == identity["id"] and c["id"] != cluster["id"]),
        None,
    )
    settings = {k: cluster.get(k) for k in ("threshold", "metric", "method", "model", "neighbours")}
    if home is None:
        stated = [history.cluster_record(cluster["id"], linked, identity, settings, run)]
    else:
        stated = [
            history.cluster_record(home["id"], home["faces"] + linked, identity, settings, run),
            history.cluster_record(cluster["id"], [], None, settings, run),
        ]
    summary = {
        "type": "clustering",
        "id": run,
        "full": False,
        "named": cluster["id"],
        "identity": identity["id"],
        **settings,
        "ts": timestamp(),
    }
    history.store_run(dataset, stated, summary)
    now = {**clustering.clusters, **{s["id"]: s for s in stated}}
    return [
        c for c in history.labelled([c for c in now.values() if c["faces"]]) if c["id"] in {s["id"] for s in stated}
    ]
