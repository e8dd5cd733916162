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

"""Console scripts.

Heat 27 runs on oslo.service's threading backend. Importing oslo_messaging
(which any heat.common import does) would otherwise select the eventlet
backend, so it is chosen here, before any command module imports Heat, as
heat/cmd/engine.py does.

futurist still imports eventlet when it is installed, which prints a
deprecation notice on every command; nothing here uses eventlet.
"""

import warnings

from oslo_service import backend

warnings.filterwarnings('ignore', message='\\s*Eventlet is deprecated')
backend.init_backend(backend.BackendType.THREADING)
