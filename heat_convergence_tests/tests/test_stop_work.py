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

"""A superseded or cancelled traversal does no further work.

Stock Heat lets a running resource action finish (neither a new update
nor a cancel interrupts it); an engine may also abort it ("aborted (user
triggered cancel)"). Either way nothing downstream of it may then run for
the old traversal. Here ``slow`` takes a while to update; ``mid`` and ``last``
follow it, ``last`` also depending on ``slow`` directly (an edge the
reduction removes). While ``slow`` is updating, the stack is updated again,
or the update is cancelled with or without rollback; the events and
values read back through the API show what ran.
"""

import time

from heat_convergence_tests.tests import base

WAIT = 20


def chain(value, slow_update_wait=0, slow_create_wait=0):
    return base.template({
        'slow': base.test_resource(value, action_wait_secs={
            'create': slow_create_wait, 'update': slow_update_wait}),
        'mid': base.test_resource(value, depends_on=['slow']),
        'last': base.test_resource(value, depends_on=['slow', 'mid']),
    })


class StopWorkTest(base.ConvergenceTestBase):

    def _start_update(self):
        stack_id = self.stack_create(template=chain('v1'))
        self.update_stack(stack_id, template=chain('v2', WAIT),
                          expected_status='UPDATE_IN_PROGRESS')
        self._wait_for_resource_status(stack_id, 'slow',
                                       'UPDATE_IN_PROGRESS')
        return stack_id

    def _updates(self, stack_id, name):
        return [e for e in self.resource_events(stack_id, name, 'UPDATE')
                if e.resource_status == 'UPDATE_COMPLETE']

    def _settle(self, stack_id, allowed=None):
        """Wait until slow's running action has ended, then some more.

        It ends done or aborted; after a rollback, slow may also have been
        replaced (an aborted update leaves it FAILED). ``allowed``: the
        statuses it may end in (default: any that is not IN_PROGRESS).
        """
        status = []

        def ended():
            status[:] = [self.client.resources.get(
                stack_id, 'slow').resource_status]
            return not status[0].endswith('_IN_PROGRESS')

        self.assertTrue(base.call_until_true(WAIT * 4, 1, ended),
                        'slow is still %s' % status)
        if allowed:
            self.assertIn(status[0], allowed)
        # Time for anything the old traversal would (wrongly) do next.
        time.sleep(5)

    def test_supersede(self):
        stack_id = self._start_update()
        self.update_stack(stack_id, template=chain('v3'))
        self.assertEqual('UPDATE_COMPLETE',
                         self.client.stacks.get(stack_id).stack_status)
        for name in ('slow', 'mid', 'last'):
            self.assertEqual('v3', self.output_attr(stack_id, name))
        # The superseded traversal never reached mid or last: each was
        # updated once, to v3.
        for name in ('mid', 'last'):
            self.assertEqual(1, len(self._updates(stack_id, name)),
                             '%s updated more than once' % name)

    def test_cancel_update_with_rollback(self):
        stack_id = self._start_update()
        self.cancel_update_stack(stack_id, rollback=True,
                                 expected_status='ROLLBACK_COMPLETE')
        self._settle(stack_id)
        for name in ('slow', 'mid', 'last'):
            self.assertEqual('v1', self.output_attr(stack_id, name))
        for name in ('mid', 'last'):
            self.assertEqual([], self._updates(stack_id, name),
                             '%s was updated by the cancelled update' % name)
        self.assertEqual('ROLLBACK_COMPLETE',
                         self.client.stacks.get(stack_id).stack_status)

    def test_cancel_update_without_rollback(self):
        stack_id = self._start_update()
        self.cancel_update_stack(stack_id, rollback=False,
                                 expected_status='UPDATE_FAILED')
        # slow's update ran to its end or was aborted; nothing after it
        # ran.
        self._settle(stack_id, ('UPDATE_COMPLETE', 'UPDATE_FAILED'))
        for name in ('mid', 'last'):
            self.assertEqual('v1', self.output_attr(stack_id, name))
            self.assertEqual([], self._updates(stack_id, name),
                             '%s was updated by the cancelled update' % name)
        self.assertEqual('UPDATE_FAILED',
                         self.client.stacks.get(stack_id).stack_status)

    def test_cancel_create_without_rollback(self):
        stack_id = self.stack_create(
            template=chain('v1', slow_create_wait=WAIT),
            expected_status='CREATE_IN_PROGRESS')
        self._wait_for_resource_status(stack_id, 'slow',
                                       'CREATE_IN_PROGRESS')
        self.cancel_update_stack(stack_id, rollback=False,
                                 expected_status='CREATE_FAILED')
        self._settle(stack_id, ('CREATE_COMPLETE', 'CREATE_FAILED'))
        for name in ('mid', 'last'):
            self.assertTrue(self.verify_resource_status(stack_id, name,
                                                        'INIT_COMPLETE'),
                            '%s was created after the cancel' % name)
        self.assertEqual('CREATE_FAILED',
                         self.client.stacks.get(stack_id).stack_status)
