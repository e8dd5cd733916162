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

# As transitive_data_edge, but the update replaces A: C, whose edge to A was
# removed by the reduction, must get the *new* A's id and attribute from
# this traversal's messages, not the old A's.

from heat_convergence.tests import scenario_harness

a = scenario_harness.Replacement(reality, test, 'A')

example_template = Template({
    'A': RsrcDef({'!a': 'initial'}, []),
    'B': RsrcDef({'a': GetAtt('A', '!a')}, []),
    'C': RsrcDef({'c': GetRes('A'), 'ca': GetAtt('A', '!a')}, ['B']),
})
engine.create_stack('foo', example_template)
engine.noop(6)
engine.call(verify, example_template)
engine.call(a.store)

example_template_updated = Template({
    'A': RsrcDef({'!a': 'replaced'}, []),
    'B': RsrcDef({'a': GetAtt('A', '!a')}, []),
    'C': RsrcDef({'c': GetRes('A'), 'ca': GetAtt('A', '!a')}, ['B']),
})
engine.update_stack('foo', example_template_updated)
engine.noop(12)
engine.call(verify, example_template_updated)
engine.call(a.check)

engine.delete_stack('foo')
engine.noop(6)
engine.call(verify, Template({}))
