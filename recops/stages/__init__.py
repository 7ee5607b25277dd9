"""The stages of a pipeline: each reads a stream of records (or paths) and writes records, and the
composites that chain them in one process (recognize, the folder imports)."""
