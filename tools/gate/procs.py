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

"""The gate's long-running processes: start, watch, stop.

Each service runs in its own session (process group), so that stopping it
also stops the workers it forked (uWSGI workers, engine workers) and
nothing outlives the gate. Every group is recorded in a pid file under the
state directory: a gate that was killed outright (SIGKILL, a lost
terminal) leaves them behind, and the next run stops them before it starts
anything.
"""

import os
import signal
import socket
import subprocess
import time


class ServiceError(Exception):
    """A service did not start or died; the message says which and why."""


def port_open(port, host='127.0.0.1'):
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().replace(b'\0', b' ').decode(errors='replace')
    except OSError:
        return None


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pgid, timeout=20, leader=None):
    """SIGTERM a process group, then SIGKILL what is left after timeout.

    ``leader`` is the group leader's Popen when it is our child: it must be
    reaped while waiting, or its zombie keeps the group "alive".
    """
    signal_group(pgid, signal.SIGTERM)
    wait_group(pgid, time.monotonic() + timeout, leader)


def signal_group(pgid, signum):
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def wait_group(pgid, deadline, leader=None):
    """Wait for a group to be gone; SIGKILL it at ``deadline``."""
    while time.monotonic() < deadline:
        if leader is not None:
            leader.poll()
        if not _group_alive(pgid):
            return
        time.sleep(0.2)
    signal_group(pgid, signal.SIGKILL)
    if leader is not None:
        leader.wait()


class Service(object):
    """One process group started by the gate, logging to one file."""

    def __init__(self, name, argv, log_path, pid_dir, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.pid_file = os.path.join(pid_dir, name + '.pid')
        self.env = env
        self.cwd = cwd
        self.proc = None

    def start(self):
        with open(self.log_path, 'ab') as log:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                start_new_session=True)
        with open(self.pid_file, 'w') as f:
            f.write('%d\n' % self.proc.pid)

    def check_running(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise ServiceError(
                '%s exited with status %s; see %s' %
                (self.name, self.proc.returncode, self.log_path))

    def wait_port(self, port, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_running()
            if port_open(port):
                return
            time.sleep(0.5)
        raise ServiceError('%s did not listen on port %d within %d s; see %s'
                           % (self.name, port, timeout, self.log_path))

    def wait_log(self, text, timeout=90):
        """Wait until the service's log contains ``text``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_running()
            with open(self.log_path, errors='replace') as f:
                if text in f.read():
                    return
            time.sleep(0.5)
        raise ServiceError('%s did not log "%s" within %d s; see %s'
                           % (self.name, text, timeout, self.log_path))

    def terminate(self):
        """Ask the whole group to stop (SIGTERM)."""
        if self.proc is not None:
            signal_group(self.proc.pid, signal.SIGTERM)

    def wait_stopped(self, deadline):
        """Wait until the group is gone, SIGKILLing it at ``deadline``."""
        if self.proc is not None:
            wait_group(self.proc.pid, deadline, leader=self.proc)
            self.proc.wait()
        try:
            os.unlink(self.pid_file)
        except FileNotFoundError:
            pass


def stop_leftovers(pid_dir, marker):
    """Stop process groups recorded by an earlier run that did not clean up.

    A pid is only acted on if its command line still mentions ``marker``
    (the state directory), so a recycled pid of someone else's process is
    left alone. Returns the names of the groups stopped.
    """
    stopped = []
    if not os.path.isdir(pid_dir):
        return stopped
    for entry in sorted(os.listdir(pid_dir)):
        path = os.path.join(pid_dir, entry)
        try:
            with open(path) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            pid = None
        cmdline = _cmdline(pid) if pid else None
        if cmdline and marker in cmdline:
            stop_group(pid)
            stopped.append(entry[:-len('.pid')])
        os.unlink(path)
    return stopped
