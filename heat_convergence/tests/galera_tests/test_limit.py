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

"""The limit of running nodes per stack, with claims on three Galera nodes.

Under ``max_concurrent_resources_per_stack`` a claim counts the traversal's
running nodes after locking the traversal's row; on Galera that lock must
be a write, certified at commit, or two nodes both take the last slot.
Each trial makes every node of a traversal READY at once and has the
engine on each Galera node claim all of them, under a limit: exactly the
limit's number of nodes must run, and the others be THROTTLED.
"""

import os
import time

from heat.common import context
import sqlalchemy as sa

from heat_convergence.db import api
from heat_convergence.db import models
from heat_convergence.tests.galera_tests import base
from heat_convergence.tests import sync_trials

TRIALS = int(os.environ.get('HC_TEST_GALERA_LIMIT_TRIALS', '40'))
SYNC_POINTS = 12
LIMIT = 3


def claim(traversal_id, entity_id, engine_id):
    """Claim a node under the limit; True if taken."""
    return bool(api.claim(context.get_admin_context(), traversal_id,
                          api.Node(entity_id, True), engine_id, LIMIT,
                          read_inputs=False))


class TestLimitAcrossNodes(base.ClusterTestCase):

    def states(self, traversal_id):
        with self.db.engine.connect() as conn:
            return dict(conn.execute(
                sa.select(api.SYNC_POINT.c.state, sa.func.count())
                .where(api.SYNC_POINT.c.traversal_id == traversal_id)
                .group_by(api.SYNC_POINT.c.state)).all())

    def test_limit(self):
        started = time.monotonic()
        nodes = range(self.cluster.nodes)
        for _ in range(TRIALS):
            traversal_id = sync_trials.start_traversal(
                self.stack.id, {str(n): 0 for n in range(SYNC_POINTS)})
            taken = self.workers.run(claim, [
                [(traversal_id, str(n), 'engine-%d' % w)
                 for n in range(SYNC_POINTS)] for w in nodes])
            self.assertEqual(LIMIT, sum(taken))
            self.assertEqual({models.RUNNING: LIMIT,
                              models.THROTTLED: SYNC_POINTS - LIMIT},
                             self.states(traversal_id))
        self.report('%d trials of %d claims of %d nodes under a limit of %d '
                    'in %.1f s: never over the limit' % (
                        TRIALS, SYNC_POINTS * len(nodes), SYNC_POINTS, LIMIT,
                        time.monotonic() - started))
