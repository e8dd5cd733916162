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
"""

import contextlib

from heat.db import api as heat_db_api

from heat_convergence.db import api as db_api
from heat_convergence import thread_patches


TEMPLATE_DELETE = thread_patches.ThreadPatch(
    heat_db_api, 'raw_template_delete', db_api.retried_instead)
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
