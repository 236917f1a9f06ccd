# Deployment (issue 9): fleet lifecycle driven by gateway heartbeats, HAProxy + Sentinel
# failover, the quickstart.
wl_integration_test(deploy_fleet_lifecycle integration/deploy/test_fleet_lifecycle.py 120)
