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

# Every resource depends on all earlier ones and references the first and
# the previous one: after reduction only the chain R(i) -> R(i-1) is left,
# and R0's id must travel the whole chain.

N = 8


def dense(value, n=N):
    # (Scenario files run with their names in locals: pass N in.)
    resources = {'R0': RsrcDef({'a': value}, [])}
    for i in range(1, n):
        resources['R%d' % i] = RsrcDef(
            {'c': GetRes('R0'), 'ca': GetAtt('R%d' % (i - 1), 'a'),
             'a': value},
            ['R%d' % j for j in range(i)])
    return Template(resources)


engine.create_stack('foo', dense('one'))
engine.noop(2 * N + 2)
engine.call(verify, dense('one'))

engine.update_stack('foo', dense('two'))
engine.noop(3 * N + 2)
engine.call(verify, dense('two'))

engine.delete_stack('foo')
engine.noop(2 * N + 2)
engine.call(verify, Template({}))
