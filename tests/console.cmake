# Tests of the web console (console/, control/console.c): Chromium headless through the admin
# guide's Getting Started, checked with the AWS CLI. Skips (77) without chromium or npm.
wl_integration_test(test_console integration/console/test_console.py 240)
set_tests_properties(test_console PROPERTIES SKIP_RETURN_CODE 77)
