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

"""The stack's templates, read and decoded once per traversal per engine.

To run one node, Heat loads the stack row joined with its raw template
(``Stack.get_by_id``) and, when the resource was last stored by another
template (an update, a delete), that template too
(``RawTemplate.get_by_id``). Each load decodes the template's JSON, whose
size grows with the stack's: profiled on a chain of 1,000 resources, the
decoding was 18% of a node's CPU time, and it made a traversal O(N^2).

Within :func:`cached` (the worker wraps each node in it), those two calls
read the stack row alone and take the template rows from a
:class:`heat_convergence.traversal_cache.TraversalCache`, keyed by the
node's traversal and the template id. A template row is never changed
while a traversal runs: an update or a rollback stores its template under
a new id, or reuses a stored one as it is. Each load still gets its own
``RawTemplate`` object with its own copy of the environment (Heat copies
it, and decrypts hidden parameters into the copy); the decoded template
body is shared, and Heat's convergence code only reads it (the template is
modified in place only by Heat's legacy update, which runs no nodes).

``[heat_convergence] cache_templates = false`` leaves Heat's methods
untouched.
"""

import contextlib

from heat.db import api as db_api
from heat.objects import raw_template as raw_template_object
from heat.objects import stack as stack_object

from heat_convergence import hooks
from heat_convergence import traversal_cache

# Two templates per traversal at most (the one it runs and the one the
# resources were last stored by), of the latest traversals.
ROWS = traversal_cache.TraversalCache(16)


def _row(context, traversal_id, template_id):
    return ROWS.get(traversal_id, template_id,
                    lambda: db_api.raw_template_get(context, template_id))


def _raw_template(context, traversal_id, template_id):
    row = _row(context, traversal_id, template_id)
    return raw_template_object.RawTemplate.from_db_object(
        context, raw_template_object.RawTemplate(), row)


def _get_raw_template(_heat_get_by_id, traversal_id, cls, context,
                      template_id):
    return _raw_template(context, traversal_id, template_id)


def _get_stack(heat_get_by_id, traversal_id, cls, context, stack_id,
               **kwargs):
    if not kwargs.pop('eager_load', True):
        # The caller wants the stack row alone (Stack._persist_state).
        return heat_get_by_id(cls, context, stack_id, eager_load=False,
                              **kwargs)
    db_stack = db_api.stack_get(context, stack_id, eager_load=False,
                                **kwargs)
    if not db_stack:
        return None
    stack = cls._from_db_object(context, cls(context), db_stack)
    stack._raw_template = _raw_template(context, traversal_id,
                                        db_stack.raw_template_id)
    return stack


RAW_TEMPLATE = hooks.ThreadHook(raw_template_object.RawTemplate,
                                'get_by_id', _get_raw_template)
STACK = hooks.ThreadHook(stack_object.Stack, 'get_by_id', _get_stack)


@contextlib.contextmanager
def cached(traversal_id, enabled=True):
    """Within, this thread's template loads use the traversal's cache."""
    if not enabled:
        yield
        return
    with STACK.active(traversal_id), RAW_TEMPLATE.active(traversal_id):
        yield
