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

"""A scratch database on the Galera cluster, and a worker on each node.

The tests' own engine (Heat's enginefacade in the test process) is on node
0; each worker process is an engine on its own node, the shape of one
heat-convergence engine per database node in a multi-writer deployment.
Every connection sets ``wsrep_sync_wait = 3`` (oslo.db's ``[database]
mysql_wsrep_sync_wait``), as such a deployment does (``doc/source/
galera.rst``): what one node committed is seen by the next SELECT, UPDATE
or DELETE on any node.
"""

import collections
import sys

from heat.common import context
import sqlalchemy as sa
import testtools
from testtools import content

from heat_convergence.tests import db_fixture
from heat_convergence.tests import galera
from heat_convergence.tests import stack_rows
from heat_convergence.tests import sync_trials

# Connections of a worker: one per call it may be given at once.
POOL_SIZE = 32
# wsrep_sync_wait: SELECT (1), UPDATE and DELETE (2).
SYNC_WAIT = 3
# Galera's counters of local transactions aborted by certification (at
# commit) and by a replicated write set applied over them.
CONFLICT_COUNTERS = ('wsrep_local_cert_failures', 'wsrep_local_bf_aborts')


def conflicts(cluster, node):
    """Galera's conflict counters on one node."""
    status = cluster.status(node)
    return collections.Counter({name: int(status[name])
                                for name in CONFLICT_COUNTERS})


def conflicts_since(cluster, before, nodes=None):
    """What Galera's conflict counters of ``nodes`` say since ``before``.

    :param before: every node's :func:`conflicts` at the start.
    :param nodes: those to count (all by default: a restarted node counts
        from 0 again).
    """
    seen = sum((conflicts(cluster, n) - before[n]
                for n in nodes or range(cluster.nodes)),
               collections.Counter())
    return ', '.join('%s +%d' % (name, seen[name])
                     for name in CONFLICT_COUNTERS)


def show(test, text):
    """Put ``text`` in the test's ``galera`` detail, and on stderr.

    On stderr, the figures show in the suite's output.
    """
    test.addDetail('galera', content.text_content(text))
    print('%s: %s' % (test.id().rsplit('.', 1)[-1], text),
          file=sys.__stderr__)


def on_node(url, cluster, node):
    """The URL of the same database on another node of the cluster."""
    return sa.engine.make_url(url).set(
        port=cluster.sql_port(node),
        query={'charset': 'utf8'}).render_as_string(hide_password=False)


class ClusterTestCase(testtools.TestCase):
    """A test with a migrated database on the cluster and its workers."""

    def setUp(self):
        super().setUp()
        self.cluster = galera.cluster_for_tests()
        self.db = self.useFixture(db_fixture.Database(
            'mysql', server=self.cluster.url(0),
            mysql_wsrep_sync_wait=SYNC_WAIT))
        self.stack = stack_rows.create_stack(context.get_admin_context())
        self.workers = sync_trials.Workers(
            [on_node(self.db.url, self.cluster, n)
             for n in range(self.cluster.nodes)],
            POOL_SIZE, self.worker_setups(), mysql_wsrep_sync_wait=SYNC_WAIT)
        self.addCleanup(self.workers.stop)
        self.conflicts_before = [conflicts(self.cluster, n)
                                 for n in range(self.cluster.nodes)]

    def worker_setups(self):
        """The ``setups`` of the workers' engines (see Workers)."""
        return None

    def report(self, summary, nodes=None):
        """Show ``summary``, the conflicts since setUp and the retries."""
        retries = self.workers.retries
        show(self, '%s; %s; %d retries (errors met: %s)' % (
            summary,
            conflicts_since(self.cluster, self.conflicts_before, nodes),
            retries['retries'], ', '.join(
                '%s %d' % (error, count) for error, count in sorted(
                    retries.items()) if error != 'retries') or 'none'))


class TrialsAcrossNodes(sync_trials.TrialChecks, ClusterTestCase):
    """Concurrent-arrival trials with the senders spread over the nodes."""

    def setUp(self):
        super().setUp()
        self.trial_engine = self.db.engine

    def run_trial(self, trial, k, answer_may_be_lost=False):
        """Run a trial (claiming in odd ones); see check_trial."""
        claim = bool(trial % 2)
        nodes = self.cluster.nodes
        traversal_id = sync_trials.start_trial(k, self.stack.id)
        senders = sync_trials.with_duplicates(range(k))
        outcomes = self.workers.deliver(
            traversal_id, [senders[n::nodes] for n in range(nodes)], claim)
        return self.check_trial(traversal_id, k, outcomes, claim,
                                answer_may_be_lost)
