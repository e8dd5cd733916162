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

"""Trials of k concurrent arrivals at one node, shared by the DB tests.

A trial creates a node with k predecessors and delivers all k arrivals at
the same moment, from threads of the test process or of worker processes
(each with its own database engine: on Galera, each worker talks to its own
node). The node must become ready exactly once, in the arrival that
committed last (the caller told "ready" must already see all k inputs), and
the database must hold pending = 0, state READY and exactly k arrivals. In
a claiming trial each sender also asks to claim the node for its own engine
in the same transaction (as a node keeping its successor does): the node
must then be RUNNING, held by the engine of the one arrival told it was
ready.
"""

import collections
import concurrent.futures
import logging
import multiprocessing
import os
import random
import sys

from heat.common import context
from oslo_utils import uuidutils
import sqlalchemy as sa

from heat_convergence.db import api
from heat_convergence.db import models
from heat_convergence.tests import db_fixture
from heat_convergence.tests import stack_rows

TRIALS = int(os.environ.get('HC_TEST_SYNC_TRIALS', '1000'))
MAX_K = 64
TARGET = api.Node('target', True)

# oslo.db logs these at every error its retry decorator may retry (a
# deadlock, a Galera certification failure, a lost connection), and before
# each retry.
ERROR_MESSAGE = 'DB error: %s'
RETRY_MESSAGE = 'Performing DB retry'


def trial_sizes(seed, share, trials=TRIALS):
    """Sizes of ``share`` of the trials: 64 every twentieth, else 2 to 16.

    That keeps a suite's run time in budget while still exercising the
    widest fan-in often.
    """
    rnd = random.Random(seed)
    return [MAX_K if i % 20 == 0 else rnd.randint(2, 16)
            for i in range(max(1, round(trials * share)))]


def start_traversal(stack_id, predecessors):
    """Store a traversal of the stack; return its id.

    :param predecessors: {entity id: number of predecessors} of its nodes.
    """
    traversal_id = uuidutils.generate_uuid()
    stack_rows.create_traversal(
        context.get_admin_context(),
        {'id': traversal_id, 'stack_id': stack_id, 'action': 'CREATE'},
        [{'entity_id': entity_id, 'is_update': True,
          'node_type': 'resource', 'predecessors': count}
         for entity_id, count in predecessors.items()])
    return traversal_id


def start_trial(k, stack_id):
    return start_traversal(stack_id, {TARGET.entity_id: k})


def engine(sender):
    return 'engine-%d' % sender


def after(go, func, *args):
    """Call ``func(*args)`` once ``go`` is set."""
    go.wait()
    return func(*args)


def arrive(traversal_id, sender, claim=False):
    """Deliver one arrival; return (ready, inputs seen).

    With ``claim``, the arrival also claims the node for its sender's
    engine if it makes the node ready: ``ready`` is then the sender.
    """
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


def with_duplicates(senders, copies=8):
    """The senders plus a second copy of a few, shuffled.

    A redelivered message must not count again, even when both copies race.
    """
    senders = list(senders) + random.sample(senders, min(len(senders),
                                                         copies))
    random.shuffle(senders)
    return senders


class RetryCounter(logging.Handler):
    """Counts the retries oslo.db makes in this process.

    ``counts`` has the number of retries (``retries``) and of the errors
    met by retry decorators, by exception class (``DBDeadlock``,
    ``DBConnectionError``).
    """

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.counts = collections.Counter()
        logger = logging.getLogger('oslo_db.api')
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(self)

    def emit(self, record):
        if record.msg == ERROR_MESSAGE and record.args:
            self.counts[type(record.args[0]).__name__] += 1
        elif record.getMessage().startswith(RETRY_MESSAGE):
            self.counts['retries'] += 1


class WorkerError(Exception):
    """A call in a worker process raised this (its repr)."""


def _result(future):
    try:
        return future.result()
    except Exception as exc:
        return WorkerError(repr(exc))


def worker_process(url, jobs, results, go, engine_kwargs, setup=None):
    """A process that makes the calls it is given, in threads, at once.

    Each job, ``(func, [args, ...])``, answers 'armed' once its threads
    wait for ``go``, then its results (a :class:`WorkerError` for a call
    that raised) and the retries the process made so far
    (:class:`RetryCounter`).
    ``setup(engine)``, if given, prepares the process's engine.
    """
    quick_thread_switches()
    retries = RetryCounter()
    engine = db_fixture.make_engine(url, max_overflow=0, **engine_kwargs)
    if setup is not None:
        setup(engine)
    db_fixture.use_heat_engine(engine)
    pool = concurrent.futures.ThreadPoolExecutor(MAX_K)
    while True:
        job = jobs.get()
        if job is None:
            break
        func, calls = job
        futures = [pool.submit(after, go, func, *args) for args in calls]
        results.put('armed')
        results.put(([_result(f) for f in futures], retries.counts))
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


class Workers(object):
    """Worker processes, one per database URL, running trials together.

    ``setups``, if given, are the ``setup`` of each worker's engine (see
    :func:`worker_process`). After :meth:`run`, ``retries`` has the counts
    of every worker's :class:`RetryCounter` so far.
    """

    def __init__(self, urls, pool_size, setups=None, **engine_kwargs):
        engine_kwargs['max_pool_size'] = pool_size
        spawn = multiprocessing.get_context('spawn')
        self.go = spawn.Event()
        self.retries = collections.Counter()
        self.workers = []
        for url, setup in zip(urls, setups or [None] * len(urls)):
            jobs, results = spawn.Queue(), spawn.Queue()
            proc = spawn.Process(target=worker_process,
                                 args=(url, jobs, results, self.go,
                                       engine_kwargs, setup))
            proc.start()
            self.workers.append((proc, jobs, results))

    def run(self, func, shares):
        """Make worker i call ``func(*args)`` for each args of shares[i].

        All the calls start at once; returns their results.
        """
        self.go.clear()
        for (_, jobs, _), calls in zip(self.workers, shares):
            jobs.put((func, calls))
        for _, _, results in self.workers:
            if results.get(timeout=60) != 'armed':
                raise AssertionError('a worker did not arm')
        self.go.set()
        outcomes = []
        self.retries = collections.Counter()
        for _, _, results in self.workers:
            batch, retries = results.get(timeout=300)
            outcomes.extend(batch)
            self.retries.update(retries)
        errors = [o for o in outcomes if isinstance(o, WorkerError)]
        if errors:
            raise AssertionError('%d calls failed, e.g. %s' % (
                len(errors), errors[0]))
        return outcomes

    def deliver(self, traversal_id, shares, claim):
        """Deliver from worker i the senders of ``shares[i]``, at once."""
        return self.run(arrive, [[(traversal_id, s, claim) for s in senders]
                                 for senders in shares])

    def stop(self):
        for _, jobs, _ in self.workers:
            jobs.put(None)
        for proc, _, _ in self.workers:
            proc.join(30)
            if proc.is_alive():
                proc.kill()


class TrialChecks(object):
    """Checks of a trial's outcome, for a TestCase with ``trial_engine``."""

    def check_trial(self, traversal_id, k, outcomes, claim,
                    answer_may_be_lost=False):
        """Check a trial; return whether an arrival was told "ready".

        With ``answer_may_be_lost``, none may have been (a connection lost
        while the arrival that made the node ready committed: the engine's
        recovery pass takes the node over), but never two; the rows must
        be right all the same.
        """
        ready = [(is_ready, seen) for is_ready, seen in outcomes
                 if is_ready is not False]
        self.assertIn(len(ready), (0, 1) if answer_may_be_lost else (1,),
                      'k=%d: ready %d times' % (k, len(ready)))
        for winner, seen in ready:
            self.assertEqual(list(range(k)), seen,
                             'the ready arrival did not see every input')
        with self.trial_engine.connect() as conn:
            node = conn.execute(sa.select(api.SYNC_POINT).where(
                api.SYNC_POINT.c.traversal_id == traversal_id)).one()
            arrivals = conn.execute(sa.select(sa.func.count()).where(
                api.ARRIVAL.c.traversal_id == traversal_id)).scalar()
        if claim:
            holders = [engine(w) for w, _ in ready] or [
                engine(s) for s in range(k)]
            self.assertIn(node.engine_id, holders)
            expected = (models.RUNNING, node.engine_id)
        else:
            expected = (models.READY, None)
        self.assertEqual((0, k) + expected,
                         (node.pending, arrivals, node.state,
                          node.engine_id))
        return bool(ready)
