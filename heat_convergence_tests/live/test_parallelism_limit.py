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

"""max_concurrent_resources_per_stack holds across engines."""

import threading
import time

from heat_convergence_tests.live import cloud

LIMIT = 3
COUNT = 12
WAIT = 2


class TestParallelismLimit(cloud.LiveTestCase):

    cloud_kwargs = {'engines': 2, 'workers': 2, 'conf': {'heat_convergence': {
        'max_concurrent_resources_per_stack': str(LIMIT)}}}

    def test_limit_holds_and_stack_completes(self):
        resources = {
            'r%d' % i: {'type': 'OS::Heat::TestResource',
                        'properties': {'value': 'v%d' % i,
                                       'action_wait_secs': {'create': WAIT}}}
            for i in range(COUNT)}
        path = self.cloud.write_template('wide.yaml', {
            'heat_template_version': '2018-08-31', 'resources': resources})
        samples = []
        done = threading.Event()

        def sample():
            while not done.is_set():
                samples.append(self.cloud.query(
                    "SELECT count(*) FROM resource "
                    "WHERE status = 'IN_PROGRESS'")[0][0])
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            started = time.monotonic()
            self.cloud.openstack('stack', 'create', '-t', path, 'wide')
            self.cloud.wait_stack('wide', 'CREATE_COMPLETE', timeout=180)
            took = time.monotonic() - started
        finally:
            done.set()
            sampler.join()
        self.assertEqual(LIMIT, max(samples), 'peak resource actions')
        # COUNT actions of WAIT seconds, LIMIT at a time.
        self.assertGreaterEqual(took, COUNT // LIMIT * WAIT)
        self.assertEqual([], self.cloud.query(
            "SELECT entity_id FROM heat_convergence_sync_point "
            "WHERE state = 'THROTTLED'"))
