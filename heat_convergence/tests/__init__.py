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

# Heat 27 runs on oslo.service's threading backend, but importing
# oslo_messaging (which any heat.common import does) selects the eventlet
# backend unless one was chosen first. heat.tests.common selects threading
# itself, too late for a test module that imports heat.common before it, so
# our test package selects it here, before any test module is imported, as
# heat/cmd/engine.py does for the engine.
from oslo_service import backend

backend.init_backend(backend.BackendType.THREADING)
