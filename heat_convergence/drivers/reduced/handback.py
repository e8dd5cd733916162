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

"""Going back: a reduced traversal in flight handed back to Heat's path.

Only engines running the reduced driver walk its traversals (their
SyncPoints are in the plugin's tables, their nodes on the plugin's worker
topic). When the last of them leaves, as an operator goes back to stock
heat-engine or to ``driver = heat``, a traversal in flight would stay
IN_PROGRESS for good. It is handed back instead: restarted on Heat's own
path with a new traversal id, for the same action and template, as Heat
restarts a traversal when the same update is sent again: Heat's graph and
``sync_point`` table, nodes cast on ``engine_worker``, which stock engines
and every heat-convergence engine serve. Resources already converged are
checked and left as they are; a resource still IN_PROGRESS is retried by
Heat's code once its lock is released or its engine is dead; a node of the
old traversal still running re-triggers its resource in the new one, as
any superseded node does. The stack keeps its action, its timeout and its
previous template (the rollback target). Heat's traversal runs with the
credentials Heat stored with the stack, as the recovery's work does: the
resources' actions, and at the end of a DELETE the removal of the stack's
keystone project, need them.

It is handed back:

* by the last heat-convergence-engine to stop (no other one is up in
  Heat's ``service`` table), at the end of its stop, once its own nodes
  have finished (:func:`on_stop`);
* by an engine of the ``heat`` driver, once the traversal has been idle
  twice ``ready_timeout`` (no SyncPoint written, no event of its stack, no
  resource locked by a live engine): an engine of the reduced driver would
  have dispatched its ready nodes again by then, so none is left
  (:func:`idle`);
* by ``heat-convergence-manage traversal handback``, for a last engine that
  was killed.

Handing back is safe whoever else runs: the new traversal id is stored by a
compare-and-swap on the old one, so a traversal is handed back once, and
never after an update, cancel or delete of the user has superseded it.
"""

import contextlib
import datetime

from heat.engine import scheduler
from heat.engine import stack as parser
from oslo_log import log as logging
from oslo_utils import timeutils
from oslo_utils import uuidutils

from heat_convergence.db import api as db_api
from heat_convergence.db import recovery as db_recovery
from heat_convergence.db import views as db_views
from heat_convergence.drivers.reduced import recovery
from heat_convergence import fleet

LOG = logging.getLogger(__name__)


def hand_back(cnxt, stack_id, traversal_id, why):
    """Restart the stack's reduced traversal on Heat's path.

    ``why`` ends the log line. :returns: the new traversal's id if it was
    handed back here, else None.
    """
    row = db_api.traversal_get(cnxt, traversal_id)
    if row is None:
        return None
    # Heat's traversal runs in the context its casts carry: the stack
    # owner's stored credentials, not the caller's, which has none.
    stack = parser.Stack.load(recovery.stack_context(cnxt, stack_id),
                              stack_id=stack_id, force_reload=True)
    if (stack.current_traversal != traversal_id or
            stack.status != stack.IN_PROGRESS):
        return None
    stack.current_traversal = uuidutils.generate_uuid()
    if stack.store(exp_trvsl=traversal_id) is None:
        return None
    LOG.warning('[%(name)s(%(id)s)] %(action)s traversal %(old)s handed '
                'back to Heat\'s path as traversal %(new)s: %(why)s.',
                {'name': stack.name, 'id': stack.id, 'action': stack.action,
                 'old': traversal_id, 'new': stack.current_traversal,
                 'why': why})
    db_api.traversal_delete(cnxt, traversal_id)
    stack.converge = row.converge
    # Heat's own method, not the thread group manager's binding to the
    # driver: its graph, its SyncPoints, its engine_worker casts.
    parser.Stack._converge_create_or_update(stack, abandon=row.abandon)
    return stack.current_traversal


def _in_flight(cnxt, stack=None):
    """(stack id, traversal id) of the reduced traversals IN_PROGRESS.

    ``stack``: that stack's only (a name or id).
    """
    return [(row.id, row.current_traversal)
            for row in db_views.traversal_paths(cnxt)
            if row.ours and stack in (None, row.id, row.name)]


@contextlib.contextmanager
def _unpaced():
    """Within, Heat starts a traversal's leaves without its pauses.

    Heat sleeps a second between two leaves it casts. Only for a process
    that runs nothing else (a stopping engine, the manage command): the
    switch is process-wide.
    """
    paced = scheduler.ENABLE_SLEEP
    scheduler.ENABLE_SLEEP = False
    try:
        yield
    finally:
        scheduler.ENABLE_SLEEP = paced


def _hand_back_all(cnxt, traversals, why):
    """Hand back each (stack id, traversal id).

    A failure skips that one only. :returns: (stack id, traversal id, new
    traversal id) of those handed back.
    """
    handed = []
    for stack_id, traversal_id in traversals:
        try:
            new = hand_back(cnxt, stack_id, traversal_id, why)
            if new:
                handed.append((stack_id, traversal_id, new))
        except Exception:
            LOG.exception('Could not hand traversal %s of stack %s back to '
                          'Heat\'s path.', traversal_id, stack_id)
    return handed


def on_stop(cnxt, engine_id):
    """Hand back every reduced traversal if no other plugin engine is up.

    Called by a stopping engine of the reduced driver once its nodes have
    finished and Heat has removed its ``service`` row. :returns: how many
    were handed back.
    """
    if fleet.others_up(cnxt, fleet.PLUGIN_BINARY, engine_id):
        LOG.info('Other heat-convergence-engines are up: they go on with '
                 'the traversals of the reduced driver.')
        return 0
    traversals = _in_flight(cnxt)
    if traversals:
        LOG.warning('This is the last heat-convergence-engine up: handing '
                    '%d traversals of the reduced driver back to Heat\'s '
                    'path.', len(traversals))
    with _unpaced():
        return len(_hand_back_all(cnxt, traversals, 'the last '
                                  'heat-convergence-engine stopped during '
                                  'it'))


def idle(cnxt, idle_for, is_alive):
    """Hand back the reduced traversals idle for ``idle_for`` seconds.

    ``is_alive(engine_id)`` answers for the engines holding a lock on one of
    the stack's resources. :returns: how many were handed back.
    """
    before = timeutils.utcnow() - datetime.timedelta(seconds=idle_for)
    orphans = []
    for stack_id, traversal_id in _in_flight(cnxt):
        holders = db_recovery.traversal_quiet_since(cnxt, stack_id,
                                                    traversal_id, before)
        if holders is not None and not any(map(is_alive, holders)):
            orphans.append((stack_id, traversal_id))
    return len(_hand_back_all(cnxt, orphans, 'no engine has moved it for '
                              '%ds' % idle_for))


def by_operator(cnxt, stack=None):
    """Hand back the reduced traversals IN_PROGRESS (of ``stack`` only).

    :returns: (stack id, traversal id, new traversal id) of those handed
        back.
    """
    with _unpaced():
        return _hand_back_all(cnxt, _in_flight(cnxt, stack),
                              'heat-convergence-manage traversal handback')
