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

"""A stack's templates and graph, read and decoded once per traversal.

To run one node, Heat loads the stack's row joined with its raw template
(``Stack.get_by_id``) and, when the resource was last stored by another
template (an update, a delete), that template too
(``RawTemplate.get_by_id``). Each load decodes the JSON of the template
and of the stored graph (``current_deps``), whose sizes grow with the
stack's: profiled on chains of 1,000 and 2,000 resources, decoding them was
a third of a node's CPU time, and it made a traversal O(N^2).

Within :func:`cached` (the worker wraps each node in it), those two calls
read the stack's row without them, and take the template rows and the
graph from a :class:`.traversal_cache.TraversalCache` keyed by the node's
traversal:

* a template row never changes while a traversal runs: an update or a
  rollback stores its template under a new id, or reuses a stored one as
  it is. Each load still gets its own ``RawTemplate`` object and its own
  copy of the environment (Heat decrypts hidden parameters into it); the
  decoded template body is shared, and Heat's convergence code only reads
  it (Heat's legacy update, which runs no nodes, is what changes a
  template in place);
* the graph is stored when the traversal starts, before any of its nodes
  is dispatched, and is the same until the stack's next traversal. It is
  taken from the cache only when the stack's row names the node's
  traversal, and read with that condition: a node of an older traversal,
  or one racing a new update, gets Heat's own load.

``[heat_convergence] cache_stack_reads = false`` leaves Heat's methods
untouched.
"""

import contextlib

from heat.db import api as heat_db_api
from heat.objects import raw_template as raw_template_object
from heat.objects import stack as stack_object

from heat_convergence.db import heat_rows
from heat_convergence.drivers.reduced import traversal_cache
from heat_convergence import thread_patches

# The templates (the one a traversal runs and the one its resources were
# last stored by) and the graphs of the latest traversals: three entries
# per traversal running on the engine. A ResourceGroup's members run a
# traversal each, all at once: with room for ten traversals only, the
# twenty members of a group evicted each other's rows, and most of their
# nodes read them again (100 reads of the graph and templates for 22
# traversals on two engines, against 44 with no eviction).
ROWS = traversal_cache.TraversalCache(traversal_cache.ENTRIES)


class _Superseded(Exception):
    """The stack started another traversal while a node loaded it."""


def _raw_template(context, traversal_id, template_id):
    row = ROWS.get(traversal_id, ('template', template_id),
                   lambda: heat_db_api.raw_template_get(context, template_id))
    return raw_template_object.RawTemplate.from_db_object(
        context, raw_template_object.RawTemplate(), row)


def _graph(context, traversal_id, stack_id):
    def read():
        row = heat_rows.stack_graph(context, stack_id, traversal_id)
        if row is None:
            raise _Superseded()
        return row.current_deps
    return ROWS.get(traversal_id, ('graph', stack_id), read)


def _get_raw_template(_heat_get_by_id, traversal_id, cls, context,
                      template_id):
    return _raw_template(context, traversal_id, template_id)


def _get_stack(heat_get_by_id, traversal_id, cls, context, stack_id,
               **kwargs):
    if not kwargs.pop('eager_load', True):
        # The caller wants the stack row alone (Stack._persist_state).
        return heat_get_by_id(cls, context, stack_id, eager_load=False,
                              **kwargs)
    db_stack = heat_rows.stack_get_without_graph(context, stack_id, **kwargs)
    if db_stack is None:
        return None
    if db_stack.current_traversal != traversal_id:
        return heat_get_by_id(cls, context, stack_id, **kwargs)
    try:
        graph = _graph(context, traversal_id, stack_id)
    except _Superseded:
        return heat_get_by_id(cls, context, stack_id, **kwargs)
    stack = cls._from_db_object(context, cls(context), db_stack)
    stack.current_deps = graph
    stack._raw_template = _raw_template(context, traversal_id,
                                        db_stack.raw_template_id)
    stack.obj_reset_changes()
    return stack


RAW_TEMPLATE = thread_patches.ThreadPatch(raw_template_object.RawTemplate,
                                          'get_by_id', _get_raw_template)
STACK = thread_patches.ThreadPatch(stack_object.Stack, 'get_by_id',
                                   _get_stack)


@contextlib.contextmanager
def cached(traversal_id, enabled=True):
    """Within, this thread's stack loads use the traversal's cache."""
    if not enabled:
        yield
        return
    with STACK.active(traversal_id), RAW_TEMPLATE.active(traversal_id):
        yield
