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

Every trial creates a node with k predecessors (k up to 64) and delivers all
k arrivals at the same moment, from threads of this process or from threads
of several worker processes, against a real database. The node must become
ready exactly once, in the arrival that committed last (the caller that is
told "ready" must already see all k inputs), and the database must hold
pending = 0, state READY and exactly k arrivals. In every other trial, each
sender also asks to claim the node for its own engine in the same
transaction (as a node keeping its successor does): the node must then be
RUNNING, held by the engine of the one arrival told it was ready.

HC_TEST_SYNC_TRIALS (default 1000) trials run per backend: 30% with all
arrivals from threads of one process, 70% from threads of eight processes.
Every twentieth trial has the maximum k of 64; the others draw k from 2 to
16, which keeps the suite's run time in budget while still exercising the
widest fan-in often.
"""

import concurrent.futures
import multiprocessing
import os
import random
import sys
import threading

from heat.common import context
from oslo_utils import uuidutils
import sqlalchemy as sa
import testscenarios
import testtools

from heat_convergence.db import api
from heat_convergence.db import models
from heat_convergence.tests import db_fixture
from heat_convergence.tests import stack_rows

TRIALS = int(os.environ.get('HC_TEST_SYNC_TRIALS', '1000'))
MAX_K = 64
PROCESSES = 8
# Database connections one test may hold. The two tests of a backend may run
# at the same time (stestr runs tests in parallel), and PostgreSQL's default
# max_connections is 100: each test stays at 40, in one pool or in eight.
# Arrivals beyond that wait for a connection, and still race with the 40.
CONNECTIONS = 40
TARGET = api.Node('target', True)

BACKENDS = [(name, {'backend': name})
            for name in ('sqlite', 'mysql', 'postgresql')]


def trial_sizes(seed, share):
    """Sizes of ``share`` of the trials: 64 every twentieth, else 2 to 16."""
    rnd = random.Random(seed)
    return [MAX_K if i % 20 == 0 else rnd.randint(2, 16)
            for i in range(max(1, round(TRIALS * share)))]


def start_trial(k, stack_id):
    traversal_id = uuidutils.generate_uuid()
    stack_rows.create_traversal(
        context.get_admin_context(),
        {'id': traversal_id, 'stack_id': stack_id, 'action': 'CREATE'},
        [{'entity_id': TARGET.entity_id, 'is_update': True,
          'node_type': 'resource', 'predecessors': k}])
    return traversal_id


def engine(sender):
    return 'engine-%d' % sender


def arrive(traversal_id, sender, go, claim=False):
    """Deliver one arrival once ``go`` is set; return (ready, inputs seen).

    With ``claim``, the arrival also claims the node for its sender's
    engine if it makes the node ready: ``ready`` is then the sender.
    """
    go.wait()
    ctx = context.get_admin_context()
    ready = api.deliver(ctx, traversal_id, [api.Delivery(
        TARGET, api.Node(str(sender), True), {'sender': sender}, None,
        False, claim)], claim_for=engine(sender) if claim else None)[0]
    if not ready:
        return ready, None
    inputs = ready
    if claim:
        ready = sender
    else:
        inputs = stack_rows.node_inputs(ctx, traversal_id, TARGET)
    return ready, sorted(d['sender'] for d, _, _ in inputs.arrivals.values())


def worker_process(url, jobs, results, go):
    """A process that delivers the arrivals it is given, in threads."""
    quick_thread_switches()
    engine = db_fixture.make_engine(
        url, max_pool_size=CONNECTIONS // PROCESSES, max_overflow=0)
    db_fixture.use_heat_engine(engine)
    pool = concurrent.futures.ThreadPoolExecutor(MAX_K)
    while True:
        job = jobs.get()
        if job is None:
            break
        traversal_id, senders, claim = job
        futures = [pool.submit(arrive, traversal_id, s, go, claim)
                   for s in senders]
        results.put('armed')
        results.put([f.result() for f in futures])
    pool.shutdown()
    engine.dispose()


def quick_thread_switches():
    """Hand the GIL over every 0.5 ms instead of every 5 ms.

    The arrivals at one node are serialised by its row lock; with 64 threads
    in one interpreter, the thread holding the lock otherwise waits up to
    5 ms for the GIL between its statements, which makes every trial slow
    without testing anything more.
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    return lambda: sys.setswitchinterval(previous)


class TestConcurrentArrivals(testtools.TestCase):

    scenarios = BACKENDS

    def setUp(self):
        super().setUp()
        self.addCleanup(quick_thread_switches())
        self.db = self.useFixture(db_fixture.Database(
            self.backend, max_pool_size=CONNECTIONS, max_overflow=0))
        self.stack = stack_rows.create_stack(context.get_admin_context())

    def check_trial(self, traversal_id, k, outcomes, claim):
        ready = [(is_ready, seen) for is_ready, seen in outcomes
                 if is_ready is not False]
        self.assertEqual(1, len(ready), 'k=%d: ready %d times' %
                         (k, len(ready)))
        winner, seen = ready[0]
        self.assertEqual(list(range(k)), seen,
                         'the ready arrival did not see every input')
        with self.db.engine.connect() as conn:
            node = conn.execute(sa.select(api.SYNC_POINT).where(
                api.SYNC_POINT.c.traversal_id == traversal_id)).one()
            arrivals = conn.execute(sa.select(sa.func.count()).where(
                api.ARRIVAL.c.traversal_id == traversal_id)).scalar()
        if claim:
            expected = (models.RUNNING, engine(winner))
        else:
            expected = (models.READY, None)
        self.assertEqual((0, k) + expected,
                         (node.pending, arrivals, node.state,
                          node.engine_id))

    def test_threads(self):
        pool = concurrent.futures.ThreadPoolExecutor(MAX_K + 8)
        self.addCleanup(pool.shutdown)
        for i, k in enumerate(trial_sizes(1, 0.3)):
            claim = bool(i % 2)
            traversal_id = start_trial(k, self.stack.id)
            go = threading.Event()
            # Some senders deliver twice: a redelivered message must not
            # count again, even when both copies race.
            senders = list(range(k)) + random.sample(range(k), min(k, 8))
            random.shuffle(senders)
            futures = [pool.submit(arrive, traversal_id, s, go, claim)
                       for s in senders]
            go.set()
            outcomes = [f.result() for f in futures]
            self.check_trial(traversal_id, k, outcomes, claim)

    def test_processes(self):
        spawn = multiprocessing.get_context('spawn')
        go = spawn.Event()
        workers = []
        for _ in range(PROCESSES):
            jobs, results = spawn.Queue(), spawn.Queue()
            proc = spawn.Process(target=worker_process,
                                 args=(self.db.url, jobs, results, go))
            proc.start()
            workers.append((proc, jobs, results))
        self.addCleanup(self.stop_workers, workers)
        for trial, k in enumerate(trial_sizes(2, 0.7)):
            claim = bool(trial % 2)
            traversal_id = start_trial(k, self.stack.id)
            go.clear()
            senders = list(range(k))
            for i, (_, jobs, _) in enumerate(workers):
                jobs.put((traversal_id, senders[i::PROCESSES], claim))
            for _, _, results in workers:
                self.assertEqual('armed', results.get(timeout=60))
            go.set()
            outcomes = []
            for _, _, results in workers:
                outcomes.extend(results.get(timeout=120))
            self.check_trial(traversal_id, k, outcomes, claim)

    @staticmethod
    def stop_workers(workers):
        for proc, jobs, _ in workers:
            jobs.put(None)
        for proc, _, _ in workers:
            proc.join(30)
            if proc.is_alive():
                proc.kill()


def load_tests(loader, tests, pattern):
    return testscenarios.load_tests_apply_scenarios(loader, tests, pattern)
