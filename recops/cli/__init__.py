"""The command-line layer: one thin typer app per tool, each calling into the core.

TOOLS maps every installed command to the module holding its `app`; pyproject.toml's scripts,
the man pages and docs/reference.md all follow it (tests/test_docs.py checks that they do).
"""

TOOLS = {
    "rx-init": "recops.cli.init",
    "rx-import": "recops.cli.import_",
    "rx-ls": "recops.cli.ls",
    "rx-fsck": "recops.cli.fsck",
    "rx-gc": "recops.cli.gc",
    "rx-detect": "recops.cli.detect",
    "rx-embed": "recops.cli.embed",
    "rx-analyze": "recops.cli.analyze",
    "rx-enrol": "recops.cli.enrol",
    "rx-index": "recops.cli.index",
    "rx-calibrate": "recops.cli.calibrate",
    "rx-match": "recops.cli.match",
    "rx-merge": "recops.cli.merge",
    "rx-verify": "recops.cli.verify",
    "rx-identity": "recops.cli.identity",
    "rx-review": "recops.cli.review",
    "rx-cluster": "recops.cli.cluster",
    "rx-delete": "recops.cli.delete",
    "rx-models": "recops.cli.models",
    "rx-report": "recops.cli.report",
    "rx-export": "recops.cli.export",
    "recops": "recops.cli.porcelain",
}
