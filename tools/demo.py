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

"""The heat-convergence demo: a whole Heat in one process, driven by the CLI.

Starts ``heat-convergence-all`` (sqlite, in-process messaging, no keystone)
in a data directory, then with the real ``openstack stack`` CLI: creates a
stack whose resources each depend on all earlier ones and pass data along,
shows its graph before and after redundant-edge removal, updates it with a
replacement, starts a slow update and cancels it, and deletes the stack,
printing progress and a summary with timings. Stops what it started.

Run it through ``tools/run-demo``, which prepares the environment.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import yaml

BIN = os.path.dirname(sys.executable)
N = 12


class DemoError(Exception):
    pass


def banner(text):
    print('\n== %s' % text, flush=True)


def dense_template(value, replace_first=False, slow_update=0):
    """r0..r(N-1): r(i) depends on every r(j < i) and uses r(i-1)'s data.

    Every resource also carries r0's id, although only r1 has a direct
    edge to r0 once the redundant ones are removed.
    """
    resources = {}
    for i in range(N):
        props = {'value': value if i == 0 else {'list_join': ['+', [
            {'get_attr': ['r%d' % (i - 1), 'output']},
            {'get_resource': 'r0'}]]}}
        if i == 0 and replace_first:
            props['update_replace'] = True
        if slow_update and i in (0, 1):
            props['action_wait_secs'] = {'update': slow_update}
        res = {'type': 'OS::Heat::TestResource', 'properties': props}
        if i:
            res['depends_on'] = ['r%d' % j for j in range(i)]
        resources['r%d' % i] = res
    return {'heat_template_version': '2018-08-31', 'resources': resources,
            'outputs': {'last': {'value': {'get_attr': ['r%d' % (N - 1),
                                                        'output']}}}}


def edges(dot):
    """Return 'a -> b' strings, with resource names, from DOT text."""
    labels = dict(re.findall(r'^  ("[^"]+") \[label="([^"]+)"', dot, re.M))
    return ['%s -> %s' % (labels[a], labels[b]) for a, b in
            re.findall(r'^  ("[^"]+") -> ("[^"]+");', dot, re.M)]


class Demo(object):

    def __init__(self, data_dir, port):
        self.data_dir = data_dir
        self.port = port
        self.env = dict(os.environ, OS_AUTH_TYPE='none',
                        OS_ENDPOINT='http://127.0.0.1:%d/v1/admin' % port)
        for var in ('OS_CLOUD', 'OS_AUTH_URL', 'OS_TOKEN'):
            self.env.pop(var, None)
        self.manage_conf = os.path.join(data_dir, 'manage.conf')
        self.timings = []
        self.server = None

    # Processes ---------------------------------------------------------------

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.manage_conf, 'w') as f:
            f.write('[database]\nconnection = sqlite:///%s\n' %
                    os.path.join(self.data_dir, 'heat.sqlite'))
        self.log = open(os.path.join(self.data_dir, 'all-in-one.out'), 'w')
        self.server = subprocess.Popen(
            [os.path.join(BIN, 'heat-convergence-all'), '--data-dir',
             self.data_dir, '--port', str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise DemoError('heat-convergence-all exited (%d); see %s' % (
                    self.server.returncode, self.log.name))
            try:
                with socket.create_connection(('127.0.0.1', self.port), 1):
                    return
            except OSError:
                time.sleep(0.5)
        raise DemoError('heat-convergence-all did not start listening')

    def stop(self):
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(30)
            except subprocess.TimeoutExpired:
                self.server.kill()
        self.server = None

    # The CLI ---------------------------------------------------------------

    def run(self, *args, quiet=False):
        if not quiet:
            print('$ openstack %s' % ' '.join(args), flush=True)
        proc = subprocess.run([os.path.join(BIN, 'openstack')] + list(args),
                              env=self.env, capture_output=True, text=True)
        if proc.returncode:
            raise DemoError('openstack %s failed: %s' % (
                ' '.join(args), proc.stderr.strip().splitlines()[-1:]))
        return proc.stdout

    def json(self, *args):
        return json.loads(self.run(*(args + ('-f', 'json')), quiet=True))

    def manage(self, *args):
        return subprocess.run(
            [os.path.join(BIN, 'heat-convergence-manage'), '--config-file',
             self.manage_conf] + list(args),
            capture_output=True, text=True, check=True).stdout

    def template(self, name, tmpl):
        path = os.path.join(self.data_dir, name)
        with open(path, 'w') as f:
            yaml.safe_dump(tmpl, f)
        return path

    def wait(self, stack, started, label, expected):
        """Wait for the stack to settle, printing its progress."""
        last = None
        while True:
            info = self.json('stack', 'show', stack)
            status = info['stack_status']
            if not status.endswith('IN_PROGRESS'):
                break
            progress = [line for line in self.manage(
                'traversal', 'show', stack).splitlines()
                if line.startswith('Nodes:')]
            line = progress[0][12:] if progress else status
            if line != last:
                print('   %5.1fs  %s' % (time.monotonic() - started, line),
                      flush=True)
                last = line
            time.sleep(0.5)
        took = time.monotonic() - started
        print('   %5.1fs  %s: %s' % (took, status,
                                     info['stack_status_reason']))
        self.timings.append((label, took, status))
        if status != expected:
            raise DemoError('%s ended %s, expected %s' % (label, status,
                                                          expected))
        return info

    def output(self, stack):
        return self.json('stack', 'output', 'show', stack,
                         'last')['output_value']

    # The story ---------------------------------------------------------------

    def story(self):
        stack = 'demo'
        banner('Create a stack of %d resources, each depending on all earlier '
               'ones' % N)
        self.run('stack', 'create', '-t',
                 self.template('v1.yaml', dense_template('one')), stack)
        self.wait(stack, time.monotonic(), 'create', 'CREATE_COMPLETE')
        r0 = self.json('stack', 'resource', 'show', stack, 'r0')
        last = self.output(stack)
        print('   last resource got r0\'s id %s: %s' % (
            r0['physical_resource_id'], r0['physical_resource_id'] in last))

        banner('The graph before and after redundant-edge removal')
        reduced = self.manage('traversal', 'graph', stack)
        full = self.manage('traversal', 'graph', stack, '--full')
        print('   Heat would store %d edges; heat-convergence stored %d '
              '(DOT in %s)' % (full.count(' -> '), reduced.count(' -> '),
                               self.data_dir))
        for name, dot in (('graph-full.dot', full),
                          ('graph-reduced.dot', reduced)):
            with open(os.path.join(self.data_dir, name), 'w') as f:
                f.write(dot)
        print('   stored edges: %s' % ', '.join(edges(reduced)))

        banner('Update, replacing r0: every resource gets the new r0\'s id, '
               'across the removed edges')
        self.run('stack', 'update', '-t',
                 self.template('v2.yaml', dense_template('two', True)), stack)
        self.wait(stack, time.monotonic(), 'update with replacement',
                  'UPDATE_COMPLETE')
        new_r0 = self.json('stack', 'resource', 'show', stack, 'r0')
        last = self.output(stack)
        print('   r0 replaced: %s -> %s; last resource has the new id: %s' % (
            r0['physical_resource_id'], new_r0['physical_resource_id'],
            new_r0['physical_resource_id'] in last))
        if new_r0['physical_resource_id'] not in last:
            raise DemoError('the new r0 id did not reach the last resource')

        banner('Start a slow update (r0 and r1 wait 60 s each), then cancel '
               'it')
        self.run('stack', 'update', '-t', self.template(
            'v3.yaml', dense_template('three', slow_update=60)), stack)
        started = time.monotonic()
        while self.json('stack', 'resource', 'show', stack,
                        'r0')['resource_status'] != 'UPDATE_IN_PROGRESS':
            time.sleep(0.5)
        print('   r0 is updating; cancelling')
        self.run('stack', 'cancel', stack)
        cancelled = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())
        self.wait(stack, started, 'cancel with rollback', 'ROLLBACK_COMPLETE')
        for event in self.json('stack', 'event', 'list', stack,
                               '--resource', 'r0'):
            if 'cancel' in event['resource_status_reason']:
                print('   cancel returned at %s; r0 at %s: %s "%s"' % (
                    cancelled, event['event_time'],
                    event['resource_status'],
                    event['resource_status_reason']))
        print('   (r0 would have waited 60 s; the rollback then restored '
              'the previous template)')

        banner('Delete the stack')
        self.run('stack', 'delete', '--yes', stack)
        started = time.monotonic()
        while True:
            stacks = self.json('stack', 'list')
            if not stacks:
                break
            time.sleep(0.5)
        took = time.monotonic() - started
        print('   %5.1fs  deleted' % took)
        self.timings.append(('delete', took, 'DELETE_COMPLETE'))

    def summary(self):
        banner('Summary')
        for label, took, status in self.timings:
            print('   %-26s %6.1f s  %s' % (label, took, status))
        print('   logs and graphs in %s' % self.data_dir)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--port', type=int, default=0,
                        help='API port (default: a free one)')
    parser.add_argument('--data-dir', default=os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        '.run', 'demo'), help='Where to keep the database, logs and graphs '
                              '(emptied first; default: .run/demo)')
    args = parser.parse_args()
    port = args.port
    if not port:
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
    data_dir = os.path.abspath(args.data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)
    demo = Demo(data_dir, port)
    ok = False
    try:
        banner('Starting heat-convergence-all on port %d (data in %s)' % (
            port, data_dir))
        demo.start()
        demo.story()
        demo.summary()
        ok = True
    except DemoError as exc:
        print('\nDEMO FAILED: %s (logs in %s)' % (exc, data_dir))
    except KeyboardInterrupt:
        print('\nInterrupted.')
    finally:
        demo.stop()
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
