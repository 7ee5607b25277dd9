"""rx-merge: the matches of several shards' searches, one ranking per face."""

from typing import Annotated, Optional

import typer

from ..identities import IdentityView
from ..match_merge import MatchMerge, MergeOptions
from ..store.dataset import Dataset
from .common import FormatOpt, QuietOpt, VerboseOpt, new_app, running
from .match import MaximumOpt
from .pipeline import inputs

app = new_app()


@app.command()
def rx_merge(
    home: Annotated[
        Optional[str],
        typer.Option(
            "-d",
            "--dataset",
            metavar="DIR",
            help="The home dataset: each candidate's identity comes from its links (which may name faces of every "
            "shard), and a pair it rejected is dropped [default: the identities the shards' matches carry].",
        ),
    ] = None,
    maximum: MaximumOpt = 10,
    shards: Annotated[
        Optional[int],
        typer.Option(
            metavar="N",
            min=1,
            help="Write a face's ranking as soon as N datasets answered it (the searched records of rx-match "
            "--searched say which) [default: at the end of input].",
        ),
    ] = None,
    best_per_identity: Annotated[
        bool, typer.Option("--best-per-identity", help="Keep only the nearest face of each identity.")
    ] = False,
    fmt: FormatOpt = "json",
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Merge the matches of several shards' searches into one ranking per face.

    Reads what rx-match wrote for each shard (parallel --pipe -S host1,host2 'rx-match -d SHARD
    --searched --no-join', or cat a b c): each face's matches are ranked together by distance,
    then candidate face id, then dataset id, whatever order the shards answered in; at most N
    are kept (--maximum), ranked 1..n again, with the threshold the strictest shard used,
    gallery the faces of every shard searched, and expected_false over that gallery. A searched
    record follows each face's matches, naming every dataset that answered. Every other record
    (the faces and embeddings every shard sends back) passes on once.
    """
    with running("rx-merge", fmt, verbose, quiet) as out:
        options = MergeOptions(maximum, shards, best_per_identity)
        if home:
            with Dataset.open(home) as dataset:
                MatchMerge(out, options, IdentityView.of(dataset)).run(inputs(None, False))
        else:
            MatchMerge(out, options).run(inputs(None, False))


def main() -> None:
    app(prog_name="rx-merge")
