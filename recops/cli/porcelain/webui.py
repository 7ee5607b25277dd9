"""recops webui: the original's web interface, over the dataset directory."""

import sys
from typing import Annotated, Optional

import typer

from ...store.dataset import home
from .shared import app, dataset_location, run


# The original spelt the host -h, so here --help alone asks for help.
@app.command("webui", context_settings={"help_option_names": ["--help"]})
def webui(
    host: Annotated[
        str,
        typer.Option(
            "-h",
            "--host",
            metavar="HOST",
            help=(
                "Address to listen on; anything but 127.0.0.1 (or another loopback address) lets other machines see "
                "the faces."
            ),
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("-p", "--port", metavar="PORT", help="Port to listen on (0: any free one).")
    ] = 5000,
    root: Annotated[
        Optional[str],
        typer.Option(
            "-d",
            "--dataset",
            "--dataset-id",
            metavar="NAME|DIR|ID",
            parser=dataset_location,
            help=(
                "Serve this dataset (a name under $RECOPS_HOME, a directory, or the id dataset-list shows) [default: "
                "every dataset under $RECOPS_HOME]."
            ),
        ),
    ] = None,
    allow_host: Annotated[
        Optional[list[str]],
        typer.Option(
            "--allow-host",
            metavar="NAME",
            help=(
                "Answer requests that call the server NAME too (repeatable); it already answers to its address, and "
                "with -h 0.0.0.0 to any address, localhost and the machine's own names."
            ),
        ),
    ] = None,
) -> None:
    """Browse and curate datasets in a web browser: images, faces, identities, matches.

    Serves pages from the dataset directory itself (no other database) at
    http://127.0.0.1:5000/ until Ctrl-C: images with their faces boxed in identity colours, faces
    by identity, without one, by cluster or by attribute, identities with their faces, proposed
    links and recognitions. A person creates, renames, recolours, merges and deletes identities,
    links, unlinks and rejects faces, confirms or rejects proposals, deletes faces and images, and
    uploads a photo to recognise it; each change is an append-only record, so it syncs like the
    rest. Changes are accepted only from the forms of its own pages. Thumbnails are kept in the
    dataset's cache/thumbs/.

    Requests must call the server by one of its names (the Host header), so a web page that has
    its own name resolve to this machine (DNS rebinding) reads nothing: --allow-host adds a name
    such as the one other machines use. A client that sends its request too slowly is cut off,
    and connections over a cap at once are answered 503, so none can hold the server.

    -h is the host here, as in the original recops: --help is the only spelling of help.
    """
    from ...webui import serve  # here, not atop: the server's modules would slow every recops command

    with run("webui"):

        def announce(url: str) -> None:
            print(f"recops webui: serving on {url} (Ctrl-C stops)", file=sys.stderr, flush=True)

        serve(root, home(), host, port, announce, allow_host or ())
