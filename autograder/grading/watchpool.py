"""Warm worker processes behind a watchdog: every task comes back, whatever its worker does.

concurrent.futures.ProcessPoolExecutor shares two queues among all its workers, guarded by
POSIX semaphores in /dev/shm. A process that opens one and takes it (a student's code did,
from the sandbox) stops the whole pool, and nothing above the pool had a timeout: `make
grade` never returned. Here each worker has a pipe of its own (a socketpair: no lock, no
named semaphore), and the parent's watchdog thread watches every task:

- past its time limit the worker is killed (the zygote and sandboxes die with it) and the
  task ends in WorkerStopped("timeout"); a new worker takes the place of the old one;
- a worker whose memory (RSS) passes `memory_mb` is killed the same way ("memory"); one
  that passes half of it after a task is replaced between tasks, as one that served
  `max_tasks`;
- a worker that dies ends its task in WorkerStopped("died").
"""
from __future__ import annotations

import collections
import socket
import threading
import time
from concurrent.futures import Future
from multiprocessing.connection import wait

START_LIMIT = 300.0  # seconds a new worker may take to start (imports, zygote) on a busy machine
POLL = 0.5           # seconds between checks of deadlines and memory


class WorkerStopped(Exception):
    """The watchdog (or the worker's death) ended a task: kind is timeout, memory or died."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _serve(conn, initializer, initargs) -> None:
    """A worker: run the initializer, then (fn, args) -> ("ok", value) / ("raised", exception)."""
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        fn, args = task
        try:
            reply = ("ok", fn(*args))
        except Exception as exc:  # noqa: BLE001 (handed to the caller's future)
            reply = ("raised", exc)
        try:
            conn.send(reply)
        except Exception as exc:  # noqa: BLE001 (a value or exception that cannot be pickled)
            conn.send(("raised", RuntimeError(f"{type(exc).__name__}: {exc}")))


class _Worker:
    def __init__(self, ctx, initializer, initargs, start_limit: float):
        self.conn, theirs = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_serve, args=(theirs, initializer, initargs), daemon=True)
        self.proc.start()
        theirs.close()
        self.task = None          # (future, limit, deadline) while busy
        self.served, self.start_limit = 0, start_limit

    def give(self, future: Future, fn, args, limit: float) -> None:
        extra = self.start_limit if self.served == 0 else 0.0  # its first task waits for its start-up
        self.task = (future, limit, time.monotonic() + limit + extra)
        self.conn.send((fn, args))

    def kill(self) -> None:
        try:
            self.proc.kill()
        except (OSError, ValueError):
            pass
        self.proc.join(5)
        self.conn.close()


class WatchedPool:
    """submit(fn, *args, limit=...) -> Future, like ProcessPoolExecutor; tasks never hang."""

    def __init__(self, jobs: int, ctx, initializer=None, initargs=(), task_limit: float = 900.0,
                 memory_mb: float = 3072, max_tasks: int = 1000, log=None, start_limit: float = START_LIMIT):
        self.ctx, self.initializer, self.initargs = ctx, initializer, initargs
        self.task_limit, self.memory_mb, self.max_tasks = task_limit, memory_mb, max_tasks
        self.start_limit = start_limit
        self.log = log or (lambda message: None)
        self.pending: collections.deque = collections.deque()
        self.lock = threading.Lock()
        self.wake_r, self.wake_w = socket.socketpair()
        self.closing = False
        self.failed_starts = 0
        self.workers = [self._new() for _ in range(max(1, jobs))]
        self.thread = threading.Thread(target=self._watch, name="flatgrad-watchdog", daemon=True)
        self.thread.start()

    # --- the caller's side ------------------------------------------------------------------
    def submit(self, fn, *args, limit: float | None = None) -> Future:
        future = Future()
        with self.lock:
            if self.closing:
                raise RuntimeError("the pool is shut down")
            self.pending.append((future, fn, args, limit or self.task_limit))
        self._wake()
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        with self.lock:
            self.closing = True
            if cancel_futures:
                while self.pending:
                    self.pending.popleft()[0].cancel()
        self._wake()
        if wait:
            self.thread.join()

    def _wake(self) -> None:
        try:
            self.wake_w.send(b"x")
        except OSError:
            pass

    # --- the watchdog thread ----------------------------------------------------------------
    def _watch(self) -> None:
        try:
            while True:
                self._dispatch()
                busy = [w for w in self.workers if w.task]
                with self.lock:
                    if self.closing and not busy and not self.pending:
                        break
                ready = wait([self.wake_r] + [w.conn for w in busy] + [w.proc.sentinel for w in busy], POLL)
                if self.wake_r in ready:
                    self.wake_r.recv(4096)
                for worker in busy:
                    if worker.conn in ready or worker.proc.sentinel in ready:
                        self._collect(worker)
                self._check(time.monotonic())
        finally:
            stop = WorkerStopped("died", "the grading pool stopped before this task finished")
            with self.lock:
                self.closing = True
                left = [p[0] for p in self.pending] + [w.task[0] for w in self.workers if w.task]
                self.pending.clear()
            for future in left:  # never leave a caller waiting, even if this thread failed
                if not future.done():
                    future.set_exception(stop)
            for worker in self.workers:
                try:
                    worker.conn.send(None)  # finish and exit (its atexit runs)
                except OSError:
                    pass
            for worker in self.workers:
                worker.proc.join(10)
                if worker.proc.is_alive():
                    worker.kill()
            self.wake_r.close()
            self.wake_w.close()

    def _dispatch(self) -> None:
        for index, worker in enumerate(self.workers):
            if worker.task:
                continue
            with self.lock:
                if not self.pending:
                    return
                future, fn, args, limit = self.pending.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            if not worker.proc.is_alive():
                worker = self._replace(index)
            try:
                worker.give(future, fn, args, limit)
            except (OSError, ValueError) as exc:  # it died between tasks
                future.set_exception(WorkerStopped("died", f"the grading worker could not take the task: {exc}"))
                self._replace(index)

    def _collect(self, worker: _Worker) -> None:
        future = worker.task[0]
        try:
            if not worker.conn.poll():
                raise EOFError
            kind, value = worker.conn.recv()
        except (EOFError, OSError):
            worker.proc.join(1)
            stop = WorkerStopped("died", f"the grading worker died (exit code {worker.proc.exitcode})")
            self._end(worker, future, stop, replace=True, started=worker.served > 0)
            return
        worker.task = None
        worker.served += 1
        self.failed_starts = 0
        (future.set_result if kind == "ok" else future.set_exception)(value)
        if worker.served >= self.max_tasks or rss_mb(worker.proc.pid) > self.memory_mb / 2:
            self._retire(worker)  # memory stays bounded whatever the class size

    def _check(self, now: float) -> None:
        for worker in [w for w in self.workers if w.task]:
            future, limit, deadline = worker.task
            if now > deadline:
                self._end(worker, future, WorkerStopped(
                    "timeout", f"grading it took longer than {limit:g} s: its worker was stopped and replaced"))
            elif (rss := rss_mb(worker.proc.pid)) > self.memory_mb:
                self._end(worker, future, WorkerStopped(
                    "memory", f"grading it made the grader's worker use {rss:,.0f} MiB (over {self.memory_mb:g}): "
                              "its worker was stopped and replaced"))

    def _end(self, worker: _Worker, future: Future, stop: WorkerStopped, replace: bool = True,
             started: bool = True) -> None:
        worker.task = None
        self.log(f"watchdog: {stop.message}")
        future.set_exception(stop)
        if not started:
            self.failed_starts += 1
        if self.failed_starts > 3:  # workers that cannot even start: fail what is left, loudly
            with self.lock:
                while self.pending:
                    self.pending.popleft()[0].set_exception(RuntimeError("the grading workers cannot start"))
            return
        self._replace(self.workers.index(worker))

    def _retire(self, worker: _Worker) -> None:
        try:
            worker.conn.send(None)
        except OSError:
            pass
        self._replace(self.workers.index(worker), kill=False)

    def _replace(self, index: int, kill: bool = True) -> _Worker:
        old = self.workers[index]
        if kill:
            old.kill()
        else:
            def reap():  # it exits by itself, after its atexit steps
                old.proc.join(60)
                if old.proc.is_alive():
                    old.proc.kill()
                old.conn.close()
            threading.Thread(target=reap, daemon=True).start()
        self.workers[index] = self._new()
        return self.workers[index]

    def _new(self) -> _Worker:
        return _Worker(self.ctx, self.initializer, self.initargs, self.start_limit)
