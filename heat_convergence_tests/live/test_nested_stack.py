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

"""Data across removed edges into and out of a nested stack.

A nested stack is a resource of its parent whose own traversal runs in its
own stack; the reduction must deliver the parent's data to its properties
(the nested stack's parameters) and the nested stack's outputs to the
resources that reference it, across edges the reduction removed, also when
a referenced resource is replaced. Run under the ``reduced`` and the
``heat`` driver, which must end in the same values.
"""

import json

import testscenarios

from heat_convergence_tests.live import cloud

NESTED = {
    'heat_template_version': '2018-08-31',
    'parameters': {name: {'type': 'string'}
                   for name in ('a_id', 'a_out', 'b_out')},
    'resources': {
        'inner': {'type': 'OS::Heat::TestResource', 'properties': {
            'value': {'list_join': ['/', [{'get_param': 'a_id'},
                                          {'get_param': 'a_out'},
                                          {'get_param': 'b_out'}]]}}},
    },
    'outputs': {'joined': {'value': {'get_attr': ['inner', 'output']}}},
}


def template(value, replace_a=False):
    """Return a <- b <- n (nested) <- c; n and c also reference a.

    The reduction keeps n -> b and c -> n only: the data n and c need
    from a must be forwarded through b and n.
    """
    return {
        'heat_template_version': '2018-08-31',
        'resources': {
            'a': cloud.test_resource(value, replace=replace_a),
            'b': cloud.test_resource({'get_attr': ['a', 'output']}),
            'n': {'type': 'nested.yaml', 'depends_on': ['b'],
                  'properties': {
                      'a_id': {'get_resource': 'a'},
                      'a_out': {'get_attr': ['a', 'output']},
                      'b_out': {'get_attr': ['b', 'output']}}},
            'c': {'type': 'OS::Heat::TestResource', 'depends_on': ['n'],
                  'properties': {'value': {'list_join': ['|', [
                      {'get_attr': ['n', 'joined']},
                      {'get_resource': 'a'}]]}}},
        },
        'outputs': {'c': {'value': {'get_attr': ['c', 'output']}}},
    }


class TestNestedStack(cloud.LiveTestCase):

    scenarios = [(driver, {'cloud_kwargs': {'driver': driver}})
                 for driver in ('reduced', 'heat')]

    def deploy(self, action, value, **kwargs):
        self.cloud.write_template('nested.yaml', NESTED)
        path = self.cloud.write_template('parent.yaml',
                                         template(value, **kwargs))
        self.cloud.openstack('stack', action, '-t', path, 'nest')
        return self.cloud.wait_stack('nest', '%s_COMPLETE' % action.upper())

    def assert_values(self, value):
        """Check every value that crossed the nested stack's boundary."""
        ids = {n: r['physical_resource_id']
               for n, r in self.cloud.resources('nest').items()}
        joined = '%s/%s/%s' % (ids['a'], value, value)
        output = self.cloud.openstack_json(
            'stack', 'output', 'show', 'nest', 'c')['output_value']
        self.assertEqual('%s|%s' % (joined, ids['a']), output)
        # The nested stack's own resource got its parameters right.
        inner = self.cloud.query(
            "SELECT p.data, r.status, s.id FROM resource r "
            "JOIN stack s ON r.stack_id = s.id "
            "JOIN resource_properties_data p ON r.rsrc_prop_data_id = p.id "
            "WHERE r.name = 'inner' AND s.owner_id = :parent "
            "AND s.deleted_at IS NULL",
            parent=self.cloud.stack('nest')['id'])
        self.assertEqual(1, len(inner), inner)
        props, status, nested_id = inner[0]
        self.assertEqual('COMPLETE', status)
        self.assertEqual(joined, json.loads(props)['value'])
        self.assertEqual(ids['n'], nested_id)
        return ids

    def stored_edges(self):
        """The parent's stored graph as {(requirer, required) names}."""
        stack = self.cloud.stack('nest')
        names = {str(rid): name for rid, name in self.cloud.query(
            'SELECT id, name FROM resource WHERE stack_id = :sid',
            sid=stack['id'])}
        deps, = self.cloud.query(
            'SELECT current_deps FROM stack WHERE id = :sid',
            sid=stack['id'])[0]
        # Heat stores edges between (resource id, is_update) nodes;
        # keep the update nodes' edges.
        return {(names[str(r[0])], names[str(q[0])])
                for r, q in json.loads(deps)['edges']
                if q is not None and r[1] and q[1]}

    def test_nested_stack(self):
        self.deploy('create', 'one')
        created = self.assert_values('one')
        if self.cloud_kwargs['driver'] == 'reduced':
            # n -> a and c -> a are implied by c -> n -> b -> a.
            self.assertEqual({('b', 'a'), ('n', 'b'), ('c', 'n')},
                             self.stored_edges())

        # In place: the nested stack is updated with the new parameters.
        self.deploy('update', 'two')
        updated = self.assert_values('two')
        self.assertEqual(created, updated)

        # a replaced: the nested stack and c get the new a's id through
        # the forwarded data, not the old one.
        self.deploy('update', 'three', replace_a=True)
        replaced = self.assert_values('three')
        self.assertNotEqual(updated['a'], replaced['a'])
        self.assertEqual(updated['n'], replaced['n'])
        self.assertEqual(updated['c'], replaced['c'])

        self.delete_leaving_nothing('nest', timeout=180)


def load_tests(loader, tests, pattern):
    return testscenarios.load_tests_apply_scenarios(loader, tests, pattern)
