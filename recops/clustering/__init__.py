"""Face clustering: groups of faces that show one person, found without labels.

space.py     the distance clustering works in, and its default threshold
graph.py     the faces (nodes) and their k nearest neighbours within the threshold (edges)
groups.py    what clustering must respect: identities, rejections, photos; connected parts
linkage.py   guarded average linkage on the graph (the default method)
whispers.py  chinese whispers on the graph
history.py   cluster records and the `clusters` log: the last clustering, stored
run.py       a full or incremental clustering of a dataset
naming.py    a cluster becomes an identity
folders.py   one folder of face crops per cluster
"""
