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

"""A nested stack whose traversal ends wakes its parent resource's action.

The parent resource of a nested stack (a template resource, a
ResourceGroup or its members, ``OS::Heat::Stack``) waits for it in Heat's
``TaskRunner``, which checks the nested stack's status once a second: every
level of nesting costs up to a second after the nested stack has ended, on
create, update and delete alike. When a reduced traversal of a nested stack
ends, the engines holding the parent resource's lock are told, and the
parent's step sleep (see :func:`.cancellation.waking`) ends at once: the
sleep of the threads acting on that resource, not of its siblings.

The message travels as Heat's own engine-listener ``send``, which queues a
message for a stack's worker threads; :data:`WAKE` sets their queues'
wake-up event instead (:func:`wake_here`), and is sent only to engines of
this plugin: a stock heat-engine's threads would log it as unknown. The
parent's check reads the nested stack's status as it does every second, so
a wake-up that comes too early or not at all only costs the poll.
"""

from oslo_log import log as logging

from heat_convergence.db import heat_rows
from heat_convergence.drivers.reduced import cancellation
from heat_convergence import engine
from heat_convergence import fleet

LOG = logging.getLogger(__name__)

WAKE = 'heat_convergence_wake'


def wake_parent(driver, cnxt, stack):
    """Tell the engines acting on ``stack``'s parent resource that it ended.

    Never raises: without the wake-up, the parent notices within a second.
    """
    if not stack.owner_id:
        return
    try:
        engines = heat_rows.resource_lock_holders(cnxt, stack.owner_id,
                                                  stack.parent_resource_name)
        if engines - {driver.engine_id}:
            engines &= (fleet.engine_ids(cnxt, fleet.PLUGIN_BINARY) |
                        {driver.engine_id})
        for engine_id in engines:
            if engine_id == driver.engine_id:
                wake_here(driver.engine.thread_group_mgr, stack.owner_id,
                          stack.parent_resource_name)
            else:
                cancellation.listener(engine_id).cast(
                    cnxt, 'send', stack_identity={
                        'stack_id': stack.owner_id,
                        engine.RESOURCE_NAME: stack.parent_resource_name},
                    message=WAKE)
    except Exception:
        LOG.warning('Could not wake the parent resource %s of stack %s; it '
                    'will notice the end within a second.',
                    stack.parent_resource_name, stack.id, exc_info=True)


def wake_here(thread_group_mgr, stack_id, resource_name=None):
    """End the step sleep of the stack's node threads on this engine.

    Those acting on ``resource_name`` only, if given: each of a group's
    members waits for a nested stack of its own, and reads its status when
    woken.
    """
    for msg_queue in list(thread_group_mgr.msg_queues.get(stack_id, ())):
        if (isinstance(msg_queue, cancellation.WakingQueue) and
                resource_name in (None, msg_queue.resource_name)):
            msg_queue.arrived.set()
