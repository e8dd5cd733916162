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


class WatchedEvent(threading.Event):
    """A node queue's "arrived" event that tells when the node sleeps on it.

    ``sleeps`` counts the whole step sleeps (of STEP_SLEEP seconds) that
    began, and ``asleep`` is set while one is under way. Heat's TaskRunner
    also sleeps 0 s once, before the task's first step.
    """

    def __init__(self):
        super().__init__()
        self.asleep = threading.Event()
        self.sleeps = 0

    def wait(self, timeout=None):
        if timeout != STEP_SLEEP:
            return super().wait(timeout)
        self.sleeps += 1
        self.asleep.set()
        try:
            return super().wait(timeout)
        finally:
            self.asleep.clear()


class TestWakingSleep(base.HeatTestCase):

    def setUp(self):
        super().setUp()
        # HeatTestCase turns Heat's step sleeps off.
        self.patchobject(scheduler, 'ENABLE_SLEEP', new=True)

    def watched_queue(self):
        msg_queue = cancellation.WakingQueue()
        msg_queue.arrived = WatchedEvent()
        return msg_queue

    def wait_asleep(self, msg_queue, sleeps):
        """Wait until the action has begun its ``sleeps``-th step sleep."""
        deadline = time.monotonic() + 30
        while (msg_queue.arrived.sleeps < sleeps or
               not msg_queue.arrived.asleep.is_set()):
            self.assertLess(time.monotonic(), deadline,
                            'the action never slept in its step sleep')
            time.sleep(0.01)

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
        msg_queue = self.watched_queue()
        thread, outcome = self.run_task(msg_queue)
        # The action sleeps its whole step (600 s) on the queue's event.
        self.wait_asleep(msg_queue, 1)
        woken = time.monotonic()
        msg_queue.put(rpc_api.THREAD_CANCEL)
        thread.join(60)
        self.assertFalse(thread.is_alive())
        self.assertEqual({'cancelled': True}, outcome)
        # Stopped at once, in that first sleep, not at a later step.
        self.assertLess(time.monotonic() - woken, 10)
        self.assertEqual(1, msg_queue.arrived.sleeps)

    def test_other_message_sleeps_again(self):
        msg_queue = self.watched_queue()
        thread, outcome = self.run_task(msg_queue)
        self.wait_asleep(msg_queue, 1)
        msg_queue.put('something else')
        # Woken, the message read and logged, then asleep again for a
        # whole step.
        self.wait_asleep(msg_queue, 2)
        self.assertTrue(msg_queue.empty())
        self.assertTrue(thread.is_alive())
        msg_queue.put(rpc_api.THREAD_CANCEL)
        thread.join(60)
        self.assertEqual({'cancelled': True}, outcome)
        self.assertEqual(2, msg_queue.arrived.sleeps)

    def test_heat_sleep_elsewhere(self):
        sleeps = self.patchobject(time, 'sleep')
        self.assertIsNone(scheduler.TaskRunner(lambda: None)._sleep(7))
        with cancellation.waking(cancellation.WakingQueue()):
            pass
        scheduler.TaskRunner(lambda: None)._sleep(7)
        sleeps.assert_called_with(7)
