# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Chaos: engines killed at random while a stack goes through its life.

:class:`Killer` kill -9s a random engine of a :class:`~cloud.HeatCloud`
every few seconds and starts it again at once. :class:`Phase` marks where
a stack's traversal starts in the event table, and tells what that
traversal must not leave behind once it has settled: a resource acted on
twice, a row left over, a stack or resource still IN_PROGRESS. Shared by
the live test (test_chaos) and the benchmark's chaos workloads
(tools/bench.py), so that both hold the engines to the same rules.

What a kill may legitimately cause: an action the dead engine cut off is
run again by a survivor, with Heat's semantics (the resource is marked
FAILED "Worker went down during resource ...", then replaced by a new
row, or simply started again when nothing had been stored yet). So a
second start of the same action is allowed only when a kill happened
between the two starts; an action that completed is never started again,
and never completes twice, in the same traversal.
"""

import collections
import contextlib
import datetime
import random
import threading

from heat_convergence_tests.live import cloud

WENT_DOWN = 'Worker went down'
# The reason of the UPDATE COMPLETE event of a resource to be replaced.
REPLACE_NEEDED = 'requires replacement'
# Heat's event and resource times are DATETIME, whole seconds: how far a
# kill's time may be from an event's and still count as between two.
SLACK = datetime.timedelta(seconds=2)


def utcnow():
    """The time as Heat stores it: naive UTC."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Killer(threading.Thread):
    """kill -9 a random engine every ``interval`` seconds, and restart it.

    The engine and the pause before each kill are drawn from ``seed``.
    ``kills`` lists (naive UTC time, engine index) of each kill. API calls
    made inside :meth:`calm` are not cut off by a kill: a request whose
    engine dies fails to the user, who repeats it, which is heat-api's
    contract and no traversal's.
    """

    def __init__(self, heat_cloud, seed, interval=(10, 20)):
        super().__init__(name='engine-killer', daemon=True)
        self.cloud = heat_cloud
        self.rng = random.Random(seed)
        self.interval = interval
        self.kills = []
        self.errors = []
        self._calm = threading.Lock()
        self._stopping = threading.Event()

    def run(self):
        while not self._stopping.wait(self.rng.uniform(*self.interval)):
            index = self.rng.randrange(self.cloud.engine_count)
            with self._calm:
                if self._stopping.is_set():
                    break
                try:
                    self.cloud.kill_engine(index)
                    self.kills.append((utcnow(), index))
                    self.cloud.start_engine(index)
                except Exception as exc:
                    self.errors.append('engine %d: %r' % (index, exc))

    @contextlib.contextmanager
    def calm(self):
        """Hold kills off for the block."""
        with self._calm:
            yield

    def stop(self):
        self._stopping.set()
        self.join(60)

    def kills_between(self, start, end):
        """The kills from ``start`` to ``end`` (naive UTC, inclusive)."""
        return [kill for kill in self.kills if start <= kill[0] <= end]


def wait_settled(heat_cloud, stack_id, action, timeout):
    """Poll the database until the stack's ``action`` settles.

    Returns its (action, status, status_reason), ('DELETE', 'COMPLETE', '')
    once deleted. The API is not polled: a request whose engine is killed
    waits out rpc_response_timeout.
    """
    def settled():
        rows = heat_cloud.query(
            'SELECT action, status, status_reason, deleted_at FROM stack '
            'WHERE id = :id', id=stack_id)
        if not rows or rows[0].deleted_at:
            return ('DELETE', 'COMPLETE', '')
        row = rows[0]
        if row.action == action and row.status in ('COMPLETE', 'FAILED'):
            return (row.action, row.status, row.status_reason)
        return None
    return cloud.wait_for(settled, timeout, interval=0.2,
                          what='the %s of stack %s' % (action, stack_id))


class Phase(object):
    """One traversal of a stack, to check once it has settled.

    Create it just before the API call that starts the traversal: it
    records the last event id and the live rows (``before``) then.
    """

    def __init__(self, heat_cloud, stack_id=None):
        self.cloud = heat_cloud
        self.stack_id = stack_id
        self.first_event = heat_cloud.query(
            'SELECT coalesce(max(id), 0) FROM event')[0][0] + 1
        self.started = utcnow()
        self.before = self.live_rows() if stack_id else {}

    def live_rows(self):
        """{name: row id} of the stack's resources not replaced."""
        return {name: row_id for row_id, name in self.cloud.query(
            'SELECT id, name FROM resource WHERE stack_id = :id AND '
            'replaced_by IS NULL', id=self.stack_id)}

    def events(self):
        """The resources' events since the phase started, oldest first.

        Those of nested stacks included; the stacks' own events (named
        after their stack) left out.
        """
        return self.cloud.query(
            'SELECT event.id, event.stack_id, resource_name, '
            'resource_action, resource_status, physical_resource_id, '
            'resource_status_reason, event.created_at FROM event '
            'JOIN stack ON stack.id = event.stack_id '
            'WHERE event.id >= :first AND resource_name <> stack.name '
            'ORDER BY event.id', first=self.first_event)

    def acted_twice(self, kills):
        """Messages for each action run twice with no kill to explain it.

        ``kills``: (time, engine) of the kills (see Killer). An action is
        a resource's (stack, name, action); each row is updated and
        deleted on its own, so an UPDATE or a DELETE is also told apart by
        its physical id (a row cut off before it had one, left FAILED for
        the next traversal, is not checked). An update that found that the
        resource needs replacing changed nothing: it may run again after a
        kill that cut off the replacement before it was stored. A FAILED
        event must be a kill's "Worker went down".
        """
        problems = []
        actions = collections.defaultdict(list)
        for event in self.events():
            key = (event.stack_id, event.resource_name,
                   event.resource_action)
            if event.resource_action in ('UPDATE', 'DELETE'):
                if not event.physical_resource_id:
                    continue
                key += (event.physical_resource_id,)
            actions[key].append(event)
        for key, events in actions.items():
            completed = started = None
            for event in events:
                what = '%s %s %s at %s (event %d, %s)' % (
                    key[1], key[2], event.resource_status,
                    event.created_at, event.id, event.physical_resource_id)
                reason = event.resource_status_reason
                if event.resource_status == 'IN_PROGRESS':
                    if completed:
                        problems.append('%s, after it completed at %s' % (
                            what, completed.created_at))
                    elif started and not any(
                            started.created_at - SLACK <= at <=
                            event.created_at + SLACK for at, _ in kills):
                        problems.append('%s, started at %s too, no kill '
                                        'between' % (what,
                                                     started.created_at))
                    started = event
                elif event.resource_status == 'COMPLETE' and (
                        REPLACE_NEEDED in (reason or '')):
                    pass
                elif event.resource_status == 'COMPLETE':
                    if completed:
                        problems.append('%s, completed at %s too' % (
                            what, completed.created_at))
                    completed = event
                elif event.resource_status == 'FAILED' and WENT_DOWN not in (
                        reason or ''):
                    problems.append('%s: %s' % (what, reason))
        return problems

    def went_down(self):
        """Names of the resources a kill cut off during the phase."""
        return {event.resource_name for event in self.events()
                if event.resource_status == 'FAILED' and WENT_DOWN in (
                    event.resource_status_reason or '')}

    def row_problems(self, names, replaced=(), in_place=()):
        """Messages for what the stack's rows must not show after the phase.

        ``names``: the resources of the template the phase went to (None:
        the stack was deleted, and must have no rows left). Each has one
        live row, COMPLETE; any other row is one a kill left FAILED for
        the next traversal. ``replaced``: names whose live row must be a
        new one; ``in_place``: names whose live row must be the one from
        before the phase, unless a kill cut their update off.
        """
        rows = self.cloud.query(
            'SELECT id, name, action, status, status_reason, replaced_by '
            'FROM resource WHERE stack_id = :id', id=self.stack_id)
        if names is None:
            return ['%s: row %d left %s_%s after the delete' % (
                r.name, r.id, r.action, r.status) for r in rows]
        problems = []
        live = collections.defaultdict(list)
        for r in rows:
            if r.replaced_by is None:
                live[r.name].append(r)
            elif r.status != 'FAILED' or WENT_DOWN not in (
                    r.status_reason or ''):
                problems.append('%s: replaced row %d left %s_%s (%s)' % (
                    r.name, r.id, r.action, r.status, r.status_reason))
        for name in sorted(set(live) | set(names)):
            found = live.get(name, [])
            if name not in names or len(found) != 1:
                problems.append('%s: %d live rows, %s expected' % (
                    name, len(found), int(name in names)))
            for r in found:
                if r.status != 'COMPLETE':
                    problems.append('%s: row %d is %s_%s (%s)' % (
                        name, r.id, r.action, r.status, r.status_reason))
        went_down = self.went_down()
        for name in replaced:
            if [r.id for r in live.get(name, [])] == [self.before.get(name)]:
                problems.append('%s: not replaced' % name)
        for name in set(in_place) - went_down:
            if [r.id for r in live.get(name, [])] != [self.before.get(name)]:
                problems.append('%s: replaced, not updated in place' % name)
        return problems


def unsettled(heat_cloud):
    """Messages for every stack or resource of the cloud IN_PROGRESS."""
    return ['stack %s (%s) %s_IN_PROGRESS' % (name, stack_id, action)
            for stack_id, name, action in heat_cloud.query(
                "SELECT id, name, action FROM stack "
                "WHERE status = 'IN_PROGRESS'")] + [
        'resource %s (%s) %s_IN_PROGRESS' % (name, stack_id, action)
        for stack_id, name, action in heat_cloud.query(
            "SELECT stack_id, name, action FROM resource "
            "WHERE status = 'IN_PROGRESS'")]


def kills_during(killer, phase, ended):
    """The kills that landed while the phase's traversal ran."""
    return killer.kills_between(phase.started, ended) if killer else []
