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

"""A resource's state changes in a node: stored at once, dispatched if read.

A node changes its resource's state at least twice (IN_PROGRESS, then
COMPLETE or FAILED). Heat's ``Resource.state_set`` stores each change as up
to three transactions: the properties data, the resource row (the
compare-and-swap that takes or releases the engine's lock) and the event.
Those were a third of a node's transactions, each with its own connection
checkout and commit. In a node's thread a state change runs in one writer
transaction instead, which Heat's own writes join: the same statements, one
commit, and a state is never stored without its event. Nothing in a state
change waits on another service (a resource plugin's calls come before or
after it), so the transaction stays as short as Heat's own.

Heat then hands each event to the stack's event sinks (``OS::Zaqar``
queues named in the environment) in a thread of its own, which it starts
even when the stack has no sinks. In a node's thread, an event of a stack
without sinks is not dispatched: there is nothing to send it to.
"""

import contextlib

from heat.db import api as heat_db_api
from heat.engine import resource
from heat.engine import stack as parser

from heat_convergence import hooks


def _in_one_transaction(heat_state_set, _value, rsrc, *args, **kwargs):
    with heat_db_api.context_manager.writer.using(rsrc.context):
        return heat_state_set(rsrc, *args, **kwargs)


def _to_sinks(heat_dispatch_event, _value, stack, ev):
    if stack.env.get_event_sinks():
        heat_dispatch_event(stack, ev)


STATE_SET = hooks.ThreadHook(resource.Resource, 'state_set',
                             _in_one_transaction)
DISPATCH = hooks.ThreadHook(parser.Stack, 'dispatch_event', _to_sinks)


@contextlib.contextmanager
def in_node():
    """Within, this thread's state changes are stored and sent as above."""
    with STATE_SET.active(), DISPATCH.active():
        yield
