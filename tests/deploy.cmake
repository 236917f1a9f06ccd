# Deployment (issue 9): fleet lifecycle driven by gateway heartbeats, HAProxy + Sentinel
# failover, the quickstart.
wl_integration_test(deploy_fleet_lifecycle integration/deploy/test_fleet_lifecycle.py 120)
wl_integration_test(deploy_failover integration/deploy/test_failover.py 240)
wl_integration_test(deploy_quickstart integration/deploy/test_quickstart.py 600)
set_tests_properties(deploy_failover PROPERTIES RUN_SERIAL TRUE) # failover windows are measured
