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

"""The stestr runs of the gate.

1. Heat's functional suite (``heat_integrationtests``, shipped in the
   openstack-heat wheel), whose ``load_tests`` also brings in
   heat-tempest-plugin's tests: the command of the upstream
   ``run-heat-tests`` role, against the installed packages.
2. This project's tempest plugin (``heat_convergence_tests``).
3. With --engine-kill, the engine-kill test, alone: it kills an engine,
   which would disturb any test running beside it.
4. With the reduced driver's interrupting cancel (the default), Heat's
   cancel tests that expect a cancelled action to finish, which the
   earlier runs skip, on the same cloud with its engines restarted with
   ``cancel_running_actions = False``.

Each has its own stestr repository under ``stestr/`` in the state
directory, kept between runs for its timing data; a new one starts with the
durations of tools/test-times.json.
"""

import importlib.util
import os
import re
import subprocess
import sys

import configs
import procs
import results
import selection

GROUP_REGEX = r'heat_tempest_plugin\.tests\.api\.test_heat_api[._]([^_]+)'
ENGINE_KILL = r'heat_convergence_tests\.tests\.test_engine_kill\.'
STOCK_CANCEL_MODULE = 'heat_integrationtests.functional.test_stack_cancel.'
TEST_TIMES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'test_times.py')


class SuiteError(Exception):
    """stestr could not run a suite at all."""


def _package_dir(name):
    # Found, not imported: importing the test packages would load tempest's
    # configuration into the gate process.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SuiteError('package %s is not installed in this environment'
                         % name)
    return list(spec.submodule_search_locations)[0]


def _next_stream(repo):
    try:
        with open(os.path.join(repo, '.stestr', 'next-stream')) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 0


def _write_heat_manage_wrapper(run):
    # test_purge shells out to "heat-manage purge_deleted 0" and expects
    # devstack's /etc/heat/heat.conf; this supplies our config file.
    path = run.path('bin', 'heat-manage')
    with open(path, 'w') as f:
        f.write('#!/bin/sh\nexec %s --config-file %s "$@"\n'
                % (run.binary('heat-manage'), run.heat_conf))
    os.chmod(path, 0o755)


def stestr(run, name, package, filters, exclude, concurrency, clock,
           group_regex=None, subdir=None):
    """Run one suite; return {test_id: status} ({} if nothing matched).

    ``subdir`` limits discovery to one directory of the package; test ids
    keep their full dotted names.
    """
    repo = run.path('stestr', name)
    os.makedirs(repo, exist_ok=True)
    tool = run.binary('stestr')
    if not os.path.isdir(os.path.join(repo, '.stestr')):
        # A new repository: with the known durations in it, stestr
        # balances its workers from the first run (tools/test_times.py).
        subprocess.run([sys.executable, TEST_TIMES, 'load', '--repository',
                        os.path.join(repo, '.stestr')], check=True,
                       stdout=subprocess.DEVNULL)
    pkg_dir = _package_dir(package)
    argv = [tool, '--test-path=%s' % os.path.join(pkg_dir, subdir or ''),
            '--top-dir=%s' % os.path.dirname(pkg_dir)]
    if group_regex:
        argv.append('--group_regex=%s' % group_regex)
    argv += ['run', '--concurrency', str(concurrency)]
    if exclude:
        argv += ['--exclude-regex', exclude]
    argv += filters
    env = dict(os.environ,
               PATH=os.pathsep.join([run.path('bin'), run.bin_dir,
                                     os.environ.get('PATH', '')]),
               TEMPEST_CONFIG_DIR=run.path('tempest', 'etc'),
               PYTHONWARNINGS='ignore')
    before = _next_stream(repo)
    clock.log('running %s: %s' % (name, ' '.join(argv[1:])))
    with open(os.path.join(run.log_dir, 'stestr-%s.log' % name), 'wb') as log:
        # Its own process group, so that an interrupted gate can stop
        # stestr and all its workers at once.
        proc = subprocess.Popen(argv, cwd=repo, env=env,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            for line in proc.stdout:
                log.write(line)
                os.write(1, line)
            proc.wait()
        except BaseException:
            procs.stop_group(proc.pid, timeout=10, leader=proc)
            raise
    if _next_stream(repo) == before:
        # stestr stopped before running anything: a filter that matches
        # nothing, or an import error in discovery (its output says which).
        clock.log('%s: no tests ran (stestr status %d)'
                  % (name, proc.returncode))
        return {}
    last = subprocess.run([tool, 'last', '--subunit'], cwd=repo,
                          capture_output=True)
    return results.parse_subunit(last.stdout)


def _stock_cancel(run, args, cloud, clock):
    """Heat's tests of a cancel that lets the running action finish.

    Returns {} without restarting anything when REGEX filters exclude them.
    """
    ids = [STOCK_CANCEL_MODULE + name
           for name in selection.stock_cancel_entries()]
    if args.filters and not any(re.search(f, test_id)
                                for f in args.filters for test_id in ids):
        return {}
    clock.log('restarting the engines with cancel_running_actions = False')
    run.cancel_running_actions = run.interrupting_cancel = False
    run.skip_list = selection.skip_entries(run.interrupting_cancel)
    cloud.restart_engines()
    configs.write_ini(run.path('tempest/etc/tempest.conf'),
                      configs.tempest_conf(run))
    return stestr(run, 'stock-cancel', 'heat_integrationtests',
                  [re.escape(test_id) + r'\b' for test_id in ids], None,
                  args.concurrency, clock, group_regex=GROUP_REGEX)


def run_all(run, args, cloud, clock):
    _write_heat_manage_wrapper(run)
    tests = {}
    if args.suite in ('all', 'heat'):
        tests.update(stestr(run, 'heat', 'heat_integrationtests', args.filters,
                            None, args.concurrency, clock,
                            group_regex=GROUP_REGEX))
        cloud.check_services()
    if args.suite in ('all', 'convergence'):
        # tests/ only: live/ starts Heats of its own (tox -e functional).
        tests.update(stestr(run, 'convergence', 'heat_convergence_tests',
                            args.filters, ENGINE_KILL, args.concurrency,
                            clock, subdir='tests'))
        cloud.check_services()
        if args.engine_kill:
            # Alone (concurrency 1, nothing else running): the kill would
            # disturb other tests. REGEX filters do not apply here.
            tests.update(stestr(run, 'engine-kill', 'heat_convergence_tests',
                                [ENGINE_KILL], None, 1, clock,
                                subdir='tests'))
    if args.suite in ('all', 'heat') and run.interrupting_cancel:
        # Last: it restarts the engines with another setting.
        tests.update(_stock_cancel(run, args, cloud, clock))
        cloud.check_services()
    return tests
