# Tests of worklink-control. (File owned by the front engineer; the operations' lines follow at
# the end.)

# --- front (HTTP server, SigV4, model validation, errors) ---
wl_unit_test(test_ctl_sigv4 unit/control/test_sigv4.c wl_control)
wl_unit_test(test_ctl_model_validate unit/control/test_model_validate.c wl_control)
wl_integration_test(test_ctl_errors integration/control/test_errors.py 600)
wl_integration_test(test_ctl_redis_locations integration/control/test_redis_locations.py 300)
wl_fuzz_target(fuzz_ctl_sigv4_json fuzz/control/fuzz_sigv4_json.c fuzz/control/corpus_sigv4_json
    wl_control)

# --- operations (ops engineer) ---
# (libxml2 for ops_idp.c is linked by control/CMakeLists.txt.)
wl_unit_test(test_ctl_ops unit/control/test_ops.c wl_control)
wl_integration_test(test_ctl_operations integration/control/test_operations.py 600)
