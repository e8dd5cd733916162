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

"""SyncPoints exactly once with their senders on three Galera nodes.

On Galera a row lock does not reach the other nodes: two arrivals at one
node, on two database nodes, both run their decrement, and the second to
reach certification fails at commit (``DBDeadlock``) and is retried. These
trials (:mod:`heat_convergence.tests.sync_trials`) deliver each node's k
arrivals from the three workers (:mod:`.base`: an engine on each Galera
node), with some senders delivering twice, from two nodes at once; every
other trial claims the node in the arrival that makes it ready. A node
must become ready exactly once, with all k inputs, in each of
``HC_TEST_GALERA_TRIALS`` (default 1000) trials. The certification
conflicts seen by the nodes and the retries the workers made are reported
in the test's ``galera`` detail and on stderr.
"""

import os
import time

from heat_convergence.tests.galera_tests import base
from heat_convergence.tests import sync_trials

TRIALS = int(os.environ.get('HC_TEST_GALERA_TRIALS', '1000'))


class TestArrivalsAcrossNodes(base.TrialsAcrossNodes):

    def test_exactly_once(self):
        started = time.monotonic()
        sizes = sync_trials.trial_sizes(3, 1.0, TRIALS)
        for trial, k in enumerate(sizes):
            self.run_trial(trial, k)
        self.report('%d trials (%d arrivals, senders on %d nodes) in %.1f s: '
                    '0 lost, 0 twice' % (len(sizes), sum(sizes),
                                         self.cluster.nodes,
                                         time.monotonic() - started))
