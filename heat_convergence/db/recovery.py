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

"""The recovery's queries: traversals and nodes that nobody moves on.

What the periodic recovery of every engine
(:mod:`heat_convergence.drivers.reduced.recovery`) and the hand-back of
idle traversals (:mod:`heat_convergence.drivers.reduced.handback`) read
and take over: the nodes held by an engine, READY nodes whose message may
be lost, traversals past their deadline, not current any more, or whose
engine died while starting them; and, for Heat's own traversals in a
mixed fleet (:mod:`heat_convergence.drivers.reduced.heat_traversals`),
whether one has been idle and what its rows in Heat's ``sync_point``
table hold. None of it is on a node's path: it sits apart from
:mod:`heat_convergence.db.api`, whose tables and helpers it uses. Its
writes are conditional updates, one transaction each, retried as the
store's are (:func:`heat_convergence.db.api._retried`): the one caller
whose condition still holds takes the row.
"""

from heat.db import models as heat_models
from oslo_utils import timeutils
import sqlalchemy as sa

from heat_convergence.db import api
from heat_convergence.db import heat_rows
from heat_convergence.db import models


# Heat's own traversals ---------------------------------------------------

_HEAT_SYNC_POINT = heat_models.SyncPoint.__table__


@api.context_manager.reader.connection
def heat_sync_points(context, traversal_id):
    """Return the rows of a traversal in Heat's ``sync_point`` table."""
    return context.connection.execute(sa.select(_HEAT_SYNC_POINT).where(
        _HEAT_SYNC_POINT.c.traversal_id == traversal_id)).all()


def _events_since(conn, stack_id, before):
    return conn.execute(sa.select(heat_rows.EVENT.c.id).where(
        heat_rows.EVENT.c.stack_id == stack_id,
        heat_rows.EVENT.c.created_at >= before).limit(1)).first() is not None


def _lock_holders(conn, stack_id):
    res = heat_rows.HEAT_RESOURCE
    return set(conn.execute(sa.select(res.c.engine_id).distinct()
                            .where(res.c.stack_id == stack_id,
                                   res.c.engine_id.is_not(None))
                            ).scalars())


@api.context_manager.reader.connection
def heat_traversal_idle(context, stack_id, traversal_id, before):
    """Whether a traversal of Heat's has done nothing since ``before``.

    No SyncPoint of it written, no event of its stack, no resource of its
    stack held by an engine.
    """
    conn = context.connection
    sp = _HEAT_SYNC_POINT
    written = conn.execute(sa.select(sa.func.max(sa.func.coalesce(
        sp.c.updated_at, sp.c.created_at))).where(
            sp.c.traversal_id == traversal_id)).scalar()
    if written is None or written >= before:
        return False
    return (not _events_since(conn, stack_id, before) and
            not _lock_holders(conn, stack_id))


@api.context_manager.reader.connection
def traversal_quiet_since(context, stack_id, traversal_id, before):
    """The lock holders of a traversal of ours idle since ``before``.

    Idle: started before, none of its SyncPoints written since, no event of
    its stack since. None if it is not idle (or not ours); else the engines
    holding a lock on a resource of its stack (whether they are alive is
    the caller's question).
    """
    conn = context.connection
    started = conn.execute(sa.select(api.TRAVERSAL.c.created_at).where(
        api.TRAVERSAL.c.id == traversal_id)).scalar()
    written = conn.execute(
        sa.select(sa.func.max(api.SYNC_POINT.c.updated_at))
        .where(api.SYNC_POINT.c.traversal_id == traversal_id)).scalar()
    if started is None or max(started, written or started) >= before:
        return None
    if _events_since(conn, stack_id, before):
        return None
    return _lock_holders(conn, stack_id)


# Recovery ---------------------------------------------------------------

# A node in one of these states was claimed since it was READY.
_MOVED = api.HELD + (models.DONE,)


@api.context_manager.reader.connection
def holders(context):
    """Return the engines holding a node or starting a traversal."""
    conn = context.connection
    nodes = conn.execute(
        sa.select(api.SYNC_POINT.c.engine_id).distinct().where(
            api.SYNC_POINT.c.state.in_(api.HELD))).scalars()
    starting = conn.execute(
        sa.select(api.TRAVERSAL.c.engine_id).distinct().where(
            api.TRAVERSAL.c.node_count == 0)).scalars()
    return {e for e in list(nodes) + list(starting) if e is not None}


@api.context_manager.reader.connection
def nodes_held_by(context, engine_id):
    """Return the rows of the nodes ``engine_id`` holds."""
    sp = api.SYNC_POINT
    return context.connection.execute(sa.select(
        sp.c.traversal_id, sp.c.entity_id, sp.c.is_update, sp.c.node_type,
        sp.c.updated_at).where(
            sp.c.engine_id == engine_id,
            sp.c.state.in_(api.HELD))).all()


@api._retried
@api.context_manager.writer.connection
def take_over(context, traversal_id, node, engine_id):
    """Make a node ``engine_id`` holds READY again; True if it did."""
    sp = api.SYNC_POINT
    return bool(context.connection.execute(
        sp.update().where(api.node_clause(traversal_id, node),
                          sp.c.engine_id == engine_id,
                          sp.c.state.in_(api.HELD))
        .values(state=models.READY, engine_id=None,
                updated_at=timeutils.utcnow())).rowcount)


@api.context_manager.reader.connection
def ready_since(context, before, limit, stalled_only=True):
    """Return up to ``limit`` nodes READY since before ``before``.

    Only those of traversals that have not moved since ``before``: no node
    claimed, finished or re-run. A big traversal dispatches thousands of
    nodes at once and the engines' queues hold them for minutes; while its
    nodes keep being claimed, a READY one is waiting its turn, not lost,
    and sending it again would only lengthen the queue. A message really
    lost is sent again once its traversal has stalled for ``before``.
    ``stalled_only=False``: of every traversal (an engine just died, with
    the messages it had received).
    """
    conn = context.connection
    sp = api.SYNC_POINT
    stale = (sp.c.state == models.READY, sp.c.updated_at < before)
    if stalled_only:
        stalled = api.quiet_traversals(conn, stale, _MOVED, since=before)
        if not stalled:
            return []
        stale += (sp.c.traversal_id.in_(stalled),)
    return conn.execute(sa.select(
        sp.c.traversal_id, sp.c.entity_id, sp.c.is_update,
        sp.c.node_type).where(*stale).limit(limit)).all()


@api._retried
@api.context_manager.writer.connection
def touch_ready(context, traversal_id, node, before):
    """Mark a stale READY node as dispatched now; True for one caller."""
    sp = api.SYNC_POINT
    return bool(context.connection.execute(
        sp.update().where(api.node_clause(traversal_id, node),
                          sp.c.state == models.READY,
                          sp.c.updated_at < before)
        .values(updated_at=timeutils.utcnow())).rowcount)


@api.context_manager.reader.connection
def overdue(context, now):
    """Return the (id, stack_id) of traversals past their deadline."""
    return context.connection.execute(
        sa.select(api.TRAVERSAL.c.id, api.TRAVERSAL.c.stack_id).where(
            api.TRAVERSAL.c.deadline < now)).all()


@api._retried
@api.context_manager.writer.connection
def expire(context, traversal_id, now):
    """Take a traversal's passed deadline; True for exactly one caller."""
    return bool(context.connection.execute(
        api.TRAVERSAL.update().where(api.TRAVERSAL.c.id == traversal_id,
                                     api.TRAVERSAL.c.deadline < now)
        .values(deadline=None)).rowcount)


@api.context_manager.reader.connection
def orphaned(context):
    """Return the ids of traversals that are not their stack's current one.

    The traversal table only holds live traversals, so this join stays
    small whatever the size of Heat's stack table.
    """
    traversal, stack = api.TRAVERSAL, api.STACK
    return context.connection.execute(
        sa.select(traversal.c.id).select_from(traversal.outerjoin(
            stack, stack.c.id == traversal.c.stack_id)).where(sa.or_(
                stack.c.current_traversal.is_(None),
                stack.c.current_traversal != traversal.c.id))
    ).scalars().all()


@api.context_manager.reader.connection
def starting(context):
    """Return the rows of traversals whose graph is not stored yet."""
    return context.connection.execute(sa.select(api.TRAVERSAL).where(
        api.TRAVERSAL.c.node_count == 0)).all()


@api._retried
@api.context_manager.writer.connection
def take_over_start(context, traversal_id, dead_engine, engine_id):
    """Take the start of a traversal from a dead engine; True if taken."""
    return bool(context.connection.execute(
        api.TRAVERSAL.update().where(api.TRAVERSAL.c.id == traversal_id,
                                     api.TRAVERSAL.c.node_count == 0,
                                     api.TRAVERSAL.c.engine_id == dead_engine)
        .values(engine_id=engine_id)).rowcount)
