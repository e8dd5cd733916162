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

"""The purge at the end of a traversal, its writes retried.

When a traversal ends, Heat's ``Stack.mark_complete`` (``mark_failed``)
stores the stack's new state, then ``Stack.purge_db`` removes what the
traversal left behind: the resources it deleted, the stack's previous
template, Heat's own sync points of the traversal and, at the end of a
DELETE, the stack row. Heat retries the state, the purge of the resources
and the update of the stack row after a conflict or a lost connection
(``retry_on_db_error``), but not the three deletes. On a multi-writer
Galera cluster, the delete of the previous template met a certification
conflict (a deadlock error) with the state already stored, and the
exception made the completed stack FAILED, and its parent's update with
it.

In the thread that finishes a traversal, the three deletes are retried as
the plugin's own writes are (:func:`heat_convergence.db.api.retried`).
Each is one transaction of its own, and harmless to run again after a
commit whose answer was lost: a template or a stack row already gone is
"not found", which Heat's code ignores, and the sync points are deleted by
a filter. The rest of ``purge_db`` (the stored state, the stack row
compared with the traversal, the credentials) is Heat's, run once.

The template's delete there is :func:`template_delete`, Heat's with one
question asked more cheaply: whether another template still uses the
deleted one's files.
"""

import contextlib

from heat.db import api as heat_db_api
from heat.db import models as heat_models

from heat_convergence.db import api as db_api
from heat_convergence import thread_patches


@heat_db_api.context_manager.writer
def template_delete(context, template_id):
    """Heat's ``raw_template_delete``, without reading another template.

    A template's files row is shared by every template made from the same
    stack: a nested stack's templates take their parent's files, so all
    the templates of a stack tree use its root's. When it deletes a
    template, Heat asks whether any other template uses the files still by
    loading such a template row whole, template and environment decoded,
    whichever the database finds first: mostly the root stack's own
    template. Every nested stack's update or delete then decoded the whole
    root template (2.3 % of the engines' CPU time in the ``random``
    benchmark at 200 resources, and growing with the root's size). Here
    the question reads the id alone; the rest is Heat's function.
    """
    raw_template = context.session.get(heat_models.RawTemplate, template_id)
    if raw_template is None:
        return
    files_id = raw_template.files_id
    context.session.delete(raw_template)
    if files_id is None:
        return
    if context.session.query(heat_models.RawTemplate.id).filter_by(
            files_id=files_id).first() is None:
        files = context.session.get(heat_models.RawTemplateFiles, files_id)
        if files is not None:
            context.session.delete(files)


def _template_delete(_heat_function, value, context, template_id):
    """Heat's ``raw_template_delete`` in a finish: ours, retried."""
    return db_api.retried_instead(template_delete, value, context,
                                  template_id)


TEMPLATE_DELETE = thread_patches.ThreadPatch(
    heat_db_api, 'raw_template_delete', _template_delete)
SYNC_POINTS_DELETE = thread_patches.ThreadPatch(
    heat_db_api, 'sync_point_delete_all_by_stack_and_traversal',
    db_api.retried_instead)
STACK_DELETE = thread_patches.ThreadPatch(heat_db_api, 'stack_delete',
                                          db_api.retried_instead)


@contextlib.contextmanager
def deletes_retried():
    """Within, this thread's purge retries its deletes as above."""
    with (TEMPLATE_DELETE.active(), SYNC_POINTS_DELETE.active(),
          STACK_DELETE.active()):
        yield
