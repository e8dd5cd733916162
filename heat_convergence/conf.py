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

"""Configuration options of the ``[heat_convergence]`` group in heat.conf.

All options live in one group so that an operator can see at a glance what
the plugin adds to Heat's own configuration; ``oslo-config-generator
--namespace heat_convergence`` renders them through :func:`list_opts`.
"""

import os
import sysconfig

from oslo_config import cfg

GROUP = cfg.OptGroup(
    'heat_convergence',
    title='heat-convergence engine options',
    help='Options of the heat-convergence engine plugin.')

OPTS = [
    cfg.StrOpt(
        'driver',
        default='reduced',
        help='Name of the convergence driver, loaded from the '
             '"heat_convergence.drivers" entry-point namespace. '
             '"reduced" runs traversals over the transitively reduced '
             'dependency graph with the plugin\'s database SyncPoints; '
             '"heat" reproduces stock Heat exactly (for comparison).'),
    cfg.IntOpt(
        'periodic_interval',
        default=10, min=1,
        help='Seconds between two passes of each engine\'s recovery work '
             '(reduced driver): resuming the nodes of dead engines, '
             'enforcing stack timeouts, re-dispatching lost messages, '
             'deleting the rows of finished traversals. A dead engine\'s '
             'work resumes within about this long plus '
             '[DEFAULT] engine_life_check_timeout.'),
    cfg.IntOpt(
        'ready_timeout',
        default=120, min=1,
        help='Seconds a graph node may stay ready without any engine '
             'taking it, while no other node of its traversal is taken '
             'or finishes either, before it is dispatched again (its '
             'message was lost, e.g. in a broker restart). Ready nodes '
             'of a traversal that keeps moving are queued, not lost, '
             'and are left alone however long they wait.'),
    cfg.IntOpt(
        'dispatch_window',
        default=-1, min=-1,
        help='Leaves of a starting traversal sent to the engines at once '
             '(reduced driver). The others wait in the database and are '
             'sent as the traversal\'s nodes end, so that the nodes of '
             'other stacks never queue behind thousands of one big '
             'stack\'s. -1 (the default): four times the worker threads of '
             'the heat-convergence engines up (their worker processes '
             'times [DEFAULT] executor_thread_pool_size). 0: every leaf '
             'at once. A number below what the engines run at once makes '
             'big stacks run slower.'),
    cfg.BoolOpt(
        'cancel_running_actions',
        default=True,
        help='Whether openstack stack cancel (with or without rollback) '
             'interrupts the resource actions already running, on every '
             'engine (reduced driver). Interrupted resources end FAILED '
             '"<ACTION> aborted (user triggered cancel)". Set to false for '
             'stock Heat\'s behaviour, which lets them finish: the '
             'traversal still stops and nothing new starts.'),
    cfg.BoolOpt(
        'run_successor_locally',
        default=True,
        help='Whether a graph node that makes successors ready runs one '
             'of them next in its own thread instead of sending it over '
             'the message bus (reduced driver). Along a chain this saves '
             'a broker round trip per resource; the other ready '
             'successors are still sent, so work spreads over the '
             'engines. Set to false to send every ready node, as stock '
             'Heat does. A stopping engine sends them all, so that its '
             'stop does not last as long as the rest of a chain.'),
    cfg.BoolOpt(
        'parse_definitions_on_demand',
        default=True,
        help='Whether a graph node parses only the resource definitions it '
             'uses (its own and those it references) instead of every '
             'resource of the stack, as Heat does (reduced driver). Makes '
             'a node\'s cost independent of the stack\'s size. Templates '
             'with resource conditions are always parsed whole. Set to '
             'false to use Heat\'s parse unchanged.'),
    cfg.BoolOpt(
        'cache_stack_reads',
        default=True,
        help='Whether the engine reads and decodes the stack\'s templates '
             'once per traversal (reduced driver) instead of once per '
             'resource, as Heat does. The cost of decoding grows with the '
             'stack\'s size. Set to false to use Heat\'s loads '
             'unchanged.'),
    cfg.IntOpt(
        'max_concurrent_resources_per_stack',
        default=0, min=0,
        help='Most resource actions of one stack that may run at once, '
             'across all engines (reduced driver); 0 means no limit. '
             'Enforced through the database: set the same value on every '
             'engine. Nested stacks count separately.'),
]


def heat_etc_dir():
    """Return the etc/heat directory the openstack-heat wheel installed.

    The wheel installs ``api-paste.ini``, ``environment.d`` and
    ``templates`` as data files under the install prefix
    (``<venv>/etc/heat``), not beside the ``heat`` package.
    """
    path = os.path.join(sysconfig.get_paths()['data'], 'etc', 'heat')
    if not os.path.isdir(os.path.join(path, 'environment.d')):
        raise RuntimeError('openstack-heat data files not found in %s; is '
                           'openstack-heat installed in this environment?'
                           % path)
    return path


def register_opts(conf=cfg.CONF):
    """Register the plugin's options on ``conf`` (idempotent)."""
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    """Return the options for oslo-config-generator."""
    return [(GROUP, OPTS)]


register_opts()
