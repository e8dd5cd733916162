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

"""The uWSGI ini of a WSGI service run in the foreground, as devstack would.

Shared by the live harness (:mod:`heat_convergence_tests.live.cloud`, heat-api
under uWSGI) and the local gate (``tools/gate``, keystone and heat-api).
"""


def uwsgi_ini(port, module, processes, threads, home, procname, pyargv=None):
    """{'uwsgi': {option: value}} of a foreground uWSGI on 127.0.0.1.

    ``module``: the WSGI application, ``package.module:callable``.
    ``home``: the virtualenv whose Python runs it. ``procname``: the prefix
    of its processes' names. ``pyargv``: the application's ``sys.argv[1:]``,
    one string (heat-api reads its ``--config-file`` there). The caller
    supervises the process: it stays in the foreground and stops on
    SIGTERM. Values are strings, for any ini writer.
    """
    ini = {
        'http-socket': '127.0.0.1:%d' % port,
        'module': module,
        'home': home,
        'master': 'true',
        'enable-threads': 'true',
        'processes': str(processes),
        'threads': str(threads),
        # As devstack: every process imports the application itself, no
        # file descriptor or connection is shared through a fork.
        'lazy-apps': 'true',
        'die-on-term': 'true',
        'hook-master-start': 'unix_signal:15 gracefully_kill_them_all',
        'buffer-size': '65535',
        'add-header': 'Connection: close',
        'procname-prefix-spaced': procname,
    }
    if pyargv:
        ini['pyargv'] = pyargv
    return {'uwsgi': ini}
