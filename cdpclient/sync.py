"""The blocking face of the library, for plain scripts and runbooks that are not async.

    import cdpclient.sync

    with cdpclient.sync.connect("127.0.0.1:9229") as target:
        info = target.process_info()
        target.heap_snapshot("a.heapsnapshot", gc=True)
        target.cpu_profile("app.cpuprofile", duration=30)
        record = cdpclient.sync.capture_to_store(target, Store.open(), "heapsnapshot", gc=True)

Each :class:`SyncTarget` method is the :class:`cdpclient.Target` coroutine
method of the same name, with the same arguments and result, run to completion
on the facade's own event loop in a private daemon thread.  So it works where
``asyncio.run`` cannot: inside a running loop (Jupyter, IPython), in a thread.

* Errors are the library's own (:class:`cdpclient.ConnectionRefused`, ...),
  raised as they are, not wrapped.
* Ctrl-C (``KeyboardInterrupt`` in the calling thread) cancels the running
  coroutine, waits for its cleanup (profilers stopped in the target, no file
  saved), then re-raises; a second Ctrl-C stops waiting.
* ``close()`` (or leaving the ``with`` block) closes the session and stops the
  thread; a facade left open is closed when it is collected or at exit.
* Callbacks (``progress``, ``on_capture``, ``on_warning``) run in the loop
  thread.  A timed capture's ``stop`` event is an :class:`asyncio.Event`; set
  it from another thread with ``target.call_soon(event.set)``.

The store and the analysis (``cdpclient.store``, ``cdpclient.heap``,
``cdpclient.profiles``) are synchronous already and need no facade.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import inspect
import os
import threading
import weakref
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from cdpclient import kube as _kube
from cdpclient.captures import stored as _stored
from cdpclient.captures.result import CaptureResult, ProgressCallback
from cdpclient.discovery import Endpoint, TargetInfo
from cdpclient.errors import UsageError
from cdpclient.target import Target
from cdpclient.target import connect as _async_connect

if TYPE_CHECKING:
    from types import TracebackType

    from cdpclient.store import CaptureRecord, Store

__all__ = ["SyncTarget", "LoopThread", "connect", "attach_pod", "capture_to_store", "capture_to_file",
           "heap_snapshot_series_to_store"]

P = ParamSpec("P")
R = TypeVar("R")

_CLOSE_TIMEOUT = 30.0  # closing the session has its own timeouts; this bounds a target that hangs anyway


class LoopThread:
    """An event loop running in a daemon thread of its own; :meth:`run` runs a coroutine there and blocks."""

    def __init__(self, name: str = "cdpclient-sync") -> None:
        self.loop = asyncio.new_event_loop()
        self._waiting: set[concurrent.futures.Future[Any]] = set()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            while True:
                try:
                    loop.run_forever()
                    break
                except BaseException as exc:
                    # SystemExit (or the like) from a callback comes out of the loop itself: the
                    # callers waiting get it rather than waiting forever, and the loop goes on, so
                    # close() can still end the session.
                    for done in list(self._waiting):
                        if not done.done():
                            done.set_exception(exc)
            # Stopped: whatever is left (a task the caller abandoned) is cancelled and awaited.
            leftover = asyncio.all_tasks(loop)
            for task in leftover:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        """Run ``coro`` on the loop and return its result or raise its exception, as it is.

        ``KeyboardInterrupt`` while waiting cancels the coroutine, waits until it
        has finished its cleanup (a second one stops waiting) and re-raises.
        """
        if threading.get_ident() == self._thread.ident:
            coro.close()
            raise UsageError("a cdpclient.sync call from the facade's own loop thread (a callback) would "
                             "wait for itself; await the cdpclient.Target method there instead")
        if not self.running:
            coro.close()
            raise UsageError("this cdpclient.sync target is closed")
        done: concurrent.futures.Future[R] = concurrent.futures.Future()
        tasks: list[asyncio.Task[R]] = []
        # The caller's context (a recording_to of the caller's thread, say) goes with the coroutine.
        context = contextvars.copy_context()

        def start() -> None:
            task = self.loop.create_task(coro, context=context)
            tasks.append(task)
            task.add_done_callback(functools.partial(_settle, done))

        def cancel() -> None:
            for task in tasks:
                task.cancel()

        self._waiting.add(done)
        try:
            self.loop.call_soon_threadsafe(start)
            try:
                concurrent.futures.wait([done])
            except KeyboardInterrupt:
                # Scheduled after start(), so there is a task to cancel; its finally blocks stop
                # what the capture started in the target before we give the interrupt back.
                self.loop.call_soon_threadsafe(cancel)
                with contextlib.suppress(KeyboardInterrupt):
                    concurrent.futures.wait([done])
                raise
        finally:
            self._waiting.discard(done)
        return done.result()

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` in the loop thread (to set an :class:`asyncio.Event` passed as ``stop``)."""
        self.loop.call_soon_threadsafe(callback)

    def stop(self, timeout: float | None = _CLOSE_TIMEOUT) -> None:
        """Stop the loop (cancelling what still runs on it) and wait for the thread to end."""
        if self._thread.is_alive() and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed between the check and the call
                self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.get_ident() != self._thread.ident:
            self._thread.join(timeout)


def _settle(done: concurrent.futures.Future[R], task: asyncio.Task[R]) -> None:
    if done.done():  # settled already by LoopThread._main (an exception that came out of the loop)
        if not task.cancelled():
            task.exception()  # retrieved: asyncio would log it as never retrieved
        return
    if task.cancelled():
        done.cancel()
        done.set_running_or_notify_cancel()
    elif (exc := task.exception()) is not None:
        done.set_exception(exc)
    else:
        done.set_result(task.result())


class _Session:
    """What closing a facade needs: the loop thread and the async context the target came from."""

    def __init__(self, loop: LoopThread, context: AbstractAsyncContextManager[Any]) -> None:
        self.loop = loop
        self.context: AbstractAsyncContextManager[Any] | None = context

    def close(self) -> None:
        context, self.context = self.context, None
        try:
            if context is not None and self.loop.running:
                self.loop.run(context.__aexit__(None, None, None))
        finally:
            self.loop.stop()


class _SyncMethod(Generic[P, R]):
    """``SyncTarget.name``: the coroutine method ``Target.name`` run on the facade's loop."""

    def __init__(self, method: Callable[Concatenate[Target, P], Coroutine[Any, Any, R]]) -> None:
        self.method = method
        self.__doc__ = method.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _SyncMethod[P, R]: ...

    @overload
    def __get__(self, obj: SyncTarget, owner: type | None = None) -> Callable[P, R]: ...

    def __get__(self, obj: SyncTarget | None, owner: type | None = None) -> _SyncMethod[P, R] | Callable[P, R]:
        if obj is None:
            return self
        method, target, loop = self.method, obj.target, obj.loop

        @functools.wraps(method)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            return loop.run(method(target, *args, **kwargs))

        call.__signature__ = self.signature  # type: ignore[attr-defined]  # help() shows the bound form
        return call

    def __call__(self, obj: SyncTarget, /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Called on the class, as ``SyncTarget.cpu_profile(target, ...)``."""
        return obj.loop.run(self.method(obj.target, *args, **kwargs))

    @property
    def __signature__(self) -> inspect.Signature:
        sig = inspect.signature(self.method)
        return sig.replace(parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY),
                                       *list(sig.parameters.values())[1:]])

    @functools.cached_property
    def signature(self) -> inspect.Signature:
        """The async method's signature without ``self``: what the sync one takes and returns."""
        sig = inspect.signature(self.method)
        return sig.replace(parameters=list(sig.parameters.values())[1:])


class SyncTarget:
    """A connected target, blocking: each method is the :class:`cdpclient.Target` method of that name.

    Get one from :func:`connect` (or :func:`attach_pod`); use it in a ``with``
    block or call :meth:`close`.  ``target`` is the async :class:`Target`
    itself, ``loop`` the :class:`LoopThread` it lives on (``run`` any other
    coroutine there, e.g. one using ``target.connection``).
    """

    # The coroutine methods of Target, typed from their own signatures; any one added to Target
    # later and not listed here is still wrapped below (tests/foundation/test_sync_facade.py
    # checks that the list is complete, so it is typed too).
    evaluate = _SyncMethod(Target.evaluate)
    process_info = _SyncMethod(Target.process_info)
    heap_snapshot = _SyncMethod(Target.heap_snapshot)
    heap_snapshot_series = _SyncMethod(Target.heap_snapshot_series)
    snapshot_budget = _SyncMethod(Target.snapshot_budget)
    cpu_profile = _SyncMethod(Target.cpu_profile)
    sampling_heap_profile = _SyncMethod(Target.sampling_heap_profile)
    allocation_timeline = _SyncMethod(Target.allocation_timeline)
    diagnostic_report = _SyncMethod(Target.diagnostic_report)

    def __init__(self, target: Target, session: _Session) -> None:
        self.target = target
        self.loop = session.loop
        self._session = session
        self._finalizer = weakref.finalize(self, session.close)

    # The plain attributes of the async target.
    @property
    def endpoint(self) -> Endpoint:
        return self.target.endpoint

    @property
    def info(self) -> TargetInfo:
        return self.target.info

    @property
    def version(self) -> dict[str, Any] | None:
        return self.target.version

    @property
    def session_id(self) -> str:
        return self.target.session_id

    @property
    def identity(self) -> dict[str, Any]:
        return self.target.identity

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    # A signature with ``**kwargs`` does not fit ``Concatenate[Target, P]`` (its ``self`` could be
    # passed by keyword), so it is written out; the test compares it with Target.send's.
    def send(self, method: str, params: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """Run a CDP command; see :meth:`cdpclient.Target.send`."""
        return self.loop.run(self.target.send(method, params, **kwargs))

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        """Run any coroutine on this target's loop and return its result (see :meth:`LoopThread.run`)."""
        return self.loop.run(coro)

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` in the loop thread: ``target.call_soon(stop.set)`` ends a timed capture early."""
        self.loop.call_soon(callback)

    def close(self) -> None:
        """End the session (profilers we started stop) and the loop thread; closing twice is a no-op."""
        self._finalizer()

    def __enter__(self) -> SyncTarget:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<cdpclient.sync.SyncTarget {self.target.endpoint.address} {state}>"


def _wrap_the_rest() -> None:
    for name, method in inspect.getmembers(Target, inspect.iscoroutinefunction):
        if not name.startswith("_") and name != "close" and name not in vars(SyncTarget):
            wrapper: _SyncMethod[..., Any] = _SyncMethod(method)
            wrapper.__set_name__(SyncTarget, name)
            setattr(SyncTarget, name, wrapper)


_wrap_the_rest()


def _enter(context: Callable[P, AbstractAsyncContextManager[Any]]) -> Callable[P, SyncTarget]:
    """A blocking opener from an async context manager that yields a target (the same parameters)."""

    @functools.wraps(context)
    def open_(*args: P.args, **kwargs: P.kwargs) -> SyncTarget:
        loop = LoopThread()
        try:
            manager = context(*args, **kwargs)
            target = loop.run(manager.__aenter__())
        except BaseException:
            loop.stop()
            raise
        return SyncTarget(target, _Session(loop, manager))

    open_.__signature__ = inspect.signature(context).replace(  # type: ignore[attr-defined]
        return_annotation="SyncTarget")
    return open_


connect = _enter(_async_connect)
connect.__doc__ = """Connect to a Node inspector: :func:`cdpclient.connect`, blocking; returns a :class:`SyncTarget`.

Same arguments (``endpoint``, ``target_id``, ``timeout``, ``command_timeout``,
``on_warning``) and the same errors (:class:`ConnectionRefused`,
:class:`NotAnInspector`, :class:`TargetNotFound`, ...).  Use it as
``with cdpclient.sync.connect(...) as target:`` or close it.
"""

attach_pod = _enter(_kube.attach_pod)
attach_pod.__doc__ = """:func:`cdpclient.kube.attach_pod`, blocking; returns a :class:`SyncTarget`.

Closing it stops the port-forward and closes an inspector the attach opened.
"""


# Written out, not generated: their ``**options`` do not fit ``Concatenate[Target, P]``; the tests
# compare each signature with the async function's.
def capture_to_store(target: SyncTarget, store: Store, kind: str, *, labels: dict[str, str] | None = None,
                     compress: bool = False, **options: Any) -> CaptureRecord:
    """:func:`cdpclient.capture_to_store` on a :class:`SyncTarget`: the stored record back."""
    return target.run(_stored.capture_to_store(target.target, store, kind, labels=labels, compress=compress,
                                               **options))


def capture_to_file(target: SyncTarget, path: str | os.PathLike[str], kind: str, **options: Any) -> CaptureResult:
    """:func:`cdpclient.capture_to_file` on a :class:`SyncTarget`."""
    return target.run(_stored.capture_to_file(target.target, path, kind, **options))


def heap_snapshot_series_to_store(target: SyncTarget, store: Store, *, count: int, every: float, gc: bool = False,
                                  force: bool = False, labels: dict[str, str] | None = None, compress: bool = False,
                                  progress: ProgressCallback | None = None,
                                  on_capture: Callable[[CaptureRecord], Any] | None = None,
                                  stop: asyncio.Event | None = None) -> list[CaptureRecord]:
    """:func:`cdpclient.heap_snapshot_series_to_store` on a :class:`SyncTarget`: one record per snapshot.

    ``on_capture`` and ``progress`` run in the loop thread.
    """
    return target.run(_stored.heap_snapshot_series_to_store(
        target.target, store, count=count, every=every, gc=gc, force=force, labels=labels, compress=compress,
        progress=progress, on_capture=on_capture, stop=stop))
