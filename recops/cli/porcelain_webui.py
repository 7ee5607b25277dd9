"""recops webui: the original's web interface, over the dataset directory."""

import sys
from typing import Annotated, Optional

import typer

from ..store.dataset import home, locate
from .porcelain import app, run


# The original spelt the host -h, so here --help alone asks for help.
@app.command("webui", context_settings={"help_option_names": ["--help"]})
def webui(
    host: Annotated[str, typer.Option("-h", "--host", metavar="HOST", help="Address to listen on; anything but 127.0.0.1 (or another loopback address) lets other machines see the faces.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("-p", "--port", metavar="PORT", help="Port to listen on (0: any free one).")] = 5000,
    dataset: Annotated[Optional[str], typer.Option("-d", "--dataset", "--dataset-id", metavar="NAME|DIR", help="Serve this dataset (a name under $RECOPS_HOME, or a directory) [default: every dataset under $RECOPS_HOME].")] = None,
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

    -h is the host here, as in the original recops: --help is the only spelling of help.
    """
    from ..webui import serve  # here, not atop: the server's modules would slow every recops command

    with run("webui"):
        def announce(url: str) -> None:
            print(f"recops webui: serving on {url} (Ctrl-C stops)", file=sys.stderr, flush=True)

        serve(locate(dataset) if dataset else None, home(), host, port, announce)
