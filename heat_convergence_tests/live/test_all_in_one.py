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

"""heat-convergence-all: embedded default, heat.conf, clean shutdown."""

import json
import os
import signal
import subprocess
import tempfile

import testtools
from testtools import content

from heat_convergence_tests.live import cloud

TEMPLATE = {
    'heat_template_version': '2018-08-31',
    'resources': {
        'a': {'type': 'OS::Heat::TestResource'},
        'b': {'type': 'OS::Heat::TestResource',
              'properties': {'value': {'get_resource': 'a'}}},
    },
}


class AllInOne(object):

    def __init__(self, test, *args):
        self.dir = tempfile.mkdtemp(prefix='hc-aio-')
        test.addCleanup(cloud.shutil.rmtree, self.dir, True)
        self.port = cloud._free_port()
        self.out = os.path.join(self.dir, 'out.log')
        with open(self.out, 'w') as out:
            self.proc = subprocess.Popen(
                [cloud._bin('heat-convergence-all'), '--data-dir',
                 os.path.join(self.dir, 'data'), '--port', str(self.port)] +
                list(args), stdout=out, stderr=subprocess.STDOUT)
        test.addCleanup(self.kill)
        # On failure, its output and logs are the only explanation left:
        # its directory goes with the test.
        test.addOnException(lambda exc_info: self.attach(test))
        cloud.wait_for(self.listening, 120, what='heat-convergence-all')
        self.env = dict(os.environ, OS_AUTH_TYPE='none',
                        OS_ENDPOINT='http://127.0.0.1:%d/v1/admin' %
                        self.port)

    def listening(self):
        if self.proc.poll() is not None:
            raise AssertionError('heat-convergence-all exited: %s' %
                                 self.output())
        try:
            with cloud.socket.create_connection(('127.0.0.1', self.port),
                                                1):
                return True
        except OSError:
            return False

    def output(self):
        with open(self.out) as f:
            return f.read()

    def attach(self, test):
        """Attach its output and its log files to ``test``."""
        test.addDetail('heat-convergence-all output',
                       content.text_content(self.output()))
        log_dir = os.path.join(self.dir, 'data', 'log')
        if not os.path.isdir(log_dir):
            return
        for name in sorted(os.listdir(log_dir)):
            test.addDetail('log:%s' % name, content.content_from_file(
                os.path.join(log_dir, name), buffer_now=True))

    def openstack(self, *args):
        return subprocess.run([cloud.openstack_cli()] + list(args),
                              env=self.env, capture_output=True, text=True,
                              check=True).stdout

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def create_and_delete(self):
        path = os.path.join(self.dir, 't.yaml')
        with open(path, 'w') as f:
            json.dump(TEMPLATE, f)
        self.openstack('stack', 'create', '--wait', '-t', path, 'aio')
        stack = json.loads(self.openstack('stack', 'show', 'aio', '-f',
                                          'json'))
        self.openstack('stack', 'delete', '--yes', '--wait', 'aio')
        return stack


class TestAllInOne(testtools.TestCase):

    def test_embedded_default(self):
        aio = AllInOne(self)
        self.assertEqual('CREATE_COMPLETE',
                         aio.create_and_delete()['stack_status'])
        data = os.path.join(aio.dir, 'data')
        self.assertTrue(os.path.exists(os.path.join(data, 'heat.sqlite')))
        # Clean shutdown on SIGTERM.
        aio.proc.send_signal(signal.SIGTERM)
        self.assertEqual(0, aio.proc.wait(60))
        self.assertIn('heat-convergence-all stopped.', aio.output())

        # Restarting on the same data directory keeps the database.
        again = AllInOne(self, '--data-dir', data)
        self.assertEqual([], json.loads(again.openstack('stack', 'list',
                                                        '-f', 'json')))
        again.proc.send_signal(signal.SIGINT)
        self.assertEqual(0, again.proc.wait(60))

    def test_with_heat_conf_on_mariadb_and_rabbitmq(self):
        heat = self.useFixture(cloud.HeatCloud(engines=0))
        conf = os.path.join(heat.dir, 'aio.conf')
        with open(conf, 'w') as f:
            f.write('[DEFAULT]\ntransport_url = %s\n[database]\n'
                    'connection = %s\n' % (heat.transport_url, heat.db_url))
        aio = AllInOne(self, '--config-file', conf)
        self.assertEqual('CREATE_COMPLETE',
                         aio.create_and_delete()['stack_status'])
        self.assertEqual(['all-in-one'], [r[0] for r in heat.query(
            "SELECT host FROM service WHERE topic = 'engine'")])

    def test_port_in_use_is_a_clear_error(self):
        aio = AllInOne(self)
        proc = subprocess.run(
            [cloud._bin('heat-convergence-all'), '--data-dir',
             os.path.join(aio.dir, 'other'), '--port', str(aio.port)],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(1, proc.returncode)
        self.assertIn('ERROR: cannot listen on 127.0.0.1:%d' % aio.port,
                      proc.stderr)
        self.assertNotIn('Traceback', proc.stderr)
