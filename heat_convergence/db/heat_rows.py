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

"""Heat's own rows, as a node reads and writes them.

A node reads its stack's row and graph, and writes its resource's row, its
events and its resource data, many times per traversal. Heat's functions
for these go through the ORM (loading objects, evaluating criteria against
the session, a unit of work per save) and read back what no caller keeps:
here they are Core statements built once per process
(:func:`heat_convergence.db.api.prebuilt`), writing and returning what
Heat's do. The reduced driver binds them in a node's thread only
(``stack_cache``, ``state_changes``); everywhere else Heat's own run.
"""

from heat.common import crypt
from heat.db import api as heat_db_api
from heat.db import models as heat_models
import sqlalchemy as sa
from sqlalchemy import orm

from heat_convergence.db import api

EVENT = heat_models.Event.__table__
HEAT_RESOURCE = heat_models.Resource.__table__


@api.retried
@api.context_manager.reader
def stack_get_without_graph(context, stack_id, show_deleted=False):
    """Heat's ``stack_get`` without the raw template and ``current_deps``.

    The row is first loaded into the session with ``current_deps``
    deferred; Heat's own lookup then finds it there, and applies Heat's
    rules for deleted stacks and project scoping to it.
    """
    row = context.session.execute(sa.select(heat_models.Stack).options(
        orm.defer(heat_models.Stack.current_deps)).where(
            heat_models.Stack.id == stack_id)).scalar()
    if row is None:
        return None
    return heat_db_api._stack_get(context, stack_id,
                                  show_deleted=show_deleted,
                                  eager_load=False)


@api.retried
@api.context_manager.reader.connection
def stack_graph(context, stack_id, traversal_id):
    """Return the row of the stack's ``current_deps`` for the traversal.

    None if the stack runs another traversal now.
    """
    return context.connection.execute(sa.select(
        heat_models.Stack.current_deps).where(
            heat_models.Stack.id == stack_id,
            heat_models.Stack.current_traversal == traversal_id)).first()


@api.context_manager.reader.connection
def resource_lock_holders(context, stack_id, name):
    """Return the engines holding the lock of a stack's resource ``name``.

    Two rows share a name while one replaces the other.
    """
    return set(context.connection.execute(sa.select(
        HEAT_RESOURCE.c.engine_id).distinct().where(
            HEAT_RESOURCE.c.stack_id == stack_id,
            HEAT_RESOURCE.c.name == name,
            HEAT_RESOURCE.c.engine_id.is_not(None))).scalars())


# Heat's rows a node writes in its state changes ---------------------------

def _resource_cas_statement(keys, any_engine, no_key):
    """Heat's compare-and-swap of a resource row, as a Core UPDATE.

    ``keys``: the attribute names of the values it sets (the mapper names
    the columns: ``physical_resource_id`` is ``nova_instance``);
    ``any_engine``, ``no_key``: whether it expects no engine id, no atomic
    key (``IS NULL`` where Heat's ``filter_by`` has None).
    """
    columns = sa.inspect(heat_models.Resource).columns
    res = HEAT_RESOURCE
    return res.update().where(
        res.c.id == sa.bindparam('p_id'),
        res.c.engine_id.is_(None) if any_engine
        else res.c.engine_id == sa.bindparam('p_engine'),
        res.c.atomic_key.is_(None) if no_key
        else res.c.atomic_key == sa.bindparam('p_key')).values(
            {columns[key]: sa.bindparam('v_' + key) for key in keys})


@api.context_manager.writer
def _resource_compare_and_swap(context, resource_id, values, atomic_key,
                               expected_engine_id=None):
    """Heat's ``resource_update``, from a statement built once per process.

    Heat's ORM ``Query.update`` builds the statement and computes its cache
    key at every call, and evaluates its criteria against the session's
    objects before and after the UPDATE: 10.7% of the engines' CPU creating
    many stacks, of which sending the statement was 0.9%. Built once per
    set of columns (see :func:`heat_convergence.db.api.prebuilt`), the
    statement costs neither. Nothing is synchronised into the session: the
    transactions it runs in (a state change's, a lock's) hold no resource
    object loaded from it. The values are Heat's (the atomic key bumped
    into the caller's dict, the status reason truncated), and so is the
    result: whether a row matched.
    """
    heat_db_api._add_atomic_key_to_values(values, atomic_key)
    values = heat_db_api._truncate_status_reason(values)
    stmt = api.prebuilt('resource_cas', _resource_cas_statement,
                        tuple(sorted(values)), expected_engine_id is None,
                        atomic_key is None)
    params = {'v_' + key: value for key, value in values.items()}
    params.update(p_id=resource_id, p_engine=expected_engine_id,
                  p_key=atomic_key)
    return bool(context.session.connection().execute(stmt, params).rowcount)


# Retried as Heat's is; its __wrapped__ is the unretried one.
resource_compare_and_swap = heat_db_api.retry_on_db_error(
    _resource_compare_and_swap)


def event_insert(context, event):
    """Insert Heat's event ``event``, an unsaved ``models.Event``.

    As its ORM ``save`` would, from a statement built once per process:
    with the ORM's unit of work, the insert took 4.8% of the engines' CPU
    creating many stacks, of which sending the INSERT was 0.9%. The
    values are the attributes set on the object and the columns' own
    defaults (its uuid, its creation time), which are set on the object
    with its new id, as the ORM's flush sets them; the object stays out of
    the session. Joins the transaction open in this thread.

    :returns: ``event``.
    """
    given = vars(event)
    columns = {}
    for attr in sa.inspect(heat_models.Event).column_attrs:
        column = attr.columns[0]
        if attr.key in given:
            columns[column.key] = given[attr.key]
        elif column.default is not None and column.default.is_callable:
            columns[column.key] = column.default.arg(None)
            setattr(event, attr.key, columns[column.key])
        elif column.default is not None and column.default.is_scalar:
            columns[column.key] = column.default.arg
            setattr(event, attr.key, columns[column.key])
    with api.context_manager.writer.using(context):
        result = context.session.connection().execute(
            api.prebuilt('event', EVENT.insert), columns)
    event.id = result.inserted_primary_key[0]
    return event


_RESOURCE_DATA = heat_models.ResourceData.__table__


def _data_id_statement():
    return sa.select(_RESOURCE_DATA.c.id).where(
        _RESOURCE_DATA.c.resource_id == sa.bindparam('p_resource'),
        _RESOURCE_DATA.c.key == sa.bindparam('p_key')).limit(1)


def _data_id(conn, resource_id, key):
    """The id of the resource's data row of ``key`` (the first), or None."""
    return conn.execute(api.prebuilt('data_id', _data_id_statement), {
        'p_resource': resource_id, 'p_key': key}).scalar()


def _data_update_statement():
    return _RESOURCE_DATA.update().where(
        _RESOURCE_DATA.c.id == sa.bindparam('p_id'))


@api.retried
@api.context_manager.writer
def resource_data_store(context, resource_id, key, value, redact=False):
    """Heat's ``resource_data_set``, from statements built once per process.

    The same rows: the value encrypted if ``redact``, the first row of the
    key updated, or a row inserted. Heat's reads the row as an ORM object,
    raises and catches an exception when there is none, and saves the
    object through the ORM's unit of work: 5.1% of the engines' CPU
    creating many stacks of ``OS::Heat::TestResource`` (which stores a
    datum in each create), of which sending the statements was 1.2%; 2.1%
    this way. Returns the row as Heat's does, a ``models.ResourceData``
    with the values stored and its id, built without a session.
    Retried as :func:`retried` is (a write of given values).
    """
    if redact:
        method, value = crypt.encrypt(value)
    else:
        method = ''
    values = {'redact': redact, 'value': value, 'decrypt_method': method}
    conn = context.session.connection()
    data_id = _data_id(conn, resource_id, key)
    if data_id is None:
        data_id = conn.execute(
            api.prebuilt('data_insert', _RESOURCE_DATA.insert),
            dict(values, resource_id=resource_id, key=key)
        ).inserted_primary_key[0]
    else:
        conn.execute(api.prebuilt('data_update', _data_update_statement),
                     dict(values, p_id=data_id))
    return heat_models.ResourceData(id=data_id, resource_id=resource_id,
                                    key=key, **values)
