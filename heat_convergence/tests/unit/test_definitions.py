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

"""Resource definitions parsed on demand equal Heat's eager parse."""

import copy

from heat.engine import rsrc_defn
from heat.engine import stk_defn
from heat.engine import template as heat_template
from heat.engine import template_common
from heat.tests import utils

from heat_convergence.drivers.reduced import definitions
from heat_convergence.tests import base

HOT = {
    'heat_template_version': '2018-08-31',
    'parameters': {'p': {'type': 'string', 'default': 'x'}},
    'resources': {
        'a': {'type': 'OS::Heat::TestResource',
              'properties': {'value': {'get_param': 'p'}},
              'deletion_policy': 'retain',
              'metadata': {'m': 1}},
        'b': {'type': 'OS::Heat::TestResource',
              'properties': {'value': {'get_attr': ['a', 'output']}},
              'update_policy': {'u': 2}},
        'c': {'type': 'OS::Heat::TestResource', 'depends_on': ['b'],
              'properties': {'value': {'list_join': ['/', [
                  {'get_resource': 'a'}, {'get_attr': ['b', 'output']}]]}}},
    },
}

CFN = {
    'AWSTemplateFormatVersion': '2010-09-09',
    'Resources': {
        'a': {'Type': 'OS::Heat::TestResource',
              'Properties': {'value': 'x'}},
        'b': {'Type': 'OS::Heat::TestResource', 'DependsOn': 'a',
              'Properties': {'value': {'Fn::GetAtt': ['a', 'output']}}},
    },
}

CONDITIONAL = dict(HOT, conditions={'never': False}, resources=dict(
    HOT['resources'], d={'type': 'OS::Heat::None', 'condition': 'never'}))


def parse(template):
    # Heat's remove_resource edits the template dict it was given.
    return utils.parse_stack(copy.deepcopy(template))


class TestOnDemand(base.HeatTestCase):

    def definition(self, template, lazy):
        stack = parse(template)
        with definitions.on_demand(lazy):
            stack.defn.enabled_rsrc_names()
        return stack.defn

    def parse_count(self):
        return self.patchobject(
            template_common.CommonTemplate, '_rsrc_defn_args',
            autospec=True,
            side_effect=template_common.CommonTemplate._rsrc_defn_args)

    def assert_same(self, template):
        heat = self.definition(template, lazy=False)
        ours = self.definition(template, lazy=True)
        self.assertIsInstance(ours._resource_defns,
                              definitions.OnDemandDefinitions)
        self.assertEqual(heat.enabled_rsrc_names(), ours.enabled_rsrc_names())
        for name in heat.enabled_rsrc_names():
            expected = heat.resource_definition(name)
            actual = ours.resource_definition(name)
            self.assertEqual(expected.render_hot(), actual.render_hot())
            self.assertEqual(expected.required_resource_names(),
                             actual.required_resource_names())
            self.assertEqual(expected, actual)

    def test_hot_same_as_heat(self):
        self.assert_same(HOT)

    def test_cfn_same_as_heat(self):
        self.assert_same(CFN)

    def test_parses_only_what_is_asked_for(self):
        stack = parse(HOT)
        parses = self.parse_count()
        with definitions.on_demand():
            defn = stack.defn.resource_definition('c')
            self.assertIn('a', stack.defn)
            self.assertNotIn('z', stack.defn)
        self.assertEqual(['c'], [c.args[2] for c in parses.call_args_list])
        # c's references resolve through definitions parsed when used,
        # each once.
        self.assertEqual({'a', 'b'}, defn.required_resource_names())
        stack.defn['a']
        stack.defn['b']
        self.assertEqual(['a', 'b', 'c'], sorted(
            c.args[2] for c in parses.call_args_list))

    def test_heat_parses_everything(self):
        stack = parse(HOT)
        parses = self.parse_count()
        stack.defn.resource_definition('c')
        self.assertEqual(3, parses.call_count)
        self.assertIsInstance(stack.defn._resource_defns, dict)

    def test_conditions_parse_eagerly(self):
        defn = self.definition(CONDITIONAL, lazy=True)
        self.assertIsInstance(defn._resource_defns, dict)
        self.assertEqual({'a', 'b', 'c'}, defn.enabled_rsrc_names())

    def test_one_look_at_a_shared_body(self):
        looks = []

        class Resources(dict):
            def values(self):
                looks.append(len(self))
                return super().values()

        body = copy.deepcopy(HOT)
        body['resources'] = Resources(body['resources'])
        # The nodes of a traversal: templates of their own, one body.
        for _ in range(3):
            self.assertTrue(definitions._lazy_parse_possible(
                heat_template.Template(body)))
        self.assertEqual([3], looks)
        # A resource with a condition added to the body: looked at again.
        body['resources']['d'] = {'type': 'OS::Heat::None',
                                  'condition': 'never'}
        self.assertFalse(definitions._lazy_parse_possible(
            heat_template.Template(body)))
        self.assertEqual([3, 4], looks)

    def test_add_and_remove_resource(self):
        stack = parse(HOT)
        with definitions.on_demand():
            stack.defn.resource_definition('a')
        new = rsrc_defn.ResourceDefinition('n', 'OS::Heat::None')
        stk_defn.add_resource(stack.defn, new)
        self.assertEqual(new, stack.defn.resource_definition('n'))
        self.assertEqual({'a', 'b', 'c', 'n'}, stack.defn.enabled_rsrc_names())
        stk_defn.remove_resource(stack.defn, 'b')
        self.assertNotIn('b', stack.defn)
        self.assertEqual({'a', 'c', 'n'}, stack.defn.enabled_rsrc_names())
        self.assertRaises(KeyError, stack.defn.resource_definition, 'b')


class TestNodeData(base.HeatTestCase):
    """node_data() from the reference index equals Heat's."""

    def test_users(self):
        stack = parse(HOT)
        refs = definitions.ReferenceIndex().references('t', stack.defn)
        # c's get_resource a reads no attribute of a.
        self.assertEqual({'a': {'b'}, 'b': {'c'}}, refs.resources)
        self.assertEqual({}, refs.outputs)

    def test_same_as_heat(self):
        stack = parse(dict(HOT, outputs={
            'o': {'value': {'get_attr': ['c', 'output']}}}))
        for name in 'abc':
            rsrc = stack[name]
            expected = rsrc.node_data().as_dict()
            self.assertEqual(expected, definitions.node_data(
                rsrc, 'traversal').as_dict())
        # a's output is referenced by b only: it is in a's data.
        self.assertEqual({'output': None}, definitions.node_data(
            stack['a'], 'traversal').as_dict()['attrs'])

    def test_outputs_same_as_heat(self):
        template = dict(HOT, conditions={'never': False}, outputs={
            # Every resource, as the random stacks' last output.
            'all': {'value': [{'get_attr': [name, 'output']}
                              for name in 'abc']},
            'whole': {'value': {'get_attr': ['b']}},
            'path': {'value': {'get_attr': ['c', 'output', 'x']}},
            'ref': {'value': {'get_resource': 'a'}},
            'off': {'value': {'get_attr': ['a', 'attr1']},
                    'condition': 'never'}})
        stack = parse(template)
        refs = definitions.references(parse(template).defn)
        self.assertEqual({'a': {'all'}, 'b': {'all', 'whole'},
                          'c': {'all', 'path'}},
                         {name: set(outputs)
                          for name, outputs in refs.outputs.items()})
        for name in 'abc':
            rsrc = stack[name]
            view = definitions._Referencing(
                stack.defn, refs.resources.get(name, ()),
                refs.outputs.get(name, {}))
            for kwargs in ({}, {'in_resources': False},
                           {'in_outputs': ['ref', 'all']}):
                self.assertEqual(
                    rsrc.referenced_attrs(stack.defn, **kwargs),
                    rsrc.referenced_attrs(view, **kwargs), (name, kwargs))
            self.assertEqual(
                rsrc.node_data(for_outputs=True).as_dict(),
                definitions._node_data(rsrc, refs,
                                       for_outputs=True).as_dict())

    def test_outputs_parsed_once_per_index(self):
        template = dict(HOT, outputs={
            'o%d' % i: {'value': {'get_attr': ['c', 'output']}}
            for i in range(5)})
        refs = definitions.references(parse(template).defn)
        loads = self.patchobject(
            stk_defn.StackDefinition, '_load_output_defns', autospec=True,
            side_effect=stk_defn.StackDefinition._load_output_defns)
        # The nodes: stacks of their own, one index.
        for name in 'abc':
            stack = parse(template)
            definitions._node_data(stack[name], refs)
        loads.assert_not_called()

    def test_own_references_from_the_index_in_a_node(self):
        template = dict(HOT, outputs={
            'all': {'value': [{'get_attr': [name, 'output']}
                              for name in 'abc']}})
        stack = parse(template)
        heat = {name: stack[name].referenced_attrs() for name in 'abc'}
        loads = self.patchobject(
            stk_defn.StackDefinition, '_load_output_defns', autospec=True,
            side_effect=stk_defn.StackDefinition._load_output_defns)
        ours = {}
        with definitions.indexed_references('traversal'):
            # The nodes: stacks of their own, one index.
            for name in 'abc':
                stack = parse(template)
                stack.defn.t.id = 'template'
                ours[name] = stack[name].referenced_attrs()
        self.assertEqual(heat, ours)
        # The outputs parsed once, for the index.
        self.assertEqual(1, loads.call_count)
        # A definition given, or outside a node: Heat's to read.
        self.assertEqual(heat['a'], stack['a'].referenced_attrs())
        self.assertEqual(2, loads.call_count)

    def test_index_kept_per_traversal(self):
        index = definitions.ReferenceIndex(size=2)
        stack = parse(HOT)
        parses = self.patchobject(stack.defn.t, 'resource_definitions',
                                  wraps=stack.defn.t.resource_definitions)
        first = index.references('t1', stack.defn)
        built = parses.call_count
        self.assertIs(first, index.references('t1', stack.defn))
        self.assertEqual(built, parses.call_count)
        index.references('t2', stack.defn)
        index.references('t3', stack.defn)
        # t1 was evicted: built again.
        calls = parses.call_count
        self.assertIsNot(first, index.references('t1', stack.defn))
        self.assertLess(calls, parses.call_count)


def wide(n):
    """n resources, each reading the attributes of the one before it."""
    resources = {'r0': {'type': 'OS::Heat::TestResource'}}
    for i in range(1, n):
        resources['r%d' % i] = {
            'type': 'OS::Heat::TestResource',
            'properties': {'value': {'list_join': ['-', [
                {'get_attr': ['r%d' % (i - 1), 'output']},
                {'get_attr': ['r%d' % (i - 1), 'attr1']}]]}}}
    return {'heat_template_version': '2018-08-31', 'resources': resources,
            'outputs': {'o': {'value': {'get_attr': ['r0', 'output']}}}}


class TestValidation(base.HeatTestCase):
    """A stack's validation gathers the same resource data, in O(N)."""

    def setUp(self):
        super().setUp()
        self.reads = self.patchobject(
            rsrc_defn.ResourceDefinition, 'dep_attrs', autospec=True,
            side_effect=rsrc_defn.ResourceDefinition.dep_attrs)
        self.addCleanup(definitions.VALIDATION.activate_everywhere, None)

    def gathered(self, template, everywhere):
        """Return the resource data validation gathers, and its reads."""
        stack = parse(template)
        definitions.VALIDATION.activate_everywhere(everywhere)
        before = self.reads.call_count
        stack._update_all_resource_data(for_resources=True, for_outputs=True)
        data = {name: stack.defn._resource_data[name].as_dict()
                for name in stack.defn.enabled_rsrc_names()}
        return data, self.reads.call_count - before

    def test_same_as_heat(self):
        for template in (HOT, CFN, wide(6), dict(HOT, outputs={
                'o': {'value': {'get_attr': ['c', 'output']}}})):
            heat, _ = self.gathered(template, None)
            ours, _ = self.gathered(template, True)
            self.assertEqual(heat, ours)
        # b's output is read by c: it is part of b's data.
        self.assertIn('output', ours['b']['attrs'])

    def test_linear_in_resources(self):
        _, heat_small = self.gathered(wide(20), None)
        _, heat_big = self.gathered(wide(40), None)
        _, ours_small = self.gathered(wide(20), True)
        _, ours_big = self.gathered(wide(40), True)
        # Heat reads every definition for every resource: 4x for 2x N.
        self.assertGreater(heat_big, 3.5 * heat_small)
        self.assertLess(ours_big, 2.5 * ours_small)
        self.assertLess(ours_big, heat_big / 5)

    def test_inactive_is_heat(self):
        stack = parse(HOT)
        own = self.patchobject(definitions, 'references')
        stack._update_all_resource_data(for_resources=True, for_outputs=True)
        own.assert_not_called()
