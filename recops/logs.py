"""The record logs of a dataset, `records/<name>/`: their names are part of the on-disk format
(docs/format.md), spelled here and nowhere else.

What each log folds into is a view of state.py; every view folds by folding.order.
"""

IMAGES = "images"
"""image records: a photo's content id, size, origins, consent (images.ImageCatalog)"""
DETECTIONS = "detections"
"""detection records: which faces a detector found in an image (faces.Detections)"""
FACES = "faces"
"""face records: a face's box and landmarks (faces.FaceCatalog)"""
EMBEDDINGS = "embeddings"
"""embedding records: a face's vector under a model (vectors.Embeddings, vectors.Vectors)"""
ATTRIBUTES = "attributes"
"""attribute records: age, gender, emotion, race (attributes.Attributes)"""
IDENTITIES = "identities"
"""identity records: a person's name and colour; a tombstone deletes (identities.IdentityView)"""
LINKS = "links"
"""link records: a face linked to, unlinked from or rejected for an identity (identities.IdentityView)"""
DELETIONS = "deletions"
"""deletion records: tombstones of faces and images (deletions.Deletions)"""
MATCHES = "matches"
"""match records kept by recognitions and rx-match --save, and recognition records (matches.Matches)"""
CLUSTERS = "clusters"
"""cluster and clustering records of rx-cluster's runs (clustering.history)"""

CALIBRATIONS = "calibrations"
"""calibration records of rx-calibrate: pair distances of the dataset's own people (calibration.Calibrations)"""

ALL = (IMAGES, DETECTIONS, FACES, EMBEDDINGS, ATTRIBUTES, IDENTITIES, LINKS, DELETIONS, MATCHES, CLUSTERS, CALIBRATIONS)
