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

"""Read-only views of the traversals, for operators and the hand-back.

Whole-table reads that no node makes: every sync point of one traversal
and the node counts of every live traversal (``heat-convergence-manage
traversal show`` and ``list``, through
:mod:`heat_convergence.drivers.reduced.progress`), and which path, the
plugin's or Heat's, runs each convergence stack IN_PROGRESS
(``heat-convergence-manage traversal paths``; the hand-back and the
recovery pick their traversals from it). They sit apart from
:mod:`heat_convergence.db.api`, which holds what a traversal's own run
reads and writes, and use its tables.
"""

from heat.db import models as heat_models
import sqlalchemy as sa

from heat_convergence.db import api
from heat_convergence.db import models


@api.context_manager.reader.connection
def traversal_nodes(context, traversal_id):
    """Return every sync point row of a traversal."""
    return context.connection.execute(sa.select(api.SYNC_POINT).where(
        api.SYNC_POINT.c.traversal_id == traversal_id)).all()


@api.context_manager.reader.connection
def traversal_summaries(context):
    """Return every live traversal with its node counts, oldest first.

    Each row has the traversal's columns plus ``done``, ``running``,
    ``ready``, ``throttled``, ``queued`` and ``waiting`` counts and
    ``engines``, the number of engines running its nodes.
    """
    sp = api.SYNC_POINT

    def count(*states):
        return sa.func.sum(sa.case((sp.c.state.in_(states), 1), else_=0))

    return context.connection.execute(
        sa.select(api.TRAVERSAL,
                  count(models.DONE).label('done'),
                  count(models.RUNNING, models.RERUN).label('running'),
                  count(models.READY).label('ready'),
                  count(models.THROTTLED).label('throttled'),
                  count(models.QUEUED).label('queued'),
                  count(models.WAITING).label('waiting'),
                  sa.func.count(sp.c.engine_id.distinct()).label('engines'))
        .select_from(api.TRAVERSAL.outerjoin(sp, sa.and_(
            sp.c.traversal_id == api.TRAVERSAL.c.id,
            sp.c.node_type != models.NODE_STACK)))
        .group_by(*api.TRAVERSAL.c)
        .order_by(api.TRAVERSAL.c.created_at)).all()


@api.context_manager.reader.connection
def traversal_paths(context):
    """Return every convergence stack IN_PROGRESS, with its traversal's path.

    Each row has the stack's ``id``, ``name``, ``action`` and
    ``current_traversal``, ``ours`` (the traversal has a row here: the
    reduced driver runs it) and ``heat_sync_points`` (its rows in Heat's
    ``sync_point`` table: Heat's path runs it), oldest stack first.
    """
    stack = api.STACK
    heat_rows = sa.select(sa.func.count()).select_from(
        heat_models.SyncPoint.__table__).where(
            heat_models.SyncPoint.__table__.c.traversal_id ==
            stack.c.current_traversal).scalar_subquery()
    ours = sa.exists().where(api.TRAVERSAL.c.id == stack.c.current_traversal)
    return context.connection.execute(
        sa.select(stack.c.id, stack.c.name, stack.c.action,
                  stack.c.current_traversal, ours.label('ours'),
                  heat_rows.label('heat_sync_points'))
        .where(stack.c.status == 'IN_PROGRESS',
               stack.c.convergence.is_(True),
               stack.c.deleted_at.is_(None))
        .order_by(stack.c.name, stack.c.id)).all()
