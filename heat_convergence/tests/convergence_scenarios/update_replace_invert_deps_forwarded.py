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

# Heat's update_replace_invert_deps, with a third resource reading both
# replaced resources across an edge the reduction removes.
#
# Before: B reads A, C reads A's id and B's attribute and depends on B, so
# C -> A is implied by C -> B -> A and A's id reaches C through B. After:
# the dependency between A and B is inverted, both are replaced, and C reads
# B's id and A's attribute and depends on A, so C -> B is the removed edge
# and the *new* B's id must reach C through the new A. C must be updated
# with (and require) the replacements, never the resources they replace.

def check_c_requires(names):
    c, = reality.resources_by_logical_name('C')
    test.assertEqual(
        sorted(r.id for n in names
               for r in reality.resources_by_logical_name(n)),
        sorted(c.requires))


example_template = Template({
    'A': RsrcDef({'!a': 'initial'}, []),
    'B': RsrcDef({'!a': 'first', 'a': GetAtt('A', '!a')}, []),
    'C': RsrcDef({'c': GetRes('A'), 'ca': GetAtt('B', '!a')}, ['B']),
})
engine.create_stack('foo', example_template)
engine.noop(6)
engine.call(verify, example_template)
engine.call(check_c_requires, ['A', 'B'])

example_template_inverted = Template({
    'A': RsrcDef({'!a': 'updated', 'a': GetAtt('B', '!a')}, []),
    'B': RsrcDef({'!a': 'second'}, []),
    'C': RsrcDef({'c': GetRes('B'), 'ca': GetAtt('A', '!a')}, ['A']),
})
engine.update_stack('foo', example_template_inverted)
engine.noop(12)
engine.call(verify, example_template_inverted)
engine.call(check_c_requires, ['A', 'B'])

engine.delete_stack('foo')
engine.noop(6)
engine.call(verify, Template({}))
