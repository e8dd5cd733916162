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

# C references A (get_resource and get_attr) and depends on B, which
# references A: the reduction removes C -> A, so A's id and attribute must
# reach C through B.

example_template = Template({
    'A': RsrcDef({'a': 'initial'}, []),
    'B': RsrcDef({'a': GetAtt('A', 'a')}, []),
    'C': RsrcDef({'c': GetRes('A'), 'ca': GetAtt('A', 'a')}, ['B']),
})
engine.create_stack('foo', example_template)
engine.noop(6)
engine.call(verify, example_template)

example_template_updated = Template({
    'A': RsrcDef({'a': 'updated'}, []),
    'B': RsrcDef({'a': GetAtt('A', 'a')}, []),
    'C': RsrcDef({'c': GetRes('A'), 'ca': GetAtt('A', 'a')}, ['B']),
})
engine.update_stack('foo', example_template_updated)
engine.noop(8)
engine.call(verify, example_template_updated)

engine.delete_stack('foo')
engine.noop(6)
engine.call(verify, Template({}))
