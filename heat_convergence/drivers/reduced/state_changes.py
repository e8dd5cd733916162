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

"""A resource's state changes in a node: stored at once, dispatched if read.

A node changes its resource's state at least twice (IN_PROGRESS, then
COMPLETE or FAILED). Heat's ``Resource.state_set`` stores each change as up
to three transactions: the properties data, the resource row (the
compare-and-swap that takes or releases the engine's lock) and the event.
Those were a third of a node's transactions, each with its own connection
checkout and commit. In a node's thread a state change runs in one writer
transaction instead, which Heat's own writes join: the same statements, one
commit, and a state is never stored without its event. Nothing in a state
change waits on another service (a resource plugin's calls come before or
after it), so the transaction stays as short as Heat's own.

Heat's ``event_create`` inserts the event, then reads it back with its
properties data joined (a query with an outer join, a fifth of a node's
time), for callers that would show them. The caller in a state change,
``Event.store``, keeps only the id, uuid and creation time, which the
insert sets; in a node's thread the event is inserted without the read,
and without the ORM's unit of work (:func:`heat_convergence.db.heat_rows
.event_insert`).
Heat's occasional purge of a stack's oldest events is kept, after the
state change's commit, with a cheaper search for the properties data they
leave unused.

Heat's ``resource_update_and_save`` (a plugin storing its physical id with
``resource_id_set``, an engine releasing a resource's lock) reads the row,
updates it, then reads it again with its properties data joined, and every
caller drops what it returns. In a node's thread it is the UPDATE alone, in
its own transaction as in Heat: a physical id is stored the moment the
plugin knows it.

A resource plugin's own writes in its action (its physical id, its
``data_set``: Heat's ``resource_update_and_save`` and
``resource_data_set``) are not retried by Heat. In a node's thread they
are retried like the plugin's own writes (:func:`heat_convergence.db.api
.retried`) after a conflict or a lost connection: a database node killed
under a resource's create failed the resource, and its stack, with
``DBConnectionError``. Each writes given values to one row (an update by
id; an insert, or an update of the row a first attempt committed), so
running it again after a commit whose answer was lost changes nothing.
Within a state change's transaction, the state change's retry applies.
The data is stored from statements built once per process, without
Heat's ORM objects
(:func:`heat_convergence.db.heat_rows.resource_data_store`).

So it does for Heat's compare-and-swap of the resource row
(``resource_update``), which Heat retries itself after a deadlock or a
lost connection. A deadlock (an InnoDB victim, a Galera brute-force abort)
rolled back the state change's whole transaction, the properties data
inserted before it included; Heat's retry ran the UPDATE again in a new
transaction, which committed the row, and the event, without that data
(a resource row referencing a missing row: the resource failed on the
foreign key). Within a transaction open in this thread, Heat's
``resource_update`` runs without its retry (:func:`heat_convergence.db
.api.unretried_within`), and the whole state change runs again. In a
node's thread the compare-and-swap is the same UPDATE from a statement
built once per process (:func:`heat_convergence.db.heat_rows
.resource_compare_and_swap`): Heat's ORM update spent over ten times as
long building and synchronising it as sending it.

Heat then hands each event to the stack's event sinks (``OS::Zaqar``
queues named in the environment) in a thread of its own, which it starts
even when the stack has no sinks. In a node's thread, an event of a stack
without sinks is not dispatched: there is nothing to send it to.
"""

import contextlib
import random
import threading

from heat.common import exception
from heat.common.i18n import _
from heat.db import api as heat_db_api
from heat.db import models as heat_models
from heat.engine import resource
from heat.engine import stack as parser
from oslo_config import cfg
from oslo_db import exception as db_exception
from oslo_log import log as logging
import sqlalchemy as sa

from heat_convergence.db import api as db_api
from heat_convergence.db import heat_rows
from heat_convergence import thread_patches

LOG = logging.getLogger(__name__)


def _in_one_transaction(heat_state_set, _value, rsrc, *args, **kwargs):
    """Heat's state change in one transaction, run again after a conflict.

    Stock Heat retries each of its three writes; the one transaction is
    retried whole instead. A conflict (a deadlock, or a Galera
    certification failure at commit) rolled all of it back, but Heat's
    ``state_set`` also changes the resource object as it writes: its state
    (a second attempt would see no change and store no event), its
    ``_atomic_key`` (bumped by the compare-and-swap that was undone) and
    the id of the properties data it inserted. Each attempt starts from the
    object's attributes as they were before the first.

    A connection lost during one of the statements (a database node gone)
    left nothing committed, and the state change is retried too (through
    another node, if the connection goes through HAProxy). Heat's own
    retry of the statement cannot do it: it runs the statement again in
    the transaction the lost connection invalidated, which fails with
    ``PendingRollbackError``. A connection lost at COMMIT leaves unknown
    whether the transaction committed: the resource row then says (see
    :func:`_committed`), and the state change runs again only if it did
    not, so that its event is never stored twice.
    """
    before = dict(vars(rsrc))
    _PURGES.stacks = set()

    def attempt():
        vars(rsrc).clear()
        vars(rsrc).update(before)
        try:
            with heat_db_api.context_manager.writer.using(rsrc.context):
                try:
                    return heat_state_set(rsrc, *args, **kwargs)
                except (db_exception.DBConnectionError,
                        sa.exc.PendingRollbackError) as exc:
                    raise db_exception.RetryRequest(exc)
        except db_exception.DBConnectionError as exc:
            if not _committed(rsrc.context, rsrc):
                raise db_exception.RetryRequest(exc)

    try:
        result = db_api.conflict_retried(attempt)()
    finally:
        purges, _PURGES.stacks = _PURGES.stacks, None
    for stack_id in purges:
        _purge(rsrc.context, stack_id, after_commit=True)
    return result


@heat_db_api.retry_on_db_error
def _committed(context, rsrc):
    """Whether the resource's row holds the state change just attempted.

    Only the engine holding the resource's lock changes its state, and the
    compare-and-swap of a state change under the lock bumps the row's
    atomic key; a row with the attempt's state and atomic key is the
    attempt's. (Where the attempt changed nothing of these, running it
    again stores the same row and no event.) On Galera the read waits for
    the survivors to apply what the cluster certified before the node was
    lost (``wsrep_sync_wait``).
    """
    with heat_db_api.context_manager.reader.using(context):
        row = context.session.query(
            heat_models.Resource.action, heat_models.Resource.status,
            heat_models.Resource.atomic_key).filter_by(id=rsrc.id).first()
    return row is not None and tuple(row) == (
        rsrc.action, rsrc.status, rsrc._atomic_key)


def _purge_now_and_then(context, stack_id):
    """Heat's rule: count, and purge past the limit, 2/batch of the time.

    Within a state change, after its commit: purges of one stack's events
    by several threads take the same oldest rows, and in a state change's
    transaction each held them while the rest of it ran. At 10,000
    resources they queued up behind one another into MariaDB's lock wait
    timeout (50 s). On its own a purge is short, and it skips the events
    another purge holds.
    """
    conf = cfg.CONF
    if (not conf.max_events_per_stack or
            2.0 / conf.event_purge_batch_size <= random.uniform(0, 1)):
        return
    after_commit = getattr(_PURGES, 'stacks', None)
    if after_commit is None:
        _purge(context, stack_id)
    else:
        after_commit.add(stack_id)


# Per thread: the stacks whose events to purge once the running state
# change commits (None outside of one).
_PURGES = threading.local()


def _purge(context, stack_id, after_commit=False):
    """Purge the stack's oldest events past the limit, in a transaction.

    After a state change's commit, outside any transaction, a purge that
    loses a deadlock or a conflict (its deletes against another engine's
    inserts of events) is run again as a state change is: the deadlock
    rolled back the purge's own transaction only. Within another
    transaction, it is not retried: that transaction was rolled back too.
    """
    conf = cfg.CONF

    def purge():
        with heat_db_api.context_manager.writer.using(context):
            if (heat_db_api._event_count_all_by_stack(context, stack_id) >=
                    conf.max_events_per_stack):
                _delete_oldest_events(context.session, stack_id,
                                      conf.event_purge_batch_size)

    try:
        (db_api.conflict_retried(purge) if after_commit else purge)()
    except db_exception.DBError as exc:
        LOG.error('Failed to purge events: %s', exc)


def _delete_oldest_events(session, stack_id, limit):
    """Delete a stack's ``limit`` oldest events, as Heat's purge does.

    With the properties data only they used. Heat's ``_delete_event_rows``
    finds what is still used by loading every event and every resource of
    the stack as ORM objects: a purge grows with the stack, and purges
    with the events, so at 10,000 resources that loading took 30% of an
    engine's CPU time in an update. Here only the candidates are looked
    up, among every stack's events and resources: that also covers the
    backup stacks sharing them, which Heat checks only after its delete
    failed on a foreign key. Events another purge holds are skipped, not
    waited for (PostgreSQL purges the next ones; MariaDB none this time).
    """
    event = heat_models.Event.__table__
    oldest = session.execute(
        sa.select(event.c.id, event.c.rsrc_prop_data_id)
        .where(event.c.stack_id == stack_id)
        .order_by(event.c.id).limit(limit)
        .with_for_update(skip_locked=True)).all()
    if not oldest:
        return
    session.execute(event.delete().where(
        event.c.id.in_([row.id for row in oldest])))
    candidates = {row.rsrc_prop_data_id for row in oldest} - {None}
    for table in (event, heat_models.Resource.__table__):
        if candidates:
            candidates -= set(session.execute(
                sa.select(table.c.rsrc_prop_data_id).distinct().where(
                    table.c.rsrc_prop_data_id.in_(candidates))).scalars())
    if candidates:
        data = heat_models.ResourcePropertiesData.__table__
        session.execute(data.delete().where(data.c.id.in_(candidates)))


def _insert_event(_heat_event_create, _value, context, values):
    with heat_db_api.context_manager.writer.using(context):
        if 'stack_id' in values:
            _purge_now_and_then(context, values['stack_id'])
        event = heat_models.Event()
        event.update(values)
        return heat_rows.event_insert(context, event)


def _update_without_read_back(_heat_update_and_save, _value, context,
                              resource_id, values):
    _update(context, resource_id, values)


@db_api.retried
def _update(context, resource_id, values):
    with heat_db_api.context_manager.writer.using(context):
        updated = context.session.query(heat_models.Resource).filter_by(
            id=resource_id).update(
                heat_db_api._truncate_status_reason(values),
                synchronize_session=False)
    if not updated:
        raise exception.NotFound(_('Resource with id %s not found') %
                                 resource_id)


def _data_store(_heat_resource_data_set, _value, context, *args, **kwargs):
    return heat_rows.resource_data_store(context, *args, **kwargs)


def _compare_and_swap(_heat_resource_update, value, context, *args,
                      **kwargs):
    return db_api.unretried_within(heat_rows.resource_compare_and_swap, value,
                                   context, *args, **kwargs)


def _to_sinks(heat_dispatch_event, _value, stack, ev):
    if stack.env.get_event_sinks():
        heat_dispatch_event(stack, ev)


STATE_SET = thread_patches.ThreadPatch(resource.Resource, 'state_set',
                                       _in_one_transaction)
EVENT_CREATE = thread_patches.ThreadPatch(heat_db_api, 'event_create',
                                          _insert_event)
RESOURCE_UPDATE = thread_patches.ThreadPatch(
    heat_db_api, 'resource_update_and_save', _update_without_read_back)
RESOURCE_DATA_SET = thread_patches.ThreadPatch(
    heat_db_api, 'resource_data_set', _data_store)
RESOURCE_CAS = thread_patches.ThreadPatch(
    heat_db_api, 'resource_update', _compare_and_swap)
DISPATCH = thread_patches.ThreadPatch(parser.Stack, 'dispatch_event',
                                      _to_sinks)


@contextlib.contextmanager
def in_node():
    """Within, this thread's state changes are stored and sent as above."""
    with (STATE_SET.active(), EVENT_CREATE.active(),
          RESOURCE_UPDATE.active(), RESOURCE_DATA_SET.active(),
          RESOURCE_CAS.active(), DISPATCH.active()):
        yield
