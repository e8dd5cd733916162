#!/bin/bash
#
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

# devstack plugin of heat-convergence: runs heat-convergence-engine as the
# "hc-eng" service in place of Heat's "h-eng".
#
# It relies on Heat's own devstack plugin (enabled before this one) for
# everything else: heat-api, heat.conf, keystone accounts and Heat's
# database. Per phase, after Heat's plugin has done its part:
#
#   install      pip-installs heat-convergence (from $HEAT_CONVERGENCE_DIR)
#   post-config  sets [heat_convergence] driver in heat.conf
#   extra        creates the plugin's tables (after "heat-manage db_sync"),
#                then starts hc-eng
#   test-config  configures tempest's [heat_convergence] group

# Save trace setting
_XTRACE_HEAT_CONVERGENCE=$(set +o | grep xtrace)
set -o xtrace

function install_heat_convergence {
    setup_develop "$HEAT_CONVERGENCE_DIR"
}

function configure_heat_convergence {
    if [[ ! -f "$HEAT_CONF" ]]; then
        die $LINENO "$HEAT_CONF not found: enable Heat's devstack plugin " \
            "before heat-convergence's."
    fi
    iniset "$HEAT_CONF" heat_convergence driver "$HEAT_CONVERGENCE_DRIVER"
}

function init_heat_convergence {
    # Heat's init_heat has run "heat-manage db_sync" in this phase already;
    # the plugin's tables go into the same database after Heat's.
    "$HEAT_BIN_DIR/heat-convergence-manage" --config-file "$HEAT_CONF" \
        db_sync
}

function start_heat_convergence {
    run_process hc-eng \
        "$HEAT_BIN_DIR/heat-convergence-engine --config-file=$HEAT_CONF"
}

function stop_heat_convergence {
    stop_process hc-eng
}

function configure_tempest_heat_convergence {
    iniset "$TEMPEST_CONFIG" heat_convergence expected_engine_binary \
        heat-convergence-engine
    if [[ -n "$HEAT_CONVERGENCE_ENGINE_KILL_COMMAND" ]]; then
        iniset "$TEMPEST_CONFIG" heat_convergence engine_kill_command \
            "$HEAT_CONVERGENCE_ENGINE_KILL_COMMAND"
    fi
}

if is_service_enabled hc-eng; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing heat-convergence"
        install_heat_convergence

    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring heat-convergence"
        configure_heat_convergence

    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Starting heat-convergence-engine"
        init_heat_convergence
        start_heat_convergence

    elif [[ "$1" == "stack" && "$2" == "test-config" ]]; then
        if is_service_enabled tempest; then
            echo_summary "Configuring tempest for heat-convergence"
            configure_tempest_heat_convergence
        fi
    fi

    if [[ "$1" == "unstack" ]]; then
        stop_heat_convergence
    fi
fi

# Restore xtrace
$_XTRACE_HEAT_CONVERGENCE
