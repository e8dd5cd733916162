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

"""Stopping a traversal's work in flight, on every engine.

Stock Heat's ``openstack stack cancel`` only changes the traversal id: the
resource actions already running carry on to the end (only delete and
abandon interrupt them, and only on engines that hold a resource lock, and
then wait up to 15 seconds polling the database).

Here a cancel, before Heat's own handling runs:

1. deletes the SyncPoint rows of the stack's traversal and of its nested
   stacks' traversals, so that no pending node of theirs can be claimed and
   every delivery to them is refused;
2. stops the nested stacks' traversals as Heat's cancel does (new traversal
   id, FAILED "Stack <ACTION> cancelled");
3. puts Heat's own cancel message on every worker thread of those stacks,
   on every live engine, with a synchronous RPC call per engine (Heat's
   engine listener ``send``), so that when the API call returns every
   running resource action has it queued and stops at its next check,
   marked FAILED "<ACTION> aborted (user triggered cancel)". With
   ``[heat_convergence] cancel_running_actions = false`` this step is
   skipped and running actions finish, as in stock Heat.

Then Heat's cancel proceeds: a new traversal id (``--no-rollback``) or the
rollback traversal, which starts after the message went out and so is not
hit by it.

A running action reads its messages between two steps, and Heat's
``TaskRunner`` sleeps a second between steps in ``time.sleep``, which
nothing interrupts: the last of many actions would notice a cancel a second
after it arrived. A node's message queue is a :class:`WakingQueue`, and
within :func:`waking` the action's step sleep (a
:class:`heat_convergence.thread_patches.ThreadPatch` on
``TaskRunner._sleep``) ends as soon as a message arrives, so the action
stops at once.
"""

import concurrent.futures
import queue
import threading
import time

from heat.common import messaging as rpc_messaging
from heat.engine import scheduler
from heat.engine import stack as parser
from heat.engine import worker as heat_worker
from heat.objects import stack as stack_objects
from heat.rpc import api as rpc_api
from oslo_log import log as logging
import oslo_messaging

from heat_convergence.drivers.reduced import sync_points
from heat_convergence import fleet
from heat_convergence import thread_patches

LOG = logging.getLogger(__name__)

LISTENER_VERSION = '1.0'

# Seconds a cancel is remembered: far longer than a node takes to load.
CANCEL_MEMORY = 3600


class CancelMemory(object):
    """When a cancel for each stack last arrived on this engine.

    Heat's cancel message reaches the node threads that have a queue
    registered at that moment. A node still loading its resource registers
    just after, and would never see it: it asks here whether a cancel
    arrived since it was claimed.
    """

    def __init__(self):
        self._arrived = {}
        self._lock = threading.Lock()

    def note(self, stack_id):
        """Remember that a cancel for the stack arrived now."""
        now = time.monotonic()
        with self._lock:
            self._arrived[stack_id] = now
            for old in [k for k, t in self._arrived.items()
                        if t < now - CANCEL_MEMORY]:
                del self._arrived[old]

    def since(self, stack_id, since):
        """Whether a cancel for the stack arrived after ``since``."""
        with self._lock:
            return self._arrived.get(stack_id, since) > since


class WakingQueue(queue.Queue):
    """A node's message queue: a message wakes the node's action.

    ``resource_name`` is the name of the node's resource, for a wake-up
    meant for it alone (:func:`.parent_wake.wake_here`).
    """

    def __init__(self, resource_name=None):
        super().__init__()
        self.arrived = threading.Event()
        self.resource_name = resource_name

    def _put(self, item):
        super()._put(item)
        self.arrived.set()


def _sleep_until_message(heat_sleep, arrived, runner, wait_time):
    """``TaskRunner._sleep``, cut short when a message arrives."""
    if wait_time is None or not scheduler.ENABLE_SLEEP:
        return heat_sleep(runner, wait_time)
    if arrived.wait(wait_time):
        arrived.clear()


WAKE = thread_patches.ThreadPatch(scheduler.TaskRunner, '_sleep',
                                  _sleep_until_message)


def waking(msg_queue):
    """Within, a message on the :class:`WakingQueue` wakes the action."""
    return WAKE.active(msg_queue.arrived)


def nested_in_progress(cnxt, stack_id):
    """Return the IN_PROGRESS stacks nested (at any depth) in a stack."""
    return [child for child in
            stack_objects.Stack.get_all_by_root_owner_id(cnxt, stack_id)
            if child.status == parser.Stack.IN_PROGRESS]


def listener(engine_id):
    """Heat's engine-listener RPC client of one engine."""
    return rpc_messaging.get_rpc_client(
        topic=rpc_api.LISTENER_TOPIC, version=LISTENER_VERSION,
        server=engine_id)


def _send(cnxt, engine_id, stack_ids, timeout):
    client = listener(engine_id).prepare(timeout=timeout)
    for stack_id in stack_ids:
        client.call(cnxt, 'send', stack_identity={'stack_id': stack_id},
                    message=rpc_api.THREAD_CANCEL)


def interrupt(cnxt, stack_ids, timeout):
    """Queue Heat's cancel message for the stacks' workers on every engine.

    Returns once every live engine has queued it (a dead engine has nothing
    running; it is skipped after ``timeout`` seconds).
    """
    engines = fleet.engine_ids(cnxt)
    if not engines:
        return
    with concurrent.futures.ThreadPoolExecutor(len(engines)) as pool:
        futures = {pool.submit(_send, cnxt, engine_id, stack_ids,
                               timeout): engine_id
                   for engine_id in engines}
        for future in concurrent.futures.as_completed(futures):
            try:
                future.result()
            except oslo_messaging.MessagingTimeout:
                LOG.warning('Engine %s did not answer the cancel of stacks '
                            '%s; it is presumed dead.', futures[future],
                            ', '.join(stack_ids))


def cancel(cnxt, stack, conf):
    """Stop everything the stack's current traversal is doing.

    Called before Heat's own cancel handling; see the module docstring.
    ``conf`` is the engine's configuration.
    """
    nested = nested_in_progress(cnxt, stack.id)
    traversals = [stack.current_traversal] + [c.current_traversal
                                              for c in nested]
    for traversal_id in traversals:
        if traversal_id:
            sync_points.delete_traversal(cnxt, traversal_id)
    for child in nested:
        heat_worker._stop_traversal(parser.Stack.load(
            cnxt, stack_id=child.id, stack=child, load_template=False))
    stack_ids = [stack.id] + [c.id for c in nested]
    if not conf.heat_convergence.cancel_running_actions:
        LOG.info('[%(name)s(%(id)s)] Cancelled traversal %(trvsl)s; running '
                 'resource actions are left to finish '
                 '(cancel_running_actions is off)',
                 {'name': stack.name, 'id': stack.id,
                  'trvsl': stack.current_traversal})
        return
    interrupt(cnxt, stack_ids, conf.engine_life_check_timeout)
    LOG.info('[%(name)s(%(id)s)] Cancelled traversal %(trvsl)s: work in '
             'flight interrupted on every engine (stacks: %(stacks)s)',
             {'name': stack.name, 'id': stack.id,
              'trvsl': stack.current_traversal,
              'stacks': ', '.join(stack_ids)})
