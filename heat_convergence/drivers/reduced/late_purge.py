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

"""A new stack operation is not lost to a failed traversal's late purge.

When a traversal fails without rollback, Heat's ``Stack.mark_failed``
stores the FAILED state, then ``Stack.purge_db`` clears the stack's
traversal id (to '', so that its workers bail out) in a second write. A
user who sees FAILED and at once updates, deletes or otherwise acts on the
stack may load it between the two writes. Heat's ``converge_stack`` then
stores the new traversal expecting the failed one's id, finds '', and
drops the operation with a warning in the engine log ("Failed to store
stack ..., aborting stack UPDATE"), after the API has answered: the stack
stays FAILED and nobody is told. Seen in the gate (Heat's
``test_stack_update_replace_manual_rollback``, the purge landing seconds
after the FAILED state on a loaded machine) and as a delete dropped after
a failed update in the benchmark.

Within ``converge_stack``, when that first store finds the traversal id
changed, the stack row is read: if it is FAILED, no traversal runs ('')
and its template is still the one the operation loaded (nothing else was
started on the stack since), the store is made once more, expecting ''. A
purge that lands after the new traversal's store fails its own compare,
as Heat's does when any new operation overtakes it, and the new traversal
deletes the failed one's sync points itself.
"""

from heat.db import api as heat_db_api
from heat.engine import stack as parser
from heat.objects import stack as stack_object
from oslo_log import log as logging

from heat_convergence import thread_patches

LOG = logging.getLogger(__name__)


class _Start(object):
    """One ``converge_stack`` call: its stack and template as loaded."""

    def __init__(self, stack):
        self.name = stack.name
        self.template_id = getattr(stack.t, 'id', None)
        self.stored = False


def _converging(converge_stack, _value, stack, *args, **kwargs):
    with STORE.active(_Start(stack)):
        return converge_stack(stack, *args, **kwargs)


def _store(select_and_update, start, cls, context, stack_id, values,
           exp_trvsl=None):
    first, start.stored = not start.stored, True
    if select_and_update(cls, context, stack_id, values, exp_trvsl=exp_trvsl):
        return True
    if not (first and exp_trvsl and _purged_since(context, stack_id, start)):
        return False
    LOG.info('Stack %(name)s: traversal %(trvsl)s failed and was purged '
             'while this operation started; starting it after the failed '
             'one.', {'name': start.name, 'trvsl': exp_trvsl})
    return select_and_update(cls, context, stack_id, values, exp_trvsl='')


def _purged_since(context, stack_id, start):
    row = heat_db_api.stack_get(context, stack_id)
    return (row is not None and row.current_traversal == '' and
            row.status == parser.Stack.FAILED and
            row.raw_template_id == start.template_id)


CONVERGE = thread_patches.ThreadPatch(parser.Stack, 'converge_stack',
                                      _converging)
STORE = thread_patches.ThreadPatch(stack_object.Stack, 'select_and_update',
                                   _store)
