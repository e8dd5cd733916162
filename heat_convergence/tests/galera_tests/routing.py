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

"""HAProxy in front of the Galera cluster, for engine processes.

An engine process is given one database address. Pinned to a node, it
stays down with that node: oslo.db reconnects to the same dead address. In
front of a Galera cluster, deployments put HAProxy with a health check
(``clustercheck``: the node answers and is Synced), one node preferred and
the others as backups. A :class:`Router` is that, in the test process: it
listens on a port of its own and sends each new connection to the first
node of its order that is Synced. A connection whose node dies is cut, as
HAProxy cuts it when the server closes; the engine's next connection (oslo.db
pings a connection as it is checked out of the pool, and reconnects) goes
to a survivor.
"""

import collections
import socket
import threading

# Bytes read at a time from either side.
CHUNK = 65536


class Router(object):
    """Connections to 127.0.0.1:``port``, sent to a Synced node of ``order``.

    ``routed`` counts the connections sent to each node.
    """

    def __init__(self, cluster, order):
        self.cluster = cluster
        self.order = list(order)
        self.routed = collections.Counter()
        self._listener = socket.create_server(('127.0.0.1', 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        """Stop listening; connections already routed live on."""
        self._listener.close()

    def _accept(self):
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._route, args=(client,),
                             daemon=True).start()

    def _route(self, client):
        for node in self.order:
            if self.cluster.status(node).get(
                    'wsrep_local_state_comment') != 'Synced':
                continue
            try:
                server = socket.create_connection(
                    ('127.0.0.1', self.cluster.sql_port(node)), 2)
            except OSError:
                continue
            self.routed[node] += 1
            threading.Thread(target=_pipe, args=(server, client),
                             daemon=True).start()
            _pipe(client, server)
            return
        client.close()


def _pipe(source, target):
    """Copy ``source`` to ``target`` until either ends; then end both."""
    try:
        while True:
            data = source.recv(CHUNK)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    for sock in (source, target):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
