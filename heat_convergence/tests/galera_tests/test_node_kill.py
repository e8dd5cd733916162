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

"""A Galera node killed with SIGKILL while arrivals flow, and its return.

Trials of concurrent arrivals (:mod:`heat_convergence.tests.sync_trials`)
run from the three workers while node 2 is killed as it runs a trial's
statements, the cluster carries on with nodes 0 and 1, and node 2 is
started again, rejoins (IST) and is Synced. Each worker's engine connects
to its own node while that node is Synced, otherwise to the next one that
is, as HAProxy with a Galera health check does: the worker of node 2 loses
its connections mid-transaction and goes on, through Heat's retry, on a
survivor.

No arrival may be lost or counted twice: in every trial the node's row
ends with pending 0 and exactly k arrivals, and at most one arrival is
told it made the node ready. A transaction that was committed by the
cluster while its node died without answering cannot tell its caller; in
a trial where that happens to the arrival that made the node ready, no
arrival is told (the engine's recovery pass takes such a node over), and
the test reports how often. Once node 2 is back, the trials run strictly
again, and the three nodes must hold the same rows.
"""

import functools
import threading
import time

import pymysql
import sqlalchemy as sa

from heat_convergence.db import api
from heat_convergence.tests import db_fixture
from heat_convergence.tests.galera_tests import base
from heat_convergence.tests import sync_trials

KILLED = 2
# Seconds of traffic before the kill, and between the kill and the restart.
BEFORE_KILL = 3
DOWN = 3
# The node is killed once more statements than this run on it (the query
# asking counts as one).
BUSY = 2
# Trials once the killed node is Synced again.
TRIALS_AFTER = 40
# Seconds the survivors may take to see the killed node leave.
EVICTION_TIMEOUT = 60


def fail_over(ports, engine):
    """Connect ``engine`` to the first Synced node of ``ports``."""

    @sa.event.listens_for(engine, 'do_connect')
    def connect(dialect, record, cargs, cparams):
        for port in ports:
            try:
                conn = pymysql.connect(**dict(cparams, port=port,
                                              connect_timeout=2))
            except pymysql.err.OperationalError:
                continue
            with conn.cursor() as cur:
                cur.execute("SHOW STATUS LIKE 'wsrep_local_state_comment'")
                if cur.fetchone()[1] == 'Synced':
                    return conn
            conn.close()
        raise pymysql.err.OperationalError(
            2003, 'no Synced node among ports %s' % (ports,))


class TestNodeKill(base.TrialsAcrossNodes):

    def setUp(self):
        super().setUp()
        self.events = []

    def worker_setups(self):
        nodes = self.cluster.nodes
        ports = [self.cluster.sql_port(n) for n in range(nodes)]
        return [functools.partial(fail_over, ports[n:] + ports[:n])
                for n in range(nodes)]

    def kill_and_restart(self, failures):
        """Kill node KILLED, wait for the survivors, start it again."""
        try:
            time.sleep(BEFORE_KILL)
            self.amid_arrivals()
            started = time.monotonic()
            self.cluster.kill(KILLED)
            self.events.append('killed')
            deadline = started + EVICTION_TIMEOUT
            while self.cluster.status(0).get('wsrep_cluster_size') != str(
                    self.cluster.nodes - 1):
                if time.monotonic() > deadline:
                    raise AssertionError('node%d was never evicted' % KILLED)
                time.sleep(0.2)
            self.events.append('evicted after %.1f s' % (
                time.monotonic() - started))
            time.sleep(DOWN)
            restarted = time.monotonic()
            self.cluster.start_node(KILLED)
            self.cluster.wait_synced(range(self.cluster.nodes))
            self.events.append('node%d Synced again %.1f s after its '
                               'start' % (KILLED,
                                          time.monotonic() - restarted))
        except Exception as exc:
            failures.append(exc)

    def amid_arrivals(self):
        """Return once the node to kill runs statements of a trial."""
        conn = pymysql.connect(host='127.0.0.1', user='root',
                               port=self.cluster.sql_port(KILLED))
        go = self.workers.go
        with conn, conn.cursor() as cur:
            while True:
                while go.is_set():
                    time.sleep(0.001)
                go.wait()
                deadline = time.monotonic() + 1
                while go.is_set() and time.monotonic() < deadline:
                    cur.execute("SHOW GLOBAL STATUS LIKE 'Threads_running'")
                    if int(cur.fetchone()[1]) > BUSY:
                        return

    def node_totals(self, node):
        """(sync points, arrivals, sum of pending) as ``node`` has them."""
        engine = db_fixture.make_engine(
            base.on_node(self.db.url, self.cluster, node),
            mysql_wsrep_sync_wait=base.SYNC_WAIT)
        self.addCleanup(engine.dispose)
        with engine.connect() as conn:
            return tuple(conn.execute(sa.select(
                sa.select(sa.func.count()).select_from(api.SYNC_POINT)
                .scalar_subquery(),
                sa.select(sa.func.count()).select_from(api.ARRIVAL)
                .scalar_subquery(),
                sa.select(sa.func.sum(api.SYNC_POINT.c.pending))
                .scalar_subquery())).one())

    def test_kill_and_rejoin(self):
        failures = []
        chaos = threading.Thread(target=self.kill_and_restart,
                                 args=(failures,))
        sizes = iter(sync_trials.trial_sizes(4, 1.0, trials=100000))
        # The workers are up once they have run a trial.
        self.run_trial(0, next(sizes))
        started = time.monotonic()
        chaos.start()
        during = unanswered = 0
        while chaos.is_alive():
            unanswered += not self.run_trial(during, next(sizes), True)
            during += 1
        chaos.join()
        if failures:
            raise failures[0]
        for trial in range(TRIALS_AFTER):
            self.run_trial(trial, next(sizes))
        totals = [self.node_totals(n) for n in range(self.cluster.nodes)]
        self.assertEqual([totals[0]] * self.cluster.nodes, totals)
        self.report(
            'node%d killed: %s; %d trials during, %d after, in %.1f s: '
            '0 lost, 0 twice, %d unanswered (recovery takes the node '
            'over); the three nodes hold the same rows (%d sync points, '
            '%d arrivals)' % (
                KILLED, ', '.join(self.events), during, TRIALS_AFTER,
                time.monotonic() - started, unanswered, totals[0][0],
                totals[0][1]),
            nodes=[n for n in range(self.cluster.nodes) if n != KILLED])
