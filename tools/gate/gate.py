#!/usr/bin/env python3
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

"""The local gate: Heat's functional suite against heat-convergence-engine.

Brings up keystone, heat-api and two engines on this machine (MariaDB and
RabbitMQ are the machine's), runs Heat's functional tests, the
heat-tempest-plugin tests and this project's tempest plugin with stestr as
the upstream job does, prints the counts and wall time beside the last
result of the other engine (the stock heat-engine control), and tears
everything down. It fails if any test that passed on stock fails on ours.

Run it as ``tox -e gate [-- options]``; see ``--help`` and
doc/source/gate.rst.
"""

import argparse
import datetime
import fcntl
import os
import shutil
import signal
import sys
import time

import cloud
import configs
import procs
import results
import selection
import suites

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BASELINE = os.path.join(HERE, 'baseline-stock.json')
CONTROL = 'stock'

# Kept between runs: summaries, and stestr repositories (their timing data
# lets stestr balance the workers on the next run).
KEEP = ('results', 'stestr', 'gate.lock')


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog='tox -e gate --',
        description='Run Heat\'s functional suite and the heat-convergence '
                    'tempest plugin against a local keystone + heat-api + '
                    'two engines.')
    p.add_argument('filters', nargs='*', metavar='REGEX',
                   help='run only tests matching these regexes (stestr '
                        'filters), e.g. "test_resource_chain|test_heat_api"')
    p.add_argument('--engine', choices=sorted(cloud.ENGINES),
                   default='reduced',
                   help='reduced: heat-convergence-engine with the reduced '
                        'driver (default); heat: heat-convergence-engine '
                        'with the heat driver; stock: heat-engine (the '
                        'control)')
    p.add_argument('--suite', choices=('all', 'heat', 'convergence'),
                   default='all',
                   help='heat: Heat\'s functional suite and heat-tempest-'
                        'plugin; convergence: this project\'s plugin')
    p.add_argument('--stock-cancel', action='store_true',
                   help='[heat_convergence] cancel_running_actions = False: '
                        'stack cancel lets running actions finish, as '
                        'stock Heat (and run Heat\'s tests of that)')
    p.add_argument('--concurrency', type=int, default=3)
    p.add_argument('--engines', type=int, default=2,
                   help='number of engine processes (default 2)')
    p.add_argument('--engine-workers', type=int, default=1,
                   help='num_engine_workers of each engine (default 1)')
    p.add_argument('--engine-kill', action='store_true',
                   help='also run the test that SIGKILLs an engine mid-'
                        'stack (alone, after the other tests)')
    p.add_argument('--state-dir', default=os.path.join(REPO, '.run', 'gate'))
    p.add_argument('--mysql-url',
                   default=os.environ.get('HC_TEST_MYSQL_URL',
                                          'mysql+pymysql://root@127.0.0.1:'
                                          '3306/'),
                   help='MariaDB account that can create databases and '
                        'users (default: $HC_TEST_MYSQL_URL or root on '
                        '127.0.0.1)')
    p.add_argument('--keystone-port', type=int, default=5050)
    p.add_argument('--heat-port', type=int, default=8014)
    p.add_argument('--debug', action='store_true',
                   help='debug logging in keystone, heat-api and engines')
    p.add_argument('--keep', action='store_true',
                   help='keep configs and logs after a successful run')
    p.add_argument('--update-baseline', action='store_true',
                   help='with --engine stock and the full selection: store '
                        'this run as tools/gate/baseline-stock.json')
    args = p.parse_args(argv)
    if args.concurrency < 1 or args.engines < 1 or args.engine_workers < 1:
        p.error('--concurrency, --engines and --engine-workers must be >= 1')
    if args.update_baseline and (args.engine != CONTROL or args.filters or
                                 args.suite != 'all'):
        p.error('--update-baseline needs --engine stock, no REGEX filter '
                'and --suite all')
    if args.engine_kill and args.engines < 2:
        p.error('--engine-kill needs --engines 2 or more')
    return args


class Clock(object):

    def __init__(self):
        self.start = time.monotonic()

    def elapsed(self):
        return time.monotonic() - self.start

    def log(self, message):
        minutes, seconds = divmod(int(self.elapsed()), 60)
        print('[gate %02d:%02d] %s' % (minutes, seconds, message), flush=True)


def _terminate(signum, frame):
    raise KeyboardInterrupt('signal %d' % signum)


def prepare_state_dir(run):
    os.makedirs(run.state_dir, exist_ok=True)
    for entry in os.listdir(run.state_dir):
        if entry in KEEP or entry in ('pids', 'state.json'):
            continue
        path = run.path(entry)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    for sub in ('etc/keystone', 'etc/heat', 'keystone', 'logs', 'pids',
                'lock', 'bin', 'tempest/etc', 'results', 'stestr'):
        os.makedirs(run.path(sub), exist_ok=True)


def clean_after_success(run):
    for entry in os.listdir(run.state_dir):
        if entry not in KEEP:
            path = run.path(entry)
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)


def selection_name(args):
    name = 'full'
    if args.filters or args.suite != 'all':
        name = ' '.join(['suite: %s' % args.suite] + args.filters)
    return name + (' (stock cancel)' if args.stock_cancel else '')


def other_summary(run, summary):
    """The summary to compare with: the control for ours, ours for it."""
    if run.engine == CONTROL:
        return results.load(run.path('results', 'reduced.json'))
    local = results.load(run.path('results', CONTROL + '.json'))
    if local and local.get('selection') == summary['selection']:
        return local
    return results.load(BASELINE) or local


def report(run, summary, other):
    print()
    print('=' * 72)
    print('heat-convergence gate report')
    columns = [('this run', summary)]
    if other:
        columns.append(('%s (%s)' % (other['engine'], other['finished'][:10]),
                        other))
    for line in results.format_table(columns):
        print(line)
    failed = sorted(t for t, s in summary['tests'].items()
                    if s == results.FAILED)
    status = 0
    if run.engine != CONTROL and other:
        bad = results.regressions(summary, other)
        theirs = other['tests']
        known = [t for t in failed if theirs.get(t) == results.FAILED]
        new = [t for t in failed if t not in bad and t not in known]
        for title, tests in (('REGRESSIONS (passed on stock, fail here)',
                              bad),
                             ('failed here, not run or skipped on stock',
                              new),
                             ('failed here and on stock (not counted)',
                              known)):
            if tests:
                print('%s:' % title)
                for t in tests:
                    print('  ' + t)
        status = 1 if bad or new else 0
    else:
        if failed:
            print('failed:')
            for t in failed:
                print('  ' + t)
        status = 1 if failed else 0
        if other:
            # Informational: the last run of ours against this control.
            bad = results.regressions(other, summary)
            if bad:
                print('%s fails these tests that pass here:' % other['engine'])
                for t in bad:
                    print('  ' + t)
    if not summary['tests']:
        print('no test ran (check the REGEX filters)')
        status = 1
    print('=' * 72)
    return status


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    clock = Clock()
    run = cloud.Run(args)
    os.makedirs(run.state_dir, exist_ok=True)
    lock = open(run.path('gate.lock'), 'w')
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit('ERROR: another gate run holds %s' % run.path('gate.lock'))
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    started = datetime.datetime.now(datetime.timezone.utc)
    the_cloud = cloud.Cloud(run, clock.log)
    ok = False
    summary = None
    try:
        the_cloud.clean_leftovers()
        prepare_state_dir(run)
        the_cloud.preflight()
        run.skip_list = selection.skip_entries(run.interrupting_cancel)
        what = run.engine_binary
        if args.engine != CONTROL:
            what += ', driver %s' % run.driver
        clock.log('engine: %s (%s), %d x %d worker(s); state in %s'
                  % (args.engine, what, args.engines, args.engine_workers,
                     run.state_dir))
        the_cloud.create_infra()
        clock.log('MariaDB databases %s, %s and RabbitMQ vhost %s created'
                  % (run.keystone_db, run.heat_db, run.vhost))
        the_cloud.start_keystone()
        clock.log('keystone up on %s, heat accounts created'
                  % run.keystone_url)
        the_cloud.start_heat()
        clock.log('heat-api up on port %d; %d %s processes registered'
                  % (run.heat_port, args.engines, run.engine_binary))
        configs.write_ini(run.path('tempest/etc/tempest.conf'),
                          configs.tempest_conf(run))
        setup_seconds = clock.elapsed()
        tests = suites.run_all(run, args, the_cloud, clock)
        summary = {
            'engine': args.engine,
            'engine_binary': run.engine_binary,
            'driver': run.driver if args.engine != CONTROL else '-',
            'selection': selection_name(args),
            'concurrency': args.concurrency,
            'engines': '%d x %d' % (args.engines, args.engine_workers),
            'started': started.isoformat(timespec='seconds'),
            'setup_seconds': round(setup_seconds, 1),
            'test_seconds': round(clock.elapsed() - setup_seconds, 1),
            'tests': tests,
            'counts': results.counts(tests),
        }
        ok = True
    except KeyboardInterrupt:
        clock.log('interrupted; tearing down')
    except (cloud.GateError, procs.ServiceError, suites.SuiteError) as exc:
        clock.log('ERROR: %s' % exc)
    finally:
        clock.log('tearing down')
        try:
            the_cloud.teardown()
        except Exception as exc:
            clock.log('ERROR during teardown: %s' % exc)
            ok = False
    if not ok or summary is None:
        if os.path.isdir(run.log_dir) and os.listdir(run.log_dir):
            print('gate FAILED; logs kept in %s' % run.log_dir)
        else:
            print('gate FAILED')
        return 1

    summary['wall_seconds'] = round(clock.elapsed(), 1)
    summary['finished'] = datetime.datetime.now(
        datetime.timezone.utc).isoformat(timespec='seconds')
    results.save(summary, run.path('results', args.engine + '.json'))
    if args.update_baseline:
        results.save(summary, BASELINE)
        clock.log('stored as the stock baseline: %s' % BASELINE)
    status = report(run, summary, other_summary(run, summary))
    if status:
        print('gate FAILED; logs kept in %s' % run.log_dir)
    elif args.keep:
        print('gate passed; logs in %s' % run.log_dir)
    else:
        clean_after_success(run)
        print('gate passed')
    return status


if __name__ == '__main__':
    sys.exit(main())
