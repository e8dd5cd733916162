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

"""A stack finishes after one of the engines is killed mid-traversal.

Runs only where ``[heat_convergence] engine_kill_command`` says how to kill
an engine, and must run alone: the kill also hits whatever other tests
have in flight on that engine.
"""

import subprocess

from heat_convergence_tests.tests import base

WIDTH = 6
WAIT = 15


class EngineKillTest(base.ConvergenceTestBase):

    def test_stack_completes_after_engine_kill(self):
        command = self.hc_conf.engine_kill_command
        if not command:
            self.skipTest('[heat_convergence] engine_kill_command is not '
                          'set')
        # WIDTH slow resources in parallel, dispatched over the engines,
        # then one that needs them all.
        resources = {'w%d' % i: base.test_resource(
            'w%d' % i, action_wait_secs={'create': WAIT})
            for i in range(WIDTH)}
        resources['join'] = base.test_resource(
            {'list_join': [',', [{'get_attr': ['w%d' % i, 'output']}
                                 for i in range(WIDTH)]]})
        stack_id = self.stack_create(template=base.template(
            resources, outputs={'join': {'get_attr': ['join', 'output']}}),
            expected_status='CREATE_IN_PROGRESS')
        for i in range(WIDTH):
            self._wait_for_resource_status(stack_id, 'w%d' % i,
                                           'CREATE_IN_PROGRESS')

        proc = subprocess.run(command, shell=True, capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(0, proc.returncode,
                         'engine_kill_command failed: %s' % proc.stderr)

        timeout = self.hc_conf.engine_kill_timeout
        self.assertTrue(
            base.call_until_true(
                timeout, 2, lambda: self.client.stacks.get(
                    stack_id).stack_status != 'CREATE_IN_PROGRESS'),
            'stack still CREATE_IN_PROGRESS %d s after the engine was '
            'killed' % timeout)
        self.assertEqual('CREATE_COMPLETE',
                         self.client.stacks.get(stack_id).stack_status)
        self.assertEqual(','.join('w%d' % i for i in range(WIDTH)),
                         self.outputs(stack_id)['join'])
