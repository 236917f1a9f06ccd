# Live traffic through the gateway (issue 7): WebSockets (h1 Upgrade, h2 extended CONNECT) to a
# real `ws` origin installed from npm, SSE, limits, and channels cut when access ends.
# Skips (77) without node/npm.
wl_integration_test(test_ws integration/ws/test_ws.py 300)
set_tests_properties(test_ws PROPERTIES SKIP_RETURN_CODE 77)
