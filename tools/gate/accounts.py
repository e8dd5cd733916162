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

"""Keystone accounts, endpoints and domain for Heat, as devstack makes them.

Mirrors create_heat_accounts of Heat's devstack/lib/heat: the ``heat``
service user, the orchestration service and endpoints, the stack-owner and
stack-user roles, a ``demo`` project and user for the tests, and the
``heat`` stack-user domain with its ``heat_domain_admin``. It talks to
keystone through its API (one session) rather than one ``openstack``
command per object, which would cost seconds each.
"""

from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
from keystoneclient.v3 import client as ks_client


def create_heat_accounts(run):
    """Create everything; return the id of the ``heat`` domain."""
    auth = v3.Password(auth_url=run.keystone_url, username='admin',
                       password=run.admin_password, project_name='admin',
                       user_domain_id='default', project_domain_id='default')
    # A timeout, so that a keystone whose workers keep dying fails the
    # gate's retry loop instead of hanging it.
    ks = ks_client.Client(session=ks_session.Session(auth=auth, timeout=30),
                          interface='public')

    roles = {r.name: r for r in ks.roles.list()}
    for name in ('service', 'heat_stack_owner', 'heat_stack_user'):
        if name not in roles:
            roles[name] = ks.roles.create(name=name)

    def project_user(project, user, password, role_names):
        """A project, and a user holding ``role_names`` in it."""
        project = ks.projects.create(name=project, domain='default')
        user = ks.users.create(name=user, domain='default',
                               password=password, default_project=project)
        for role in role_names:
            ks.roles.grant(roles[role], user=user, project=project)

    # The keystone database is new on every run: nothing exists yet but
    # what keystone-manage bootstrap made.
    project_user('service', 'heat', run.service_password,
                 ('admin', 'service'))

    service = ks.services.create(name='heat', type='orchestration',
                                 description='Heat Orchestration Service')
    url = 'http://127.0.0.1:%d/v1/$(project_id)s' % run.heat_port
    for interface in ('public', 'internal', 'admin'):
        ks.endpoints.create(service=service, url=url, interface=interface,
                            region='RegionOne')

    project_user('demo', 'demo', run.demo_password,
                 ('member', 'heat_stack_owner'))

    domain = ks.domains.create(
        name='heat', description='Owns users and projects created by heat')
    domain_admin = ks.users.create(name='heat_domain_admin', domain=domain,
                                   password=run.service_password,
                                   description='Manages users and projects '
                                               'created by heat')
    ks.roles.grant(roles['admin'], user=domain_admin, domain=domain)
    return domain.id
