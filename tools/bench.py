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

"""Benchmark: stock heat-engine against heat-convergence, in one run.

Each side gets the same setup: stock heat-api (``heat-wsgi-api``, one
request at a time, or with ``--api-processes N`` Heat's ``heat.wsgi.api``
under uWSGI with N processes of one thread, as operators run it), the
same number of engine processes and workers, a fresh MariaDB database and
RabbitMQ vhost (see heat_convergence_tests.live.cloud). Stock runs
``heat-engine``; ours runs ``heat-convergence-engine`` with the reduced
driver. Both are up for the whole run and take turns, one run of a
workload at a time, so that a slow spell of the machine hits both.
Workloads use OS::Heat::TestResource and OS::Heat::None without waits; the
first ones stress one thing each, ``random``, ``nested-depth`` and
``magnum`` are shaped like real templates:

    independent  N resources, no dependencies
    update       every resource of "independent" updated in place
    replace      every resource of "independent" replaced
    delete       "independent" deleted
    chain        r(i) depends on r(i-1)
    dense        r(i) depends on every r(j < i)
    fanin        N independent resources and one that depends on all
    group        an OS::Heat::ResourceGroup of N OS::Heat::None
    chain-update every resource of "chain" updated in place
    chain-delete "chain" deleted
    random       a seeded random DAG of N resources (``--seed``): each reads
                 0 to 5 earlier ones' attributes through nested intrinsic
                 functions, with redundant depends_on, one in ten a nested
                 stack (a template resource or a group of two); created
                 ("random"), updated ("random-update": changes in place,
                 replacements, additions and removals) and deleted
                 ("random-delete"); see heat_convergence.tests.
                 random_templates
    nested-depth a chain of nested stacks, at each depth of ``--depths``
                 (not ``--sizes``): each level a template resource of three
                 resources around the next level, whose output it reads;
                 created ("nested-depth"), then its input updated, which
                 changes every resource in place ("nested-depth-update")
    magnum       a Magnum-shaped cluster of N nodes: a ResourceGroup whose
                 count is a stack parameter, of nested stacks of ten
                 resources reading each other (get_attr, get_resource),
                 whose outputs the stack's outputs and a load balancer read
                 through the group; created ("magnum"), scaled up by
                 ceil(N / 10) nodes ("magnum-scale-up"), scaled down by as
                 many, back to N ("magnum-scale-down"), each an update of
                 the parameter alone, and deleted ("magnum-delete"); see
                 random_templates.magnum_cluster
    cancel       N resources updating at once (each would take 2N + 60 s),
                 then "stack cancel --no-rollback"
    many         N stacks of ``--stack-size`` resources (each the same flat
                 random DAG) created together ("many"), then deleted
                 together ("many-delete"), from five projects in turn
    many-beside-big
                 the N stacks of "many" submitted once a stack of
                 ``--big-size`` independent resources is a tenth created
    chaos        the life of "random" without nested stacks (create,
                 "chaos-update", "chaos-delete"), run twice: once calm,
                 once with a random engine killed (SIGKILL) and started
                 again every ``--kill-interval`` seconds; each phase
                 checked for resources acted on twice and rows or stacks
                 left behind (heat_convergence_tests.live.chaos)
    chaos-magnum the same for the life of "magnum" (N nodes)

The default set is the first eight; chain-update, chain-delete, random,
nested-depth, magnum, cancel, the many and the chaos workloads run when
named in ``--workloads`` (with chain-update or chain-delete, the chain's
stack is kept for them, as independent's is for update, replace and
delete).

Measured for cancel: seconds from the cancel call returning until no
resource of the stack is IN_PROGRESS (polled every 0.05 s). Stock Heat lets
running actions finish, so its figure is what was left of their wait; the
reduced driver interrupts them (cancel_running_actions). The engines need a
worker thread per running action: run it with ``--executor-threads`` of at
least N / engines.

A node of magnum is a template resource, whose action holds its engine's
worker thread while its nested stack runs (Heat's ``TaskRunner``, the same
on both sides). With fewer threads in all (``--engines`` times
``--executor-threads``) than nodes, every thread can end up waiting on a
nested stack whose resources then find none, and the create stalls until
``--timeout``: ours did at N = 50 with the default 2 x 16. To time the
rest, run it with ``--executor-threads`` above N / engines.

Measured per workload: seconds from the API call to the stack settling
(polled in the database every 0.1 s), seconds until the API call returned
(``api_seconds``, to compare with ``rpc_response_timeout``), nodes per
second (the resources the action walks, nested stacks' included; for an
update, those of the new template and those it removes; magnum's cluster of
N nodes is 4 + 11 N resources, and as every update updates each node's
nested stack, both its scalings walk the larger cluster's), DB statements
per resource (MariaDB's general log, counting the connections to the side's
database only), RPC casts per resource (oslo.messaging's CAST log lines),
edges stored in ``current_deps``, SyncPoint statements (per resource,
"sync/res": Heat's ``sync_point`` table on stock, the plugin's own tables
and Heat's ``sync_point`` on ours; "own/node": ours' statements on its own
tables per node of the graphs its traversals stored, nested stacks'
included) and CAS conflicts (SyncPoint updates beyond one per arrival),
the database retries of a deadlock or conflict (oslo.db's
``wrap_db_retry`` log lines, Heat's and ours) and the engines' peak
RSS. Where the time went: the CPU seconds heat-api's processes, the
engines' and MariaDB's spent in the run (``cpu_s``: {api, engines, db};
db only on the local MariaDB, whose pid file is readable), and the
1-minute load average at its end (``load_average``).
Stock Heat sleeps 1 s per leaf, so its sizes are capped (``--stock-max``;
for magnum, N counts the nodes); a workload that does not finish within
``--timeout`` is reported as such. Before measuring, each side creates and
deletes a dense stack of 20 resources, so that no workload pays for a fresh
engine's first use of its code, connections and database (``--no-warm-up``
measures from a cold start). Single runs vary by 20% and more on a small
shared machine: ``--repeat`` reports the median of several runs of the
workloads that create a stack of their own.

After each create and update of ``random``, ``nested-depth`` and ``magnum``
the stack's outputs are read through the API and compared with those
computed from the template (random_templates.expected_outputs): a
difference makes that workload's outcome "outputs wrong", listed in the
JSON, and the command exits with status 1. For ``nested-depth`` and
``nested-depth-update`` the table ("level s") and the JSON
(``level_seconds``) give the seconds each level adds: the time at a depth
minus the time at the depth below it, on the same side.

Measured for chaos and chaos-magnum, in a table of their own: each
phase's seconds calm and killed, what the kills added ("added s",
``recovery_added``), the kills that landed while it ran, and the problems
the checks found (``problem_examples`` in the JSON): a resource action
started again with no kill since its last start, or after it completed, or
completed twice, in one traversal; a FAILED event other than a kill's
"Worker went down"; a resource without exactly one live row, or not
COMPLETE, a replaced row left other than a kill's, a row kept in place
replaced; a stack or resource left IN_PROGRESS; rows left after the
delete. A problem makes the command exit with status 1. The API calls are
kept clear of kills (a call whose engine dies fails to the user, who
repeats it). Ours only: stock runs the calm lives. Run with
``--engines 3``.

Measured for many and many-beside-big: the API calls are made four at a
time with heat-wsgi-api (it serves one at a time, and a fuller listen
queue would add TCP's SYN retries), and ``--api-processes`` at a time
under uWSGI (each process serves one call: more at once would only queue
in its listen queue); one query polls every stack every 0.1 s. Each
stack's time counts from the first call, when a user would have submitted
it; the big stack's from its own call. Reported, in the JSON and a table of
their own: stacks that completed per minute (until the last one settled;
ours' over stock's is the ratio), p50, p99 (nearest rank) and slowest of
the stacks' times, stacks lost (not settled within ``--timeout``), FAILED
stacks and refused API calls with their reasons, and how many of those show
a database error (``db_errors``: DBError, deadlock, OperationalError, lock
wait timeout); ``api_seconds`` is until the last call returned. For
many-beside-big the small stacks' figures, and the big one's seconds
(``big_seconds``, ``big_outcome``). A stack lost or a database error shown
makes the command exit with status 1. The main table gives their seconds,
nodes per second, statements, casts and RSS as for the other workloads;
stock is capped by ``--stock-max`` on the big stack's size.

With ``--galera-writers`` both sides run on the three-node Galera cluster
that ``tools/galera start`` runs, engine i connected to node i (the
several-writers topology of doc/source/galera.rst, with its
``mysql_wsrep_sync_wait``): a table of their own gives each phase's
certification failures and brute-force aborts, summed over the nodes
(``wsrep_local_cert_failures``, ``wsrep_local_bf_aborts``), and the
database retries. One writer is ``HC_TEST_MYSQL_URL`` set to a node.

    tools/bench.py                        # both sides, N = 50 and 200
    tools/bench.py --sizes 50,200,1000,2000 --side ours
    tools/bench.py --json results.json --keep-logs /tmp/bench-logs
    tools/bench.py --workloads chain,dense --sizes 200 --repeat 5
    tools/bench.py --workloads cancel --sizes 50 --executor-threads 64
    tools/bench.py --workloads random --sizes 200,1000 --seed 1
    tools/bench.py --workloads nested-depth --depths 1,2,3,4,5
    tools/bench.py --workloads many --sizes 50 --stack-size 40 --engines 3
    tools/bench.py --workloads many --sizes 200 --stack-size 10 --engines 3
    tools/bench.py --workloads many --sizes 50 --stack-size 40 --engines 3 \\
        --api-processes 4 --no-statements
    tools/bench.py --workloads many-beside-big --sizes 50 --stack-size 40 \\
        --big-size 5000 --engines 3 --side ours
    tools/bench.py --workloads magnum --sizes 100
    tools/bench.py --workloads magnum --sizes 500,1000 --side ours
    tools/bench.py --workloads chaos --sizes 500 --engines 3 --side ours \\
        --no-statements --keep-logs /tmp/chaos-logs
    tools/bench.py --workloads chaos-magnum --sizes 50 --engines 3 \\
        --side ours --no-statements --executor-threads 64
    tools/bench.py --workloads dense,random --sizes 200 --engines 3 \\
        --galera-writers --no-statements
"""

import argparse
import collections
import concurrent.futures
import contextlib
import functools
import glob
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

import requests
import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from heat_convergence.tests import galera  # noqa: E402
from heat_convergence.tests.galera_tests import clouds  # noqa: E402
from heat_convergence.tests import random_templates  # noqa: E402
from heat_convergence_tests.live import chaos  # noqa: E402
from heat_convergence_tests.live import cloud  # noqa: E402

WORKLOADS = ('independent', 'update', 'replace', 'delete', 'chain', 'dense',
             'fanin', 'group', 'chain-update', 'chain-delete', 'random',
             'nested-depth', 'magnum', 'cancel', 'many', 'many-beside-big',
             'chaos', 'chaos-magnum')
DEFAULT_WORKLOADS = WORKLOADS[:8]
# The rows of the results table, in order: a workload's, or those of its
# phases.
RANDOM_PHASES = ('random', 'random-update', 'random-delete')
NESTED_PHASES = ('nested-depth', 'nested-depth-update')
MAGNUM_PHASES = ('magnum', 'magnum-scale-up', 'magnum-scale-down',
                 'magnum-delete')
MANY_PHASES = ('many', 'many-delete')
CHAOS_PHASES = ('chaos', 'chaos-update', 'chaos-delete')
CHAOS_MAGNUM_PHASES = ('chaos-magnum', 'chaos-magnum-scale-up',
                       'chaos-magnum-scale-down', 'chaos-magnum-delete')
ROWS = (WORKLOADS[:5] + ('chain-update', 'chain-delete') + WORKLOADS[5:8] +
        RANDOM_PHASES + NESTED_PHASES + MAGNUM_PHASES + ('cancel',) +
        MANY_PHASES + ('many-beside-big',) + CHAOS_PHASES +
        CHAOS_MAGNUM_PHASES)
# Each engine's executor_thread_pool_size (oslo.messaging's default is
# 64), the same on both sides unless --stock-executor-threads says.
DEFAULT_EXECUTOR_THREADS = 16
# Each engine's pooled database connections ([database] max_pool_size).
POOL_SIZE = 16
# Workloads whose stock run time grows by a second per leaf, and the
# dense graph whose stock run time grows with N^2.
LEAFY = ('independent', 'update', 'replace', 'delete', 'fanin', 'group',
         'random', 'magnum', 'chaos', 'chaos-magnum')
# Workloads that create a stack of their own and delete it: ``--repeat``
# runs them again (the others share the independent stack).
REPEATABLE = ('chain', 'dense', 'fanin', 'group', 'nested-depth', 'random',
              'magnum')
# The workloads that act on the stack another one created: its name.
FOLLOW_UPS = {'update': 'independent', 'replace': 'independent',
              'delete': 'independent', 'chain-update': 'chain',
              'chain-delete': 'chain'}
# cleanup: the delete calls made, and the seconds each has to start.
DELETE_CALLS = 3
DELETE_START = 30
# Resources of the stack each side creates and deletes before measuring.
WARM_UP_SIZE = 20
# many: the projects the stacks come from, and the API calls made at once
# to heat-wsgi-api (under uWSGI: --api-processes at once, see
# submit_threads).
PROJECTS = 5
SUBMIT_THREADS = 4
# MariaDB's pid file, for its CPU seconds (cpu_s['db']).
MARIADB_PID_FILE = '/run/mysqld/mysqld.pid'
# What a stack's status_reason or an API error shows of a database error.
DB_ERROR = re.compile(r'DB\w*Error|Deadlock|OperationalError|'
                      r'Lock wait timeout', re.I)

# The plugin's own tables: its statements per graph node are a target.
OWN_TABLE = re.compile(r'\bheat_convergence_(sync_point|arrival|traversal)'
                       r'\b', re.I)
# SyncPoint tables: Heat's own, and the plugin's.
SYNC_TABLE = re.compile(r'\bsync_point\b|' + OWN_TABLE.pattern, re.I)
# The statement that records one arrival: stock Heat's compare-and-swap of
# the whole input_data (retried on conflict), and our counter decrement.
ARRIVAL_UPDATE = re.compile(
    r'^\s*UPDATE sync_point SET .*atomic_key|'
    r'pending\s*=\s*(last_insert_id\()?\(*\s*'
    r'(heat_convergence_sync_point\.)?pending\s*-',
    re.I)
# The bulk insert of a traversal's SyncPoints, and each row in it (a row
# starts with the traversal's id, a UUID).
OWN_NODES = re.compile(r'^\s*INSERT INTO heat_convergence_sync_point\b', re.I)
OWN_ROW = re.compile(r"\(\s*'[0-9a-f-]{36}',")
OWN_TRAVERSAL = re.compile(r'^\s*INSERT INTO heat_convergence_traversal\b',
                           re.I)
CAST = 'CAST unique_id'
# oslo.db's wrap_db_retry, before it runs a transaction again.
RETRY = 'Performing DB retry'
# Galera's counts of the transactions it rolled back for a conflict.
WSREP_CONFLICTS = ('wsrep_local_cert_failures', 'wsrep_local_bf_aborts')


def test_resources(n, value='v', deps=None, replace=False, wait=None):
    resources = {}
    for i in range(n):
        res = cloud.test_resource(value, replace=replace)
        if wait:
            res['properties']['action_wait_secs'] = wait
        if deps:
            required = deps(i)
            if required:
                res['depends_on'] = ['r%d' % j for j in required]
        resources['r%d' % i] = res
    return resources


def template(resources):
    return {'heat_template_version': '2018-08-31', 'resources': resources}


def build(workload, n, value='v'):
    """Return the template of a create workload (``value``: the inputs)."""
    if workload == 'independent':
        return template(test_resources(n, value))
    if workload == 'chain':
        return template(test_resources(
            n, value, deps=lambda i: [i - 1] if i else []))
    if workload == 'dense':
        return template(test_resources(n, deps=range))
    if workload == 'fanin':
        resources = test_resources(n)
        resources['sink'] = {'type': 'OS::Heat::None',
                             'depends_on': sorted(resources)}
        return template(resources)
    if workload == 'group':
        return template({'group': {
            'type': 'OS::Heat::ResourceGroup',
            'properties': {'count': n,
                           'resource_def': {'type': 'OS::Heat::None'}}}})
    raise ValueError(workload)


def shape(sql):
    """Return a statement's verb and table, e.g. 'UPDATE resource'."""
    words = sql.split()
    if not words:
        return '?'
    verb = words[0].upper()
    table = re.search(r'\b(?:FROM|INTO|UPDATE)\s+`?(\w+)', sql, re.I)
    return '%s %s' % (verb, table.group(1)) if table else verb


class GeneralLog(object):
    """Count the statements of one database from MariaDB's general log."""

    def __init__(self, admin, path):
        self.admin = admin
        self.path = path

    def start(self, database):
        self.database = database
        with self.admin.connect() as conn:
            self.threads = {row[0] for row in conn.execute(sa.text(
                'SELECT id FROM information_schema.processlist '
                'WHERE db = :db'), {'db': database})}
            self.own = conn.execute(sa.text(
                'SELECT CONNECTION_ID()')).scalar()
            if os.path.exists(self.path):
                os.truncate(self.path, 0)
            conn.execute(sa.text("SET GLOBAL general_log_file = '%s'" %
                                 self.path))
            conn.execute(sa.text('SET GLOBAL general_log = 1'))

    def stop(self, exclude=()):
        """Return the counts of the statements, by kind, and their shapes.

        A dict: ``total``; ``sync``, on Heat's and the plugin's SyncPoint
        tables; ``own``, on the plugin's tables only; ``arrival_updates``;
        ``graph_nodes``, the SyncPoint rows the plugin stored, less each
        traversal's own completion point; and ``shapes``, the statements
        counted by verb and table (COMMIT and ROLLBACK included), most
        frequent first.
        """
        with self.admin.connect() as conn:
            conn.execute(sa.text('SET GLOBAL general_log = 0'))
        threads = set(self.threads)
        counts = collections.Counter()
        shapes = collections.Counter()
        statements = []
        with open(self.path, errors='replace') as f:
            for line in f:
                match = re.match(r'^(?:\d{6}\s+[\d:]+\s+)?\s*(\d+)\s+(\w+)'
                                 r'\s?(.*)$', line.rstrip('\n'))
                if not match:
                    # A statement continued on the next lines.
                    if statements:
                        statements[-1][2] += ' ' + line.strip()
                    continue
                thread, kind, rest = match.groups()
                thread = int(thread)
                if kind == 'Connect' and (' on %s ' % self.database) in \
                        rest + ' ':
                    threads.add(thread)
                elif kind == 'Init' and rest.strip() == \
                        'DB %s' % self.database:
                    threads.add(thread)
                statements.append([thread, kind, rest])
        for thread, kind, sql in statements:
            if (kind in ('Query', 'Execute') and thread in threads and
                    thread not in exclude and thread != self.own):
                counts['total'] += 1
                shapes[shape(sql)] += 1
                if SYNC_TABLE.search(sql):
                    counts['sync'] += 1
                    counts['arrival_updates'] += bool(
                        ARRIVAL_UPDATE.search(sql))
                if OWN_TABLE.search(sql):
                    counts['own'] += 1
                    if OWN_NODES.match(sql):
                        counts['graph_nodes'] += len(OWN_ROW.findall(sql))
                    elif OWN_TRAVERSAL.match(sql):
                        counts['graph_nodes'] -= 1
        return dict(counts, shapes=shapes.most_common())


def graph_shape(stored_graphs):
    """Return the stored edges and the roots of stored graphs, summed.

    A stack's nested stacks (a ResourceGroup's) have graphs and arrivals
    of their own.
    """
    shape = {'stored_edges': 0, 'roots': 0}
    for current_deps in stored_graphs:
        # A stack that failed before its graph was stored keeps 'null'.
        edges = (json.loads(current_deps or 'null') or {}).get('edges', [])
        nodes = {tuple(e[0]) for e in edges}
        required = {tuple(e[1]) for e in edges if e[1] is not None}
        shape['stored_edges'] += sum(1 for e in edges if e[1] is not None)
        shape['roots'] += len(nodes | required) - len(required)
    return shape


def settled(row, action):
    """Whether a stack's row shows its ``action`` over (no row: deleted)."""
    if row is None or (action == 'DELETE' and row.deleted_at):
        return True
    # A deleted stack is COMPLETE a moment before it is soft-deleted.
    return row.action == action and (
        row.status == 'FAILED' or
        (row.status == 'COMPLETE' and action != 'DELETE'))


def submit_threads(args):
    """The API calls the many workloads make at once.

    SUBMIT_THREADS with heat-wsgi-api, which serves one call at a time (and
    queues five); under uWSGI one per process, each serving one call.
    """
    return args.api_processes or SUBMIT_THREADS


def cpu_seconds(pids):
    """{pid: CPU seconds, user and system} of the processes still there."""
    tick = os.sysconf('SC_CLK_TCK')
    found = {}
    for pid in pids:
        try:
            with open('/proc/%d/stat' % pid) as f:
                # After the command's "(name)": state is field 3, utime 14.
                fields = f.read().rsplit(')', 1)[1].split()
        except (OSError, IndexError):
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / tick
    return found


def executor_threads(args, side):
    """The ``executor_thread_pool_size`` of one side's engines."""
    if side == 'stock' and args.stock_executor_threads:
        return args.stock_executor_threads
    return args.executor_threads


class Side(object):
    """One side of the comparison: a cloud and its measurements."""

    def __init__(self, name, args):
        self.name = name
        self.args = args
        binary = (cloud.STOCK_ENGINE if name == 'stock'
                  else cloud.PLUGIN_ENGINE)
        levels = ','.join(DEFAULT_LOG_LEVELS +
                          ['oslo_messaging._drivers.amqpdriver=DEBUG',
                           'oslo_db.api=DEBUG'])
        self.stacks = {}
        threads = executor_threads(args, name)
        conf = {
            'DEFAULT': {'debug': 'false', 'default_log_levels': levels,
                        'executor_thread_pool_size': str(threads),
                        # The limits an operator raises for big
                        # stacks: a flat stack of 10,000 TestResources
                        # is a 750 KB template (Heat's default: 512 KB),
                        # a chain's update a 1.06 MB request (1 MB).
                        'max_resources_per_stack': '-1',
                        'max_template_size': str(16 * 1024 * 1024),
                        'max_json_body_size': str(32 * 1024 * 1024)},
            # As many pooled connections as worker threads: with
            # Heat's default pool of 5 every burst opens and closes
            # overflow connections (and pymysql sets up TLS for each).
            'database': {'max_pool_size': str(POOL_SIZE),
                         'max_overflow': str(max_overflow(threads))}}
        for section, option, value in args.set:
            conf.setdefault(section, {})[option] = value
        kwargs = dict(engines=args.engines, workers=args.workers,
                      engine_binary=binary, database='mysql', conf=conf,
                      api_processes=args.api_processes)
        if args.cluster:
            self.cloud = clouds.EngineOnEachNode(args.cluster, **kwargs)
        else:
            self.cloud = cloud.HeatCloud(**kwargs)

    def __enter__(self):
        self.cloud.setUp()
        self.poll_db = sa.create_engine(self.cloud.db_url,
                                        isolation_level='AUTOCOMMIT')
        # The bench's own connections, whose statements are not counted:
        # the pool opens another one whenever two threads poll at once.
        self.poll_threads = set()
        sa.event.listen(self.poll_db, 'connect', self._poll_connected)
        self.session = requests.Session()
        return self

    def _poll_connected(self, dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute('SELECT CONNECTION_ID()')
        self.poll_threads.add(cursor.fetchone()[0])
        cursor.close()

    def __exit__(self, *exc):
        self.poll_db.dispose()
        if self.args.keep_logs:
            # The logs of a run that went wrong are its only explanation.
            target = os.path.join(self.args.keep_logs, self.name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(self.cloud.log_dir, target)
        self.cloud.cleanUp()

    # API -----------------------------------------------------------------

    def api(self, method, path, project=None, **kwargs):
        """Call heat-api; return the JSON it answers, if any.

        ``project``: call as that project rather than "admin". Heat's
        noauth middleware takes the caller's project from the X-Auth-Project
        header, and the URL's tenant must match it.
        """
        endpoint = self.cloud.endpoint
        if project:
            endpoint = '%s/%s' % (endpoint.rsplit('/', 1)[0], project)
            kwargs['headers'] = {'X-Auth-Project': project}
        resp = self.session.request(method, endpoint + path, timeout=300,
                                    **kwargs)
        if resp.status_code >= 400:
            raise RuntimeError('%s %s: %s %s' % (method, path,
                                                 resp.status_code,
                                                 resp.text[:500]))
        if 'json' in resp.headers.get('Content-Type', ''):
            return resp.json()
        return None

    def create(self, name, tmpl, files=None, parameters=None, project=None):
        return self.api('POST', '/stacks', project=project, json={
            'stack_name': name, 'template': tmpl, 'files': files or {},
            'parameters': parameters or {}, 'timeout_mins': 600,
            'disable_rollback': True})['stack']['id']

    def update(self, name, stack_id, tmpl, files=None, parameters=None):
        """Start an update; return the stack's id, as create does."""
        self.api('PUT', '/stacks/%s/%s' % (name, stack_id),
                 json={'template': tmpl, 'files': files or {},
                       'parameters': parameters or {}, 'timeout_mins': 600,
                       'disable_rollback': True})
        return stack_id

    def delete(self, name, stack_id, project=None):
        """Start a delete; return the stack's id, as create does."""
        self.api('DELETE', '/stacks/%s/%s' % (name, stack_id),
                 project=project)
        return stack_id

    def outputs(self, name, stack_id):
        """{output key: value} of the stack, as the API resolves them."""
        stack = self.api('GET', '/stacks/%s/%s' % (name, stack_id))['stack']
        return {o['output_key']: o.get('output_value')
                for o in stack.get('outputs') or ()}

    def cancel(self, name, stack_id):
        self.api('POST', '/stacks/%s/%s/actions' % (name, stack_id),
                 json={'cancel_without_rollback': None})

    def resource_statuses(self, stack_id, action='%'):
        """{status: count} of the stack's resources (in ``action``)."""
        with self.poll_db.connect() as conn:
            return dict(conn.execute(sa.text(
                'SELECT status, COUNT(*) FROM resource WHERE stack_id = :id '
                'AND action LIKE :action GROUP BY status'),
                {'id': stack_id, 'action': action}).all())

    def state(self, stack_id):
        with self.poll_db.connect() as conn:
            return conn.execute(sa.text(
                'SELECT action, status, deleted_at, current_deps, '
                'status_reason FROM stack WHERE id = :id'),
                {'id': stack_id}).first()

    def states(self, stack_ids):
        """{stack id: row} of several stacks, in one query.

        The rows are state's without current_deps; a purged stack has none.
        """
        query = sa.text('SELECT id, action, status, deleted_at, '
                        'status_reason FROM stack WHERE id IN :ids'
                        ).bindparams(sa.bindparam('ids', expanding=True))
        with self.poll_db.connect() as conn:
            return {row.id: row for row in conn.execute(
                query, {'ids': list(stack_ids)})}

    def nested_graphs(self, stack_id):
        """The stored graphs of the stack's nested stacks, at any depth."""
        graphs, owners = [], [stack_id]
        query = sa.text('SELECT id, current_deps FROM stack '
                        'WHERE owner_id IN :owners').bindparams(
                            sa.bindparam('owners', expanding=True))
        with self.poll_db.connect() as conn:
            while owners:
                rows = conn.execute(query, {'owners': owners}).all()
                graphs += [r.current_deps for r in rows]
                owners = [r.id for r in rows]
        return graphs

    def wait(self, stack_id, action, timeout):
        """Poll until the stack's ``action`` settles; return (row, polls)."""
        polls = 0
        deadline = time.monotonic() + timeout
        while True:
            row = self.state(stack_id)
            polls += 1
            if settled(row, action):
                return row, polls
            if time.monotonic() > deadline:
                return None, polls
            time.sleep(0.1)

    # Measurement ---------------------------------------------------------

    def log_lines(self, *markers):
        """Per marker, the lines of the engines' logs so far holding it.

        One read of the logs for all of them: at 10,000 resources the
        engines' logs hold a line per cast.
        """
        counts = [0] * len(markers)
        for path in glob.glob(os.path.join(self.cloud.log_dir,
                                           'engine-*.log')):
            with open(path, errors='replace') as f:
                for line in f:
                    for i, marker in enumerate(markers):
                        if marker in line:
                            counts[i] += 1
        return counts

    def wsrep_conflicts(self):
        """Galera's conflict counters, each summed over the nodes."""
        statuses = [self.args.cluster.status(node)
                    for node in range(self.args.cluster.nodes)]
        return {name: sum(int(status.get(name, 0)) for status in statuses)
                for name in WSREP_CONFLICTS}

    def engine_pids(self):
        """The pids of the engines running (chaos may have killed one)."""
        return [pid for index in range(self.args.engines)
                if 'engine-%d' % index in self.cloud.processes
                for pid in self.cloud.engine_pids(index)]

    def peak_rss_mb(self):
        peak = 0
        for pid in self.engine_pids():
            try:
                with open('/proc/%d/status' % pid) as f:
                    for line in f:
                        if line.startswith('VmHWM:'):
                            peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
        return round(peak / 1024.0, 1)

    def process_cpu(self):
        """{part: {pid: CPU seconds}} of heat-api, the engines, MariaDB.

        heat-api: its process and, under uWSGI, the master's children.
        MariaDB only when it is the local server whose pid file is
        readable (not with ``--galera-writers``).
        """
        api_pids = []
        if 'api' in self.cloud.processes:
            api_pids = self.cloud.process_pids('api')
        parts = {'api': cpu_seconds(api_pids),
                 'engines': cpu_seconds(self.engine_pids())}
        if not self.args.cluster:
            try:
                with open(MARIADB_PID_FILE) as f:
                    parts['db'] = cpu_seconds([int(f.read().strip())])
            except (OSError, ValueError):
                pass
        return parts

    @contextlib.contextmanager
    def counting(self, general_log, nodes, result):
        """Add to ``result`` what the block costs per resource walked.

        The DB statements (if ``general_log``), the RPC casts, the
        database retries, Galera's conflicts (with ``--galera-writers``),
        the CPU seconds of heat-api, the engines and MariaDB in it, the
        load average and the engines' peak RSS after it.
        """
        cpu = self.process_cpu()
        casts, retries = self.log_lines(CAST, RETRY)
        if self.args.cluster:
            conflicts = self.wsrep_conflicts()
        if general_log:
            general_log.start(self.cloud.name)
        yield
        if general_log:
            counts = general_log.stop(exclude=self.poll_threads)
            if self.args.keep_logs:
                self.keep_statements(general_log.path, result)
            total, sync = counts.get('total', 0), counts.get('sync', 0)
            transaction = sum(count for key, count in counts['shapes']
                              if key in ('COMMIT', 'ROLLBACK'))
            result.update(statements=total,
                          statements_per_resource=round(total / nodes, 1),
                          data_statements_per_resource=round(
                              (total - transaction) / nodes, 1),
                          sync_statements=sync,
                          sync_statements_per_resource=round(
                              sync / nodes, 1),
                          arrival_updates=counts.get('arrival_updates', 0),
                          statement_shapes=counts['shapes'][:25])
            if counts.get('graph_nodes', 0) > 0:
                result.update(
                    own_statements=counts['own'],
                    graph_nodes=counts['graph_nodes'],
                    own_statements_per_node=round(
                        counts['own'] / counts['graph_nodes'], 2))
        casts_after, retries_after = self.log_lines(CAST, RETRY)
        result['casts_per_resource'] = round((casts_after - casts) / nodes, 2)
        result['db_retries'] = retries_after - retries
        if self.args.cluster:
            result.update((name, count - conflicts[name])
                          for name, count in self.wsrep_conflicts().items())
        # A process gone since (chaos kills engines) takes its seconds
        # with it; one started since counts from its start.
        result['cpu_s'] = {
            part: round(sum(s - cpu.get(part, {}).get(pid, 0)
                            for pid, s in now.items()), 1)
            for part, now in self.process_cpu().items()}
        result['load_average'] = round(os.getloadavg()[0], 2)
        result['peak_rss_mb'] = self.peak_rss_mb()

    def keep_statements(self, path, result):
        """Keep the general log of one action beside the engines' logs.

        The counts say how many statements; only the statements say which
        call made them.
        """
        target = os.path.join(self.args.keep_logs, 'statements')
        os.makedirs(target, exist_ok=True)
        stem = os.path.join(target, '%(side)s-%(workload)s-%(n)s' % result)
        name = stem + '.log'
        number = 1
        while os.path.exists(name):
            number += 1
            name = '%s-%d.log' % (stem, number)
        shutil.copyfile(path, name)

    def measure(self, general_log, workload, n, action, start, timeout,
                nodes=None):
        """Run ``start()`` and wait; return the measurements of it.

        ``nodes``: the resources the action walks, nested stacks'
        included (default ``n``); the per-resource figures count those.
        """
        nodes = nodes or n
        result = {'workload': workload, 'n': n, 'side': self.name}
        with self.counting(general_log, nodes, result):
            began = time.monotonic()
            stack_id = start()
            # heat-api's call returns when the engine has stored the stack
            # and started the traversal: the part an RPC timeout would cut
            # short.
            api_seconds = time.monotonic() - began
            row, polls = self.wait(stack_id, action, timeout)
            took = time.monotonic() - began
            result.update(seconds=round(took, 2),
                          api_seconds=round(api_seconds, 2), nodes=nodes,
                          nodes_per_second=round(nodes / took, 1))
        if row is None:
            result['outcome'] = 'timeout after %ds' % timeout
        else:
            result['outcome'] = ('DELETE_COMPLETE' if action == 'DELETE' and
                                 row.deleted_at else
                                 '%s_%s' % (row.action, row.status))
            if row.status == 'FAILED':
                result['reason'] = row.status_reason
        if row is not None:
            result.update(graph_shape(
                [row.current_deps] + self.nested_graphs(stack_id)))
        return result, stack_id


DEFAULT_LOG_LEVELS = [
    'amqp=WARN', 'amqplib=WARN', 'boto=WARN', 'qpid=WARN',
    'sqlalchemy=WARN', 'suds=INFO', 'oslo.messaging=INFO',
    'oslo_messaging=INFO', 'iso8601=WARN', 'requests=WARN',
    'urllib3.connectionpool=WARN', 'websocket=WARN',
    'keystonemiddleware=WARN', 'routes.middleware=WARN',
    'stevedore=WARN', 'taskflow=WARN', 'keystoneauth=WARN',
    'oslo.cache=INFO', 'oslo_policy=INFO', 'dogpile.core.dogpile=INFO']


def warm_up(side, args):
    """Create and delete a small stack before anything is measured.

    A fresh engine pays once for what a running one has at hand: imports
    done on first use, SQLAlchemy's compiled statements, pooled
    connections, MariaDB's caches of a new database. Measured without
    this, whichever workload ran first on a side took up to half as long
    again as the same workload run later; both sides warm up the same way.
    """
    began = time.monotonic()
    stack_id = side.create('warm-up', build('dense', WARM_UP_SIZE))
    side.wait(stack_id, 'CREATE', args.timeout)
    cleanup(side, 'warm-up', stack_id, args)
    return round(time.monotonic() - began, 2)


def run_sides(names, args, general_log):
    """Run every workload on each side, the sides taking turns.

    Both clouds are up for the whole run, but only one works at a time:
    each run of a workload on stock is followed by the same run on ours,
    so that a slow spell of a shared machine hits both sides alike rather
    than whichever ran at that moment.
    """
    results = []
    with contextlib.ExitStack() as stack:
        sides = [stack.enter_context(Side(name, args)) for name in names]
        if not args.no_warm_up:
            for side in sides:
                print(json.dumps({'side': side.name,
                                  'warm_up_seconds': warm_up(side, args)}),
                      flush=True)
        for workload, n in schedule(args):
            # Per side, each run's results: one per phase of the workload.
            runs = {side.name: [] for side in sides}
            repeat = args.repeat if workload in REPEATABLE else 1
            for _ in range(repeat):
                for side in sides:
                    if (side.name == 'stock' and
                            stock_size(workload, n, args) > args.stock_max):
                        runs[side.name] = [[{
                            'workload': workload, 'n': n,
                            'side': side.name,
                            'outcome': 'skipped (stock capped at %d '
                                       'resources)' % args.stock_max}]]
                        continue
                    runs[side.name].append(run_workload(
                        side, workload, n, args, general_log))
            for side in sides:
                for phase in zip(*runs[side.name]):
                    results.append(median(list(phase)))
                    print(json.dumps(results[-1]), flush=True)
    return results


def stock_size(workload, n, args):
    """The size ``--stock-max`` caps on stock (0: not capped).

    N for the leaf-heavy and dense workloads; the big stack's size for
    many-beside-big.
    """
    if workload == 'many-beside-big':
        return args.big_size
    if workload in LEAFY or workload == 'dense':
        return n
    return 0


def schedule(args):
    """Yield (workload, N) in the order they run.

    Each size runs the workloads in turn; nested-depth runs once per depth
    of ``--depths``, after them, its N being the depth.
    """
    for n in args.sizes:
        for workload in args.workloads:
            if workload != 'nested-depth':
                yield workload, n
    if 'nested-depth' in args.workloads:
        for depth in args.depths:
            yield 'nested-depth', depth


def run_workload(side, workload, n, args, general_log):
    """Run a workload once; return its results, one per phase.

    The update/replace/delete workloads reuse the independent stack.
    """
    if workload == 'cancel':
        return [measure_cancel(side, n, args)]
    if workload == 'random':
        return measure_random(side, n, args, general_log)
    if workload == 'nested-depth':
        return measure_nested(side, n, args, general_log)
    if workload == 'many':
        return measure_many(side, n, args, general_log)
    if workload == 'many-beside-big':
        return measure_beside_big(side, n, args, general_log)
    if workload == 'magnum':
        return measure_magnum(side, n, args, general_log)
    if workload in ('chaos', 'chaos-magnum'):
        return measure_chaos(side, n, args, general_log,
                             magnum=workload == 'chaos-magnum')
    name = '%s-%d' % (workload, n)
    if workload in ('independent',) + REPEATABLE:
        if name in side.stacks:
            # A repeated run's: its follow-ups keep only the last one.
            cleanup(side, name, side.stacks.pop(name), args)
        tmpl = build(workload, n)
        result, stack_id = side.measure(
            general_log, workload, n, 'CREATE',
            lambda: side.create(name, tmpl), args.timeout)
        if workload in set(FOLLOW_UPS.values()) & {
                FOLLOW_UPS.get(w) for w in args.workloads}:
            side.stacks[name] = stack_id
        else:
            cleanup(side, name, stack_id, args)
        return [result]
    creator = FOLLOW_UPS[workload]
    base = '%s-%d' % (creator, n)
    stack_id = side.stacks.get(base)
    if stack_id is None:
        return [{'workload': workload, 'n': n, 'side': side.name,
                 'outcome': 'skipped (needs the %s workload)' % creator}]
    if workload in ('update', 'chain-update'):
        tmpl = build(creator, n, value='updated')
        action, start = 'UPDATE', lambda: side.update(base, stack_id, tmpl)
    elif workload == 'replace':
        tmpl = template(test_resources(n, value='replaced', replace=True))
        action, start = 'UPDATE', lambda: side.update(base, stack_id, tmpl)
    else:
        action, start = 'DELETE', lambda: side.delete(base, stack_id)
    result, _ = side.measure(general_log, workload, n, action, start,
                             args.timeout)
    return [result]


def check_outputs(side, name, stack_id, expected, result):
    """Compare the stack's outputs with ``expected``; fail ``result`` if not.

    Only a completed action is checked: a failed or timed-out one has an
    outcome of its own already.
    """
    if not result['outcome'].endswith('_COMPLETE'):
        return
    found = side.outputs(name, stack_id)
    wrong = sorted(key for key in set(expected) | set(found)
                   if found.get(key) != expected.get(key))
    result['outputs_checked'] = len(expected)
    if wrong:
        result['outcome'] = 'outputs wrong (%d of %d)' % (len(wrong),
                                                          len(expected))
        result['wrong_outputs'] = [
            {'output': key, 'expected': expected.get(key),
             'found': found.get(key)} for key in wrong[:5]]


def measure_phases(side, name, n, workloads, phases, args, general_log,
                   delete_after=False, watch=None):
    """Run the phases of a stack in turn; check the outputs after each.

    ``workloads``: each phase's name; ``phases``: (action, start,
    expected, nodes) each, where ``start(stack_id)`` starts the phase (the
    create gets None) and ``expected`` gives the outputs to check (None:
    none). A phase runs only if the one before it completed; the stack is
    deleted if one did not, or, with ``delete_after``, after the last.
    ``watch``: a :class:`ChaosWatch` that starts and checks each phase.
    """
    results, stack_id = [], None
    watch = watch or ChaosWatch(side, None, None)
    for workload, (action, start, expected, nodes) in zip(workloads,
                                                          phases):
        result, stack_id = side.measure(
            general_log, workload, n, action,
            lambda: watch.start(start, stack_id), args.timeout,
            nodes=nodes)
        if expected is not None:
            with watch.calm():
                check_outputs(side, name, stack_id, expected, result)
        watch.check(result, len(results))
        results.append(result)
        if not result['outcome'].endswith('_COMPLETE'):
            cleanup(side, name, stack_id, args)
            break
    else:
        if delete_after:
            cleanup(side, name, stack_id, args)
    return results + [{'workload': workload, 'n': n, 'side': side.name,
                       'outcome': 'skipped (%s did not complete)' %
                       results[-1]['workload']}
                      for workload in workloads[len(results):]]


def measure_random(side, n, args, general_log):
    """Create, update and delete a random stack; check outputs after each.

    The stack and its update are drawn from ``--seed``; the update and the
    delete run only on a stack whose previous phase completed.
    """
    before = random_templates.random_graph(n, args.seed)
    after = random_templates.updated_graph(before, args.seed)
    results = measure_phases(side, 'random-%d' % n, n, RANDOM_PHASES,
                             random_phases(side, 'random-%d' % n, before,
                                           after),
                             args, general_log)
    results[0]['graphs'] = {'created': random_templates.summary(before),
                            'updated': random_templates.summary(after)}
    return results


def random_phases(side, name, before, after):
    """The create, update and delete of random stack ``name`` (graphs)."""
    old, new = random_templates.hot(before), random_templates.hot(after)
    removed = set(old[0]['resources']) - set(new[0]['resources'])
    return [
        ('CREATE', lambda _: side.create(name, *old),
         random_templates.expected_outputs(*old),
         random_templates.count_resources(*old)),
        ('UPDATE', lambda stack_id: side.update(name, stack_id, *new),
         random_templates.expected_outputs(*new),
         random_templates.count_resources(*new) +
         random_templates.count_resources(*old, names=removed)),
        ('DELETE', lambda stack_id: side.delete(name, stack_id), None,
         random_templates.count_resources(*new))]


def measure_magnum(side, m, args, general_log):
    """Create a cluster of ``m`` nodes, scale it up and down, delete it.

    The scale-up adds a tenth of ``m`` (rounded up) to the group's count;
    the scale-down removes as many, back to ``m``. Both are updates of the
    stack's ``count`` parameter, the template unchanged, and each phase
    runs only if the one before it completed.
    """
    return measure_phases(side, 'magnum-%d' % m, m, MAGNUM_PHASES,
                          magnum_phases(side, 'magnum-%d' % m, m), args,
                          general_log)


def magnum_phases(side, name, m):
    """The create, scalings and delete of cluster ``name`` of ``m`` nodes."""
    cluster = random_templates.magnum_cluster()
    larger = m + math.ceil(m / 10)

    def expected(count):
        return random_templates.expected_outputs(*cluster, {'count': count})

    def nodes(count):
        return random_templates.count_resources(*cluster,
                                                params={'count': count})

    def scale(count):
        return lambda stack_id: side.update(name, stack_id, *cluster,
                                            parameters={'count': count})

    # Every update walks each node's nested stack, changed or not: both
    # scale phases walk the resources of the larger cluster.
    return [
        ('CREATE', lambda _: side.create(name, *cluster,
                                         parameters={'count': m}),
         expected(m), nodes(m)),
        ('UPDATE', scale(larger), expected(larger), nodes(larger)),
        ('UPDATE', scale(m), expected(m), nodes(larger)),
        ('DELETE', lambda stack_id: side.delete(name, stack_id), None,
         nodes(m))]


class ChaosWatch(object):
    """Starts and checks the phases of :func:`measure_phases`.

    ``killer``: the :class:`chaos.Killer` whose kills the API calls are
    kept clear of (None: no kills). ``expect``: per phase, the resources of
    the stack's template after it (None: deleted) and those whose row it
    must keep (see :meth:`chaos.Phase.row_problems`); None: the phases are
    only started, as any workload's.
    """

    def __init__(self, side, killer, expect):
        self.side = side
        self.killer = killer
        self.expect = expect
        self.phase = None

    def calm(self):
        """Hold kills off (the API calls: see chaos.Killer)."""
        return (self.killer.calm() if self.killer
                else contextlib.nullcontext())

    def start(self, start, stack_id):
        if self.expect is not None:
            self.phase = chaos.Phase(self.side.cloud, stack_id)
        with self.calm():
            stack_id = start(stack_id)
        if self.phase is not None:
            self.phase.stack_id = stack_id
        return stack_id

    def check(self, result, index):
        """Add the phase's kills and what it left wrong to ``result``."""
        if self.expect is None:
            return
        names, kept = self.expect[index]
        problems = (
            self.phase.acted_twice(self.killer.kills if self.killer else [])
            + chaos.unsettled(self.side.cloud)
            + self.phase.row_problems(names, in_place=kept))
        kills = chaos.kills_during(self.killer, self.phase, chaos.utcnow())
        result.update(kills=len(kills), problems=len(problems),
                      kill_times=['%s engine %d' % (at.strftime('%H:%M:%S'),
                                                    engine)
                                  for at, engine in kills])
        if problems:
            result['problem_examples'] = problems[:10]
            if result['outcome'].endswith('_COMPLETE'):
                result['outcome'] = 'acted twice or left behind'


def measure_chaos(side, n, args, general_log, magnum=False):
    """A stack's whole life, once as it is, then with engines killed.

    ``chaos``: a random stack of ``n`` resources (no nested stacks) is
    created, updated (changes in place, replacements, additions and
    removals, as ``random-update``) and deleted; ``chaos-magnum``: a
    Magnum-shaped cluster of ``n`` nodes goes through magnum's phases. Both
    times every phase is checked (:class:`ChaosWatch`); the second time a
    random engine is killed with SIGKILL every ``--kill-interval`` seconds
    and started again. Each phase's result is the killed run's, with the
    calm run's time and what the kills added to it. Stock cannot recover a
    killed engine's work: it runs the calm lives only.
    """
    workloads = CHAOS_MAGNUM_PHASES if magnum else CHAOS_PHASES

    def life(name, killer):
        if magnum:
            phases = magnum_phases(side, name, n)
            top = set(random_templates.magnum_cluster()[0]['resources'])
            expect = [(top, ())] + [(top, top)] * 2 + [(None, ())]
        else:
            before = random_templates.random_graph(n, args.seed,
                                                   nested=False)
            after = random_templates.updated_graph(before, args.seed,
                                                   nested=False)
            phases = random_phases(side, name, before, after)
            created = {node.name for node in before}
            kept = {node.name for node in after
                    if node.name in created and not node.replace}
            expect = [(created, ()), ({node.name for node in after}, kept),
                      (None, ())]
        return measure_phases(side, name, n, workloads, phases, args,
                              general_log,
                              watch=ChaosWatch(side, killer, expect))

    calm = life('%s-calm-%d' % (workloads[0], n), None)
    if side.name == 'stock':
        return calm
    killer = chaos.Killer(side.cloud, args.seed, args.kill_interval)
    killer.start()
    try:
        results = life('%s-%d' % (workloads[0], n), killer)
    finally:
        killer.stop()
        # The last engine started again gets ready before the next run.
        side.cloud.wait_for_engines(args.engines * args.workers)
    for result, quiet in zip(results, calm):
        result.update(calm_seconds=quiet.get('seconds'),
                      calm_outcome=quiet['outcome'],
                      calm_problems=quiet.get('problems'),
                      calm_problem_examples=quiet.get('problem_examples'),
                      killer_errors=killer.errors)
        if 'seconds' in result and quiet.get('seconds') is not None:
            result['recovery_added'] = round(
                result['seconds'] - quiet['seconds'], 2)
    return results


def median(runs):
    """One result for repeated runs: the first's, with the median time.

    ``runs`` lists every run's seconds; a run that did not complete makes
    the outcome its own.
    """
    result = dict(runs[0])
    if len(runs) > 1:
        result['runs'] = [r.get('seconds') for r in runs]
        timed = [t for t in result['runs'] if t is not None]
        if timed:
            result['seconds'] = round(statistics.median(timed), 2)
        result['peak_rss_mb'] = max(r['peak_rss_mb'] for r in runs)
        failed = [r['outcome'] for r in runs
                  if not r['outcome'].endswith('_COMPLETE')]
        if failed:
            result['outcome'] = failed[0]
    return result


def measure_nested(side, depth, args, general_log):
    """Create a chain of ``depth`` nested stacks, then update its input.

    The update changes every resource of every level in place. The output
    is checked after each; the update runs only if the create completed.
    """
    name = 'nested-depth-%d' % depth
    created = random_templates.nested_chain(depth)
    updated = random_templates.nested_chain(depth, 'updated')
    nodes = random_templates.count_resources(*created)
    phases = [
        ('CREATE', lambda _: side.create(name, *created),
         random_templates.expected_outputs(*created), nodes),
        ('UPDATE', lambda stack_id: side.update(name, stack_id, *updated),
         random_templates.expected_outputs(*updated), nodes)]
    return measure_phases(side, name, depth, NESTED_PHASES, phases, args,
                          general_log, delete_after=True)


def measure_cancel(side, n, args):
    """Seconds from a cancel returning to the last running action ending."""
    name = 'cancel-%d' % n
    result = {'workload': 'cancel', 'n': n, 'side': side.name}
    wait = {'update': 2 * n + 60}
    stack_id = side.create(name, template(test_resources(n, wait=wait)))
    side.wait(stack_id, 'CREATE', args.timeout)
    side.update(name, stack_id,
                template(test_resources(n, value='updated', wait=wait)))
    deadline = time.monotonic() + 2 * n + 50
    while side.resource_statuses(stack_id).get('IN_PROGRESS', 0) < n:
        if time.monotonic() > deadline:
            result['outcome'] = 'not all %d resources started' % n
            cleanup(side, name, stack_id, args)
            return result
        time.sleep(0.1)
    side.cancel(name, stack_id)
    returned = time.monotonic()
    while side.resource_statuses(stack_id).get('IN_PROGRESS'):
        time.sleep(0.05)
    result['seconds'] = round(time.monotonic() - returned, 2)
    row, _polls = side.wait(stack_id, 'UPDATE', args.timeout)
    result['outcome'] = '%s_%s' % (row.action, row.status) if row else (
        'timeout after %ds' % args.timeout)
    result['resources'] = side.resource_statuses(stack_id)
    cleanup(side, name, stack_id, args)
    return result


def settle(side, action, calls, timeout, started=None):
    """Make the API calls together; poll until each stack's action settles.

    ``calls``: API calls, each returning a stack id, made
    submit_threads() at a time: heat-wsgi-api (wsgiref) serves one request
    at a time and queues five, and a connection beyond those would wait
    out TCP's SYN retries, seconds that are no engine's; under uWSGI one
    call per process. Each stack is timed from the
    moment the calls began, when a user would have submitted it.
    ``started``: {stack id: monotonic time} of stacks started before,
    polled alongside and timed from their own start. One query polls every
    stack, every 0.1 s, until all have settled or ``timeout`` has passed.

    Returns ({stack id: {'began', and once settled 'row' and 'seconds'}},
    seconds until the last call returned, the calls' errors).
    """
    began = time.monotonic()
    stacks = {stack_id: {'began': at}
              for stack_id, at in (started or {}).items()}
    errors = []
    api_seconds = 0
    with concurrent.futures.ThreadPoolExecutor(
            submit_threads(side.args)) as pool:
        calling = {pool.submit(call) for call in calls}
        while True:
            for future in [f for f in calling if f.done()]:
                calling.remove(future)
                api_seconds = time.monotonic() - began
                try:
                    stacks[future.result()] = {'began': began}
                except Exception as exc:
                    errors.append(str(exc))
            waiting = [stack_id for stack_id, stack in stacks.items()
                       if 'seconds' not in stack]
            rows = side.states(waiting) if waiting else {}
            now = time.monotonic()
            for stack_id in waiting:
                if settled(rows.get(stack_id), action):
                    stack = stacks[stack_id]
                    stack.update(row=rows.get(stack_id),
                                 seconds=round(now - stack['began'], 2))
            if not calling and all('seconds' in stack
                                   for stack in stacks.values()):
                break
            if now > began + timeout:
                break
            time.sleep(0.1)
    return stacks, round(api_seconds, 2), errors


def percentile(values, q):
    """The ``q``-th percentile of sorted ``values``, by nearest rank."""
    return values[max(0, math.ceil(q / 100.0 * len(values)) - 1)]


def summarise(result, action, stacks, api_seconds, errors, timeout):
    """Add a batch of stacks' figures (see settle) to ``result``.

    Their times' p50, p99 and slowest; the stacks that had not settled
    within ``timeout`` (lost) and those FAILED; the API calls refused; and
    of those failures, the ones that show a user a database error.
    """
    times = sorted(stack['seconds'] for stack in stacks.values()
                   if 'seconds' in stack)
    failed = [stack['row'].status_reason for stack in stacks.values()
              if stack.get('row') is not None and
              stack['row'].status == 'FAILED']
    lost = len(stacks) - len(times)
    seconds = timeout if lost or not times else times[-1]
    result.update(stacks=len(stacks) + len(errors), seconds=seconds,
                  api_seconds=api_seconds,
                  stacks_per_minute=round(
                      60.0 * (len(times) - len(failed)) / seconds, 1))
    if 'nodes' in result:
        result['nodes_per_second'] = round(result['nodes'] / seconds, 1)
    if times:
        result.update(p50_s=percentile(times, 50),
                      p99_s=percentile(times, 99), slowest_s=times[-1])
    reasons = failed + errors
    result.update(lost=lost, failed=len(failed), api_errors=len(errors),
                  db_errors=sum(1 for r in reasons if DB_ERROR.search(r)),
                  reasons=sorted(set(reasons))[:5])
    if lost:
        result['outcome'] = 'timeout after %ds' % timeout
    elif errors:
        result['outcome'] = 'API errors'
    else:
        result['outcome'] = '%s_%s' % (action,
                                       'FAILED' if failed else 'COMPLETE')


def create_calls(side, n, args, created):
    """API calls creating ``n`` small stacks, from PROJECTS projects.

    Each is a flat random DAG of ``--stack-size`` resources (the same for
    all, drawn from ``--seed``); the projects take turns. Each call records
    its stack's (name, project) in ``created``.
    """
    tmpl, files = random_templates.hot(random_templates.random_graph(
        args.stack_size, args.seed, nested=False))

    def create(i):
        name, project = 'many-%d-%d' % (n, i), 'project-%d' % (i % PROJECTS)
        stack_id = side.create(name, tmpl, files, project=project)
        created[stack_id] = (name, project)
        return stack_id
    return [functools.partial(create, i) for i in range(n)]


def delete_calls(side, created):
    """API calls deleting the stacks create_calls recorded."""
    return [functools.partial(side.delete, name, stack_id, project=project)
            for stack_id, (name, project) in created.items()]


def measure_many(side, n, args, general_log):
    """Create ``n`` small stacks together, then delete them together."""
    created = {}
    results = []
    for workload, action, calls in (
            ('many', 'CREATE', lambda: create_calls(side, n, args, created)),
            ('many-delete', 'DELETE', lambda: delete_calls(side, created))):
        result = {'workload': workload, 'n': n, 'side': side.name,
                  'stack_size': args.stack_size,
                  'nodes': n * args.stack_size}
        with side.counting(general_log, result['nodes'], result):
            summarise(result, action, *settle(side, action, calls(),
                                              args.timeout), args.timeout)
        results.append(result)
    return results


def measure_beside_big(side, n, args, general_log):
    """Create ``n`` small stacks together while a big one is created.

    The big stack, ``--big-size`` independent resources, has a tenth of
    them created when the small ones are submitted; its time counts from
    its own create call. Everything is deleted afterwards, unmeasured.
    """
    name = 'big-%d' % args.big_size
    result = {'workload': 'many-beside-big', 'n': n, 'side': side.name,
              'stack_size': args.stack_size, 'nodes': n * args.stack_size,
              'big_n': args.big_size}
    created = {}
    with side.counting(general_log, result['nodes'] + args.big_size,
                       result):
        began = time.monotonic()
        big_id = side.create(name, build('independent', args.big_size))
        created[big_id] = (name, None)
        done = 0
        while (done < args.big_size // 10 and
               time.monotonic() < began + args.timeout and
               not settled(side.state(big_id), 'CREATE')):
            time.sleep(0.1)
            done = side.resource_statuses(big_id, 'CREATE').get(
                'COMPLETE', 0)
        result.update(big_done_before=done,
                      big_seconds_before=round(time.monotonic() - began, 2))
        stacks, api_seconds, errors = settle(
            side, 'CREATE', create_calls(side, n, args, created),
            args.timeout, started={big_id: began})
        big = stacks.pop(big_id)
        summarise(result, 'CREATE', stacks, api_seconds, errors,
                  args.timeout)
    row = big.get('row')
    result['big_seconds'] = big.get('seconds')
    result['big_outcome'] = ('%s_%s' % (row.action, row.status) if row
                             else 'timeout after %ds' % args.timeout)
    deleted = {}
    summarise(deleted, 'DELETE', *settle(side, 'DELETE',
                                         delete_calls(side, created),
                                         args.timeout), args.timeout)
    result['delete_outcome'] = deleted['outcome']
    return [result]


def cleanup(side, name, stack_id, args):
    """Delete the stack and wait for it to go.

    Heat drops a delete it cannot store because the failed traversal before
    it was still being purged (its engine logs "Failed to store stack ...
    aborting stack DELETE" after the API call returned): a delete that has
    not started within DELETE_START seconds is asked again.
    """
    for _ in range(DELETE_CALLS):
        side.delete(name, stack_id)
        deadline = time.monotonic() + DELETE_START
        while time.monotonic() < deadline:
            row = side.state(stack_id)
            if row is None or row.action == 'DELETE':
                side.wait(stack_id, 'DELETE', args.timeout)
                return
            time.sleep(0.5)
        print('%s: the delete of %s did not start; asking again' % (
            side.name, name), file=sys.stderr)


TABLE_ROW = ('%-19s %5s %9s %9s %8s %11s %11s %11s %8s %11s %9s %9s %9s '
             '%9s %11s')


def table(results):
    rows = {}
    for r in results:
        rows.setdefault((r['workload'], r['n']), {})[r['side']] = r
    out = [TABLE_ROW % (
        'workload', 'N', 'stock s', 'ours s', 'ratio', 'nodes/s',
        'stmts/res', 'sync/res', 'own/node', 'casts/res', 'edges', 'arrivals',
        'conflicts', 'RSS MB', 'level s')]
    for (workload, n), sides in sorted(
            rows.items(), key=lambda i: (ROWS.index(i[0][0]), i[0][1])):
        stock, ours = sides.get('stock', {}), sides.get('ours', {})

        def secs(r):
            if 'seconds' in r and r.get('outcome', '').endswith(
                    ('COMPLETE', 'FAILED')):
                return '%.1f' % r['seconds']
            return r.get('outcome', '-')[:9] if r else '-'

        ratio = '-'
        if stock.get('seconds') and ours.get('seconds') and \
                'timeout' not in stock.get('outcome', ''):
            ratio = '%.1fx' % (stock['seconds'] / ours['seconds'])

        def pair(key):
            return '%s/%s' % (stock.get(key, '-'), ours.get(key, '-'))

        out.append(TABLE_ROW % (
            workload, n, secs(stock), secs(ours), ratio,
            pair('nodes_per_second'), pair('statements_per_resource'),
            pair('sync_statements_per_resource'),
            ours.get('own_statements_per_node', '-'),
            pair('casts_per_resource'), pair('stored_edges'),
            pair('arrival_updates'), pair('conflicts'), pair('peak_rss_mb'),
            pair('level_seconds')))
    return '\n'.join(out)


CHAOS_ROW = '%-24s %5s %-5s %8s %8s %9s %6s %9s  %s'


def chaos_table(results):
    """The chaos workloads' own figures, a row per phase ('' if none ran).

    The calm run's seconds, the killed run's, what the kills added, the
    kills that landed in the phase and what the checks found.
    """
    rows = [r for r in results if r['workload'] in CHAOS_PHASES +
            CHAOS_MAGNUM_PHASES and 'problems' in r]
    if not rows:
        return ''
    out = [CHAOS_ROW % ('workload', 'N', 'side', 'calm s', 'killed s',
                        'added s', 'kills', 'problems', 'outcome')]
    for r in rows:
        calm = r.get('calm_seconds', r.get('seconds')
                     if r['side'] == 'stock' else None)
        out.append(CHAOS_ROW % (
            r['workload'], r['n'], r['side'], calm if calm is not None
            else '-', r.get('seconds', '-') if r['side'] == 'ours' else '-',
            r.get('recovery_added', '-'), r.get('kills', '-'),
            r['problems'] + (r.get('calm_problems') or 0), r['outcome']))
    return '\n'.join(out)


MANY_ROW = ('%-16s %5s %5s %-5s %10s %6s %7s %7s %9s %5s %6s %8s %9s %7s '
            '%6s %16s %5s')


def many_table(results):
    """The many workloads' own figures, a row per side ('' if none ran).

    The ratio is ours' stacks per minute over stock's; "API s" is until
    the last API call returned; "CPU s api/eng/db" the CPU seconds of
    heat-api, the engines and MariaDB in the phase; "load" the load
    average at its end.
    """
    rows = [r for r in results if 'stacks_per_minute' in r]
    if not rows:
        return ''
    per_minute = {(r['workload'], r['n'], r['side']): r['stacks_per_minute']
                  for r in rows}
    out = [MANY_ROW % ('workload', 'N', 'size', 'side', 'stacks/min',
                       'ratio', 'p50 s', 'p99 s', 'slowest s', 'lost',
                       'failed', 'API errs', 'DB errors', 'big s',
                       'API s', 'CPU s api/eng/db', 'load')]
    for r in sorted(rows, key=lambda r: (ROWS.index(r['workload']), r['n'],
                                         r['side'] != 'stock')):
        stock = per_minute.get((r['workload'], r['n'], 'stock'))
        ratio = ('%.1fx' % (r['stacks_per_minute'] / stock)
                 if r['side'] == 'ours' and stock else '-')
        out.append(MANY_ROW % (
            r['workload'], r['n'], r['stack_size'], r['side'],
            r['stacks_per_minute'], ratio, r.get('p50_s', '-'),
            r.get('p99_s', '-'), r.get('slowest_s', '-'), r['lost'],
            r['failed'], r['api_errors'], r['db_errors'],
            r.get('big_seconds') or '-', r.get('api_seconds', '-'),
            '/'.join(str(r.get('cpu_s', {}).get(part, '-'))
                     for part in ('api', 'engines', 'db')),
            r.get('load_average', '-')))
    return '\n'.join(out)


GALERA_ROW = '%-24s %6s %-5s %9s %9s %9s %9s'


def galera_table(results):
    """Each phase's conflicts on the cluster ('' without a cluster)."""
    rows = [r for r in results if WSREP_CONFLICTS[0] in r]
    if not rows:
        return ''
    out = [GALERA_ROW % ('workload', 'N', 'side', 's', 'cert fail',
                         'bf abort', 'retries')]
    for r in sorted(rows, key=lambda r: (ROWS.index(r['workload']), r['n'],
                                         r['side'])):
        out.append(GALERA_ROW % (
            r['workload'], r['n'], r['side'], r.get('seconds', '-'),
            r['wsrep_local_cert_failures'], r['wsrep_local_bf_aborts'],
            r['db_retries']))
    return '\n'.join(out)


def galera_cluster(parser, args):
    """The running test cluster for ``--galera-writers``, or None."""
    if not args.galera_writers:
        return None
    if not args.no_statements:
        parser.error('--galera-writers counts no statements (each node '
                     'logs its own): add --no-statements')
    cluster = galera.GaleraCluster(os.path.abspath(args.galera_base_dir))
    down = [node for node in range(cluster.nodes)
            if cluster.status(node).get('wsrep_local_state_comment') !=
            'Synced']
    if down:
        parser.error('Galera node(s) %s not Synced under %s: start the '
                     'cluster with tools/galera start' % (
                         ', '.join(map(str, down)), cluster.base_dir))
    return cluster


def add_level_seconds(results):
    """nested-depth: the seconds each level adds, on each side.

    The time at a depth minus the time at the depth below it, when the run
    measured that one too; for the create and the update each.
    """
    seconds = {(r['workload'], r['side'], r['n']): r['seconds']
               for r in results
               if r['workload'] in NESTED_PHASES and 'seconds' in r}
    for r in results:
        below = seconds.get((r['workload'], r['side'], r['n'] - 1))
        if r['workload'] in NESTED_PHASES and 'seconds' in r and \
                below is not None:
            r['level_seconds'] = round(r['seconds'] - below, 2)


def add_conflicts(results):
    """SyncPoint write conflicts: arrival updates beyond one per arrival.

    Each arrival at a node (one per stored edge, plus one per root at the
    stack's own point) takes one successful update; stock Heat's
    compare-and-swap is retried on conflict, our counter decrement cannot
    conflict.
    """
    for r in results:
        if 'arrival_updates' in r and 'stored_edges' in r:
            r['conflicts'] = (r['arrival_updates'] - r['stored_edges'] -
                              r['roots'])


def versions():
    out = {}
    for dist in ('openstack-heat', 'heat-convergence', 'oslo.db',
                 'oslo.messaging', 'SQLAlchemy'):
        try:
            from importlib import metadata
            out[dist] = metadata.version(dist)
        except Exception:
            out[dist] = None
    with subprocess.Popen(['mysql', '--version'],
                          stdout=subprocess.PIPE, text=True) as proc:
        out['mariadb'] = proc.stdout.read().strip()
    return out


def exit_on_sigterm():
    """Turn SIGTERM into SystemExit, so the Heat processes are stopped.

    Further SIGTERMs are ignored: one forwarded by ``timeout``, or a second
    ``pkill``, would otherwise interrupt that cleanup half way and leave
    one side's processes running.
    """
    def stop(signum, _frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def conf_setting(text):
    """Parse SECTION.OPTION=VALUE into (section, option, value)."""
    name, equals, value = text.partition('=')
    section, dot, option = name.partition('.')
    if not (equals and dot and section and option):
        raise argparse.ArgumentTypeError(
            'expected SECTION.OPTION=VALUE, got %r' % text)
    return section, option, value


def max_overflow(threads):
    """[database] max_overflow: as many connections as worker threads."""
    return max(POOL_SIZE, threads - POOL_SIZE)


def enough_connections(admin, args):
    """Raise MariaDB's max_connections to what the engines may open.

    Heat raises each engine process's ``max_overflow`` to its
    ``executor_thread_pool_size``: two engines of 64 threads may hold 160
    connections, beyond MariaDB's default of 151, and "Too many
    connections" fails a resource (seen on a Magnum-shaped create of 100
    nodes). Deployments size the server for their engines; so does the
    bench, for the server it runs on.
    """
    threads = max(executor_threads(args, side) for side in ('stock', 'ours'))
    per_process = POOL_SIZE + max(max_overflow(threads), threads)
    needed = (args.engines * args.workers + 1) * per_process + 50
    with admin.connect() as conn:
        current = int(conn.execute(sa.text(
            'SELECT @@GLOBAL.max_connections')).scalar())
        if current < needed:
            conn.execute(sa.text('SET GLOBAL max_connections = %d' % needed))
            print('MariaDB max_connections raised from %d to %d' % (
                current, needed), file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.splitlines()[2:]))
    parser.add_argument('--side', choices=('both', 'stock', 'ours'),
                        default='both')
    parser.add_argument('--sizes', default='50,200',
                        type=lambda s: [int(x) for x in s.split(',')])
    parser.add_argument('--workloads', default=','.join(DEFAULT_WORKLOADS),
                        type=lambda s: s.split(','))
    parser.add_argument('--depths', default='1,2,3,4,5',
                        type=lambda s: [int(x) for x in s.split(',')],
                        help='The depths nested-depth runs at.')
    parser.add_argument('--seed', type=int, default=1,
                        help='The seed of the random workload\'s stack and '
                             'of its update.')
    parser.add_argument('--stack-size', type=int, default=40,
                        help='Resources of each of the stacks many and '
                             'many-beside-big create together.')
    parser.add_argument('--big-size', type=int, default=5000,
                        help='Resources of the big stack of '
                             'many-beside-big.')
    parser.add_argument('--kill-interval', default='10,20',
                        type=lambda s: tuple(float(x) for x in s.split(',')),
                        help='MIN,MAX: seconds between two kills of the '
                             'chaos workloads (drawn from --seed).')
    parser.add_argument('--engines', type=int, default=2)
    parser.add_argument('--api-processes', type=int, metavar='N',
                        help='Run heat-api under uWSGI with N processes of '
                             'one thread (Heat\'s heat.wsgi.api, as '
                             'operators run it), on both sides; the many '
                             'workloads then make N API calls at a time. '
                             'Default: heat-wsgi-api, one request at a '
                             'time, and %d calls at a time, as the figures '
                             'before this option.' % SUBMIT_THREADS)
    parser.add_argument('--workers', type=int, default=1)
    parser.add_argument('--stock-max', type=int, default=200,
                        help='Largest N stock runs the leaf-heavy and dense '
                             'workloads at (1 s per leaf), and the largest '
                             'big stack of many-beside-big.')
    parser.add_argument('--executor-threads', type=int,
                        default=DEFAULT_EXECUTOR_THREADS,
                        help='executor_thread_pool_size of each engine.')
    parser.add_argument('--stock-executor-threads', type=int,
                        help='executor_thread_pool_size of the stock '
                             "engines, where it differs from ours' (stock "
                             'needs a thread per nested stack waited for; '
                             'ours does not).')
    parser.add_argument('--timeout', type=int, default=900)
    parser.add_argument('--no-statements', action='store_true',
                        help='Do not count DB statements (MariaDB general '
                             'log).')
    parser.add_argument('--repeat', type=int, default=1,
                        help='Run each of %s this many times and report '
                             'the median time (every run\'s is in the '
                             'JSON).' % ', '.join(REPEATABLE))
    parser.add_argument('--no-warm-up', action='store_true',
                        help='Measure from a cold start: do not first '
                             'create and delete a stack of %d resources '
                             'on each side.' % WARM_UP_SIZE)
    parser.add_argument('--json', help='Also write the results here.')
    parser.add_argument('--set', metavar='SECTION.OPTION=VALUE',
                        type=conf_setting, action='append', default=[],
                        help='Set an option in both sides\' heat.conf, '
                             'e.g. heat_convergence.dispatch_window=0 '
                             '(repeatable).')
    parser.add_argument('--keep-logs', metavar='DIR',
                        help='Copy each side\'s heat-api and engine logs '
                             'to DIR/<side> when it stops, and each '
                             'action\'s statements (MariaDB\'s general '
                             'log) to DIR/statements.')
    parser.add_argument('--galera-writers', action='store_true',
                        help='Run on the Galera cluster of tools/galera, '
                             'engine i writing to node i; report its '
                             'conflicts.')
    parser.add_argument('--galera-base-dir', default=galera.DEFAULT_BASE_DIR,
                        help='Where tools/galera keeps that cluster '
                             '(default %(default)s).')
    args = parser.parse_args()
    exit_on_sigterm()
    if args.repeat < 1:
        parser.error('--repeat must be at least 1')
    if args.api_processes is not None and args.api_processes < 1:
        parser.error('--api-processes must be at least 1')
    if args.executor_threads < 1 or (args.stock_executor_threads is not None
                                     and args.stock_executor_threads < 1):
        parser.error('--executor-threads and --stock-executor-threads must '
                     'be at least 1')
    unknown = set(args.workloads) - set(WORKLOADS)
    if unknown:
        parser.error('unknown workloads: %s' % ', '.join(sorted(unknown)))

    args.cluster = galera_cluster(parser, args)
    servers = ([args.cluster.url(node) for node in range(args.cluster.nodes)]
               if args.cluster else [cloud.MYSQL_URL])
    for server in servers:
        admin = sa.create_engine(server, isolation_level='AUTOCOMMIT')
        enough_connections(admin, args)
    general_log = None if args.no_statements else GeneralLog(
        admin, '/tmp/heat-convergence-bench-general.log')
    results = []
    sides = ('stock', 'ours') if args.side == 'both' else (args.side,)
    started = time.time()
    results.extend(run_sides(sides, args, general_log))
    add_conflicts(results)
    add_level_seconds(results)
    print()
    print(table(results))
    for extra in (many_table(results), chaos_table(results),
                  galera_table(results)):
        if extra:
            print()
            print(extra)
    report = {'machine': {'platform': platform.platform(),
                          'cpus': os.cpu_count(),
                          'python': platform.python_version()},
              'versions': versions(),
              'settings': {'engines': args.engines,
                           'api': ('uwsgi' if args.api_processes
                                   else 'heat-wsgi-api'),
                           'api_processes': args.api_processes,
                           'submit_threads': submit_threads(args),
                           'warm_up': not args.no_warm_up,
                           'workers': args.workers,
                           'stock_max': args.stock_max,
                           'repeat': args.repeat,
                           'seed': args.seed,
                           'stack_size': args.stack_size,
                           'big_size': args.big_size,
                           'kill_interval': args.kill_interval,
                           'galera_writers': args.galera_writers,
                           'timeout': args.timeout,
                           'executor_threads': {
                               side: executor_threads(args, side)
                               for side in ('stock', 'ours')}},
              'wall_seconds': round(time.time() - started),
              'results': results}
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
        print('\nWrote %s' % args.json)
    return 1 if any(r.get('outcome', '').startswith('outputs wrong') or
                    r.get('lost') or r.get('db_errors') or
                    r.get('problems') or r.get('calm_problems')
                    for r in results) else 0


if __name__ == '__main__':
    sys.exit(main())
