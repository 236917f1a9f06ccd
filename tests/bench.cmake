# bench: the benchmark harness in --quick mode (a smoke test: every scenario runs against every
# target; figures are not judged). Needs root (skips otherwise: exit 77).
wl_integration_test(bench_quick integration/bench/test_bench_quick.py 600)
set_tests_properties(bench_quick PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
