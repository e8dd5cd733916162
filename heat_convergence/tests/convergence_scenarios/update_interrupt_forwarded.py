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

# An update that supersedes a traversal in which data was already forwarded
# across a removed edge, but not yet consumed.
#
# C reads A and depends on B, which reads A: C -> A is reduced away and A's
# data reaches C through B. The first update replaces A; the second arrives
# once the replacement has been created and B has forwarded its data to C,
# while C's message of that traversal is still queued. That message must
# be dropped, and C must be updated in the newest traversal with what it
# forwards: the replacement's id and its newest attribute value.

from heat_convergence.tests import scenario_harness


def check_a_replaced(replacement):
    replacement.check()
    a, = reality.resources_by_logical_name('A')
    c, = reality.resources_by_logical_name('C')
    b, = reality.resources_by_logical_name('B')
    test.assertEqual(sorted([a.id, b.id]), sorted(c.requires))


a = scenario_harness.Replacement(reality, test, 'A')


def template(a_props):
    return Template({
        'A': RsrcDef(a_props, []),
        'B': RsrcDef({'a': GetAtt('A', 'a')}, []),
        'C': RsrcDef({'c': GetRes('A'), 'ca': GetAtt('A', 'a')}, ['B']),
    })


engine.create_stack('foo', template({'a': 'one'}))
engine.noop(4)
engine.call(verify, template({'a': 'one'}))
engine.call(a.store)

# Replace A. Iteration 1 runs A (which creates its replacement), 2 the
# replacement, 3 B; the second update comes in the 4th, before C.
engine.update_stack('foo', template({'a': 'one', '!a': 'two'}))
engine.noop(2)
engine.update_stack('foo', template({'a': 'three', '!a': 'two'}))
engine.noop(12)
engine.call(verify, template({'a': 'three', '!a': 'two'}))
engine.call(check_a_replaced, a)

engine.delete_stack('foo')
engine.noop(6)
engine.call(verify, Template({}))
