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

"""k concurrent arrivals at one node: it becomes ready exactly once.

The trials of :mod:`heat_convergence.tests.sync_trials` against each real
database: HC_TEST_SYNC_TRIALS (default 1000) trials per backend, 30% with
all arrivals from threads of one process (some senders delivering twice),
70% from threads of eight processes. Every other trial claims the node in
the arrival that makes it ready. On sqlite, the threads only: it is the
embedded default's database, whose engine is one process.
"""

import concurrent.futures
import threading

from heat.common import context
import testscenarios
import testtools

from heat_convergence.tests import db_fixture
from heat_convergence.tests import stack_rows
from heat_convergence.tests import sync_trials

PROCESSES = 8
# Database connections one test may hold. The two tests of a backend may run
# at the same time (stestr runs tests in parallel), and PostgreSQL's default
# max_connections is 100: each test stays at 40, in one pool or in eight.
# Arrivals beyond that wait for a connection, and still race with the 40.
CONNECTIONS = 40

BACKENDS = [(name, {'backend': name})
            for name in ('sqlite', 'mysql', 'postgresql')]


class TestConcurrentArrivals(sync_trials.TrialChecks, testtools.TestCase):

    scenarios = BACKENDS

    def setUp(self):
        super().setUp()
        self.addCleanup(sync_trials.quick_thread_switches())
        self.db = self.useFixture(db_fixture.Database(
            self.backend, max_pool_size=CONNECTIONS, max_overflow=0))
        self.trial_engine = self.db.engine
        self.stack = stack_rows.create_stack(context.get_admin_context())

    def test_threads(self):
        pool = concurrent.futures.ThreadPoolExecutor(sync_trials.MAX_K + 8)
        self.addCleanup(pool.shutdown)
        for i, k in enumerate(sync_trials.trial_sizes(1, 0.3)):
            claim = bool(i % 2)
            traversal_id = sync_trials.start_trial(k, self.stack.id)
            go = threading.Event()
            futures = [pool.submit(sync_trials.after, go,
                                   sync_trials.arrive, traversal_id, s,
                                   claim)
                       for s in sync_trials.with_duplicates(range(k))]
            go.set()
            outcomes = [f.result() for f in futures]
            self.check_trial(traversal_id, k, outcomes, claim)

    def test_processes(self):
        if self.backend == 'sqlite':
            self.skipTest('sqlite serves one engine process (the embedded '
                          'default), never several')
        workers = sync_trials.Workers([self.db.url] * PROCESSES,
                                      CONNECTIONS // PROCESSES)
        self.addCleanup(workers.stop)
        for trial, k in enumerate(sync_trials.trial_sizes(2, 0.7)):
            claim = bool(trial % 2)
            traversal_id = sync_trials.start_trial(k, self.stack.id)
            senders = list(range(k))
            outcomes = workers.deliver(
                traversal_id, [senders[i::PROCESSES]
                               for i in range(PROCESSES)], claim)
            self.check_trial(traversal_id, k, outcomes, claim)


def load_tests(loader, tests, pattern):
    return testscenarios.load_tests_apply_scenarios(loader, tests, pattern)
