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

"""MariaDB and RabbitMQ restart in the middle of a traversal.

These restart the machine's shared MariaDB and RabbitMQ, so they must run
alone: ``tox -e live`` runs this module after the others, with concurrency
1. The engines reconnect (oslo.db, oslo.messaging); messages lost with the
broker's queues are dispatched again by the recovery pass. The stack either
completes, or fails with a clear reason within its timeout: it is never left
IN_PROGRESS, and no resource is left locked.
"""

import socket
import subprocess
import time

from heat_convergence_tests.live import cloud
from heat_convergence_tests.live import test_recovery

COUNT = 60

# How a stack may fail across an outage of the database or the broker.
FAILURE_REASON = (r'^(Timed out|Resource CREATE failed: (DBConnectionError|'
                  r'DBError|DBDeadlock|OperationalError|MessagingTimeout|'
                  r'MessageDeliveryFailure)\b)')


def port_open(port):
    try:
        with socket.create_connection(('127.0.0.1', port), 1):
            return True
    except OSError:
        return False


# The machine's MariaDB, not the Galera test nodes (also mariadbd).
MARIADB = ['--pidfile', '/run/mysqld/mysqld.pid', '--exec',
           '/usr/sbin/mariadbd']


def restart_mariadb():
    subprocess.run(['start-stop-daemon', '--stop', '--retry', '60'] +
                   MARIADB, check=True, capture_output=True)
    subprocess.run(['start-stop-daemon', '--start', '--oknodo',
                    '--background'] + MARIADB,
                   check=True, capture_output=True)
    cloud.wait_for(lambda: port_open(3306), 60, what='MariaDB to restart')


def restart_rabbitmq():
    for action in ('stop_app', 'start_app'):
        subprocess.run(['rabbitmqctl', '-q', action], check=True,
                       capture_output=True, timeout=120)
    cloud.wait_for(lambda: port_open(5672), 60, what='RabbitMQ to restart')


class TestServiceRestarts(test_recovery.RecoveryTestCase):

    cloud_kwargs = dict(test_recovery.RecoveryTestCase.cloud_kwargs,
                        engines=2)

    def restart_during_create(self, restart):
        self.create('restart', test_recovery.big_template(COUNT, 2),
                    '--timeout', '5')
        self.wait_for_progress(COUNT // 5)
        restart()
        restarted = time.monotonic()
        status = cloud.wait_for(lambda: self.cloud.query(
            "SELECT status, status_reason FROM stack WHERE name = 'restart' "
            "AND status <> 'IN_PROGRESS'"), 360, interval=2,
            what='the stack to leave IN_PROGRESS')
        settled = time.monotonic() - restarted
        self.addDetail('settled_in', cloud.content.text_content(
            '%.1f s after the restart: %s' % (settled, status)))
        (state, reason), = status
        if state == 'FAILED':
            # Only the stack's timeout may fail it, or a resource whose
            # own action met the outage; the reason says which.
            self.assertRegex(reason, FAILURE_REASON)
        else:
            self.assertEqual('COMPLETE', state)
            self.assert_one_live_each(COUNT)
        # A resource action that started before the stack failed may still
        # be running (Heat lets it finish): it must end, and unlock.
        cloud.wait_for(lambda: not self.cloud.query(
            "SELECT name FROM resource WHERE status = 'IN_PROGRESS' OR "
            "engine_id IS NOT NULL"), 60, interval=1,
            what='every resource to finish its action and unlock')

    def test_mariadb_restart(self):
        self.restart_during_create(restart_mariadb)

    def test_rabbitmq_restart(self):
        self.restart_during_create(restart_rabbitmq)
