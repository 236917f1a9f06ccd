# Live traffic through the gateway (issue 7): WebSockets (h1 Upgrade, h2 extended CONNECT) to a
# real `ws` origin installed from npm, SSE, limits, and channels cut when access ends.
# Skips (77) without node/npm.
wl_integration_test(test_ws integration/ws/test_ws.py 300)
# Timing: cuts are asserted under 100 ms, so it runs alone (RUN_SERIAL), not beside other tests.
set_tests_properties(test_ws PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
# The bench scenario (bench/ws_bench.py) in its quick form: 300 WebSockets held open, memory per
# connection, one sign-out cutting half of them.
add_test(NAME bench_ws_quick COMMAND ${WL_PYTHON} ${CMAKE_SOURCE_DIR}/bench/ws_bench.py --quick
    --build-dir ${CMAKE_BINARY_DIR})
set_tests_properties(bench_ws_quick PROPERTIES LABELS integration TIMEOUT 180 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
    ENVIRONMENT "WL_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONPATH=${CMAKE_CURRENT_SOURCE_DIR}/lib")
