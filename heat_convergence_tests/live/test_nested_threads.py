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

"""More nested stacks waiting at once than the engines have RPC threads.

Each member of a ResourceGroup of template resources waits for its nested
stack to end. Were each wait to hold one of the engine's RPC worker
threads, as on Heat's own path, a group with more members than
``executor_thread_pool_size`` would leave none for the members' own
resources, and never end.
"""

from heat_convergence_tests.live import cloud

THREADS = 4
MEMBERS = 3 * THREADS

MEMBER = {
    'heat_template_version': '2018-08-31',
    'parameters': {'index': {'type': 'string'}},
    'resources': {
        'first': cloud.test_resource({'get_param': 'index'}),
        'second': cloud.test_resource({'list_join': ['-', [
            {'get_attr': ['first', 'output']},
            {'get_resource': 'first'}]]}),
    },
    'outputs': {'value': {'value': {'get_attr': ['second', 'output']}}},
}


def template(count):
    return {
        'heat_template_version': '2018-08-31',
        'resources': {'group': {
            'type': 'OS::Heat::ResourceGroup',
            'properties': {'count': count, 'resource_def': {
                'type': 'member.yaml',
                'properties': {'index': '%index%'}}}}},
        'outputs': {'values': {'value': {'get_attr': ['group', 'value']}}},
    }


class TestMoreNestedStacksThanThreads(cloud.LiveTestCase):

    cloud_kwargs = {'engines': 1, 'conf': {
        'DEFAULT': {'executor_thread_pool_size': str(THREADS)}}}

    def deploy(self, action, count):
        self.cloud.write_template('member.yaml', MEMBER)
        path = self.cloud.write_template('group.yaml', template(count))
        self.cloud.openstack('stack', action, '-t', path, 'group')
        self.cloud.wait_stack('group', '%s_COMPLETE' % action.upper(),
                              timeout=240)
        values = self.outputs('group')['values']
        self.assertEqual(count, len(values))
        for index, value in enumerate(values):
            self.assertEqual(str(index), value.split('-')[0])

    def nested_stacks(self):
        return self.cloud.query(
            'SELECT count(*) FROM stack WHERE deleted_at IS NULL AND '
            "status = 'COMPLETE' AND owner_id IS NOT NULL")[0][0]

    def test_group_larger_than_the_thread_pool(self):
        self.deploy('create', MEMBERS)
        # The group's own nested stack, and one per member.
        self.assertEqual(MEMBERS + 1, self.nested_stacks())
        self.deploy('update', MEMBERS + THREADS)
        self.assertEqual(MEMBERS + THREADS + 1, self.nested_stacks())
        self.cloud.openstack('stack', 'delete', '--yes', 'group')
        cloud.wait_for(lambda: not self.cloud.query(
            'SELECT id FROM stack WHERE deleted_at IS NULL'), 240,
            what='stack deletion')
