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

# A traversal without a node (a stack or a group of no resources) finishes
# as it starts.

engine.create_stack('foo', Template({}))
engine.noop(2)
engine.call(verify, Template({}))

engine.update_stack('foo', Template({'A': RsrcDef({'a': 'one'}, [])}))
engine.noop(4)
engine.call(verify, Template({'A': RsrcDef({'a': 'one'}, [])}))

engine.update_stack('foo', Template({}))
engine.noop(4)
engine.call(verify, Template({}))

engine.delete_stack('foo')
engine.noop(2)
engine.call(verify, Template({}))
