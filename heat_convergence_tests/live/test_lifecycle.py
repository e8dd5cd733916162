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

"""A stack's whole life through the openstack CLI, on real services.

Stock heat-wsgi-api, two heat-convergence-engine processes, MariaDB or
PostgreSQL and RabbitMQ; run with the ``heat`` driver (proving the binding
changes nothing) and the ``reduced`` driver. Every step asserts the stack's
and the resources' final states through the API, and the values that flow
between resources, including across edges the reduction removed.

The ``reduced`` driver runs on both databases: its SyncPoints are this
package's own SQL. The ``heat`` driver runs on MariaDB only: its database
work is Heat's, so a second database would test nothing of this package's
for another three minutes of the suite.
"""

import testscenarios

from heat_convergence_tests.live import cloud


def template(value='one', replace_a=False, fail_b=False, wait_b=0):
    """Return a <- b <- c, where c also references a directly.

    The reduction removes c -> a, since c -> b -> a implies it. b's update
    takes ``wait_b`` seconds.
    """
    b = cloud.test_resource({'get_attr': ['a', 'output']})
    if fail_b:
        b['properties']['fail'] = True
    if wait_b:
        b['properties']['action_wait_secs'] = {'update': wait_b}
    return {
        'heat_template_version': '2018-08-31',
        'resources': {
            'a': cloud.test_resource(value, replace=replace_a),
            'b': b,
            'c': {'type': 'OS::Heat::TestResource', 'depends_on': ['b'],
                  'properties': {'value': {'list_join': ['/', [
                      {'get_resource': 'a'},
                      {'get_attr': ['a', 'output']},
                      {'get_attr': ['b', 'output']}]]}}},
        },
        'outputs': {'c': {'value': {'get_attr': ['c', 'output']}}},
    }


class TestLifecycle(cloud.LiveTestCase):

    scenarios = [
        ('%s-%s' % (driver, database),
         {'cloud_kwargs': {'driver': driver, 'database': database}})
        for driver, database in (('reduced', 'mysql'),
                                 ('reduced', 'postgresql'),
                                 ('heat', 'mysql'))]

    def deploy(self, action, tmpl, *extra):
        path = self.cloud.write_template('t.yaml', tmpl)
        self.cloud.openstack('stack', action, '-t', path, *extra, 'life')

    def output(self):
        return self.cloud.openstack_json('stack', 'output', 'show', 'life',
                                         'c')['output_value']

    def assert_resources(self, states):
        # Through the API: assert_values reads them with the CLI.
        resources = self.cloud.api_resources('life')
        self.assertEqual(states, {name: r['resource_status']
                                  for name, r in resources.items()})
        return resources

    def assert_values(self, value):
        ids = {n: r['physical_resource_id']
               for n, r in self.cloud.resources('life').items()}
        # c references a directly (get_resource and get_attr) and through b.
        self.assertEqual('%s/%s/%s' % (ids['a'], value, value),
                         self.output())
        return ids

    def test_lifecycle(self):
        # Create.
        self.deploy('create', template())
        self.cloud.wait_stack('life', 'CREATE_COMPLETE')
        self.assert_resources({n: 'CREATE_COMPLETE' for n in 'abc'})
        created = self.assert_values('one')

        # Update in place: same physical resources, new values everywhere.
        self.deploy('update', template('two'))
        self.cloud.wait_stack('life', 'UPDATE_COMPLETE')
        self.assert_resources({n: 'UPDATE_COMPLETE' for n in 'abc'})
        updated = self.assert_values('two')
        self.assertEqual(created, updated)

        # Update with replacement of a: c gets the new a's id although its
        # edge to a may have been removed by the reduction.
        self.deploy('update', template('three', replace_a=True))
        self.cloud.wait_stack('life', 'UPDATE_COMPLETE')
        self.assert_resources({'a': 'CREATE_COMPLETE',
                               'b': 'UPDATE_COMPLETE',
                               'c': 'UPDATE_COMPLETE'})
        replaced = self.assert_values('three')
        self.assertNotEqual(updated['a'], replaced['a'])
        self.assertEqual(updated['c'], replaced['c'])

        # A failed update rolls back to the previous template.
        self.deploy('update', template('four', fail_b=True),
                    '--rollback', 'enabled')
        stack = self.cloud.wait_stack('life', 'ROLLBACK_COMPLETE')
        self.assertIn('Stack ROLLBACK completed successfully',
                      stack['stack_status_reason'])
        self.assertEqual('three', self.output().split('/')[1])

        # An update cancelled while b's update runs rolls back as well. b
        # waits 30 s (the plugin's cancel cuts it short; Heat's rollback
        # waits for it): with 10 s, a loaded machine's stack had completed
        # before the cancel call.
        self.deploy('update', template('five', wait_b=30))
        cloud.wait_for(lambda: self.cloud.api_resources('life')['b'][
            'resource_status'] == 'UPDATE_IN_PROGRESS', 60,
            what="b's update to start")
        self.cloud.openstack('stack', 'cancel', 'life')
        stack = self.cloud.wait_stack('life', 'ROLLBACK_COMPLETE')
        self.assertEqual('three', self.output().split('/')[1])
        self.assert_values('three')

        # Check, suspend, resume.
        self.cloud.openstack('stack', 'check', 'life')
        self.cloud.wait_stack('life', 'CHECK_COMPLETE')
        self.assert_resources({n: 'CHECK_COMPLETE' for n in 'abc'})
        self.cloud.openstack('stack', 'suspend', 'life')
        self.cloud.wait_stack('life', 'SUSPEND_COMPLETE')
        self.assert_resources({n: 'SUSPEND_COMPLETE' for n in 'abc'})
        self.cloud.openstack('stack', 'resume', 'life')
        self.cloud.wait_stack('life', 'RESUME_COMPLETE')
        self.assert_resources({n: 'RESUME_COMPLETE' for n in 'abc'})

        # Delete.
        reduced = self.cloud_kwargs['driver'] == 'reduced'
        self.delete_leaving_nothing('life', plugin=reduced)
        if reduced:
            self.assertEqual(0, self.cloud.query(
                'SELECT count(*) FROM sync_point')[0][0])


def load_tests(loader, tests, pattern):
    return testscenarios.load_tests_apply_scenarios(loader, tests, pattern)
