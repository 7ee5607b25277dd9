"""Which dataset holds an id: the original recops kept every dataset in one database, where ids
were unique, so its identity-link, identity-delete, face-delete, image-delete and
dataset-link-matched-faces named no dataset. Here the porcelain looks in every dataset under
$RECOPS_HOME, and asks for -d when none or several hold the id."""

from __future__ import annotations

from .errors import DatasetError, InputError, UsageError
from .faces import FaceCatalog
from .identities import IdentityView
from .ids import resolve
from .images import ImageCatalog
from .store.dataset import Dataset, find_datasets

SHOWN = 3


def _holds(dataset: Dataset, kind: str, wanted: str) -> bool:
    try:
        if kind == "identity":
            return IdentityView.of(dataset).find(wanted) is not None
        ids = FaceCatalog.of(dataset).ids() if kind == "face" else [i["id"] for i in ImageCatalog.of(dataset)]
        resolve(wanted, ids, kind)
    except InputError as exc:
        return exc.kind == "ambiguous-id"  # it is there: the command itself says it is ambiguous
    return True


def holder(folder: str, kind: str, wanted: str) -> str:
    """The one dataset in or below `folder` that holds the `kind` ("face", "image" or "identity")
    `wanted`: an id, a unique start of one, or (an identity) a name."""
    found = []
    for root in find_datasets(folder):
        try:
            with Dataset.open(root) as dataset:
                if _holds(dataset, kind, wanted):
                    found.append(root)
        except DatasetError:
            continue  # dataset-list reports it
    if not found:
        raise UsageError(f"no dataset under {folder} holds {kind} {wanted}; give -d DATASET")
    if len(found) > 1:
        shown = ", ".join(found[:SHOWN]) + (" ..." if len(found) > SHOWN else "")
        raise UsageError(f"{kind} {wanted} is in {len(found)} datasets ({shown}); give -d DATASET")
    return found[0]
