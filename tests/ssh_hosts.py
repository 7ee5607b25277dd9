"""Real sshd servers on loopback addresses, as hosts for bin/recops-parallel (tests and bench).

Each host is an sshd of its own on its own address, with its own host key and its own HOME; a
forced command logs what the host was asked to run (and can make it fail) before running it in a
mount namespace where the folders it is told to hide are empty.

    with ssh_hosts(folder, {"host1": "127.0.0.2", "host2": "127.0.0.3"}, hide=[photos, dataset]) as (config, hosts):
        ...  # ssh -F config host1 ...; hosts["host1"] / "commands.jsonl" logs what host1 ran

Imports nothing from pytest: bench/hosts.py uses it too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

SSHD = "/usr/sbin/sshd" if os.access("/usr/sbin/sshd", os.X_OK) else shutil.which("sshd")

# The forced command of every host: logs the command parallel sent (its perl wrapper carries the
# command as hex after @ARGV), fails while the host's fail file counts down, else runs it in a
# mount namespace where the folders named in its hide file are empty: the photos and the dataset
# are on another machine, as far as the host can tell.
FORCED = f"""#!{sys.executable}
import os, sys
here = os.path.dirname(os.path.abspath(__file__))
command = os.environ.get("SSH_ORIGINAL_COMMAND", "")
words = command.split("@ARGV", 1)[-1].split()
try:
    decoded = bytes.fromhex("".join(words)).decode("latin-1")
except ValueError:
    decoded = command
job = "rx-detect" in decoded
with open(os.path.join(here, "commands.jsonl"), "a") as log:
    log.write(__import__("json").dumps({{"job": job, "command": decoded}}) + "\\n")
fail = os.path.join(here, "fail")
if job and os.path.exists(fail):
    left = int(open(fail).read())
    if left > 0:
        open(fail, "w").write(str(left - 1))
        sys.exit(255)  # as a dropped connection: no output
hide = open(os.path.join(here, "hide")).read().split()
mounts = 'c=$1; shift; for p; do [ ! -e "$p" ] || mount -t tmpfs hidden "$p" || exit 99; done; exec sh -c "$c"'
os.execvp("unshare", ["unshare", "-m" if os.getuid() == 0 else "-rm", "sh", "-c", mounts, "sh", command, *hide])
"""


def _can_hide() -> bool:
    """Whether this machine lets a process mount in a namespace of its own (root, or user namespaces)."""
    flags = "-m" if os.getuid() == 0 else "-rm"
    try:
        return subprocess.run(["unshare", flags, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def missing() -> list[str]:
    """What this machine lacks to run ssh_hosts: empty when nothing."""
    needed = {"sshd": SSHD, "ssh": shutil.which("ssh"), "ssh-keygen": shutil.which("ssh-keygen")}
    needed.update(parallel=shutil.which("parallel"), unshare=shutil.which("unshare"))
    lacking = [name for name, path in needed.items() if not path]
    if not lacking and not _can_hide():
        lacking.append("a mount namespace (unshare -m: root or user namespaces)")
    return lacking


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def keygen(path) -> list[str]:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return open(f"{path}.pub").read().split()[:2]


@contextlib.contextmanager
def ssh_hosts(folder, addresses: dict[str, str], hide: Iterable = ()) -> Iterator[tuple[Path, dict[str, Path]]]:
    """An sshd per {name: loopback address}, under folder; yields (ssh config file, {name: host folder}).

    A host folder holds the host's HOME (home/), its log of commands (commands.jsonl: {"job",
    "command"} a line, the readiness probe left out), its server's process id (sshd.pid) and an
    optional fail file (a number: how many jobs fail as dropped connections). Jobs run where the
    paths in hide are empty folders."""
    folder = Path(folder)
    if os.getuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation, as root
    client = folder / "client"
    client.mkdir()
    keygen(client / "id")
    shutil.copy(client / "id.pub", client / "authorized_keys")
    hidden = "".join(f"{path}\n" for path in hide)
    servers, folders, config, known = [], {}, [], []
    try:
        for name, address in addresses.items():
            host = folder / name
            (host / "home").mkdir(parents=True)
            key = keygen(host / "host_key")
            (host / "forced").write_text(FORCED)
            (host / "forced").chmod(0o755)
            (host / "hide").write_text(hidden)
            port = free_port(address)
            (host / "sshd_config").write_text(
                f"ListenAddress {address}:{port}\nHostKey {host / 'host_key'}\n"
                f"AuthorizedKeysFile {client / 'authorized_keys'}\nStrictModes no\nUsePAM no\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
                f"PidFile none\nLogLevel ERROR\nSetEnv HOME={host / 'home'}\nForceCommand {host / 'forced'}\n"
            )
            servers.append(subprocess.Popen([SSHD, "-D", "-e", "-f", str(host / "sshd_config")]))
            (host / "sshd.pid").write_text(f"{servers[-1].pid}\n")
            config.append(
                f"Host {name}\n  HostName {address}\n  Port {port}\n  IdentityFile {client / 'id'}\n"
                f"  IdentitiesOnly yes\n  UserKnownHostsFile {client / 'known_hosts'}\n"
                "  StrictHostKeyChecking yes\n  BatchMode yes\n"
            )
            known.append(f"[{address}]:{port} {' '.join(key)}\n")
            folders[name] = host
        (client / "known_hosts").write_text("".join(known))
        (client / "ssh_config").write_text("".join(config))
        for name in folders:
            for _ in range(50):
                probe = subprocess.run(["ssh", "-F", str(client / "ssh_config"), name, "true"], capture_output=True)
                if probe.returncode == 0:
                    break
                time.sleep(0.1)
            if probe.returncode:
                raise RuntimeError(f"sshd for {name} did not answer: {probe.stderr.decode(errors='replace')}")
            (folders[name] / "commands.jsonl").unlink()
        yield client / "ssh_config", folders
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
