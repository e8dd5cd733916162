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

"""Configuration files of one gate run, generated from the run's settings.

The values mirror what devstack writes for keystone and Heat
(devstack/lib/keystone, Heat's devstack/lib/heat) plus the post-config of
Heat's own functional job, so that Heat's functional suite sees the cloud
it expects; everything is on 127.0.0.1 and under the state directory.
"""

import configparser

# devstack's fixed value (Heat's devstack/lib/heat); tests only need it to
# be 32 characters.
AUTH_ENCRYPTION_KEY = '767c3ed056cbaa3b9dfedb8c6f825bf0'


def write_ini(path, sections):
    """Write {section: {key: value}} as an ini file, in the given order."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    for section, values in sections.items():
        if section != 'DEFAULT':
            parser.add_section(section)
        for key, value in values.items():
            if isinstance(value, bool):
                value = 'true' if value else 'false'
            parser.set(section, key, str(value))
    with open(path, 'w') as f:
        parser.write(f)


def keystone_conf(run):
    return {
        'DEFAULT': {'log_dir': run.log_dir, 'log_file': 'keystone.log'},
        'database': {'connection': run.keystone_db_url},
        'token': {'provider': 'fernet'},
        'fernet_tokens': {'key_repository': run.path('keystone/fernet')},
        'fernet_receipts': {'key_repository': run.path('keystone/fernet')},
        'credential': {'key_repository': run.path('keystone/credential')},
        'cache': {'enabled': True, 'backend': 'dogpile.cache.memory'},
        # The in-memory cache is per uWSGI process and invalidations do not
        # cross processes: a catalog cached per (user, project) during
        # setup, before the orchestration endpoint existed, made admin
        # tokens lack it for ten minutes (EndpointNotFound in
        # test_admin_actions). devstack shares one memcached; here the
        # catalog is simply not cached (the whole cache off doubles
        # keystone's CPU).
        'catalog': {'caching': False},
    }


def _password_auth(run, **extra):
    auth = {
        'auth_type': 'password',
        'auth_url': run.keystone_url,
        'username': 'heat',
        'password': run.service_password,
        'user_domain_name': 'Default',
        'project_name': 'service',
        'project_domain_name': 'Default',
    }
    auth.update(extra)
    return auth


def heat_conf(run):
    """heat.conf shared by heat-api, the engines and heat-manage."""
    return {
        'DEFAULT': {
            'debug': run.debug,
            'log_dir': run.log_dir,
            'host': 'hcgate',
            'transport_url': run.transport_url,
            'heat_metadata_server_url': 'http://127.0.0.1:8010',
            'heat_waitcondition_server_url':
                'http://127.0.0.1:8010/v1/waitcondition',
            'auth_encryption_key': AUTH_ENCRYPTION_KEY,
            'region_name_for_services': 'RegionOne',
            'num_engine_workers': run.engine_workers,
            'deferred_auth_method': 'trusts',
            'convergence_engine': True,
            # As in the post-config of Heat's functional job.
            'hidden_stack_tags': 'hidden',
            'enable_stack_adopt': True,
            'enable_stack_abandon': True,
            'stack_scheduler_hints': True,
            'encrypt_parameters_and_properties': True,
            'max_stacks_per_tenant': 256,
            'stack_user_domain_id': run.heat_domain_id,
            'stack_domain_admin': 'heat_domain_admin',
            'stack_domain_admin_password': run.service_password,
            'environment_dir': run.path('etc/heat/environment.d'),
            'template_dir': run.path('etc/heat/templates'),
        },
        'database': {'connection': run.heat_db_url},
        # Nothing consumes notifications here (NotificationTest is skipped):
        # "noop" keeps thousands of messages from piling up in the vhost.
        'oslo_messaging_notifications': {'driver': 'noop'},
        'oslo_concurrency': {'lock_path': run.path('lock')},
        'paste_deploy': {
            'api_paste_config': run.path('etc/heat/api-paste.ini')},
        'keystone_authtoken': _password_auth(
            run, interface='public', www_authenticate_uri=run.keystone_url,
            service_type='orchestration'),
        'ec2authtoken': _password_auth(
            run, interface='public', www_authenticate_uri=run.keystone_url,
            auth_uri=run.keystone_url),
        'trustee': {
            'auth_type': 'password',
            'auth_url': run.keystone_url,
            'username': 'heat',
            'password': run.service_password,
            'user_domain_id': 'default',
        },
        'clients_keystone': {'auth_uri': run.keystone_url},
        'heat_api': {'bind_host': '127.0.0.1', 'bind_port': run.heat_port},
        'cache': {'enabled': True, 'backend': 'dogpile.cache.memory'},
        'volumes': {'backups_enabled': False},
        'oslo_policy': {'enforce_scope': True,
                        'enforce_new_defaults': True},
        'heat_convergence': {
            'driver': run.driver,
            'cancel_running_actions': run.cancel_running_actions},
    }


def engine_conf(run, index):
    """The per-engine override: its own host name (RPC server)."""
    return {'DEFAULT': {'host': 'hcgate-engine-%d' % index}}


def tempest_conf(run):
    heat_plugin = {
        'auth_url': run.keystone_url,
        'auth_version': 3,
        'region': 'RegionOne',
        'username': 'demo',
        'password': run.demo_password,
        'project_name': 'demo',
        'admin_username': 'admin',
        'admin_password': run.admin_password,
        'admin_project_name': 'admin',
        'user_domain_name': 'Default',
        'project_domain_name': 'Default',
        'user_domain_id': 'default',
        'project_domain_id': 'default',
        'convergence_engine_enabled': True,
        'hidden_stack_tag': 'hidden',
        'build_timeout': 600,
        # The tests poll stack and resource states; at the default 4 s each
        # wait ends on average 2 s after the state was reached, and a run
        # waits some thousand times. 1 s polls cost a little CPU in
        # heat-api and save minutes of wall time.
        'build_interval': 1,
        'skip_scenario_tests': True,
        # Only passed as template parameters by the tests that run here
        # (ServiceBasedExposureTest needs one); every test that would boot
        # a server skips first because no image is configured.
        'minimal_instance_type': 'm1.heat_micro',
        'instance_type': 'm1.heat_int',
        'skip_functional_test_list': ','.join(run.skip_list),
    }
    hc = {'expected_engine_binary': run.engine_binary}
    if run.engine_kill_command:
        hc['engine_kill_command'] = run.engine_kill_command
    return {
        'DEFAULT': {'log_dir': run.log_dir, 'log_file': 'tempest.log'},
        'auth': {
            'admin_username': 'admin',
            'admin_password': run.admin_password,
            'admin_project_name': 'admin',
            'admin_domain_name': 'Default',
            'use_dynamic_credentials': False,
        },
        'identity': {'uri_v3': run.keystone_url, 'auth_version': 'v3',
                     'region': 'RegionOne'},
        'identity-feature-enabled': {'api_v2': False},
        'service_available': {
            'heat': True, 'nova': False, 'neutron': False, 'glance': False,
            'cinder': False, 'swift': False},
        'heat_plugin': heat_plugin,
        'heat_features_enabled': {'stack_cancel': True,
                                  'multi_cloud': False},
        'heat_convergence': hc,
    }
