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

"""The random stacks of the benchmark, and the outputs expected of them.

The benchmark fails a run whose outputs differ from
``random_templates.expected_outputs``, so that evaluation is checked here
against Heat's own intrinsic functions: every value and output, with its
``get_attr`` and ``get_param`` replaced by the values the evaluation gave
them, must resolve in Heat to what the evaluation computed.
"""

import json

from heat.engine import function
from heat.engine import template as heat_template
import testtools

from heat_convergence.tests import random_templates as rt


def _substituted(evaluation, snippet):
    """``snippet`` with the evaluation's attribute and parameter values."""
    if isinstance(snippet, list):
        return [_substituted(evaluation, item) for item in snippet]
    if not isinstance(snippet, dict):
        return snippet
    if set(snippet) == {'get_attr'}:
        name, attr = snippet['get_attr']
        return evaluation.attributes(name)[attr]
    if set(snippet) == {'get_param'}:
        return evaluation.params[snippet['get_param']]
    return {key: _substituted(evaluation, value)
            for key, value in snippet.items()}


class RandomGraphTest(testtools.TestCase):

    def test_same_seed_same_stack(self):
        self.assertEqual(rt.hot(rt.random_graph(30, 7)),
                         rt.hot(rt.random_graph(30, 7)))
        self.assertNotEqual(rt.random_graph(30, 7), rt.random_graph(30, 8))

    def test_shape(self):
        graph = rt.random_graph(200, 1)
        upstream = rt.ancestors(graph)
        seen = set()
        for node in graph:
            self.assertLessEqual(len(node.reads), rt.MAX_READS)
            self.assertTrue(seen.issuperset(node.reads + node.depends_on))
            for required in node.depends_on:
                self.assertTrue(any(required in upstream[p]
                                    for p in node.reads))
            seen.add(node.name)
        shape = rt.summary(graph)
        self.assertEqual(set(rt.FORMS), {n.form for n in graph if n.reads})
        self.assertEqual(rt.MAX_READS, shape['max_reads'])
        self.assertGreater(shape['multi_predecessor'], 100)
        self.assertGreater(shape['redundant_edges'],
                           sum(len(n.depends_on) for n in graph))
        self.assertGreater(shape['replace_on_update'], 0)
        self.assertGreater(shape['template_resources'], 0)
        self.assertGreater(shape['groups'], 0)

    def test_update(self):
        old = rt.random_graph(100, 3)
        new = rt.updated_graph(old, 3)
        before = {n.name: n for n in old}
        after = {n.name: n for n in new}
        self.assertEqual(10, len(set(before) - set(after)))
        self.assertEqual(10, len(set(after) - set(before)))
        changed = [n for n in after if n in before and
                   after[n].salt != before[n].salt]
        self.assertGreater(len(changed), 5)
        self.assertTrue(any(after[n].replace for n in changed))
        old_outputs = rt.expected_outputs(*rt.hot(old))
        new_outputs = rt.expected_outputs(*rt.hot(new))
        self.assertNotEqual(old_outputs, new_outputs)


class ExpectedOutputsTest(testtools.TestCase):
    """The evaluation agrees with Heat's intrinsic functions."""

    def assertHeatAgrees(self, template, files, params=None):
        evaluation = rt.Evaluation(template, files, params)
        heat = heat_template.Template(template, files=files)
        # Heat discards an OS::Heat::None's properties.
        snippets = [defn.get('properties', {})
                    for defn in template['resources'].values()
                    if defn['type'] != rt.NONE]
        snippets += [output['value']
                     for output in template['outputs'].values()]
        for snippet in snippets:
            substituted = _substituted(evaluation, snippet)
            self.assertEqual(evaluation.resolve(snippet), function.resolve(
                heat.parse(None, substituted)))
        for name, defn in template['resources'].items():
            if defn['type'] == rt.GROUP:
                member = defn['properties']['resource_def']
                properties = evaluation.resolve(member['properties'])
                self.assertHeatAgrees(json.loads(files[member['type']]),
                                      files, dict(properties, index='1'))
            elif defn['type'] in files:
                self.assertHeatAgrees(
                    json.loads(files[defn['type']]), files,
                    evaluation.resolve(defn['properties']))

    def test_random_stack(self):
        graph = rt.random_graph(40, 2)
        self.assertHeatAgrees(*rt.hot(graph))
        self.assertHeatAgrees(*rt.hot(rt.updated_graph(graph, 2)))

    def test_nested_chain(self):
        template, files = rt.nested_chain(3)
        self.assertHeatAgrees(template, files)
        self.assertEqual(
            {'output': 'b(L1.in)+b(L2.b(L1.in))+b(L3.b(L2.b(L1.in)))'},
            rt.expected_outputs(template, files))
        self.assertEqual(12, rt.count_resources(template, files))
        self.assertEqual(
            {'output': 'b(L1.up)+b(L2.b(L1.up))+b(L3.b(L2.b(L1.up)))'},
            rt.expected_outputs(*rt.nested_chain(3, 'up')))

    def test_magnum_cluster(self):
        template, files = rt.magnum_cluster()
        self.assertHeatAgrees(template, files, {'count': 2})
        member = json.loads(files[rt.MAGNUM_MEMBER])
        self.assertEqual(10, len(member['resources']))
        address = 'server%d(port%d@net/sg-net) via fip(port%d@net/sg-net)'
        addresses = [address % (i, i, i) for i in range(3)]
        self.assertEqual(
            {'addresses': addresses,
             'deployments': ['kubelet:sg-net@server%d(port%d@net/sg-net)' %
                             (i, i) for i in range(3)],
             'api_lb': ','.join(addresses)},
            rt.expected_outputs(template, files, {'count': 3}))
        self.assertEqual(4 + 11 * 3, rt.count_resources(
            template, files, params={'count': 3}))

    def test_count_resources(self):
        graph = rt.random_graph(40, 2)
        shape = rt.summary(graph)
        self.assertEqual(
            40 + 2 * shape['template_resources'] +
            3 * rt.GROUP_COUNT * shape['groups'],
            rt.count_resources(*rt.hot(graph)))
