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

"""Pooled connections without redundant round trips.

Heat opens a transaction for almost every statement of a resource action,
so the pool's own round trips around each transaction add up:

* SQLAlchemy rolls every connection back when it returns to the pool, in
  case a transaction was left open. With oslo.db's enginefacade, which
  commits or rolls back every transaction itself, that second round trip is
  redundant: measured on a chain create it was a fifth of all statements the
  engine sent. Here the connection is rolled back on return only if the
  driver reports a transaction still open, which keeps the safety net.
* oslo.db pings every connection as it leaves the pool, to find one that
  the server closed. Profiled on a chain create, those pings were 15% of a
  node's time: a connection is checked out about ten times per resource,
  each time milliseconds after it came back. Here only a connection that
  sat in the pool for longer than :data:`PING_AFTER_IDLE` is pinged. A
  server that restarts in between is seen by the next statement instead,
  which invalidates the pool just as a failed ping does, and Heat's
  database calls retry on a lost connection.
"""

import time

from oslo_log import log as logging
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy import pool as sa_pool

LOG = logging.getLogger(__name__)

# Seconds a connection may sit in the pool and still leave it unpinged.
PING_AFTER_IDLE = 1.0

# Key of a pooled connection's info: when it was last returned.
_RETURNED = 'heat_convergence_returned'

# pymysql's server status flag: a transaction is open.
_MYSQL_IN_TRANS = 1


def _in_transaction_probe(dialect):
    """Return f(dbapi_connection) -> bool for this driver, or None."""
    if dialect.driver == 'pymysql':
        return lambda conn: bool(conn.server_status & _MYSQL_IN_TRANS)
    if dialect.driver == 'psycopg2':
        import psycopg2.extensions as ext
        return lambda conn: (conn.info.transaction_status !=
                             ext.TRANSACTION_STATUS_IDLE)
    if dialect.name == 'sqlite':
        return lambda conn: conn.in_transaction
    return None


def skip_redundant_rollbacks(engine):
    """Roll connections back on return only when a transaction is open.

    :returns: whether the engine was changed (it is left alone for drivers
        whose transaction state cannot be read).
    """
    pool = engine.pool
    probe = _in_transaction_probe(engine.dialect)
    if probe is None or getattr(pool, '_reset_on_return',
                                None) is not sa_pool.reset_rollback:
        LOG.info('Connections to %s keep being rolled back on return.',
                 engine.dialect.name)
        return False

    @event.listens_for(pool, 'reset')
    def _reset(dbapi_connection, record, state):
        if not state.terminate_only and probe(dbapi_connection):
            dbapi_connection.rollback()

    pool._reset_on_return = sa_pool.reset_none
    return True


def ping_idle_connections_only(engine, idle=PING_AFTER_IDLE):
    """Ping a connection on checkout only if it was idle for ``idle`` s.

    Replaces the pool's pre-ping (which oslo.db turns on) by the same ping
    in a checkout listener; a failed ping invalidates the pool, as the
    pre-ping does, and the pool connects again.

    :returns: whether the engine was changed (an engine without pre-ping
        is left alone).
    """
    pool = engine.pool
    if not getattr(pool, '_pre_ping', False):
        return False
    dialect = engine.dialect

    @event.listens_for(pool, 'checkin')
    def _checkin(dbapi_connection, record):
        if record is not None:
            record.info[_RETURNED] = time.monotonic()

    @event.listens_for(pool, 'checkout')
    def _checkout(dbapi_connection, record, proxy):
        returned = record.info.get(_RETURNED)
        if returned is not None and time.monotonic() - returned < idle:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa_exc.InvalidatePoolError(
                'ping failed: %s' % exc) from exc

    pool._pre_ping = False
    return True
