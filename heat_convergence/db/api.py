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

"""Database access for traversals, sync points and arrivals.

Everything goes through Heat's own enginefacade (``heat.db.api
.context_manager``), so the plugin shares Heat's engine, connection pool and
transactions: a call made inside one of Heat's writer transactions joins it.

Readiness is decided without locks of our own, and without retries on a
single database server:

* a node's ``pending`` counter starts at its number of predecessors;
* an arrival runs ``UPDATE ... SET pending = pending - 1 WHERE ... AND
  pending > 0`` and inserts one row keyed by (node, sender) in the same
  transaction. The UPDATE takes the row lock, so arrivals at one node are
  serialised by the database, and the arrival whose decrement reaches zero is
  the one that made the node ready: exactly one, after all the others
  committed;
* a second arrival from the same sender violates the arrival primary key and
  rolls its decrement back, so redelivered messages count once. A node with
  a single predecessor needs no row for that: after the first arrival its
  counter is at zero, and ``pending > 0`` refuses a second. An arrival
  marked not to be recorded (one carrying nothing its node reads, see
  :class:`Delivery`) inserts no row at such a node.

Statements are Core statements on the tables (no ORM loads): the hot paths
cost two or three statements per arrival. Those of a delivery and a claim
are built once per process, with bound parameters, so that running one
costs neither building it nor computing its cache key again.

Every function that writes runs one transaction of its own, retried as a
whole (:func:`_retried`), and relies on no lock that only holds on one
database node. That is what keeps it correct on a multi-writer Galera
cluster, where a row lock does not reach the other nodes: two arrivals at
one node on two database nodes both run their decrement, and the second to
be certified fails at commit (a deadlock error) with nothing committed, and
runs again against the first one's result. A retry after a lost connection
may follow a transaction that did commit; each function's retry is then
harmless (see :func:`_retried`). The reads a node makes (its traversal's
row, the stack's current traversal, the stack cache's rows) are retried
after a lost connection too (:func:`retried`). Reads that must see what
another engine wrote on another node (a node made ready there, then
claimed here) need Galera's causality checks, oslo.db's ``[database]
mysql_wsrep_sync_wait`` (``doc/source/galera.rst``).

The recovery's queries (:mod:`heat_convergence.db.recovery`) and the
operators' views (:mod:`heat_convergence.db.views`) are modules of their
own, on the tables and helpers defined here.
"""

import collections
import functools

from heat.db import api as heat_db_api
from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exception
from oslo_utils import timeutils
import sqlalchemy as sa

from heat_convergence.db import models

context_manager = heat_db_api.context_manager

TRAVERSAL = models.Traversal.__table__
SYNC_POINT = models.SyncPoint.__table__
ARRIVAL = models.Arrival.__table__

# Heat's stack and resource tables, as far as the plugin reads them.
STACK = sa.table('stack', sa.column('id'), sa.column('current_traversal'),
                 sa.column('name'), sa.column('action'),
                 sa.column('status'), sa.column('convergence'),
                 sa.column('deleted_at'))
_RESOURCE = sa.table('resource', sa.column('id'), sa.column('stack_id'))
# Heat's action of a stack's first traversal.
_CREATE = 'CREATE'

# A node, as stored: (entity_id, is_update). entity_id is a string.
Node = collections.namedtuple('Node', ['entity_id', 'is_update'])

# What one predecessor delivers to a node. ``keep``: the sender's engine
# may claim the target in the same transaction (see deliver()). ``record``:
# whether to insert its arrival row; False only for a target with a single
# predecessor (whose counter alone counts it once) that reads nothing of
# the arrival.
Delivery = collections.namedtuple(
    'Delivery', ['target', 'sender', 'data', 'failures', 'skip', 'keep',
                 'record'], defaults=[False, True])

# The inputs of a node: its plan, and {sender Node: (data, failures, skip)}.
Inputs = collections.namedtuple('Inputs', ['plan', 'arrivals'])

GONE = None  # arrive() result: the node no longer exists (dead traversal)

# The states of a node an engine holds.
HELD = (models.RUNNING, models.RERUN)
# The states of a node sent to the engines and not yet ended.
_SENT = HELD + (models.READY, models.THROTTLED)


def node_clause(traversal_id, node, table=SYNC_POINT):
    return sa.and_(table.c.traversal_id == traversal_id,
                   table.c.entity_id == node.entity_id,
                   table.c.is_update == node.is_update)


# The hot statements, built once (see prebuilt), name a node through these
# bound parameters.
_THIS_NODE = sa.and_(SYNC_POINT.c.traversal_id == sa.bindparam('p_traversal'),
                     SYNC_POINT.c.entity_id == sa.bindparam('p_entity'),
                     SYNC_POINT.c.is_update == sa.bindparam('p_update'))


def _node_params(traversal_id, node, **more):
    return dict(more, p_traversal=traversal_id, p_entity=node.entity_id,
                p_update=node.is_update)


_PREBUILT = {}

# Quick retries of a transaction that lost a conflict, before Heat's own.
CONFLICT_RETRIES = 10
# Runs a function again, at once, after a conflict (see _retried).
conflict_retried = oslo_db_api.wrap_db_retry(
    max_retries=CONFLICT_RETRIES, retry_interval=0.01,
    max_retry_interval=0.5, retry_on_deadlock=True)


def _retried(func):
    """Run ``func``'s transaction again after a conflict or a lost link.

    A conflict (a deadlock, or a Galera certification failure at commit)
    rolled the whole transaction back, so running it again is the same
    transaction against newer rows. Conflicts come in bursts (several
    engines delivering to one node), so they are first retried quickly,
    after jittered pauses of 10 ms growing to 0.5 s, up to
    :data:`CONFLICT_RETRIES` times; after that, and for a lost connection,
    Heat's own retry applies (``[database] db_max_retries``,
    ``db_retry_interval``: seconds).

    A connection lost during COMMIT leaves unknown whether the transaction
    committed. Each function here is a conditional update (its retry finds
    the condition gone and reports "not taken", what recovery then takes
    over: a READY node is dispatched again after ``ready_timeout``, a node
    held by a live engine but not running is released by that engine), a
    delete, or a delivery (whose retry hits the arrival's key and counts
    once). :func:`traversal_begin` finds its own row.
    """
    return heat_db_api.retry_on_db_error(conflict_retried(func))


def retried(func):
    """:func:`_retried`, for a read, or a write Heat does not retry.

    ``func(context, ...)`` must be one transaction, harmless to run again
    after a commit whose answer was lost: a read, a delete, or a write of
    given values. A call that joins a transaction already open in this
    thread is not retried: the statement cannot run again in a transaction
    that failed, and the outer transaction's retry applies.
    """
    retried_func = _retried(func)

    @functools.wraps(func)
    def run(context, *args, **kwargs):
        if in_transaction(context):
            return func(context, *args, **kwargs)
        return retried_func(context, *args, **kwargs)
    return run


def retried_instead(heat_function, _value, context, *args, **kwargs):
    """A thread patch's replacement: Heat's function under :func:`retried`.

    For :class:`heat_convergence.thread_patches.ThreadPatch`, in the
    threads where Heat's own function is not retried and must be.
    """
    return retried(heat_function)(context, *args, **kwargs)


def unretried_within(heat_function, _value, context, *args, **kwargs):
    """A thread patch's replacement: Heat's retry, outside transactions.

    For :class:`heat_convergence.thread_patches.ThreadPatch`, on a function
    Heat decorates with ``retry_on_db_error``. Heat's retry runs the
    statement again after a deadlock or a lost connection, but the failure
    rolled back the whole transaction the call joined: the statement would
    run in a new one, and what the outer transaction wrote before it would
    be lost while the rest commits (after a lost connection, it would fail
    in the invalidated transaction). There Heat's function
    runs without its retry (the ``__wrapped__`` that Heat's decorator
    keeps), and the error goes to the outer transaction's retry, as in
    :func:`retried`. A call that joins no transaction open in this thread
    is Heat's, retried.
    """
    if in_transaction(context):
        return heat_function.__wrapped__(context, *args, **kwargs)
    return heat_function(context, *args, **kwargs)


def in_transaction(context):
    """Whether this thread has a transaction of ``context`` open."""
    try:
        context.transaction_ctx
    except db_exception.NoEngineContextEstablished:
        return False
    return True


def prebuilt(name, build, *variant):
    """Return the statement ``build(*variant)``, built once per process."""
    key = (name,) + variant
    stmt = _PREBUILT.get(key)
    if stmt is None:
        stmt = _PREBUILT[key] = build(*variant)
    return stmt


# Traversals ---------------------------------------------------------------

def _insert_traversal(conn, values, now):
    conn.execute(TRAVERSAL.insert(), [dict(
        {'created_at': now, 'node_count': 0}, **values)])


def _insert_nodes(conn, traversal_id, nodes, now):
    rows = [{'traversal_id': traversal_id,
             'entity_id': str(n['entity_id']),
             'is_update': n['is_update'],
             'node_type': n['node_type'],
             'predecessors': n['predecessors'],
             'pending': n['predecessors'],
             'state': (models.QUEUED if n.get('queued') else
                       models.READY if not n['predecessors']
                       else models.WAITING),
             'updated_at': now,
             'plan': n.get('plan')} for n in nodes]
    if rows:
        conn.execute(SYNC_POINT.insert(), rows)


def traversal_begin(context, values):
    """Record a traversal that is starting; delete the stack's others.

    The row exists, with ``node_count`` 0, from the moment Heat stores the
    new traversal id, so that a traversal whose engine dies before its
    graph is stored is seen, and started again, by another engine. A
    retry after a commit whose answer was lost finds the row there, and
    has nothing left to do. A stack's first traversal (its CREATE: Heat
    creates a stack once, under a new id) has no others to look for: one
    statement then.
    """
    try:
        _begin(context, values)
    except db_exception.DBDuplicateEntry:
        pass


@_retried
@context_manager.writer.connection
def _begin(context, values):
    conn = context.connection
    if values['action'] != _CREATE:
        # A plain read, then deletes by key: a DELETE by stack_id would
        # lock the index's gaps, and deadlock with the INSERT of another
        # stack's traversal (a group's members start theirs together).
        ids = conn.execute(sa.select(TRAVERSAL.c.id).where(
            TRAVERSAL.c.stack_id == values['stack_id'])).scalars().all()
        superseded = [i for i in ids if i != values['id']]
        if superseded:
            _delete_traversals(conn, TRAVERSAL.c.id.in_(superseded))
        if values['id'] in ids:
            return
    _insert_traversal(conn, values, timeutils.utcnow())


@_retried
@context_manager.writer.connection
def traversal_fill(context, traversal_id, nodes, engine_id):
    """Store the sync points of a starting traversal, in bulk.

    :returns: False, storing nothing, if the traversal is no longer
        starting: superseded (its row is gone) or already filled.
    """
    conn = context.connection
    now = timeutils.utcnow()
    if not conn.execute(
            TRAVERSAL.update().where(TRAVERSAL.c.id == traversal_id,
                                     TRAVERSAL.c.node_count == 0)
            .values(node_count=len(nodes), engine_id=engine_id)).rowcount:
        return False
    _insert_nodes(conn, traversal_id, nodes, now)
    return True


@retried
@context_manager.reader.connection
def traversal_get(context, traversal_id):
    """Return the traversal row, or None."""
    return context.connection.execute(
        sa.select(TRAVERSAL).where(TRAVERSAL.c.id == traversal_id)).first()


@_retried
@context_manager.writer.connection
def traversal_delete(context, traversal_id):
    """Delete a traversal with its sync points and arrivals."""
    _delete_traversals(context.connection, TRAVERSAL.c.id == traversal_id)


@retried
@context_manager.reader.connection
def is_ours(context, traversal_id, resource_id=None):
    """Whether the traversal is one of the plugin's (it has a row here).

    With ``resource_id``, also whether the resource's stack's current
    traversal is: a message of a traversal that is gone is the business of
    whoever runs the stack's newest one. One query, on primary keys.
    """
    ours = TRAVERSAL.c.id == traversal_id
    if resource_id is not None:
        ours = sa.or_(ours, TRAVERSAL.c.id == sa.select(
            STACK.c.current_traversal).select_from(STACK.join(
                _RESOURCE, _RESOURCE.c.stack_id == STACK.c.id)).where(
                    _RESOURCE.c.id == resource_id).scalar_subquery())
    return context.connection.execute(
        sa.select(TRAVERSAL.c.id).where(ours).limit(1)).first() is not None


def _delete_traversals(conn, which):
    """Delete the traversals that ``which``, a condition, selects."""
    # Foreign keys cascade on MySQL and PostgreSQL; sqlite (as Heat
    # configures it) does not enforce them, so delete children first there.
    if conn.dialect.name == 'sqlite':
        for table in (ARRIVAL, SYNC_POINT):
            conn.execute(table.delete().where(table.c.traversal_id.in_(
                sa.select(TRAVERSAL.c.id).where(which))))
    conn.execute(TRAVERSAL.delete().where(which))


# Arrivals -----------------------------------------------------------------

def _decrement_statement(mysql, returning, claiming):
    ready = SYNC_POINT.c.pending == 1
    pending = SYNC_POINT.c.pending - 1
    if mysql:
        pending = sa.func.last_insert_id(pending)
    values = [(SYNC_POINT.c.state,
               sa.case((ready, models.RUNNING if claiming else models.READY),
                       else_=SYNC_POINT.c.state))]
    if claiming:
        values.append((SYNC_POINT.c.engine_id,
                       sa.case((ready, sa.bindparam('p_engine')),
                               else_=SYNC_POINT.c.engine_id)))
    values += [(SYNC_POINT.c.pending, pending),
               (SYNC_POINT.c.updated_at, sa.bindparam('p_now'))]
    stmt = (SYNC_POINT.update()
            .where(_THIS_NODE, SYNC_POINT.c.pending > 0)
            .ordered_values(*values))
    return stmt.returning(SYNC_POINT.c.pending) if returning else stmt


def _decrement(conn, traversal_id, node, now, claim_for=None):
    """Count one arrival at ``node``; return its new ``pending`` or None.

    None means no row matched: the node is gone or was already ready. With
    ``claim_for``, the arrival that makes the node ready also takes it
    RUNNING for that engine, in the same statement, instead of leaving it
    READY for :func:`claim`. The SET clause is ordered so that MySQL, which
    evaluates assignments left to right, computes the new state and owner
    from the old counter like PostgreSQL does. The new counter comes back
    with the statement where the database can: UPDATE ... RETURNING
    (PostgreSQL, sqlite), or LAST_INSERT_ID(expr) in the reply of the
    UPDATE itself (MySQL).
    """
    mysql = conn.dialect.name == 'mysql'
    returning = conn.dialect.update_returning
    stmt = prebuilt('decrement', _decrement_statement, mysql, returning,
                    claim_for is not None)
    params = _node_params(traversal_id, node, p_now=now)
    if claim_for is not None:
        params['p_engine'] = claim_for
    if returning:
        return conn.execute(stmt, params).scalar_one_or_none()
    result = conn.execute(stmt, params)
    if not result.rowcount:
        return None
    if mysql:
        return result.lastrowid
    return conn.execute(sa.select(SYNC_POINT.c.pending).where(
        node_clause(traversal_id, node))).scalar_one()


def _record(conn, traversal_id, delivery, now, claim_for=None):
    """Count one delivery; return (result, its arrival row or None).

    The result is True, False or GONE (see deliver()); with ``claim_for``,
    True also means the target was claimed for it. The arrival row is for
    the caller to insert, with the others of the same sender, in one
    statement: a target that counted the delivery must have it.
    """
    pending = _decrement(conn, traversal_id, delivery.target, now,
                         claim_for)
    if pending is None:
        exists = conn.execute(sa.select(SYNC_POINT.c.state).where(
            node_clause(traversal_id, delivery.target))).first()
        return (False if exists else GONE), None
    if not delivery.record:
        return pending == 0, None
    return pending == 0, {
        'traversal_id': traversal_id,
        'entity_id': delivery.target.entity_id,
        'is_update': delivery.target.is_update,
        'sender_id': str(delivery.sender.entity_id),
        'sender_update': delivery.sender.is_update,
        'data': delivery.data,
        'failures': delivery.failures,
        'skip': bool(delivery.skip)}


def _done_statement(if_current=False):
    """Mark a node DONE; ``if_current``: only while its stack runs it.

    The condition reads the stack's row by its key in the statement that
    marks the sender done, so that knowing whether the traversal is still
    the stack's costs a node no statement of its own.
    """
    stmt = SYNC_POINT.update().where(_THIS_NODE)
    if if_current:
        stmt = stmt.where(sa.exists().where(
            STACK.c.id == sa.bindparam('p_stack'),
            STACK.c.current_traversal == sa.bindparam('p_traversal')))
    return stmt.values(state=models.DONE, updated_at=sa.bindparam('p_now'))


def _mark_done(conn, traversal_id, done, now, stack_id):
    """Mark the sender done; False if ``stack_id`` runs another traversal.

    A sender of a traversal no longer current is marked done all the
    same (by a second statement, only then), so that no engine takes it
    for a node still to run.
    """
    params = _node_params(traversal_id, done, p_now=now)
    if stack_id is not None:
        if conn.execute(prebuilt('done_if_current', _done_statement, True),
                        dict(params, p_stack=stack_id)).rowcount:
            return True
    conn.execute(prebuilt('done', _done_statement), params)
    return stack_id is None


@_retried
@context_manager.writer.connection
def _deliver_all(context, traversal_id, deliveries, done, claim_for=None,
                 stack_id=None):
    conn = context.connection
    now = timeutils.utcnow()
    if done is not None and not _mark_done(conn, traversal_id, done, now,
                                           stack_id):
        return [GONE] * len(deliveries)
    results = []
    arrivals = []
    claimed = None
    for i, delivery in enumerate(deliveries):
        claiming = claim_for if delivery.keep and claimed is None else None
        result, arrival = _record(conn, traversal_id, delivery, now,
                                  claiming)
        results.append(result)
        if arrival is not None:
            arrivals.append(arrival)
        if claiming is not None and result is True:
            claimed = i
    if arrivals:
        # One multi-row INSERT for all of them (the drivers' executemany).
        conn.execute(prebuilt('arrive', ARRIVAL.insert), arrivals)
    if claimed is not None:
        results[claimed] = _inputs(conn, traversal_id,
                                   deliveries[claimed].target)
    return results


def deliver(context, traversal_id, deliveries, done=None, claim_for=None,
            stack_id=None):
    """Record deliveries to successor nodes, atomically where possible.

    :param deliveries: :class:`Delivery` tuples; ``target`` and ``sender``
        are :class:`Node`.
    :param done: optionally, the sending node, marked DONE in the same
        transaction.
    :param stack_id: optionally, with ``done``, the traversal's stack: if
        the stack has moved on to another traversal (a stock traversal
        superseding this one leaves its rows in place, so the targets
        alone cannot tell), nothing is delivered and every result is GONE.
        Checked in the statement that marks the sender done.
    :param claim_for: optionally, the sender's engine id: the first
        delivery marked ``keep`` that makes its target ready also claims
        the target for that engine, as :func:`claim` would right after,
        in the statement that counts its arrival (see :func:`_decrement`).
        Only for traversals without a limit of running nodes (a claim
        under a limit locks the traversal row first).
    :returns: one result per delivery, in order: True if it made its target
        ready (exactly one delivery per node ever gets True), the target's
        :class:`Inputs` if it also claimed it, False if the target still
        waits or had already counted this sender, GONE if the target does
        not exist (its traversal was superseded or cancelled).

    All deliveries share one transaction, taking their row locks in a fixed
    order so that concurrent senders cannot deadlock (on a multi-writer
    Galera cluster, concurrent senders on other nodes make it fail
    certification instead, and it runs again: see :func:`_retried`).
    A sender that had
    already delivered (a redelivered message, or a node resumed after its
    engine died) violates the arrival key; the batch is then rolled back and
    replayed one delivery per transaction, skipping the duplicates, and
    claiming nothing.
    """
    order = sorted(range(len(deliveries)),
                   key=lambda i: (deliveries[i].target.entity_id,
                                  deliveries[i].target.is_update))
    ordered = [deliveries[i] for i in order]
    try:
        results = _deliver_all(context, traversal_id, ordered, done,
                               claim_for, stack_id)
    except db_exception.DBDuplicateEntry:
        results = []
        for delivery in ordered:
            try:
                # Each replay marks the sender done again: the first one
                # may be the duplicate, whose transaction rolls back.
                results.append(_deliver_all(context, traversal_id,
                                            [delivery], done,
                                            stack_id=stack_id))
            except db_exception.DBDuplicateEntry:
                results.append([False])
        results = [r[0] for r in results]
    by_position = [None] * len(deliveries)
    for i, result in zip(order, results):
        by_position[i] = result
    return by_position


# Claims -------------------------------------------------------------------

@_retried
@context_manager.writer.connection
def claim(context, traversal_id, node, engine_id, limit=0,
          read_inputs=True):
    """Take a READY node for ``engine_id``; return its Inputs, or None.

    Only one engine wins a node, however many times it was dispatched.
    With a ``limit``, a node whose traversal already runs that many nodes
    is not taken but left THROTTLED, for :func:`wake` to dispatch later.
    Without ``read_inputs``, a node taken is answered True, for a caller
    that knows its inputs already.
    """
    conn = context.connection
    now = timeutils.utcnow()
    if limit and _running(conn, traversal_id, lock=True) >= limit:
        conn.execute(SYNC_POINT.update().where(
            node_clause(traversal_id, node),
            SYNC_POINT.c.state == models.READY).values(
                state=models.THROTTLED, updated_at=now))
        return None
    return _claim(conn, traversal_id, node, engine_id, now, read_inputs)


def _claim_statement():
    return (SYNC_POINT.update()
            .where(_THIS_NODE, SYNC_POINT.c.state == models.READY)
            .values(state=models.RUNNING,
                    engine_id=sa.bindparam('p_engine'),
                    updated_at=sa.bindparam('p_now')))


def _claim(conn, traversal_id, node, engine_id, now, read_inputs):
    claimed = conn.execute(
        prebuilt('claim', _claim_statement),
        _node_params(traversal_id, node, p_engine=engine_id, p_now=now)
    ).rowcount
    if not claimed:
        return None
    return _inputs(conn, traversal_id, node) if read_inputs else True


def _running(conn, traversal_id, lock=False):
    """Count the traversal's running nodes, serialising with other claims.

    The lock is an UPDATE of the traversal row: it holds the row until the
    transaction ends on MySQL and PostgreSQL, and takes sqlite's write
    lock, so two engines cannot both see the last free slot. On MySQL it
    is two, which change ``node_count`` and change it back: MySQL writes
    nothing for an UPDATE that changes nothing, and Galera certifies only
    the rows written, so two claims on two Galera nodes would both take
    the last slot. With the row written, the second to commit fails
    certification and runs again, counting the first one's node.
    """
    if lock:
        steps = (1, -1) if conn.dialect.name == 'mysql' else (0,)
        for step in steps:
            conn.execute(TRAVERSAL.update().where(
                TRAVERSAL.c.id == traversal_id).values(
                    node_count=TRAVERSAL.c.node_count + step))
    return conn.execute(sa.select(sa.func.count()).where(
        SYNC_POINT.c.traversal_id == traversal_id,
        SYNC_POINT.c.state.in_(HELD))).scalar()


@_retried
@context_manager.writer.connection
def wake(context, traversal_id, limit):
    """Make THROTTLED nodes READY for the free slots; return them.

    The caller dispatches the nodes returned: one per slot now free.
    """
    conn = context.connection
    free = limit - _running(conn, traversal_id, lock=True)
    if free <= 0:
        return []
    rows = conn.execute(
        sa.select(SYNC_POINT.c.entity_id, SYNC_POINT.c.is_update,
                  SYNC_POINT.c.node_type)
        .where(SYNC_POINT.c.traversal_id == traversal_id,
               SYNC_POINT.c.state == models.THROTTLED)
        .order_by(SYNC_POINT.c.updated_at).limit(free)).all()
    now = timeutils.utcnow()
    for row in rows:
        conn.execute(SYNC_POINT.update().where(
            node_clause(traversal_id, Node(row.entity_id, row.is_update)),
            SYNC_POINT.c.state == models.THROTTLED).values(
                state=models.READY, updated_at=now))
    return rows


@_retried
@context_manager.writer.connection
def dequeue(context, traversal_id, count):
    """Make up to ``count`` QUEUED leaves READY; return them.

    The caller dispatches the nodes returned. Rows another engine is
    dequeuing are skipped, not waited for: fewer nodes (or none) come back
    then, and the next node to end dequeues again.
    """
    conn = context.connection
    rows = conn.execute(
        sa.select(SYNC_POINT.c.entity_id, SYNC_POINT.c.is_update,
                  SYNC_POINT.c.node_type)
        .where(SYNC_POINT.c.traversal_id == traversal_id,
               SYNC_POINT.c.state == models.QUEUED)
        .limit(count).with_for_update(skip_locked=True)).all()
    if rows:
        conn.execute(SYNC_POINT.update().where(
            SYNC_POINT.c.traversal_id == traversal_id,
            SYNC_POINT.c.state == models.QUEUED,
            sa.tuple_(SYNC_POINT.c.entity_id, SYNC_POINT.c.is_update).in_(
                [(row.entity_id, row.is_update) for row in rows]))
            .values(state=models.READY, updated_at=timeutils.utcnow()))
    return rows


@context_manager.reader.connection
def has_queued(context, traversal_id):
    """Whether the traversal still has QUEUED leaves."""
    return context.connection.execute(sa.select(SYNC_POINT.c.entity_id).where(
        SYNC_POINT.c.traversal_id == traversal_id,
        SYNC_POINT.c.state == models.QUEUED).limit(1)).first() is not None


@context_manager.reader.connection
def stalled_queues(context):
    """Return the ids of traversals with QUEUED leaves and nothing sent.

    No node of such a traversal is ready, throttled or running: none will
    end and dequeue the next leaves.
    """
    return quiet_traversals(context.connection,
                            (SYNC_POINT.c.state == models.QUEUED,), _SENT)


def quiet_traversals(conn, having, busy, since=None):
    """The traversals with nodes matching ``having`` and none in ``busy``.

    ``busy``: node states; with ``since``, only a node that entered one of
    them at or after ``since`` counts. One query per candidate traversal,
    by the (traversal, state) index.
    """
    candidates = conn.execute(sa.select(SYNC_POINT.c.traversal_id)
                              .distinct().where(*having)).scalars().all()
    quiet = []
    for traversal_id in candidates:
        query = sa.select(SYNC_POINT.c.entity_id).where(
            SYNC_POINT.c.traversal_id == traversal_id,
            SYNC_POINT.c.state.in_(busy))
        if since is not None:
            query = query.where(SYNC_POINT.c.updated_at >= since)
        if conn.execute(query.limit(1)).first() is None:
            quiet.append(traversal_id)
    return quiet


@context_manager.reader.connection
def throttled(context):
    """Return the ids of traversals with THROTTLED nodes."""
    return context.connection.execute(
        sa.select(SYNC_POINT.c.traversal_id).distinct().where(
            SYNC_POINT.c.state == models.THROTTLED)).scalars().all()


def _inputs_statement():
    return (sa.select(SYNC_POINT.c.plan, ARRIVAL.c.sender_id,
                      ARRIVAL.c.sender_update, ARRIVAL.c.data,
                      ARRIVAL.c.failures, ARRIVAL.c.skip)
            .select_from(SYNC_POINT.outerjoin(ARRIVAL, sa.and_(
                ARRIVAL.c.traversal_id == SYNC_POINT.c.traversal_id,
                ARRIVAL.c.entity_id == SYNC_POINT.c.entity_id,
                ARRIVAL.c.is_update == SYNC_POINT.c.is_update)))
            .where(_THIS_NODE))


def _inputs(conn, traversal_id, node):
    rows = conn.execute(prebuilt('inputs', _inputs_statement),
                        _node_params(traversal_id, node)).all()
    if not rows:
        return None
    arrivals = {Node(r.sender_id, r.sender_update): (r.data, r.failures,
                                                     r.skip)
                for r in rows if r.sender_id is not None}
    return Inputs(rows[0].plan, arrivals)


@_retried
@context_manager.writer.connection
def release(context, traversal_id, node, engine_id):
    """Give a RUNNING node back without completing it.

    Returns True if the node was asked to run again while it was held (see
    :func:`poke`): the caller must dispatch it again. Otherwise the node is
    left READY, parked until it is poked.
    """
    now = timeutils.utcnow()
    conn = context.connection
    mine = sa.and_(node_clause(traversal_id, node),
                   SYNC_POINT.c.engine_id == engine_id)
    # RUNNING first: poke() only ever turns RUNNING into RERUN, so a node
    # that is not RUNNING here cannot become RERUN before the second update.
    for state, rerun in ((models.RUNNING, False), (models.RERUN, True)):
        if conn.execute(
                SYNC_POINT.update().where(mine, SYNC_POINT.c.state == state)
                .values(state=models.READY, engine_id=None,
                        updated_at=now)).rowcount:
            return rerun
    return False


@_retried
@context_manager.writer.connection
def poke(context, traversal_id, node):
    """Ask for a node to run again.

    Heat re-triggers a node of the newest traversal when a resource that an
    older traversal held is released. A READY node (parked, or never
    claimed) is for the caller to dispatch; a node held by an engine right
    now is flagged so that the engine dispatches it when it lets go; a node
    still waiting for predecessors, or done, needs nothing.

    :returns: True if the caller must dispatch the node, False if nothing is
        to be done, None if the traversal has no such node.
    """
    conn = context.connection
    if conn.execute(SYNC_POINT.update().where(
            node_clause(traversal_id, node),
            SYNC_POINT.c.state == models.RUNNING).values(
                state=models.RERUN)).rowcount:
        return False
    state = conn.execute(sa.select(SYNC_POINT.c.state).where(
        node_clause(traversal_id, node))).scalar_one_or_none()
    return None if state is None else state == models.READY
