"""Run actors (threads doing real AWS calls) one AWS call at a time, in an order the test chooses.

Every call an actor makes on the functions' own botocore clients (``handlers.common.aws``) stops
before it is sent, and waits until the scheduler lets that actor go; so the order of every request
of every actor (each upload, row write, delete) is the test's to choose, and a run is repeatable.
An actor can also be made to die at a call (``Crash``, raised before the request is sent), as a
Lambda invocation that times out or runs out of memory dies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from handlers.common import aws

_WAIT_S = 30.0


class Crash(BaseException):
    """The actor dies here (BaseException: no handler of the product catches it)."""


class Stuck(AssertionError):
    """An actor neither reached its next call nor finished in time."""


@dataclass
class Actor:
    name: str
    work: Callable[[], Any]
    thread: threading.Thread | None = None
    go: threading.Event = field(default_factory=threading.Event)
    parked_at: str | None = None  # the call it waits before
    done: bool = False
    crash_next: bool = False
    result: Any = None
    error: BaseException | None = None


class Scheduler:
    """Actors, each parked before its next AWS call until ``step`` releases it."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._by_thread: dict[int, Actor] = {}
        self.actors: list[Actor] = []
        self.trace: list[str] = []
        self._clients = (aws.s3(), aws.dynamodb())
        for client in self._clients:
            client.meta.events.register("before-call", self._before_call)

    def close(self) -> None:
        """Kill every actor still parked (a run cut short: a failed assertion, or hypothesis
        ending an example early), so none makes a call after the test, then stop watching."""
        for actor in self.parked():
            with self._lock:
                actor.crash_next = True
                actor.parked_at = None
                actor.go.set()
        for actor in self.actors:
            if actor.thread is not None:
                actor.thread.join(_WAIT_S)
        for client in self._clients:
            client.meta.events.unregister("before-call", self._before_call)

    def start(self, name: str, work: Callable[[], Any]) -> Actor:
        """Start an actor and wait until it is parked before its first call (or done)."""
        actor = Actor(name, work)
        actor.thread = threading.Thread(target=self._run, args=(actor,), name=name, daemon=True)
        self.actors.append(actor)
        actor.thread.start()
        self._settle(actor)
        return actor

    def parked(self) -> list[Actor]:
        return [actor for actor in self.actors if not actor.done and actor.parked_at]

    def step(self, actor: Actor, crash: bool = False) -> None:
        """Let ``actor`` make its call (or die before it), and wait until it is parked again."""
        assert actor.parked_at and not actor.done
        self.trace.append(f"{actor.name}: {'CRASH at ' if crash else ''}{actor.parked_at}")
        with self._lock:
            actor.crash_next = crash
            actor.parked_at = None
            actor.go.set()
        self._settle(actor)

    def _settle(self, actor: Actor) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: actor.done or actor.parked_at, _WAIT_S):
                raise Stuck(f"{actor.name} is stuck: {self.trace[-5:]}")

    def _run(self, actor: Actor) -> None:
        with self._lock:
            self._by_thread[threading.get_ident()] = actor
        try:
            actor.result = actor.work()
        except BaseException as exc:
            actor.error = exc
        finally:
            with self._lock:
                actor.done = True
                self._lock.notify_all()

    def _before_call(self, event_name: str, **_: Any) -> None:
        with self._lock:
            actor = self._by_thread.get(threading.get_ident())
            if actor is None:
                return  # the test itself: setting up or checking
            actor.go.clear()
            actor.parked_at = event_name.removeprefix("before-call.")
            self._lock.notify_all()
        if not actor.go.wait(_WAIT_S):
            raise Crash(f"{actor.name} was never released")  # dies without another call
        if actor.crash_next:
            raise Crash(actor.name)
