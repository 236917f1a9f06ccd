# gateway tests (paths relative to tests/)
add_executable(gw_test_seal integration/gateway/seal.c)
target_link_libraries(gw_test_seal PRIVATE wl_common)

wl_integration_test(gateway_e2e integration/gateway/test_e2e.py 600)
wl_integration_test(gateway_live integration/gateway/test_live.py 600)
wl_integration_test(gateway_stream integration/gateway/test_stream.py 900)

wl_unit_test(gateway_test_hdr unit/gateway/test_hdr.c wl_gateway)
wl_unit_test(gateway_test_opts unit/gateway/test_opts.c wl_gateway)
wl_fuzz_target(gateway_fuzz_request fuzz/gateway/fuzz_request.c fuzz/gateway/corpus_request wl_gateway)
# revoke/sign-out latency is asserted: alone, not beside other tests
set_tests_properties(gateway_live PROPERTIES RUN_SERIAL TRUE)
