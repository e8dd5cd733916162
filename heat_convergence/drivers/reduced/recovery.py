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

"""No stack left behind: the periodic work of every engine.

Stock Heat leaves a convergence stack IN_PROGRESS for good when the engine
running one of its nodes dies: the node's message is gone, the stack
timeout is only checked when a message arrives, and the start-up reset
skips convergence stacks. With the SyncPoints in the database, any engine
can see what is in flight and pick it up. Every ``[heat_convergence]
periodic_interval`` seconds each engine:

* releases nodes it holds in the database but is not running (the thread
  died, e.g. on a database outage) and dispatches them again; a resource
  lock such a thread left behind is stolen when the node runs again
  (:mod:`.handover`);
* takes over the nodes held by engines that are dead (they do not answer
  Heat's engine-listener ``is_alive`` call) and dispatches them again;
  Heat's own code then steals the resource lock, marks the resource
  "Worker went down" and retries the action;
* restarts traversals whose engine died before their graph was stored;
* dispatches again nodes that have been READY longer than
  ``ready_timeout`` without an engine taking them, in a traversal none of
  whose nodes was taken or finished meanwhile (a message lost in a broker
  restart; not one queued behind thousands of others), throttled nodes
  of stacks under their ``max_concurrent_resources_per_stack`` again, and
  the queued leaves of traversals with no node left to end (see
  :mod:`.dispatch_window`);
* fails stacks past their timeout, "Timed out", then rolls them back if
  rollback is enabled, as Heat does when a node notices it;
* deletes rows of traversals that are no longer their stack's current one;
* in a mixed fleet, casts again the graph nodes of Heat's own traversals
  (started by stock engines) whose messages were lost
  (:mod:`.heat_traversals`).

Each step is a claim by an atomic update, so several engines doing the same
pass never dispatch a node twice. Every query uses an index or reads only
the (small) table of live traversals.
"""

import datetime
import random
import threading

from heat.common import context
from heat.common import exception
from heat.db import api as heat_db_api
from heat.engine import stack as parser
from heat.objects import user_creds as ucreds_object
from heat.rpc import listener_client
from oslo_log import log as logging
import oslo_messaging
from oslo_utils import timeutils

from heat_convergence.db import api as db_api
from heat_convergence.db import recovery as db_recovery
from heat_convergence.db import views as db_views
from heat_convergence.drivers.reduced import cancellation
from heat_convergence.drivers.reduced import heat_traversals
from heat_convergence.drivers.reduced import parent_wake
from heat_convergence.drivers.reduced import sync_points

LOG = logging.getLogger(__name__)

# Nodes re-dispatched per pass at most, so that one pass stays short.
BATCH = 500

# An engine that misses Heat's liveness call is asked again, waiting this
# many times engine_life_check_timeout (see Recovery.is_alive).
CONFIRM_FACTOR = 5


def stack_context(cnxt, stack_id):
    """The context to run a stack's work in from here: its owner's.

    A node runs in the context its message carries, and its resources'
    actions reach the other services with it; so does the end of a stack's
    delete, which removes the stack's keystone project. The recovery's own
    admin context has no credentials: the work it sends on or finishes
    runs in the context of the credentials Heat stored with the stack for
    deferred work (Heat's ``Stack.stored_context``; nested stacks share
    their root's). It stays an admin context, as the recovery's own: the
    stored credentials carry no roles, and the stack's rows must stay
    readable whatever project it is in. ``cnxt`` itself for a stack with
    no stored credentials.
    """
    row = heat_db_api.stack_get(cnxt, stack_id, show_deleted=True,
                                eager_load=False)
    if row is None or row.user_creds_id is None:
        return cnxt
    try:
        creds = ucreds_object.UserCreds.get_by_id(cnxt, row.user_creds_id)
    except exception.NotFound:
        return cnxt
    return context.RequestContext.from_dict(
        creds.obj_to_primitive()['versioned_object.data'],
        request_id=cnxt.request_id, is_admin=True, overwrite=False)


def replacement_of(cnxt, stack_id, node):
    """The replacement an update node had moved on to, or None.

    A node whose resource needs replacing makes the replacement row and
    runs on from it (:class:`.handover.ReDispatch`), under the same graph
    node. Resumed on the replaced row instead, it would have Heat update
    that row again and make a second replacement, leaving the first one
    half created and locked by the dead engine. A replacement cut off by a
    kill is marked FAILED and replaced in turn, so the node follows the
    chain of replacements to its last row: resumed on one in the middle,
    Heat would replace that one again and leave the last, locked by the
    dead engine, IN_PROGRESS for good. A replacement is this traversal's
    if it was made for the stack's current template: in a rollback, the
    replaced row is the one to run again.
    """
    if not node.is_update:
        return None
    try:
        stack = heat_db_api.stack_get(cnxt, stack_id, show_deleted=True,
                                      eager_load=False)
        row = heat_db_api.resource_get(cnxt, node.rsrc_id)
    except exception.NotFound:
        return None
    if stack is None:
        return None
    last, seen = None, {row.id}
    while row.replaced_by is not None and row.replaced_by not in seen:
        try:
            new = heat_db_api.resource_get(cnxt, row.replaced_by)
        except exception.NotFound:
            break
        if (new.replaces != row.id or
                new.current_template_id != stack.raw_template_id):
            break
        last, row = new.id, new
        seen.add(new.id)
    if last is not None:
        LOG.info('Node %s resumes on resource %s, the last replacement it '
                 'made.', node, last)
    return last


class Recovery(object):
    """The periodic recovery work of one engine process."""

    def __init__(self, driver):
        self.driver = driver
        self.conf = driver.conf.heat_convergence
        self._stop = threading.Event()
        self._thread = None
        self._alive = {}

    def start(self):
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name='heat-convergence-recovery')
        self._thread.start()

    def stop(self):
        self._stop.set()

    def _loop(self):
        # Engines that start together should not all query together.
        self._stop.wait(random.uniform(0, self.conf.periodic_interval))
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.conf.periodic_interval)

    def run_once(self):
        """One pass of every task; a failing task does not stop the rest."""
        cnxt = context.get_admin_context()
        self._alive = {}
        for task in (self.release_orphans, self.take_over_dead_engines,
                     self.restart_unstarted, self.redispatch_stale,
                     self.send_stalled_queues, self.wake_throttled,
                     self.enforce_timeouts, self.collect_garbage,
                     self.resume_heat_traversals):
            try:
                task(cnxt)
            except Exception:
                LOG.exception('Recovery task %s failed; retrying in %ss',
                              task.__name__, self.conf.periodic_interval)

    @property
    def engine_id(self):
        return self.driver.engine_id

    def is_alive(self, cnxt, engine_id):
        """Ask an engine whether it is alive (Heat's listener call).

        One that does not answer within Heat's ``engine_life_check_timeout``
        is asked again, waiting :data:`CONFIRM_FACTOR` times as long: a
        live engine busy with hundreds of threads (a ResourceGroup's
        members waiting for their nested stacks) was seen to miss the first
        call, and the nodes it was running were then run a second time
        elsewhere, whose check preempted (cancelled) the members' nested
        stacks. A dead engine's nodes wait that much longer.
        """
        if engine_id == self.engine_id:
            return True
        if engine_id not in self._alive:
            self._alive[engine_id] = (
                listener_client.EngineListenerClient(engine_id).is_alive(
                    cnxt) or self._answers_late(cnxt, engine_id))
        return self._alive[engine_id]

    def _answers_late(self, cnxt, engine_id):
        timeout = CONFIRM_FACTOR * self.driver.conf.engine_life_check_timeout
        try:
            return cancellation.listener(engine_id).prepare(
                timeout=timeout).call(cnxt, 'listening')
        except oslo_messaging.MessagingTimeout:
            return False

    def _each(self, task, items, work):
        """Run ``work(item)`` for every item; a failure skips that one only.

        A stack whose row vanished meanwhile (deleted and purged) has
        nothing left to recover; any other error is logged, and the pass
        goes on with the other items.
        """
        done = 0
        for item in items:
            try:
                if work(item):
                    done += 1
            except exception.NotFound as exc:
                LOG.info('Recovery task %s: %s is gone (%s); skipped.',
                         task, item, exc)
            except Exception:
                LOG.exception('Recovery task %s failed for %s; going on '
                              'with the others.', task, item)
        return done

    def release_orphans(self, cnxt):
        """Release nodes held in the DB by this engine but not running."""
        quiet = timeutils.utcnow() - self._grace()

        def release(row):
            key = (row.traversal_id, row.entity_id, row.is_update)
            if self.driver.running(key) or row.updated_at > quiet:
                return
            node = sync_points.node_of(row)
            if db_recovery.take_over(cnxt, row.traversal_id,
                                     sync_points.key(node), self.engine_id):
                LOG.warning('Node %s of traversal %s was held here but not '
                            'running; dispatching it again.', node,
                            row.traversal_id)
                self.driver.resume(cnxt, row.traversal_id, node)

        self._each('release_orphans',
                   db_recovery.nodes_held_by(cnxt, self.engine_id), release)

    def take_over_dead_engines(self, cnxt):
        """Dispatch again the nodes of engines that do not answer.

        Then every READY node: a dead engine had received, and acknowledged
        to the broker, the messages of nodes it had not claimed yet. Were
        they left to :meth:`redispatch_stale`, each engine killed would
        cost ``ready_timeout`` of a traversal still moving elsewhere (in a
        chaos run of 500 resources, an engine killed every 10 to 20 s, most
        of the minutes the kills added). A node whose message was not lost
        is claimed once all the same.
        """
        died, started = False, timeutils.utcnow()
        for engine_id in db_recovery.holders(cnxt) - {self.engine_id}:
            if self.is_alive(cnxt, engine_id):
                continue

            def take_over(row, engine_id=engine_id):
                node = sync_points.node_of(row)
                if not db_recovery.take_over(cnxt, row.traversal_id,
                                             sync_points.key(node),
                                             engine_id):
                    return False
                self.driver.resume(cnxt, row.traversal_id, node)
                return True

            taken = self._each('take_over_dead_engines',
                               db_recovery.nodes_held_by(cnxt, engine_id),
                               take_over)
            if taken:
                LOG.warning('Engine %s is dead; resumed %d of its nodes.',
                            engine_id, taken)
                died = True
        if died:
            # Not those just taken over: they were sent above.
            self._redispatch_ready(cnxt, started, False)

    def restart_unstarted(self, cnxt):
        """Start again traversals whose engine died while starting them."""
        def restart(row):
            if row.engine_id and self.is_alive(cnxt, row.engine_id):
                return
            if row.created_at > timeutils.utcnow() - self._grace():
                return
            if not db_recovery.take_over_start(cnxt, row.id, row.engine_id,
                                               self.engine_id):
                return
            stack = parser.Stack.load(stack_context(cnxt, row.stack_id),
                                      stack_id=row.stack_id,
                                      force_reload=True)
            if stack.current_traversal != row.id:
                return
            LOG.warning('[%(name)s(%(id)s)] Traversal %(trvsl)s was not '
                        'started by engine %(engine)s, which is dead; '
                        'starting it here.',
                        {'name': stack.name, 'id': stack.id,
                         'trvsl': row.id, 'engine': row.engine_id})
            stack.thread_group_mgr = self.driver.engine.thread_group_mgr
            self.driver.converge(stack, abandon=row.abandon)

        self._each('restart_unstarted', db_recovery.starting(cnxt), restart)

    def redispatch_stale(self, cnxt):
        """Dispatch again nodes left READY too long (a lost message)."""
        self._redispatch_ready(
            cnxt, timeutils.utcnow() - self._ready_timeout(), True)

    def _redispatch_ready(self, cnxt, before, stalled_only):
        """Dispatch again nodes READY since before ``before``."""
        def redispatch(row):
            node = sync_points.node_of(row)
            if db_recovery.touch_ready(cnxt, row.traversal_id,
                                       sync_points.key(node), before):
                LOG.info('Node %s of traversal %s has been READY since '
                         'before %s; dispatching it again.', node,
                         row.traversal_id, before)
                self.driver.resume(cnxt, row.traversal_id, node)

        self._each('redispatch_stale',
                   db_recovery.ready_since(cnxt, before, BATCH, stalled_only),
                   redispatch)

    def send_stalled_queues(self, cnxt):
        """Send queued leaves of traversals with no node left to end.

        Normally the nodes that end send the next ones
        (:mod:`.dispatch_window`); this covers an engine that died after
        starting a traversal, or in between.
        """
        count = self.driver.window.size(cnxt) or BATCH

        def send(traversal_id):
            for node in sync_points.dequeue(cnxt, traversal_id, count):
                self.driver.resume(cnxt, traversal_id, node)

        self._each('send_stalled_queues', db_api.stalled_queues(cnxt), send)

    def wake_throttled(self, cnxt):
        """Dispatch throttled nodes whose stack has free slots again.

        Normally the node that frees a slot wakes a throttled one; this
        covers an engine that died in between.
        """
        limit = self.conf.max_concurrent_resources_per_stack

        def wake(traversal_id):
            for node in sync_points.wake(cnxt, traversal_id, limit):
                self.driver.resume(cnxt, traversal_id, node)

        self._each('wake_throttled', db_api.throttled(cnxt), wake)

    def enforce_timeouts(self, cnxt):
        """Fail the stacks whose traversal is past its deadline."""
        now = timeutils.utcnow()

        def enforce(row):
            if not db_recovery.expire(cnxt, row.id, now):
                return
            stack = parser.Stack.load(stack_context(cnxt, row.stack_id),
                                      stack_id=row.stack_id,
                                      force_reload=True)
            if (stack.current_traversal != row.id or
                    not stack.has_timed_out()):
                return
            LOG.info('[%(name)s(%(id)s)] %(action)s timed out',
                     {'name': stack.name, 'id': stack.id,
                      'action': stack.action})
            stack.thread_group_mgr = self.driver.engine.thread_group_mgr
            stack.mark_failed('Timed out')
            parent_wake.wake_parent(self.driver, cnxt, stack)

        self._each('enforce_timeouts', db_recovery.overdue(cnxt, now), enforce)

    def collect_garbage(self, cnxt):
        """Delete the rows of traversals that are not current any more."""
        def delete(traversal_id):
            sync_points.delete_traversal(cnxt, traversal_id)
            LOG.debug('Deleted the rows of finished traversal %s',
                      traversal_id)

        self._each('collect_garbage', db_recovery.orphaned(cnxt), delete)

    def resume_heat_traversals(self, cnxt):
        """Cast again the lost nodes of Heat's own traversals."""
        before = timeutils.utcnow() - self._ready_timeout()

        def resume(row):
            return heat_traversals.resume(cnxt, row.id, row.current_traversal,
                                          before)

        self._each('resume_heat_traversals',
                   [row for row in db_views.traversal_paths(cnxt)
                    if not row.ours and row.heat_sync_points], resume)

    def _grace(self):
        return datetime.timedelta(seconds=2 * self.conf.periodic_interval)

    def _ready_timeout(self):
        return datetime.timedelta(seconds=self.conf.ready_timeout)
