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

"""Actions that wait for a nested stack run off the RPC worker threads.

A resource with a nested stack (a template resource, a ResourceGroup and
each of its members, ``OS::Heat::Stack``) creates, updates or deletes that
stack, then waits in Heat's ``TaskRunner`` until it has ended. On Heat 27's
threading backend the wait holds one of the engine's
``executor_thread_pool_size`` RPC worker threads, and the nested stack's
own nodes need those same threads: once every thread of the fleet is held
by a waiting parent, no nested stack moves again (a Magnum-shaped
ResourceGroup of 50 members stalled on engines of 32 threads; stock Heat
stalls alike). Such an action runs in a thread of its own, in the stack's
Heat thread group, which Heat's graceful stop waits for as it waits for
the RPC threads; the RPC thread goes back to the pool.
"""

import threading

from heat.engine.resources import stack_resource
from oslo_log import log as logging

LOG = logging.getLogger(__name__)


def waits_for_nested(rsrc):
    """Whether the resource's action waits for a nested stack to end."""
    return isinstance(rsrc, stack_resource.StackResource)


def run_detached(thread_group_mgr, stack_id, scope, act, then):
    """Run ``then(act())`` in a new thread of the stack's group.

    ``act`` runs within the context manager ``scope()``, ``then`` after it.
    Returns once the thread is within ``scope``, so that the caller may
    leave its own; or False, having started nothing, where the group has
    as many threads as oslo.service allows one (a thousand): the caller
    then acts itself.
    """
    entered = threading.Event()

    def run():
        try:
            with scope():
                entered.set()
                result = act()
            then(result)
        except Exception:
            LOG.exception('Unhandled exception in a resource action of '
                          'stack %s', stack_id)
        finally:
            entered.set()

    try:
        thread_group_mgr.start(stack_id, run)
    except RuntimeError:
        LOG.warning('Stack %s has as many threads as its group allows on '
                    'this engine; a resource action that waits for its '
                    'nested stack runs on an RPC worker thread.', stack_id)
        return False
    entered.wait()
    return True
