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

"""Cleanup nodes with nothing to clean up hand over without loading.

Most cleanup nodes of an update do nothing in Heat (the resource was
updated in place or is unchanged), yet each loaded its resource and stack
to find that out. The update node before it knows, and tells it.
"""

import collections
import datetime

from heat.engine import stack as parser
from oslo_utils import timeutils

from heat_convergence.drivers.reduced import traversal


# What a cleanup node loads instead of its resource when it has nothing to
# clean up (see nothing_to_clean_up()): nothing but its stack's id.
HandOverOnly = collections.namedtuple('HandOverOnly', ['stack_id'])


def nothing_to_clean_up(node, rsrc, stack):
    """What an update node tells its own cleanup node; None for nothing.

    The cleanup of a resource whose row belongs to the traversal's
    template (updated in place, or unchanged) does nothing in Heat:
    ``delete_convergence`` deletes only a row of another template, and a
    CHECK, RESUME or SNAPSHOT cleans up nothing at all. Such a cleanup node
    needs neither its resource nor its stack loaded: it only hands over
    (:meth:`.handover.ForwardingCheckResource.hand_over_only`). The update
    node knows that much as it finishes, and says so with the stack's id
    and deadline.
    A SUSPEND's cleanup suspends the resource, and a replaced resource's
    row (or a replacement running the node of the one it replaces) is not
    the node's own current row: those cleanup nodes run Heat's code.
    """
    if (str(rsrc.id) != str(node.rsrc_id) or
            stack.action == stack.SUSPEND or
            rsrc.current_template_id != stack.t.id or
            rsrc.replaced_by is not None):
        return None
    deadline = traversal.deadline(stack)
    return {'stack_id': stack.id,
            'deadline': deadline.isoformat() if deadline else None}


def stack_to_hand_over(node, inputs):
    """The stack id if the cleanup ``node`` has nothing to clean up.

    Past the stack's deadline the node runs Heat's code, which fails the
    stack for its timeout as Heat would.
    """
    if node.is_update:
        return None
    told = inputs.data.get(parser.ConvergenceNode(node.rsrc_id, True))
    if not isinstance(told, dict) or 'stack_id' not in told:
        return None
    if told['deadline'] is not None and timeutils.utcnow() >= (
            datetime.datetime.fromisoformat(told['deadline'])):
        return None
    return told['stack_id']
