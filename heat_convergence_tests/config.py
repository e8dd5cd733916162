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

"""The ``[heat_convergence]`` group of tempest.conf."""

from oslo_config import cfg

group = cfg.OptGroup(
    name='heat_convergence',
    title='heat-convergence tempest plugin options')

opts = [
    cfg.StrOpt('expected_engine_binary',
               help='If set, every orchestration engine that is up must '
                    'report this binary in the service list, e.g. '
                    '"heat-convergence-engine". Unset: not checked.'),
    cfg.StrOpt('engine_kill_command',
               help='Shell command, run on the tempest host, that kills '
                    'one of two or more engine processes at once (e.g. '
                    'with SIGKILL). Unset: the engine-kill test skips. The '
                    'test must not run beside other tests.'),
    cfg.IntOpt('engine_kill_timeout', default=300, min=30,
               help='Seconds a stack may take to finish after an engine '
                    'is killed.'),
    cfg.IntOpt('dense_stack_size', default=8, min=3, max=12,
               help='Resources in the dense-stack test; each depends on '
                    'all earlier ones.'),
]
