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

"""References resolved across the edges that the graph reduction removes.

The reduced driver keeps only the edges not implied by a longer path; the
id and attributes that a removed edge would have carried must still reach
the resource that references them. These tests build graphs whose
references mostly run along removed edges and compare every resolved
value, read back through the API, with the value it must have.
"""

from heat_convergence_tests.tests import base

SEP = '|'


def _name(i):
    return 'r%d' % i


def dense_template(size, tag):
    """Every resource depends on, and references, all earlier ones.

    r<i>'s value is ``<tag><i>`` followed by the physical id of every
    earlier resource (get_resource) and the first field of the ``output``
    attribute of every earlier resource (get_attr; the first field keeps
    the values short). After reduction only the chain r<i-1> -> r<i> is
    left, so all but the last reference travel along removed edges.
    """
    resources = {}
    outputs = {}
    for i in range(size):
        earlier = [_name(j) for j in range(i)]
        parts = ['%s%d' % (tag, i)]
        parts += [{'get_resource': n} for n in earlier]
        parts += [{'str_split': [SEP, {'get_attr': [n, 'output']}, 0]}
                  for n in earlier]
        resources[_name(i)] = base.test_resource(
            {'list_join': [SEP, parts]}, depends_on=earlier)
        outputs['value_%d' % i] = {'get_attr': [_name(i), 'output']}
        outputs['id_%d' % i] = {'get_resource': _name(i)}
    return base.template(resources, outputs)


def dense_expected(size, tag, ids):
    """{resource name: value} the dense template must resolve to."""
    expected = {}
    for i in range(size):
        parts = ['%s%d' % (tag, i)]
        parts += [ids[_name(j)] for j in range(i)]
        parts += ['%s%d' % (tag, j) for j in range(i)]
        expected[_name(i)] = SEP.join(parts)
    return expected


class DenseStackTest(base.ConvergenceTestBase):
    """A dense stack: O(n^2) references over O(n) kept edges."""

    def _physical_ids(self, stack_identifier, size):
        ids = {r.resource_name: r.physical_resource_id
               for r in self.client.resources.list(stack_identifier)}
        self.assertEqual(sorted(_name(i) for i in range(size)), sorted(ids))
        for name, rid in ids.items():
            self.assertTrue(rid, 'resource %s has no physical id' % name)
        return ids

    def _check(self, stack_identifier, size, tag):
        ids = self._physical_ids(stack_identifier, size)
        expected = dense_expected(size, tag, ids)
        outputs = self.outputs(stack_identifier)
        for i in range(size):
            name = _name(i)
            self.assertEqual(ids[name], outputs['id_%d' % i],
                             'get_resource %s' % name)
            self.assertEqual(expected[name], outputs['value_%d' % i],
                             'get_attr %s output' % name)
            self.assertEqual(expected[name],
                             self.output_attr(stack_identifier, name))
        return ids

    def test_dense_create_update(self):
        size = self.hc_conf.dense_stack_size
        stack_id = self.stack_create(template=dense_template(size, 'a'))
        ids = self._check(stack_id, size, 'a')

        # In-place update of every resource: each must see the *new*
        # attribute values of all earlier ones, not the stored old ones.
        self.update_stack(stack_id, template=dense_template(size, 'b'))
        self.assertEqual(ids, self._check(stack_id, size, 'b'))


class ReplacementIdTest(base.ConvergenceTestBase):
    """A replacement's new id reaches a reference over a removed edge.

    ``c`` references ``a`` (get_resource and get_attr) and depends on
    ``b``, which references ``a``: the edge a -> c is implied by
    a -> b -> c and removed. Replacing ``a`` gives it a new physical id,
    which must reach ``c`` all the same.
    """

    @staticmethod
    def _template(value):
        return base.template(
            {
                'a': base.test_resource({'get_param': 'value'},
                                        update_replace=True),
                'b': base.test_resource({'get_attr': ['a', 'output']}),
                'c': base.test_resource(
                    {'list_join': [SEP, [{'get_resource': 'a'},
                                         {'get_attr': ['a', 'output']}]]},
                    depends_on=['b']),
            },
            outputs={'a_id': {'get_resource': 'a'},
                     'c_value': {'get_attr': ['c', 'output']}}
        ) | {'parameters': {'value': {'type': 'string', 'default': value}}}

    def _check(self, stack_identifier, value):
        a_id = self.get_physical_resource_id(stack_identifier, 'a')
        outputs = self.outputs(stack_identifier)
        self.assertEqual(a_id, outputs['a_id'])
        self.assertEqual(SEP.join([a_id, value]), outputs['c_value'])
        self.assertEqual(SEP.join([a_id, value]),
                         self.output_attr(stack_identifier, 'c'))
        self.assertEqual(value, self.output_attr(stack_identifier, 'b'))
        return a_id

    def test_replace_reaches_transitive_reference(self):
        stack_id = self.stack_create(template=self._template('one'))
        old_id = self._check(stack_id, 'one')

        self.update_stack(stack_id, template=self._template('two'))
        new_id = self._check(stack_id, 'two')
        self.assertNotEqual(old_id, new_id, 'a was not replaced')
        self.assertNotIn(old_id, self.outputs(stack_id)['c_value'])
