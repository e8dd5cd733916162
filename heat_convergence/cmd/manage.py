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

"""heat-convergence-manage: operator commands for the plugin.

Reads heat.conf like heat-manage does (``--config-file``, or the default
locations), so it acts on the same database as the engines.
"""

import shutil
import subprocess
import sys

from heat.common import context
from heat.common import exception as heat_exception
from heat.common import messaging as rpc_messaging
from heat import version
from oslo_config import cfg
from oslo_db import exception as db_exception
from oslo_log import log
from oslo_utils import timeutils
import sqlalchemy as sa

from heat_convergence import conf as hc_conf
from heat_convergence.db import migration
from heat_convergence.db import views as db_views
from heat_convergence.drivers.reduced import handback
from heat_convergence.drivers.reduced import progress
from heat_convergence import fleet

CONF = cfg.CONF


def do_db_sync():
    """Create or upgrade the plugin tables (after heat-manage db_sync)."""
    migration.db_sync(CONF.command.version)
    print('heat-convergence tables at revision %s' % migration.db_version())


def do_db_version():
    """Print the plugin tables' schema revision."""
    print(migration.db_version() or 'None')


def do_db_drop():
    """Drop the plugin tables, once no engine uses them any more."""
    engines = fleet.engine_ids(context.get_admin_context(),
                               fleet.PLUGIN_BINARY)
    if engines:
        raise UserError('%d heat-convergence-engine processes are up: stop '
                        'them first.' % len(engines))
    migration.db_drop()
    print('heat-convergence tables dropped.')


def _stack():
    return progress.find_stack(context.get_admin_context(),
                               CONF.command.stack)


def do_traversal_list():
    """Print the live traversals, oldest first."""
    cnxt = context.get_admin_context()
    rows = progress.in_progress(cnxt)
    if not rows:
        print('No traversal in progress.')
        return
    fmt = '%-36s  %-20s  %-8s  %9s  %-10s  %7s  %9s  %7s  %7s  %7s  %s'
    print(fmt % ('Traversal', 'Stack', 'Action', 'Age', 'Done/All',
                 'Running', 'Throttled', 'Ready', 'Queued', 'Waiting',
                 'Engines'))
    now = timeutils.utcnow()
    for row, name in rows:
        print(fmt % (row.id, name[:20], row.action,
                     progress.age(row.created_at, now),
                     '%d/%d' % (row.done or 0, row.node_count),
                     row.running or 0, row.throttled or 0, row.ready or 0,
                     row.queued or 0, row.waiting or 0, row.engines))


def do_traversal_paths():
    """Print the stacks IN_PROGRESS and which path runs their traversal."""
    rows = db_views.traversal_paths(context.get_admin_context())
    if not rows:
        print('No convergence stack is IN_PROGRESS.')
        return
    fmt = '%-36s  %-20s  %-8s  %-36s  %s'
    print(fmt % ('Stack', 'Name', 'Action', 'Traversal', 'Path'))
    for row in rows:
        if row.ours:
            path = 'reduced (heat-convergence engines)'
        elif row.heat_sync_points:
            path = ('heat (%d sync points in Heat\'s table; any engine)'
                    % row.heat_sync_points)
        else:
            path = 'none (no sync points: stalled, or just starting)'
        print(fmt % (row.id, row.name[:20], row.action,
                     row.current_traversal, path))


def do_traversal_handback():
    """Hand the reduced traversals in progress back to Heat's path."""
    cnxt = context.get_admin_context()
    engines = fleet.engine_ids(cnxt, fleet.PLUGIN_BINARY)
    if engines and not CONF.command.force:
        raise UserError(
            '%d heat-convergence-engine processes are up: those of the '
            'reduced driver go on with its traversals (the last one to stop '
            'hands them back), those of the heat driver hand back the ones '
            'left idle. Stop them first, or pass --force to hand back now. '
            'An engine killed counts as up until twice its report interval '
            '([DEFAULT] periodic_interval) has passed since its last '
            'report: if they were killed, run this again then.'
            % len(engines))
    rpc_messaging.setup()
    handed = handback.by_operator(cnxt, CONF.command.stack)
    if not handed:
        print('No traversal of the reduced driver is in progress%s.' % (
            ' for stack %s' % CONF.command.stack if CONF.command.stack
            else ''))
    for stack_id, traversal_id, new in handed:
        print('Stack %s: traversal %s handed back to Heat\'s path as '
              'traversal %s.' % (stack_id, traversal_id, new))


def do_traversal_show():
    """Print where a stack's traversal is."""
    cnxt = context.get_admin_context()
    stack = _stack()
    view = progress.show(cnxt, stack)
    if view is None:
        print('Stack %s (%s) is %s_%s and has no traversal in progress '
              '(with the reduced driver).' % (stack.name, stack.id,
                                              stack.action, stack.status))
        return
    now = timeutils.utcnow()
    print('Stack:      %s (%s)' % (view.stack_name, view.stack_id))
    print('Traversal:  %s' % view.id)
    print('Action:     %s, started %s ago' % (
        view.action, progress.age(view.started, now)))
    if view.deadline:
        print('Times out:  in %s' % progress.age(now, view.deadline))
    counts = view.counts
    print('Nodes:      %d done, %d running, %d throttled, %d ready, '
          '%d queued, %d waiting, %d failed (of %d)' % (
              counts['done'], counts['running'], counts['throttled'],
              counts['ready'], counts['queued'], counts['waiting'],
              counts['failed'], view.node_count))
    for state in progress.ORDER:
        nodes = [n for n in view.nodes if n.state == state]
        if not nodes:
            continue
        print('\n%s:' % state.capitalize())
        for n in nodes:
            kind = '' if n.is_update else ' (cleanup)'
            extra = ''
            if state == 'running':
                extra = ' on %s (engine %s) for %s' % (
                    n.host or '?', n.engine_id, progress.age(n.since, now))
            elif state == 'throttled':
                extra = (' until the stack runs fewer than '
                         'max_concurrent_resources_per_stack nodes')
            elif state == 'queued':
                extra = ' until the traversal\'s dispatch_window has room'
            elif state == 'waiting':
                extra = ' for %d of %d predecessors' % (n.pending,
                                                        n.predecessors)
            failed = ' FAILED' if n.failed else ''
            print('  %s%s%s%s' % (n.name, kind, failed, extra))


def do_traversal_graph():
    """Print (or write) the stack's graph as DOT, or render SVG."""
    cnxt = context.get_admin_context()
    stack = _stack()
    reduced, full, names = progress.graphs(cnxt, stack)
    deps = full if CONF.command.full else reduced
    view = progress.show(cnxt, stack)
    states = {}
    for n in (view.nodes if view else ()):
        states[n.name if n.is_update else '%s (cleanup)' % n.name] = n.state
    title = '%s %s graph (%d edges)' % (
        stack.name, 'full' if CONF.command.full else 'reduced',
        deps.edge_count())
    dot = progress.to_dot(deps, names, title, states)
    if CONF.command.format == 'svg':
        if not shutil.which('dot'):
            raise UserError('SVG needs Graphviz\'s "dot" command; install '
                            'graphviz, or use --format dot.')
        out = subprocess.run(['dot', '-Tsvg'], input=dot.encode(),
                             capture_output=True, check=True).stdout
    else:
        out = dot.encode()
    if CONF.command.output:
        with open(CONF.command.output, 'wb') as f:
            f.write(out)
        print('Wrote %s (%d nodes, %d edges; the full graph has %d edges, '
              'the reduced one %d)' % (
                  CONF.command.output, len(deps._graph), deps.edge_count(),
                  full.edge_count(), reduced.edge_count()))
    else:
        sys.stdout.write(out.decode())


class UserError(Exception):
    """A mistake in the command line or the environment."""


def add_command_parsers(subparsers):
    parser = subparsers.add_parser(
        'db_sync', help='Create or upgrade the heat-convergence tables.')
    parser.add_argument('version', nargs='?',
                        help='Revision to upgrade to (default: newest).')
    parser.set_defaults(func=do_db_sync)

    parser = subparsers.add_parser(
        'db_version', help='Print the heat-convergence schema revision.')
    parser.set_defaults(func=do_db_version)

    parser = subparsers.add_parser(
        'db_drop', help='Drop the heat-convergence tables (going back, '
                        'once no heat-convergence-engine runs and no '
                        'traversal of the reduced driver is in progress).')
    parser.set_defaults(func=do_db_drop)

    traversal = subparsers.add_parser(
        'traversal', help='Inspect convergence traversals (reduced '
                          'driver).').add_subparsers(
        title='traversal commands', dest='traversal_command')
    traversal.required = True
    parser = traversal.add_parser(
        'list', help='Traversals in progress across stacks, oldest first.')
    parser.set_defaults(func=do_traversal_list)
    parser = traversal.add_parser(
        'paths', help='Stacks IN_PROGRESS and the path their traversal '
                      'runs on: the reduced driver\'s, or Heat\'s own '
                      '(started by a stock heat-engine).')
    parser.set_defaults(func=do_traversal_paths)
    parser = traversal.add_parser(
        'handback', help='Restart the reduced driver\'s traversals in '
                         'progress on Heat\'s own path (going back, when '
                         'the last heat-convergence-engine was killed).')
    parser.add_argument('--stack', help='Only this stack (name or id).')
    parser.add_argument('--force', action='store_true',
                        help='Even while heat-convergence-engines are up.')
    parser.set_defaults(func=do_traversal_handback)
    parser = traversal.add_parser(
        'show', help='Progress of a stack\'s traversal: nodes done, '
                     'running (and where), ready and waiting.')
    parser.add_argument('stack', help='Stack name or id.')
    parser.set_defaults(func=do_traversal_show)
    parser = traversal.add_parser(
        'graph', help='A stack\'s convergence graph as Graphviz DOT (or '
                      'SVG), reduced (stored) or full (what Heat would '
                      'store).')
    parser.add_argument('stack', help='Stack name or id.')
    parser.add_argument('--full', action='store_true',
                        help='The full graph instead of the reduced one.')
    parser.add_argument('--format', choices=('dot', 'svg'), default='dot')
    parser.add_argument('--output', help='Write to this file.')
    parser.set_defaults(func=do_traversal_graph)


command_opt = cfg.SubCommandOpt('command', title='Commands',
                                help='Show available commands.',
                                handler=add_command_parsers)


def main(argv=None):
    log.register_options(CONF)
    # stdout carries the command's output; logs go to stderr, and Heat's
    # chatter (every resource type it registers) stays out of it.
    CONF.set_default('use_stderr', True)
    log.set_defaults(default_log_levels=log.get_default_log_levels() + [
        'heat=WARN', 'heat.engine.environment=ERROR'])
    CONF.register_cli_opt(command_opt)
    hc_conf.register_opts(CONF)
    try:
        CONF(sys.argv[1:] if argv is None else argv, project='heat',
             prog='heat-convergence-manage',
             version=version.version_info.version_string(),
             default_config_files=cfg.find_config_files('heat',
                                                        'heat-engine'))
    except (RuntimeError, cfg.Error) as exc:
        sys.exit('ERROR: %s' % exc)
    log.setup(CONF, 'heat-convergence-manage')
    if not CONF.database.connection:
        sys.exit('ERROR: no database configured: set [database] connection '
                 'in heat.conf (or pass it with --config-file).')
    try:
        CONF.command.func()
    except (migration.SchemaError, UserError,
            heat_exception.HeatException) as exc:
        sys.exit('ERROR: %s' % exc)
    except db_exception.DBError as exc:
        sys.exit('ERROR: database error: %s' % exc)
    except sa.exc.ArgumentError as exc:
        sys.exit('ERROR: invalid [database] connection: %s' % exc)
    except cfg.Error as exc:
        sys.exit('ERROR: %s' % exc)
