"""``pull``: copy the diagnostic files Node wrote inside a container into the store.

    result = await cdpclient.kube.pull_files("api-7f9", store=Store.open(), namespace="prod", wait=True)
    for f in result.files:
        print(f.path, f.state, f.record.id if f.record else f.why)

The flow: find the Node processes in the container and read from their flags
where they write (:mod:`cdpclient.kube.nodefiles`); list those places; with
``wait``, wait until no process holds a file open for writing (and, when there
is no file yet, for one to appear: a near-heap-limit snapshot of a process on
its way to an OOM kill); copy each file out over ``kubectl exec`` (gzip'd when
the container has gzip, inflated as it arrives, never held in memory); check it
as ``import`` does and import it with the pod's labels.  A file the store
already holds (same pod, path, size and time) is not copied again.  ``delete``
removes a file from the container once it is safely in the store.
"""

from __future__ import annotations

import asyncio
import os
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cdpclient import compression, fileio
from cdpclient.errors import InvalidCaptureFile, KubeError
from cdpclient.kube import nodefiles, procscan
from cdpclient.kube.failures import explain
from cdpclient.kube.kubectl import Kubectl
from cdpclient.kube.pods import PodInfo, get_pod
from cdpclient.store import CaptureRecord, Store
from cdpclient.store.store import ContentCheck

DEFAULT_TIMEOUT = 600.0
POLL = 1.0

# The states of a file in a PullResult.
IMPORTED = "imported"      # copied, checked and stored
PRESENT = "present"        # the store already holds it (pulled before)
WRITING = "writing"        # still being written (without wait, or wait timed out)
INCOMPLETE = "incomplete"  # nobody writes it any more, yet it is not a whole capture (writer killed mid-file)
FAILED = "failed"          # the copy failed


@dataclass
class PulledFile:
    """One diagnostic file found in the container and what became of it."""

    path: str
    size: int
    state: str
    record: CaptureRecord | None = None
    why: str | None = None
    deleted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "state": self.state,
                "id": self.record.id if self.record else None, "kind": self.record.kind if self.record else None,
                "why": self.why, "deleted": self.deleted}


@dataclass
class PullResult:
    pod: str
    namespace: str
    container: str
    searched: list[str] = field(default_factory=list)
    files: list[PulledFile] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing failed or was left incomplete (files still being written are not failures)."""
        return all(f.state in (IMPORTED, PRESENT, WRITING) for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {"pod": self.pod, "namespace": self.namespace, "container": self.container,
                "searched": self.searched, "files": [f.to_dict() for f in self.files]}


async def pull_files(pod: str, *, store: Store, namespace: str | None = None, context: str | None = None,
                     container: str | None = None, kubeconfig: str | None = None, kubectl: str | None = None,
                     dirs: Sequence[str] = (), wait: bool = False, timeout: float = DEFAULT_TIMEOUT,
                     delete: bool = False, labels: dict[str, str] | None = None, compress: bool = False,
                     on_event: Callable[[str], None] | None = None,
                     on_progress: Callable[[str, int, int], None] | None = None,
                     poll: float = POLL, check: ContentCheck | None = None) -> PullResult:
    """Find, wait for, copy, check and import the files Node wrote in ``pod``; see the module docstring.

    ``dirs``: more directories to search (absolute, as the container sees them).
    ``on_event``: one line per step worth telling; ``on_progress(path, done, total)``
    while a file is copied.  ``check``: passed to :meth:`Store.import_files` (what the readers refuse
    is reported incomplete, not imported).  Raises :class:`KubeError` when the pod or container
    cannot be reached or there is nowhere to look.
    """
    emit = on_event or (lambda message: None)
    kc = Kubectl(kubectl, kubeconfig=kubeconfig, context=context, namespace=namespace)
    info = await get_pod(kc, pod)
    kc.namespace = info.namespace
    cname = info.pick_container(container)
    box = _Container(kc, info, cname)
    deadline = time.monotonic() + timeout
    result = PullResult(pod=info.name, namespace=info.namespace, container=cname)

    listing = await _settled_listing(box, list(dirs), result, wait=wait, deadline=deadline, poll=poll, emit=emit)
    all_labels = {**info.labels, "pod": info.name, "namespace": info.namespace, **(labels or {})}
    target = {"namespace": info.namespace, "pod": info.name, "container": cname, "node": info.node,
              "image": info.images.get(cname), "pod_uid": info.uid}
    held = _pulled_before(store)
    for remote in listing.files:
        if remote.writing:
            result.files.append(PulledFile(remote.path, remote.size, WRITING,
                                           why="still being written" + ("" if wait else "; pass --wait")))
            continue
        key = _source_key(info, cname, remote)
        if key in held:
            entry = PulledFile(remote.path, remote.size, PRESENT, record=held[key], why=f"already stored as "
                               f"{held[key].id}")
        else:
            entry = await _pull_one(box, remote, listing.gzip, store, key=key, labels=all_labels, target=target,
                                    compress=compress, emit=emit, on_progress=on_progress, check=check)
        if delete and entry.state in (IMPORTED, PRESENT):
            await box.exec("rm", "-f", "--", remote.path)
            entry.deleted = True
            emit(f"deleted {remote.path} from the container")
        result.files.append(entry)
    return result


class _Container:
    """kubectl exec into one container of one pod."""

    def __init__(self, kc: Kubectl, pod: PodInfo, container: str) -> None:
        self.kc, self.pod, self.container = kc, pod, container

    def _args(self, *argv: str) -> tuple[str, ...]:
        return ("exec", self.pod.name, "-c", self.container, "--", *argv)

    def _error(self, stderr: str) -> KubeError:
        return explain(stderr, verb="exec", pod=self.pod.name, namespace=self.pod.namespace,
                       container=self.container)

    async def exec(self, *argv: str, timeout: float = 60.0) -> bytes:
        res = await self.kc.run(*self._args(*argv), timeout=timeout)
        if res.code != 0:
            raise self._error(res.stderr)
        return res.stdout

    async def copy(self, path: str, sink: Callable[[bytes], None], *, gzip: bool) -> None:
        argv = ("gzip", "-1", "-c", "--", path) if gzip else ("cat", "--", path)
        res = await self.kc.stream(*self._args(*argv), sink=sink)
        if res.code != 0:
            raise self._error(res.stderr)

    async def refresh(self) -> None:
        self.pod = await get_pod(self.kc, self.pod.name)


async def _listing(box: _Container, dirs: list[str], result: PullResult, known: list[str]) -> nodefiles.Listing:
    """Where to look (from the running Node processes' flags, and ``dirs``), and what is there now.

    ``known`` keeps the places found on earlier calls: a process that died of its heap limit while we
    waited (after writing its near-heap-limit snapshot) still says where it wrote.
    """
    procs = procscan.parse_scan(await box.exec("sh", "-c", procscan.SCAN_SCRIPT)).node_procs
    known += [g for p in procs for g in nodefiles.globs(p)] + nodefiles.globs_for_dirs(dirs)
    known[:] = dict.fromkeys(known)
    globs = list(known)
    if not globs:
        raise KubeError(f"no Node.js process in container {box.container} of pod {box.pod.name} to read its "
                        f"diagnostic directories from", hint="name the directory the files are in with {dir}",
                        pod=box.pod.name, options=("dir",))
    result.searched = sorted({os.path.dirname(g) for g in globs})
    return nodefiles.parse_listing(await box.exec("sh", "-c", nodefiles.LIST_SCRIPT, "sh", *globs))


async def _settled_listing(box: _Container, dirs: list[str], result: PullResult, *, wait: bool, deadline: float,
                           poll: float, emit: Callable[[str], None]) -> nodefiles.Listing:
    """The listing; with ``wait``, once no file is being written and at least one is there (or time is up).

    While waiting, a container that is restarting (the OOM kill that wrote the file) is waited for too.
    """
    told: dict[str, int] = {}
    known: list[str] = []
    restarting = False
    while True:
        try:
            if restarting:
                await box.refresh()
            box.pod.check_running(box.container)
            listing = await _listing(box, dirs, result, known)
            restarting = False
        except KubeError as exc:
            if not wait or time.monotonic() >= deadline:
                raise
            if not restarting:
                emit(f"waiting for container {box.container} of pod {box.pod.name}: {exc}")
            restarting = True
            await asyncio.sleep(poll)
            continue
        writing = [f for f in listing.files if f.writing]
        if not wait or (listing.files and not writing) or time.monotonic() >= deadline:
            return listing
        if not listing.files and "" not in told:
            told[""] = 0
            emit(f"no diagnostic file yet in {', '.join(result.searched)}; waiting for one")
        for f in writing:
            if told.get(f.path) != f.size:
                told[f.path] = f.size
                emit(f"waiting for {f.path}: {_size(f.size)} written so far")
        await asyncio.sleep(poll)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _source_key(info: PodInfo, container: str, remote: nodefiles.RemoteFile) -> str:
    return f"kube://{info.namespace}/{info.name}/{container}{remote.path}@{remote.size}:{int(remote.mtime)}"


def _pulled_before(store: Store) -> dict[str, CaptureRecord]:
    if not store.exists:
        return {}
    found = {}
    for record in store.list():
        source = record.meta.get("pulled_from")
        if isinstance(source, str):
            found[source] = record
    return found


async def _pull_one(box: _Container, remote: nodefiles.RemoteFile, gzip: bool, store: Store, *, key: str,
                    labels: dict[str, str], target: dict[str, Any], compress: bool, emit: Callable[[str], None],
                    on_progress: Callable[[str, int, int], None] | None,
                    check: ContentCheck | None = None) -> PulledFile:
    entry = PulledFile(remote.path, remote.size, FAILED)
    with store.staging() as staging:
        local = staging / (remote.name or "pulled")
        emit(f"copying {remote.path} ({_size(remote.size)}{', gzip' if gzip else ''})")
        with fileio.open_private(local) as out:
            inflate = zlib.decompressobj(wbits=31) if gzip else None
            done = 0

            def sink(chunk: bytes) -> None:
                # Bounded: gzip from the container inflates a block at a time, and nothing past the
                # size the listing gave is written (a bomb, or a file that grew, is caught below).
                nonlocal done
                while chunk:
                    if inflate is not None:
                        data = inflate.decompress(chunk, compression.BLOCK)
                        chunk = inflate.unconsumed_tail
                    else:
                        data, chunk = chunk, b""
                    if done <= remote.size:
                        out.write(data[:remote.size + 1 - done])
                    done += len(data)
                if on_progress:
                    on_progress(remote.path, min(done, remote.size), remote.size)

            try:
                await box.copy(remote.path, sink, gzip=gzip)
                if inflate is not None:
                    tail = inflate.flush(compression.BLOCK)
                    if done <= remote.size:
                        out.write(tail[:remote.size + 1 - done])
                    done += len(tail)
                    if not inflate.eof:
                        raise KubeError(f"the gzip stream of {remote.path} ended early", pod=box.pod.name)
            except (KubeError, zlib.error) as exc:
                entry.why = str(exc)
                return entry
        if done > remote.size:
            entry.state, entry.why = INCOMPLETE, (f"more than the {remote.size} bytes listed came (stopped writing "
                                                  f"there): it grew while copied")
            return entry
        if done != remote.size:
            entry.state, entry.why = INCOMPLETE, f"got {done} bytes of {remote.size}: it changed while copied"
            return entry
        if remote.mtime:
            os.utime(local, (remote.mtime, remote.mtime))
        meta: dict[str, Any] = {"pulled_from": key, "source": f"{box.pod.namespace}/{box.pod.name}:{remote.path}"}
        if remote.writer_pid is not None:
            meta["pid"] = remote.writer_pid
        try:
            record = store.import_file(local, labels=labels, compress=compress, target=target, meta=meta,
                                       move=True, check=check)
        except InvalidCaptureFile as exc:
            reason = str(exc).removeprefix(f"{local}: ")
            entry.state, entry.why = INCOMPLETE, f"{reason} (was its writer killed while writing it?)"
            return entry
    entry.state, entry.record = IMPORTED, record
    emit(f"imported {remote.path} as {record.id} ({record.kind})")
    return entry
