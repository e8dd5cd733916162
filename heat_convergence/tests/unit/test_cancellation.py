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

"""A cancel message wakes a running resource action from its step sleep."""

import functools
import threading
import time

from heat.engine import check_resource
from heat.engine import scheduler
from heat.rpc import api as rpc_api

from heat_convergence.drivers.reduced import cancellation
from heat_convergence.tests import base

# Far longer than the tests wait for the task to stop.
STEP_SLEEP = 600


def forever():
    while True:
        yield


class TestWakingSleep(base.HeatTestCase):

    def setUp(self):
        super().setUp()
        # HeatTestCase turns Heat's step sleeps off.
        self.patchobject(scheduler, 'ENABLE_SLEEP', new=True)

    def run_task(self, msg_queue):
        """Run a never-ending task in a thread, as a node runs an action."""
        outcome = {}

        def run():
            check_message = functools.partial(
                check_resource._check_for_message, msg_queue)
            with cancellation.waking(msg_queue):
                try:
                    scheduler.TaskRunner(forever)(
                        wait_time=STEP_SLEEP, progress_callback=check_message)
                except check_resource.CancelOperation:
                    outcome['cancelled'] = True
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread, outcome

    def test_cancel_wakes_the_action(self):
        msg_queue = cancellation.WakingQueue()
        thread, outcome = self.run_task(msg_queue)
        time.sleep(0.2)
        self.assertTrue(thread.is_alive())
        msg_queue.put(rpc_api.THREAD_CANCEL)
        thread.join(60)
        self.assertFalse(thread.is_alive())
        self.assertEqual({'cancelled': True}, outcome)

    def test_other_message_sleeps_again(self):
        msg_queue = cancellation.WakingQueue()
        thread, outcome = self.run_task(msg_queue)
        msg_queue.put('something else')
        # Woken, the message read and logged, then asleep again.
        deadline = time.monotonic() + 30
        while not msg_queue.empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(msg_queue.empty())
        self.assertTrue(thread.is_alive())
        self.assertFalse(msg_queue.arrived.is_set())
        msg_queue.put(rpc_api.THREAD_CANCEL)
        thread.join(60)
        self.assertEqual({'cancelled': True}, outcome)

    def test_heat_sleep_elsewhere(self):
        sleeps = self.patchobject(time, 'sleep')
        self.assertIsNone(scheduler.TaskRunner(lambda: None)._sleep(7))
        with cancellation.waking(cancellation.WakingQueue()):
            pass
        scheduler.TaskRunner(lambda: None)._sleep(7)
        sleeps.assert_called_with(7)
