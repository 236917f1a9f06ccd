# egress: company network inventory, egress policy, audit stream (paths relative to tests/)
wl_unit_test(egress_test_policy unit/egress/test_egress.c wl_gateway)
wl_integration_test(egress_network integration/egress/test_network.py 600)
wl_integration_test(egress_audit integration/egress/test_audit.py 600)
